// pixeldrift studio: the restore panel (POST /api/restore), as `pixeldrift restore` restores. The image comes from a
// file or from "Restore" on a result or gallery card (its labelled PNG, byte for byte). Simulate degrades it by the
// task first (a card's image is clean); otherwise it is the measurement itself, inpainting with the painted pixels
// missing. The panel shows the input, the measurement the server restored and the result, which lands in the
// gallery labelled as AI-generated with the restore's settings in its record. Uses app.js's api(), showError(),
// numberOrNull(), fillSelect(), dataUrlOf(), galleryImage(), loadImageOnto(), setUpDrawing(), maskDataUrl(),
// restoredFrom() and refreshGallery().
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);
  const restore = { info: null, input: null };   // input: { data: the image's own bytes as a data URL, name }

  const showRestoreError = (error) => showError(error, "restore-error");

  async function load() {
    const info = await api("/api/restore");
    restore.info = info;
    fillSelect(byId("restore-task"), info.tasks.map((t) => [t.name, t.name]), false);
    fillSelect(byId("restore-method"), info.methods.map((m) => [m, m]), false);
    fillSelect(byId("restore-sampler"), info.samplers.map((s) => [s, s]), false);
    fillSelect(byId("restore-model"), info.models.map((m) => [m.name, m.name]), false);
    byId("restore-model").value = info.default_model;
    byId("restore-method").value = info.defaults.method;
    byId("restore-sampler").value = info.defaults.sampler;
    Object.assign(byId("restore-steps"), { value: info.defaults.steps, max: info.limits.max_steps });
    byId("restore-noise").value = info.defaults.noise;
    showChoices();
  }

  function showChoices() {
    // what the task takes at the chosen model's size, the method's zeta, and the painter for a given image's holes
    const model = restore.info?.models.find((m) => m.name === byId("restore-model").value);
    if (!model) return;
    const task = byId("restore-task").value;
    const simulate = byId("restore-simulate").checked;
    const small = task === "sr4" && !simulate;
    const help = restore.info.tasks.find((t) => t.name === task).help;
    byId("restore-size").textContent = `${task}: ${help}. ` + (simulate
      ? `Simulate: a clean ${model.width}x${model.height} image, degraded by ${task}, then restored.`
      : `A degraded ${small ? `${model.sr4_width}x${model.sr4_height}` : `${model.width}x${model.height}`} image, ` +
        `restored to ${model.width}x${model.height}.`);
    byId("restore-zeta").placeholder = `default ${restore.info.defaults.zeta[byId("restore-method").value]}`;
    byId("restore-mask-tools").hidden = !(task === "inpaint" && !simulate);
  }

  async function useInput(data, name, note) {
    restore.input = { data, name };
    await loadImageOnto(data, [byId("restore-canvas"), byId("restore-mask-canvas")]);
    const { width, height } = byId("restore-canvas");
    byId("restore-input").src = data;
    byId("restore-input-caption").textContent = `Input: ${width}x${height}`;
    byId("restore-source").textContent = note;
    for (const id of ["restore-measurement", "restore-output"]) byId(id).removeAttribute("src");
    byId("restore-measured").hidden = byId("restore-result").hidden = true;
    byId("restore-shown").hidden = false;
  }

  async function fromCard(id) {
    showRestoreError(null);
    const { row, data } = await galleryImage(id);
    byId("restore-simulate").checked = true;   // a card's image is clean: degrade it, then restore it
    byId("restore-prompt").value = row.prompt;
    showChoices();
    await useInput(data, `gallery image ${id}`, `From the gallery: ${row.prompt} (seed ${row.seed}).`);
    byId("restore-panel").scrollIntoView({ block: "start" });
  }

  async function fromFile() {
    const file = byId("restore-file").files[0];
    if (file) await useInput(await dataUrlOf(file), file.name, `From the file ${file.name}.`);
  }

  function requestBody() {
    const task = byId("restore-task").value;
    const simulate = byId("restore-simulate").checked;
    const body = {
      image: restore.input.data, image_name: restore.input.name, task, method: byId("restore-method").value,
      simulate, prompt: byId("restore-prompt").value, steps: numberOrNull("restore-steps"),
      seed: numberOrNull("restore-seed"), noise: numberOrNull("restore-noise"), sampler: byId("restore-sampler").value,
      zeta: numberOrNull("restore-zeta"), model: byId("restore-model").value,
    };
    if (task === "inpaint" && !simulate) body.mask = maskDataUrl(byId("restore-mask-canvas"));
    return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null));   // left out: defaults
  }

  async function make(event) {
    event.preventDefault();
    showRestoreError(null);
    if (!restore.input) return showRestoreError("Choose an image first, or \"Restore\" on an image card.");
    byId("restore-make").disabled = true;
    byId("restore-status").textContent = "Restoring (after the jobs ahead of it)...";
    try {
      show(await api("/api/restore", { json: requestBody() }));
      byId("restore-status").textContent = "Done.";
      refreshGallery();
    } catch (error) {
      byId("restore-status").textContent = "";
      showRestoreError(error);
    } finally {
      byId("restore-make").disabled = false;
    }
  }

  function show(answer) {
    const r = answer.record;
    byId("restore-measurement").src = answer.measurement;
    byId("restore-measurement-caption").textContent = `Measurement${answer.simulated ? " (simulated)" : ""}: ` +
      `${answer.measurement_width}x${answer.measurement_height}`;
    byId("restore-output").src = answer.image.url;
    byId("restore-label").textContent = `${answer.ai_generated ? "AI-generated" : "unlabelled"} | ${r.width}x` +
      `${r.height}, ${r.steps} steps, ${r.sampler}, seed ${r.seed}, ${r.model} | ${restoredFrom(r.extra)}`;
    Object.assign(byId("restore-download"), { href: answer.image.download_url,
      download: `pixeldrift-${answer.image.id.slice(0, 12)}.png` });
    byId("restore-measured").hidden = byId("restore-result").hidden = false;
  }

  function clearRestoreMask() {
    const canvas = byId("restore-mask-canvas");
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const canvas = byId("restore-mask-canvas");
    setUpDrawing(canvas, () => [Number(byId("restore-brush").value) * (canvas.width / 64), "rgb(255, 64, 64)"]);
    byId("restore-mask-clear").addEventListener("click", clearRestoreMask);
    byId("restore-form").addEventListener("submit", make);
    byId("restore-file").addEventListener("change", () => fromFile().catch(showRestoreError));
    for (const id of ["restore-task", "restore-method", "restore-simulate", "restore-model"]) {
      byId(id).addEventListener("change", showChoices);
    }
    byId("token-box").addEventListener("submit", () => load().catch(showRestoreError));
    document.addEventListener("click", (event) => {   // the cards' "Restore" (app.js makes the cards)
      const card = event.target.closest?.("[data-action=restore]")?.closest(".card");
      if (card?.dataset.id) fromCard(card.dataset.id).catch(showRestoreError);
    });
    load().catch(showRestoreError);
  });
})();
