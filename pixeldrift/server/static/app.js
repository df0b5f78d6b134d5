// pixeldrift studio: the page talks to the server's own API (/api) only; no build step, no framework.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { info: null, job: null, events: null, lastSeed: null, galleryOffset: 0, searchTimer: null,
  controlDrawn: false };

// --- talking to the server ------------------------------------------------------------------
async function api(path, options = {}) {
  const init = { ...options, headers: { ...(options.headers || {}) } };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, init);
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (response.status === 401) $("token-box").hidden = false;
  if (!response.ok) {
    const message = body?.detail || body?.error?.message || `HTTP ${response.status}`;
    throw new Error(response.status === 429 ? `${message} (queue full)` : message);
  }
  return body;
}

function showError(error, id = "error") {
  // the error's message in the element `id` (the form's; a panel's own: video.js, restore.js), or none
  $(id).textContent = error ? String(error.message || error) : "";
  $(id).hidden = !error;
}

// --- the form --------------------------------------------------------------------------------
const mode = () => document.querySelector("input[name=mode]:checked").value;

function setMode(value) {
  $(`mode-${value}`).checked = true;
  $("init-section").hidden = !(value === "img2img" || value === "inpaint");
  $("mask-tools").hidden = value !== "inpaint";
  $("mask-canvas").hidden = value !== "inpaint";
  $("grid-section").hidden = value !== "grid";
}

function fillSelect(select, items, keepFirst = true) {
  if (!keepFirst) select.replaceChildren();
  for (const [value, text] of items) select.append(new Option(text, value));
}

async function loadInfo() {
  const info = await api("/api/info");
  state.info = info;
  fillSelect($("model"), info.models.map((m) => [m.name, m.name]), false);
  fillSelect($("sampler"), info.samplers.map((s) => [s.name, s.display_name]));
  fillSelect($("schedule"), info.schedules.map((s) => [s, s]));
  const model = info.models.find((m) => m.default) || info.models[0];
  for (const id of ["width", "height"]) {
    $(id).step = model.size_multiple;
    $(id).min = model.size_multiple;
    $(id).max = model.max_side;
  }
  $("width").value = model.width;
  $("height").value = model.height;
  $("steps").max = info.limits.max_steps;
  $("batch").max = info.limits.max_images;
  fillSelect($("control-module"), info.control_modules.map((m) => [m, m]), false);
  showControlChoices();
  clearControl();
  showQueue(info.queue);
}

function showQueue(queue) {
  $("queue-status").textContent = `${queue.device}: ${queue.running ? "busy" : "idle"}, ${queue.queued} waiting`;
}

function numberOrNull(id) {
  const text = $(id).value.trim();
  return text === "" ? null : Number(text);
}

function requestBody() {
  const kind = mode();
  const body = {
    kind, prompt: $("prompt").value, negative_prompt: $("negative").value, model: $("model").value || null,
    sampler: $("sampler").value || null, schedule: $("schedule").value || null, steps: numberOrNull("steps"),
    guidance: numberOrNull("guidance"), seed: numberOrNull("seed"), width: numberOrNull("width"),
    height: numberOrNull("height"), batch_size: numberOrNull("batch") || 1,
  };
  if (kind === "img2img" || kind === "inpaint") {
    body.init_image = $("init-canvas").toDataURL("image/png");
    body.strength = Number($("strength").value);
  }
  if (kind === "inpaint") body.mask = maskDataUrl();
  if (kind === "grid") {
    delete body.batch_size;
    for (const axis of ["x", "y", "z"]) body[`${axis}_axis`] = $(`${axis}-axis`).value.trim() || null;
  }
  if ($("control-on").checked && !$("control-on").disabled) body.controls = [controlBody()];
  if ($("plan").checked && !$("plan").disabled) body.plan = true;
  if ($("augment").checked) Object.assign(body, { augment: true, augment_fill: $("augment-fill").value });
  return body;
}

// --- prompt augmentation: the rewrite the model draws, shown before the image (and with it on its card) -----
function describeRewrite(rewrite) {
  return `"${rewrite.rewrite}" (${rewrite.metadata["Prompt augmentation"]}; seed ${rewrite.seed})`;
}

function showRewrite(rewrite) {
  $("augment-shown").hidden = !rewrite;
  $("augment-shown").textContent = rewrite ? `Augmented: the model draws ${describeRewrite(rewrite)}` : "";
}

