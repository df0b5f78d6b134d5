// pixeldrift studio: the video panel (POST /api/video). "To video" on a result or gallery card makes that image
// the clip's first frame (image-to-video), its prompt put in the motion prompt to say how it moves; without a first
// frame the panel makes a clip of its prompt alone (text-to-video). The clip plays in a <video> from its MP4's URL
// (the page's Content-Security-Policy takes media from this server only), the GIF instead where the MP4 cannot
// play; both are offered for download beside the clip's label and record. "Plan the motion" (plan: true) is offered
// where the server has a layout ControlNet for its video model (GET /api/video's plan), and not with a first frame:
// a plan lays out every frame, the first too. On a server without a video model the panel says so and the cards
// offer no "To video". Uses app.js's api(), showError(), numberOrNull(), galleryImage() and refreshGallery().
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);
  const video = { info: null, first: null };   // first: { data: the picture's own bytes as a data URL, row }

  const showVideoError = (error) => showError(error, "video-error");

  async function load() {
    const info = await api("/api/video");
    video.info = info.available ? info : null;
    document.body.classList.toggle("video-on", info.available);   // app.js's cards then offer "To video"
    byId("video-none").hidden = info.available;
    byId("video-tools").hidden = !info.available;
    if (!info.available) return;
    refreshGallery();
    Object.assign(byId("video-frames"), { min: info.min_frames, max: info.max_frames, value: info.defaults.frames });
    Object.assign(byId("video-fps"), { min: info.min_fps, max: info.max_fps, value: info.defaults.fps });
    byId("video-image-guidance").placeholder = `default ${info.defaults.image_guidance}`;
    byId("video-plan-label").hidden = !info.plan.available;
  }

  function allowPlan(allowed) {
    // the server refuses a plan with a first frame; the box says so before a click does
    byId("video-plan").disabled = !allowed;
    if (!allowed) byId("video-plan").checked = false;
  }

  async function toVideo(id) {
    // the gallery's labelled PNG, byte for byte, is the first frame the server reads
    showVideoError(null);
    const { row, data } = await galleryImage(id);
    video.first = { data, row };
    const { width, height } = video.info;
    const other = row.width !== width || row.height !== height ? `; the model makes ${width}x${height}` : "";
    byId("video-first-image").src = row.url;
    byId("video-first-caption").textContent = `${row.width}x${row.height}, seed ${row.seed}${other}`;
    byId("video-first").hidden = false;
    allowPlan(false);
    byId("video-prompt").value = row.prompt;
    byId("video-make").textContent = "Image to video";
    byId("video-status").textContent = "Say how it moves (\"... moving right\"), then make the clip.";
    byId("video-panel").scrollIntoView({ block: "start" });
    byId("video-prompt").focus();
  }

  function clearFirst() {
    video.first = null;
    byId("video-first").hidden = true;
    byId("video-first-image").removeAttribute("src");
    byId("video-make").textContent = "Text to video";
    allowPlan(true);
  }

  function requestBody() {
    const body = {
      prompt: byId("video-prompt").value, any_prompt: byId("video-any").checked, seed: numberOrNull("video-seed"),
      frames: numberOrNull("video-frames"), fps: numberOrNull("video-fps"), steps: numberOrNull("video-steps"),
      guidance: numberOrNull("video-guidance"),
    };
    if (byId("video-plan").checked) body.plan = true;
    if (video.first) {
      body.first_frame = video.first.data;
      body.resize = byId("video-resize").checked;
      body.image_guidance = numberOrNull("video-image-guidance");
    }
    return body;
  }

  async function make(event) {
    event.preventDefault();
    showVideoError(null);
    byId("video-make").disabled = true;
    byId("video-status").textContent = "Making the clip (after the jobs ahead of it)...";
    try {
      show(await api("/api/video", { json: requestBody() }));
      byId("video-status").textContent = "Done.";
    } catch (error) {
      byId("video-status").textContent = "";
      showVideoError(error);
    } finally {
      byId("video-make").disabled = false;
    }
  }

  function show(clip) {
    const player = byId("video-player");
    byId("video-gif").hidden = true;
    byId("video-gif").removeAttribute("src");
    player.hidden = false;
    byId("video-fallback").href = clip.gif_url;
    player.src = clip.mp4_url;
    for (const kind of ["mp4", "gif"]) {
      byId(`video-${kind}-link`).href = clip[`${kind}_download_url`];
      byId(`video-${kind}-link`).download = `pixeldrift-${clip.id.slice(0, 12)}.${kind}`;
    }
    const r = clip.record;
    const marked = clip.label.watermark?.embedded ? ", watermarked" : "";
    const first = r.extra["First frame"] ? `, first frame ${r.extra["First frame"]}` : "";
    const plan = clip.plan ? `, planned as "${clip.plan}" (${r.extra["Plan control"]})` : "";
    byId("video-label").textContent = `${clip.ai_generated ? "AI-generated" : "unlabelled"} (labelled in the MP4 ` +
      `and the GIF${marked}) | ${r.prompt} | ${clip.frames} frames at ${clip.fps} fps, ${clip.width}x${clip.height}, ` +
      `${r.steps} steps, ${r.sampler}, cfg ${r.cfg_scale}, seed ${r.seed}, ${r.model}${first}${plan}`;
    byId("video-result").hidden = false;
  }

  function playGif() {
    // this browser cannot play the MP4 (no H.264): the same clip as the GIF
    const player = byId("video-player");
    if (!player.getAttribute("src")) return;
    byId("video-gif").src = byId("video-fallback").href;
    byId("video-gif").hidden = false;
    player.hidden = true;
  }

  document.addEventListener("DOMContentLoaded", () => {
    byId("video-form").addEventListener("submit", make);
    byId("video-first-clear").addEventListener("click", clearFirst);
    byId("video-use-prompt").addEventListener("click", () => { byId("video-prompt").value = byId("prompt").value; });
    byId("video-player").addEventListener("error", playGif);
    byId("token-box").addEventListener("submit", () => load().catch(showVideoError));
    document.addEventListener("click", (event) => {   // the cards' "To video" (app.js makes the cards)
      const card = event.target.closest?.("[data-action=video]")?.closest(".card");
      if (card?.dataset.id) toVideo(card.dataset.id).catch(showVideoError);
    });
    load().catch(showVideoError);
  });
})();
