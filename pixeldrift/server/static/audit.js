// The bias audit page (audit.html): POST /api/audit queues the audit on the server's one worker, the page
// polls GET /api/audit/{id} for its progress, then shows the report the server computed (as `pixeldrift audit`
// does): a summary row and a distribution table per attribute, the chart and the pictures read.
// Uses classroom.js's byId(), call() and say(), loaded before it.
"use strict";

const audit = { info: null, job: null };
const PHASES = { "waiting": "waiting", "training data": "reading the training data", "drawing": "drawing",
  "comparing": "comparing", "done": "done" };
const percent = (share) => `${(100 * share).toFixed(1)}%`;
const ratio = (value) => (value === null ? "never in training" : `${value.toFixed(2)}x`);
const tell = (status, error) => say("audit", status, error);

function row(cells, header = false) {
  const tr = document.createElement("tr");
  for (const text of cells) {
    const cell = document.createElement(header ? "th" : "td");
    cell.textContent = text;
    tr.append(cell);
  }
  return tr;
}

// --- the form --------------------------------------------------------------------------------------------
async function loadInfo() {
  audit.info = await call("GET", "/api/audit");
  const choice = byId("audit-choice");
  for (const p of audit.info.prompts) choice.append(new Option(p.prompt, p.prompt));
  choice.value = audit.info.default_prompts[1] || audit.info.prompts[0].prompt;
  const seeds = byId("audit-seeds");
  Object.assign(seeds, { min: audit.info.seeds.min, max: audit.info.seeds.max, value: audit.info.seeds.default });
  describeChoice();
}

function describeChoice() {
  const typed = byId("audit-prompt").value.trim();
  const named = audit.info.prompts.find((p) => p.prompt === byId("audit-choice").value);
  byId("audit-about").textContent = typed
    ? `"${typed}": its count, and the shape, colour and size it leaves open, and the position are read.`
    : `"${named.prompt}" leaves open: ${named.attributes.join(", ")}. Compared with ${audit.info.reference_n.default} ` +
      "training images of such scenes.";
}

function requestBody() {
  const steps = byId("audit-steps").value.trim();
  return { prompt: byId("audit-prompt").value.trim() || byId("audit-choice").value,
    seeds: Number(byId("audit-seeds").value), seed: Number(byId("audit-seed").value || 0),
    steps: steps === "" ? null : Number(steps) };
}

// --- running it ------------------------------------------------------------------------------------------
async function run() {
  tell("");
  byId("audit-result").hidden = true;
  try {
    audit.job = await call("POST", "/api/audit", requestBody());
  } catch (error) {
    return tell("", error);
  }
  byId("audit-run").disabled = true;
  byId("audit-cancel").disabled = false;
  const id = audit.job.id;
  while (audit.job && audit.job.id === id) {
    const found = await call("GET", `/api/audit/${id}`).catch((error) => ({ error }));
    if (found.error) return finish(found.error);
    showProgress(found.job);
    if (found.report) return finish(null, found.report);
    if (["failed", "cancelled"].includes(found.job.status)) return finish(found.job.error || found.job.status);
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
}

function showProgress(job) {
  byId("audit-progress").value = job.progress || 0;
  const ahead = job.status === "queued" && job.position ? `, ${job.position} job(s) ahead` : "";
  const steps = job.phase === "drawing" ? `: step ${job.step} of ${job.total_steps}` : "";
  byId("audit-status").textContent = `${job.status}${ahead}: ${PHASES[job.phase] || job.phase}${steps}`;
}

function finish(error, report) {
  audit.job = null;
  byId("audit-run").disabled = false;
  byId("audit-cancel").disabled = true;
  if (error) return tell("", error);
  byId("audit-progress").value = 1;
  tell("Done.");
  showReport(report);
}

async function cancel() {
  if (audit.job) await call("DELETE", `/api/jobs/${audit.job.id}`).catch((error) => tell("", error));
}

// --- the report ------------------------------------------------------------------------------------------
function showReport(report) {
  byId("audit-title").textContent = report.title;
  const unread = report.unreadable[report.prompt];
  byId("audit-unread").textContent = `"${report.prompt}", seeds ${report.seed} to ${report.seed + report.samples - 1}, ` +
    `${report.steps} steps. Unreadable pictures: ${unread.outputs} of the outputs, ${unread.training} of the ` +
    "training images.";
  byId("audit-alpha").textContent = String(report.skew_alpha);
  const summary = byId("audit-summary").querySelector("tbody");
  summary.replaceChildren(...report.audits.map((a) => {
    const tr = row([a.attribute, a.majority, percent(a.output_share), percent(a.reference_share),
      ratio(a.amplification), `${a.zhao >= 0 ? "+" : ""}${a.zhao.toFixed(3)}`, a.tv_reference.toFixed(3), a.tv_uniform.toFixed(3),
      (a.p_reference ?? NaN).toPrecision(3)]);
    if (a.p_reference < report.skew_alpha) tr.lastChild.classList.add("skewed");
    return tr;
  }));
  byId("audit-distributions").replaceChildren(...report.audits.map(distribution));
  byId("audit-chart").hidden = !report.chart_url;
  if (report.chart_url) byId("audit-chart").src = report.chart_url;
  byId("audit-outputs").src = report.outputs_url;
  byId("audit-markdown").href = `data:text/markdown,${encodeURIComponent(`${report.title}\n\n${report.table}\n`)}`;
  byId("audit-result").hidden = false;
}

function distribution(a) {
  // one attribute: each value's count and share in the outputs and the training data, and uniform's share
  const table = document.createElement("table");
  table.className = "leaderboard";
  table.dataset.attribute = a.attribute;
  const caption = table.createCaption();
  caption.textContent = `${a.attribute}: amplification of "${a.majority}" ${ratio(a.amplification)}`;
  const total = (counts) => Object.values(counts).reduce((sum, n) => sum + n, 0);
  const [outputs, training] = [total(a.outputs), total(a.reference)];
  table.createTHead().append(row(["value", "outputs", "training data", "uniform"], true));
  for (const value of new Set([...a.values, ...Object.keys(a.outputs), ...Object.keys(a.reference)])) {
    const [o, t] = [a.outputs[value] || 0, a.reference[value] || 0];
    const tr = row([value, `${o} (${percent(o / outputs)})`, `${t} (${percent(t / training)})`,
      a.values.includes(value) ? percent(1 / a.values.length) : "not asked"]);
    if (value === a.majority) tr.classList.add("majority");
    table.append(tr);
  }
  return table;
}

function setUp() {
  byId("audit-choice").addEventListener("change", describeChoice);
  byId("audit-outputs").addEventListener("load", (event) => {  // 64-pixel pictures, shown twice as large
    event.target.style.width = `${2 * event.target.naturalWidth}px`;
  });
  byId("audit-prompt").addEventListener("input", describeChoice);
  byId("audit-run").addEventListener("click", run);
  byId("audit-cancel").addEventListener("click", cancel);
  loadInfo().catch((error) => tell("", error));
}

document.addEventListener("DOMContentLoaded", setUp);