async function previewRewrite() {
  const shown = $("augment-preview-text");
  try {
    const rewrite = await api("/api/augment", { json: {
      prompt: $("prompt").value, seed: numberOrNull("seed"), fill: $("augment-fill").value } });
    shown.textContent = `Rewrite (nothing generated): ${describeRewrite(rewrite)}`;
    shown.classList.remove("error");
  } catch (error) {
    shown.textContent = String(error.message);
    shown.classList.add("error");
  }
  shown.hidden = false;
}

// --- generating --------------------------------------------------------------------------------
async function generate(event) {
  event?.preventDefault();
  if (state.job) return;
  showError(null);
  try {
    const body = requestBody();
    const job = await api("/api/jobs", { json: body });
    showRewrite(job.augmentation);
    showControlMap(body);
    follow(job);
  } catch (error) {
    showError(error);
  }
}

function follow(job) {
  state.job = job;
  $("generate").disabled = true;
  $("cancel").disabled = false;
  showProgress(job);
  bringIntoView($("output"));
  const events = new EventSource(`/api/jobs/${job.id}/events`);
  state.events = events;
  events.addEventListener("progress", (e) => showProgress(JSON.parse(e.data)));
  events.addEventListener("done", (e) => finish(JSON.parse(e.data)));
  events.onerror = () => { if (state.job) pollUntilDone(job.id); };  // the stream broke: poll instead
}

