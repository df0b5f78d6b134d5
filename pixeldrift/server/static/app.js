// pixeldrift studio: the page talks to the server's own API (/api) only; no build step, no framework.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { info: null, job: null, events: null, lastSeed: null, galleryOffset: 0, searchTimer: null };

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

function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
  $("error").hidden = !error;
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
  return body;
}

// --- generating --------------------------------------------------------------------------------
async function generate(event) {
  event?.preventDefault();
  if (state.job) return;
  showError(null);
  try {
    const job = await api("/api/jobs", { json: requestBody() });
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
  node.querySelector("img").src = row.url;
  node.querySelector("img").alt = row.prompt;
  const settings = row.kind === "grid" ? "X/Y/Z grid, first cell:" : `${row.width}x${row.height},`;
  node.querySelector("figcaption").textContent =
    `${row.prompt} | ${settings} ${row.steps} steps, ${row.sampler}, cfg ${row.cfg_scale}, seed ${row.seed}, ${row.model}`;
  for (const button of node.querySelectorAll("[data-action=img2img], [data-action=inpaint]")) {
    button.hidden = row.kind === "grid";  // a sheet of many images is no start image
  }
  node.querySelector("a").href = row.download_url;
  node.querySelector("a").download = `pixeldrift-${row.id.slice(0, 12)}.png`;
  node.addEventListener("click", (event) => cardAction(event, row, node));
  return node;
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

// --- the start image and the mask painter ----------------------------------------------------------
function loadInitImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => {
      for (const id of ["init-canvas", "mask-canvas"]) {
        $(id).width = image.naturalWidth;
        $(id).height = image.naturalHeight;
      }
      $("init-canvas").getContext("2d").drawImage(image, 0, 0);
      clearMask();
      resolve();
    };
    image.onerror = () => reject(new Error("that file is not an image the browser can read"));
    image.src = url;
  });
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

function paintAt(event) {
  const canvas = $("mask-canvas");
  const box = canvas.getBoundingClientRect();
  const x = ((event.clientX - box.left) / box.width) * canvas.width;
  const y = ((event.clientY - box.top) / box.height) * canvas.height;
  const radius = (Number($("brush").value) / 2) * (canvas.width / 64);
  const context = canvas.getContext("2d");
  context.fillStyle = "rgb(255, 64, 64)";
  context.beginPath();
  context.arc(x, y, Math.max(radius, 0.5), 0, 2 * Math.PI);
  context.fill();
}

function maskDataUrl() {
  // the painted overlay -> white (repaint) on black (keep), the same size as the start image
  const source = $("mask-canvas");
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
  let drawing = false;
  canvas.addEventListener("pointerdown", (e) => { drawing = true; canvas.setPointerCapture(e.pointerId); paintAt(e); });
  canvas.addEventListener("pointermove", (e) => { if (drawing) paintAt(e); });
  canvas.addEventListener("pointerup", () => { drawing = false; });
  canvas.addEventListener("pointercancel", () => { drawing = false; });
  $("mask-clear").addEventListener("click", clearMask);
  $("mask-invert").addEventListener("click", invertMask);
  $("init-file").addEventListener("change", () => {
    const file = $("init-file").files[0];
    if (!file) return;
    const url = URL.createObjectURL(file);
    loadInitImage(url).then(() => {
      $("width").value = $("init-canvas").width;
      $("height").value = $("init-canvas").height;
    }).catch(showError).finally(() => URL.revokeObjectURL(url));
  });
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
  setMode(mode());
  setInterval(() => api("/api/info").then((info) => showQueue(info.queue)).catch(() => {}), 5000);
  start();
}

function start() {
  loadInfo().then(() => refreshGallery()).catch(showError);
}

document.addEventListener("DOMContentLoaded", setUp);
