// The arena (arena.html) and "break the model" (challenges.html): each page talks to /api/arena or
// /api/challenges; the pair's contenders stay unnamed until the vote comes back.
"use strict";

const byId = (id) => document.getElementById(id);

async function call(method, url, body) {
  const options = {method, credentials: "same-origin", headers: {"Content-Type": "application/json"}};
  if (body !== undefined) options.body = JSON.stringify(body);
  const response = await fetch(url, options);
  const data = await response.json().catch(() => ({}));
  if (response.ok) return data;
  throw new Error(data.detail || `HTTP ${response.status}`);
}

function say(prefix, status, error) {
  byId(`${prefix}-status`).textContent = status || "";
  byId(`${prefix}-error`).textContent = error ? String(error.message || error) : "";
  byId(`${prefix}-error`).hidden = !error;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
}

// ---- arena ----
let pairId = null;

function fillBoard(id, board) {
  const body = byId(id).querySelector("tbody");
  body.replaceChildren();
  for (const r of board.rows) {
    const row = document.createElement("tr");
    [r.rank, r.model, r.score.toFixed(0), `${r.low.toFixed(0)} to ${r.high.toFixed(0)}`, r.votes]
      .forEach((text) => cell(row, String(text)));
    body.append(row);
  }
}

async function refreshBoards() {
  const data = await call("GET", "/api/arena/leaderboard");
  fillBoard("board-human", data.human);
  fillBoard("board-verifier", data.verifier);
  const a = data.agreement;
  byId("arena-agreement").textContent = a.pairs
    ? `People and the verifier chose alike on ${a.agree} of ${a.pairs} pairs both judged.`
    : "No pair has both a vote and the verifier's reading yet.";
}

async function newPair() {
  say("arena", "Drawing two pictures…");
  byId("arena-new").disabled = true;
  try {
    const data = await call("POST", "/api/arena/pair", {prompt: byId("arena-prompt").value});
    pairId = data.pair_id;
    byId("arena-left").src = data.left;
    byId("arena-right").src = data.right;
    byId("arena-left-name").textContent = "Left";
    byId("arena-right-name").textContent = "Right";
    byId("arena-shown-prompt").textContent = `“${data.prompt}”, seed ${data.seed}`;
    byId("arena-reveal").hidden = true;
    document.querySelectorAll(".arena-vote").forEach((b) => { b.disabled = false; });
    byId("arena-pair").hidden = false;
    say("arena", "Which picture is better?");
  } catch (error) {
    say("arena", "", error);
  } finally {
    byId("arena-new").disabled = false;
  }
}

async function vote(choice) {
  document.querySelectorAll(".arena-vote").forEach((b) => { b.disabled = true; });
  try {
    const data = await call("POST", "/api/arena/vote", {pair_id: pairId, choice});
    byId("arena-left-name").textContent = `Left: ${data.left}`;
    byId("arena-right-name").textContent = `Right: ${data.right}`;
    const v = data.verifier;
    byId("arena-reveal").textContent = v.choice === null
      ? "The verifier cannot read this prompt (not a world scene)."
      : `The verifier: left ${v.left ? "passes" : "fails"}, right ${v.right ? "passes" : "fails"}; its vote: ${v.choice}.`;
    byId("arena-reveal").hidden = false;
    say("arena", "Vote recorded.");
    await refreshBoards();
  } catch (error) {
    say("arena", "", error);
  }
}

function startArena() {
  byId("arena-new").addEventListener("click", newPair);
  document.querySelectorAll(".arena-vote").forEach((b) => b.addEventListener("click", () => vote(b.dataset.choice)));
  refreshBoards().catch((error) => say("arena", "", error));
}

// ---- break the model ----
let challengeList = [];

function describeChallenge() {
  const c = challengeList.find((item) => item.key === byId("challenge-key").value);
  if (!c) return;
  const asked = c.prompts.length ? c.prompts.join("; ") : "nothing (out of scope)";
  byId("challenge-about").textContent = `The lecture asks for “${c.lecture}”. The world asks for: ${asked}. ${c.limit}`;
  byId("challenge-run").disabled = !c.in_scope;
}

function attemptCard(a) {
  const figure = document.createElement("figure");
  figure.className = "attempt";
  const image = document.createElement("img");
  image.src = a.image;
  image.alt = `${a.prompt}, seed ${a.seed}`;
  const caption = document.createElement("figcaption");
  const verdict = document.createElement("span");
  verdict.className = a.ok ? "pass" : "fail";
  verdict.textContent = a.ok ? "PASS" : "FAIL";
  caption.append(verdict, ` seed ${a.seed}${a.reason ? ": " + a.reason : ""}`);
  figure.append(image, caption);
  return figure;
}

async function runChallenge() {
  say("challenge", "Drawing and verifying…");
  byId("challenge-run").disabled = true;
  try {
    const data = await call("POST", "/api/challenges/run", {challenge: byId("challenge-key").value,
      seeds: Number(byId("challenge-seeds").value), plan: byId("challenge-plan").checked});
    byId("challenge-grid").replaceChildren(...data.attempts.map(attemptCard));
    say("challenge", `Passed ${data.passed} of ${data.drawn}.`);
  } catch (error) {
    say("challenge", "", error);
  } finally {
    byId("challenge-run").disabled = false;
  }
}

async function startChallenges() {
  const data = await call("GET", "/api/challenges");
  challengeList = data.challenges;
  const select = byId("challenge-key");
  for (const c of challengeList) {
    const option = document.createElement("option");
    option.value = c.key;
    option.textContent = c.title;
    select.append(option);
  }
  byId("challenge-seeds").max = String(data.max_seeds);
  select.addEventListener("change", describeChallenge);
  byId("challenge-run").addEventListener("click", runChallenge);
  describeChallenge();
}

if (byId("arena")) startArena();
if (byId("challenges")) startChallenges().catch((error) => say("challenge", "", error));