async function pollUntilDone(id) {
  state.events?.close();
  while (state.job && state.job.id === id) {
    const job = await api(`/api/jobs/${id}`).catch(() => null);
    if (job && ["succeeded", "failed", "cancelled"].includes(job.status)) return finish(job);
    if (job) showProgress(job);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function showProgress(job) {
  $("progress").value = job.progress || 0;
  const where = job.status === "queued" && job.position ? `, ${job.position} ahead` : "";
  $("status").textContent = `${job.status}${where}: ${job.unit === "cells" ? "cell" : "step"} ${job.step} of ${job.total_steps}`;
  if (job.has_preview) {
    $("preview").src = `/api/jobs/${job.id}/preview.png?v=${job.version}`;
    $("preview").hidden = false;
  }
}

async function finish(job) {
  state.events?.close();
  state.job = null;
  $("generate").disabled = false;
  $("cancel").disabled = true;
  $("preview").hidden = true;
  $("preview").removeAttribute("src");  // no late request for a preview the job no longer has
  $("progress").value = job.status === "succeeded" ? 1 : 0;
  $("status").textContent = job.status === "succeeded" ? `Done: ${job.images.length} image(s).` : `${job.status}.`;
  if (job.error && job.status !== "succeeded") showError(job.error);
  if (job.warnings?.length) $("status").textContent += ` Note: ${job.warnings.join("; ")}`;
  const rows = (await Promise.all(job.images.map((id) => api(`/api/gallery/${id}`).catch(() => null))))
    .filter(Boolean);
  $("results").style.setProperty("--cols", Math.max(1, Math.ceil(Math.sqrt(rows.length))));
  $("results").replaceChildren(...rows.map(card));
  if (rows[0]) state.lastSeed = rows[0].seed;
  refreshGallery();
  // scroll once the image has its height, or the page may still be too short to scroll that far
  await $("results").querySelector("img")?.decode().catch(() => null);
  bringIntoView($("output"));
}

// On a phone (one column, as app.css lays it out) the output is below the form: scroll to it
// when a job starts and when it ends; on a wide screen it is beside the form and nothing moves.
function bringIntoView(element) {
  if (window.matchMedia("(max-width: 760px)").matches) element.scrollIntoView({ block: "start" });
}

async function cancel() {
  if (state.job) await api(`/api/jobs/${state.job.id}`, { method: "DELETE" }).catch(showError);
}

// --- result and gallery cards ------------------------------------------------------------------------
function card(row) {
  const node = $("card-template").content.firstElementChild.cloneNode(true);
  node.dataset.id = row.id;
  if (row.settings?.plan) showPlan(node, row);
  node.querySelector("img").src = row.url;
  node.querySelector("img").alt = row.prompt;
  const settings = row.kind === "grid" ? "X/Y/Z grid, first cell:" : `${row.width}x${row.height},`;
  node.querySelector("figcaption").textContent =
    `${row.prompt} | ${settings} ${row.steps} steps, ${row.sampler}, cfg ${row.cfg_scale}, seed ${row.seed}, ${row.model}` +
    (row.settings?.augmentation ? ` | augmented from "${row.settings.augmentation.prompt}"` : "") +
    (row.kind === "restore" ? ` | ${restoredFrom(row.settings.record.extra)}` : "");
  // "To video" only where video.js found a video model on this server (it then draws the gallery again)
  if (!document.body.classList.contains("video-on")) node.querySelector("[data-action=video]").remove();
  for (const button of node.querySelectorAll("[data-action=img2img], [data-action=inpaint], [data-action=video], " +
      "[data-action=restore]")) {
    button.hidden = row.kind === "grid";  // a sheet of many images is no start image (nor first frame, nor restored)
  }
  node.querySelector("a").href = row.download_url;
  node.querySelector("a").download = `pixeldrift-${row.id.slice(0, 12)}.png`;
  node.addEventListener("click", (event) => cardAction(event, row, node));
  return node;
}

function restoredFrom(extra) {
  // a restore's settings, from its record (restore.js shows the same beside the result)
  return `restored: ${extra.Restore} by ${extra["Restore method"]}, zeta ${extra["Restore zeta"]}, noise ` +
    `${extra["Measurement noise"]}, measurement ${extra.Measurement}, from ${extra["Restored from"]}`;
}

async function cardAction(event, row, node) {
  const action = event.target.dataset?.action;
  if (action === "img2img" || action === "inpaint") {
    await loadInitImage(row.url);
    $("width").value = row.width;
    $("height").value = row.height;
    setMode(action);
    $("prompt").value = row.prompt;
    $("generate-form").scrollIntoView({ behavior: "smooth" });
  } else if (action === "reuse") {
    reuseSettings(row);
  } else if (action === "delete") {
    await api(`/api/gallery/${row.id}`, { method: "DELETE" }).then(() => node.remove()).catch(showError);
  }
}

function reuseSettings(row) {
  const r = row.settings.record;
  $("prompt").value = r.prompt;
  $("negative").value = r.negative_prompt;
  $("steps").value = r.steps;
  $("guidance").value = r.cfg_scale;
  $("seed").value = r.seed;
  $("width").value = r.width;
  $("height").value = r.height;
  if ([...$("sampler").options].some((o) => o.value === r.sampler)) $("sampler").value = r.sampler;
  const rewrite = row.settings.augmentation;  // the user's own prompt, augmented again the same way
  $("augment").checked = Boolean(rewrite);
  if (rewrite) {
    $("prompt").value = rewrite.prompt;
    $("augment-fill").value = rewrite.fill;
  }
}

async function refreshGallery(more = false) {
  state.galleryOffset = more ? state.galleryOffset : 0;
  const q = encodeURIComponent($("gallery-search").value.trim());
  try {
    const page = await api(`/api/gallery?q=${q}&limit=24&offset=${state.galleryOffset}`);
    const cards = page.images.map(card);
    if (more) $("gallery-list").append(...cards); else $("gallery-list").replaceChildren(...cards);
    state.galleryOffset += page.images.length;
    $("gallery-count").textContent = `${page.total} image(s)`;
    $("gallery-more").hidden = state.galleryOffset >= page.total;
  } catch (error) {
    $("gallery-count").textContent = String(error.message);
  }
}

// --- a gallery image as the server keeps it: its labelled PNG's own bytes (video.js, restore.js send them) -----
function dataUrlOf(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function galleryImage(id) {
  // { row: the gallery row, data: the PNG, byte for byte, as a data URL }
  const row = await api(`/api/gallery/${id}`);
  const response = await fetch(row.url);
  if (!response.ok) throw new Error(`the image could not be read (HTTP ${response.status})`);
  return { row, data: await dataUrlOf(await response.blob()) };
}

// --- drawing on a canvas: the mask painters and the control scribble share it ---------------------------
function loadImageOnto(url, canvases) {
  // the image at its own size on canvases[0]; every canvas takes that size (which also clears it)
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => {
      for (const canvas of canvases) {
        canvas.width = image.naturalWidth;
        canvas.height = image.naturalHeight;
      }
      canvases[0].getContext("2d").drawImage(image, 0, 0);
      resolve();
    };
    image.onerror = () => reject(new Error("that file is not an image the browser can read"));
    image.src = url;
  });
}

function onFileChosen(input, load) {
  input.addEventListener("change", () => {
    const file = input.files[0];
    if (!file) return;
    const url = URL.createObjectURL(file);
    load(url).catch(showError).finally(() => URL.revokeObjectURL(url));
  });
}

function pointOn(canvas, event) {
  const box = canvas.getBoundingClientRect();
  return [((event.clientX - box.left) / box.width) * canvas.width,
    ((event.clientY - box.top) / box.height) * canvas.height];
}

// Strokes follow the pointer: a dot where it goes down, then round-capped lines from point to point.
// pen() -> [width in the canvas's pixels, colour]; drawn() is told after each stroke starts.
function setUpDrawing(canvas, pen, drawn = () => {}) {
  let last = null;
  const draw = (event) => {
    const point = pointOn(canvas, event);
    const [width, colour] = pen();
    const context = canvas.getContext("2d");
    context.strokeStyle = context.fillStyle = colour;
    context.lineWidth = Math.max(width, 1);
    context.lineCap = context.lineJoin = "round";
    context.beginPath();
    if (last) {
      context.moveTo(...last);
      context.lineTo(...point);
      context.stroke();
    } else {
      context.arc(...point, Math.max(width / 2, 0.5), 0, 2 * Math.PI);
      context.fill();
    }
    last = point;
  };
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = null;
    draw(e);
    drawn();
  });
  canvas.addEventListener("pointermove", (e) => { if (last) draw(e); });
  for (const name of ["pointerup", "pointercancel"]) canvas.addEventListener(name, () => { last = null; });
}

