// Spot the AI: ask the server for a round, let the player tick pictures, send the ticks, show the truth.
// The page never holds the answers: they arrive only with the check, once per round.
"use strict";

const $ = (id) => document.getElementById(id);
let round = null;

async function post(url, body) {
  const response = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                                     body: JSON.stringify(body || {}), credentials: "same-origin"});
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const hint = response.status === 401 ? " (enter the server's token on the studio page first)" : "";
    throw new Error((data.detail || `HTTP ${response.status}`) + hint);
  }
  return data;
}

function showError(error) {
  $("spot-error").textContent = error ? String(error.message || error) : "";
  $("spot-error").hidden = !error;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showRound(data) {
  round = data.round;
  $("spot-count").textContent = String(data.generated);
  $("spot-score").hidden = true;
  const grid = $("spot-grid");
  grid.replaceChildren();
  for (const picture of data.pictures) {
    const card = element("figure", "card");
    card.dataset.index = picture.index;
    const image = element("img");
    image.src = picture.src;
    image.alt = `picture ${picture.index + 1}`;
    const label = element("label");
    const box = element("input");
    box.type = "checkbox";
    box.className = "spot-mark";
    box.value = picture.index;
    label.append(box, ` AI? (picture ${picture.index + 1})`);
    card.append(image, label);
    grid.append(card);
  }
  $("spot-check").disabled = false;
  $("spot-status").textContent = "Tick the pictures you think are AI-generated.";
}

function showAnswers(data) {
  $("spot-check").disabled = true;
  $("spot-score").hidden = false;
  $("spot-score").textContent = `You: ${data.score} of ${data.total} right. The detector: ${data.detector_score} of ${data.total}.`;
  for (const result of data.pictures) {
    const card = document.querySelector(`#spot-grid figure[data-index="${result.index}"]`);
    card.classList.add(result.correct ? "right" : "wrong");
    card.querySelector("input").disabled = true;
    const truth = result.generated ? "AI-generated" : "a render (real)";
    card.append(element("p", "spot-truth", `${result.correct ? "✓" : "✗"} It was ${truth}: "${result.caption}"`));
    const detector = result.detector;
    const score = detector.score === null ? "" : ` (score ${detector.score.toFixed(2)})`;
    card.append(element("p", "spot-detector", `Detector: ${detector.verdict}${score}`));
    const reasons = element("ul", "spot-detector");
    for (const reason of detector.reasons) reasons.append(element("li", "", reason));
    card.append(reasons);
  }
  $("spot-status").textContent = "Start a new round to play again.";
}

async function newRound() {
  showError(null);
  $("spot-new").disabled = true;
  $("spot-check").disabled = true;
  $("spot-status").textContent = "Making a round...";
  try {
    showRound(await post("/api/spot/rounds"));
  } catch (error) {
    $("spot-status").textContent = "";
    showError(error);
  } finally {
    $("spot-new").disabled = false;
  }
}

async function check() {
  showError(null);
  const marked = [...document.querySelectorAll(".spot-mark:checked")].map((box) => Number(box.value));
  $("spot-check").disabled = true;
  try {
    showAnswers(await post(`/api/spot/rounds/${encodeURIComponent(round)}/answer`, {marked}));
  } catch (error) {
    $("spot-check").disabled = false;
    showError(error);
  }
}

$("spot-new").addEventListener("click", newRound);
$("spot-check").addEventListener("click", check);
newRound();
