// pixeldrift studio: the LoRA / embedding picker of the generate panel. It reads the server's LoRAs and the
// embeddings the default model takes from /api/info (pixeldrift serve --loras DIR --embeddings DIR) and writes
// into the prompt what the server reads there: <lora:NAME:WEIGHT> for a LoRA, the word for an embedding
// ((word:WEIGHT) when the weight is not 1). The picker stays hidden on a server that has neither.
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);
  const TAG = /<lora:([^:<>]+)(?::[^<>]*)?>/g;

  function fill(info) {
    const select = byId("adapter-name");
    select.replaceChildren();
    const groups = [["LoRA", "lora", (info.loras || []).map((l) => l.name)],
      ["Embedding", "embedding", info.embeddings || []]];
    for (const [label, kind, names] of groups) {
      if (!names.length) continue;
      const group = document.createElement("optgroup");
      group.label = label;
      for (const name of names) group.append(new Option(name, `${kind}:${name}`));
      select.append(group);
    }
    byId("adapter-picker").hidden = select.options.length === 0;
  }

  function weightText() {
    const weight = Number(byId("adapter-weight").value);
    if (!Number.isFinite(weight) || weight < -10 || weight > 10) throw new Error("the weight must be from -10 to 10");
    return String(Math.round(weight * 100) / 100);
  }

  function add() {
    const prompt = byId("prompt");
    const [kind, ...rest] = byId("adapter-name").value.split(":");
    const name = rest.join(":");
    let weight;
    try {
      weight = weightText();
    } catch (error) {
      byId("adapter-weight").setCustomValidity(error.message);
      byId("adapter-weight").reportValidity();
      return;
    }
    byId("adapter-weight").setCustomValidity("");
    let text = prompt.value;
    if (kind === "lora") {  // one tag per LoRA: picking it again changes its weight
      text = text.replace(TAG, (tag, tagged) => (tagged === name ? "" : tag)).trimEnd();
      text = `${text} <lora:${name}:${weight}>`;
    } else {
      text = `${text.trimEnd()} ${weight === "1" ? name : `(${name}:${weight})`}`;
    }
    prompt.value = text.trimStart();
    prompt.dispatchEvent(new Event("input"));
  }

  async function load() {
    const response = await fetch("/api/info");
    if (response.ok) fill(await response.json());
  }

  document.addEventListener("DOMContentLoaded", () => {
    byId("adapter-add").addEventListener("click", add);
    byId("adapter-weight").addEventListener("input", () => byId("adapter-weight").setCustomValidity(""));
    load().catch(() => {});
  });
})();