// --- the start image and the mask painter ----------------------------------------------------------
function loadInitImage(url) {
  return loadImageOnto(url, [$("init-canvas"), $("mask-canvas")]).then(clearMask);
}

function clearMask() {
  const canvas = $("mask-canvas");
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
}

function invertMask() {
  const canvas = $("mask-canvas");
  const context = canvas.getContext("2d");
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < pixels.data.length; i += 4) {
    const painted = pixels.data[i + 3] > 0;
    pixels.data.set(painted ? [0, 0, 0, 0] : [255, 64, 64, 255], i);
  }
  context.putImageData(pixels, 0, 0);
}

function maskDataUrl(source = $("mask-canvas")) {
  // the painted overlay -> white (repaint) on black (keep), the same size as the image under it
  const out = document.createElement("canvas");
  out.width = source.width;
  out.height = source.height;
  const painted = source.getContext("2d").getImageData(0, 0, source.width, source.height);
  const mask = out.getContext("2d").createImageData(source.width, source.height);
  for (let i = 0; i < painted.data.length; i += 4) {
    const value = painted.data[i + 3] > 0 ? 255 : 0;
    mask.data.set([value, value, value, 255], i);
  }
  out.getContext("2d").putImageData(mask, 0, 0);
  return out.toDataURL("image/png");
}

function setUpPainter() {
  const canvas = $("mask-canvas");
  setUpDrawing(canvas, () => [Number($("brush").value) * (canvas.width / 64), "rgb(255, 64, 64)"]);
  $("mask-clear").addEventListener("click", clearMask);
  $("mask-invert").addEventListener("click", invertMask);
  onFileChosen($("init-file"), (url) => loadInitImage(url).then(() => {
    $("width").value = $("init-canvas").width;
    $("height").value = $("init-canvas").height;
  }));
}

// --- the control image: uploaded or scribbled, its ControlNet and module, the map it made -----------------
function controlsFor(modelName) {
  return (state.info?.controls || []).filter((control) => control.models.includes(modelName));
}

function showControlChoices() {
  // only the served ControlNets that steer the chosen model; plan-then-draw needs a layout one
  const served = controlsFor($("model").value);
  fillSelect($("control-model"), served.map((c) => [c.name, `${c.name} (${c.kind || "any map"})`]), false);
  $("control-on").disabled = served.length === 0;
  if (served.length === 0) $("control-on").checked = false;
  $("control-none").hidden = served.length > 0;
  $("control-tools").hidden = !$("control-on").checked;
  $("plan").disabled = !served.some((c) => c.kind === "layout");
  if ($("plan").disabled) $("plan").checked = false;
}

function clearControl() {
  // a black canvas of the size to generate: white or coloured strokes on black, as control maps are
  const canvas = $("control-canvas");
  canvas.width = numberOrNull("width") || 64;
  canvas.height = numberOrNull("height") || 64;
  const context = canvas.getContext("2d");
  context.fillStyle = "#000";
  context.fillRect(0, 0, canvas.width, canvas.height);
  state.controlDrawn = false;
}

function controlBody() {
  return {
    model: $("control-model").value, image: $("control-canvas").toDataURL("image/png"),
    module: $("control-module").value, weight: Number($("control-weight").value),
    start: Number($("control-start").value), end: Number($("control-end").value), resize: $("control-resize").checked,
  };
}

async function showControlMap(body) {
  // the map the job's ControlNet reads, made by the server from the same image, module and size
  const control = body.controls?.[0];
  $("control-shown").hidden = !control;
  $("control-map").removeAttribute("src");
  if (!control) return;
  $("control-caption").textContent = `${control.module} map for ${control.model}, strength ${control.weight}`;
  const canvas = $("control-canvas");
  const made = await api("/api/control/map", { json: {
    image: control.image, module: control.module, width: body.width ?? canvas.width,
    height: body.height ?? canvas.height, resize: control.resize } }).catch(() => null);
  if (made) $("control-map").src = made.map;
}

function setUpControl() {
  const canvas = $("control-canvas");
  setUpDrawing(canvas, () => [Number($("control-pen").value) * (canvas.width / 64), $("control-colour").value],
    () => { state.controlDrawn = true; });
  $("control-clear").addEventListener("click", clearControl);
  onFileChosen($("control-file"), (url) => loadImageOnto(url, [canvas]).then(() => { state.controlDrawn = true; }));
  $("control-on").addEventListener("change", showControlChoices);
  $("model").addEventListener("change", showControlChoices);
  $("control-weight").addEventListener("input", () => {
    $("control-weight-value").value = $("control-weight").value;
  });
  for (const id of ["width", "height"]) {  // a blank canvas follows the size; a drawing or upload stays
    $(id).addEventListener("change", () => { if (!state.controlDrawn) clearControl(); });
  }
}

// --- plan-then-draw: the plan's layout boxes over the image ---------------------------------------------
const SVG = "http://www.w3.org/2000/svg";

function svgNode(name, attributes) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

function planOverlay(plan) {
  // the viewBox is the image's pixels, fitted as the image is (contain), so boxes land where the plan put them
  const svg = svgNode("svg", { class: "plan-boxes", viewBox: `0 0 ${plan.size} ${plan.size}`, role: "img",
    "aria-label": "the plan's layout boxes" });
  const textSize = plan.size / 14;
  for (const { label, box: [x0, y0, x1, y1] } of plan.objects) {
    const group = svgNode("g", { "data-label": label });
    group.append(svgNode("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, stroke: label.split(" ")[0] }));
    const caption = svgNode("text", { x: x0, y: Math.max(y0 - textSize / 4, textSize), "font-size": textSize });
    caption.textContent = label;
    group.append(caption);
    svg.append(group);
  }
  return svg;
}

function showPlan(node, row) {
  node.querySelector(".picture").append(planOverlay(row.settings.plan));
  const link = document.createElement("a");
  link.dataset.action = "plan";
  link.textContent = "Plan";
  link.title = "Download the plan (the layout's labelled boxes) as JSON";
  link.href = `data:application/json,${encodeURIComponent(JSON.stringify(row.settings.plan, null, 2))}`;
  link.download = `pixeldrift-${row.id.slice(0, 12)}.plan.json`;
  node.querySelector(".card-actions").append(link);
}

// --- wiring ------------------------------------------------------------------------------------------
function setUp() {
  $("generate-form").addEventListener("submit", generate);
  $("cancel").addEventListener("click", cancel);
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") generate(event);
  });
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => setMode(radio.value));
  }
  $("seed-random").addEventListener("click", () => { $("seed").value = -1; });
  $("seed-reuse").addEventListener("click", () => { if (state.lastSeed !== null) $("seed").value = state.lastSeed; });
  $("strength").addEventListener("input", () => { $("strength-value").value = $("strength").value; });
  $("augment-preview").addEventListener("click", previewRewrite);
  $("gallery-search").addEventListener("input", () => {
    clearTimeout(state.searchTimer);
    state.searchTimer = setTimeout(() => refreshGallery(), 250);
  });
  $("gallery-more").addEventListener("click", () => refreshGallery(true));
  $("token-box").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = encodeURIComponent($("token-input").value.trim());
    document.cookie = `pixeldrift_token=${token}; path=/; SameSite=Strict`;
    $("token-box").hidden = true;
    start();
  });
  setUpPainter();
  setUpControl();
  setMode(mode());
  setInterval(() => api("/api/info").then((info) => showQueue(info.queue)).catch(() => {}), 5000);
  start();
}

function start() {
  loadInfo().then(() => refreshGallery()).catch(showError);
}

document.addEventListener("DOMContentLoaded", setUp);
