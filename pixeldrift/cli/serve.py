"""`pixeldrift serve`: the studio (web UI + HTTP APIs) on uvicorn."""

from __future__ import annotations

from pathlib import Path

import click

from pixeldrift.cli.video import DEFAULT_VIDEO_MODEL
from pixeldrift.pipeline.plan import DEFAULT_LAYOUT_CONTROLNET
from pixeldrift.server.settings import TOKEN_ENV, ServerSettings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback requires --token.")
@click.option("--port", type=click.IntRange(0, 65535), default=7860, show_default=True)
@click.option("--token", envvar=TOKEN_ENV, help=f"API token clients must send (Bearer); or ${TOKEN_ENV}.")
@click.option("--gallery", "gallery_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("outputs/gallery"), show_default=True, help="Folder of the gallery (SQLite + PNGs).")
@click.option("--model", "model_paths", multiple=True, type=click.Path(exists=True),
              help="A pixeldrift model folder or a Stable Diffusion checkpoint (repeat for several; the first is "
                   "the default). The embedded default model when omitted.")
@click.option("--control", "control_paths", multiple=True, type=click.Path(exists=True),
              help="A ControlNet the AUTOMATIC1111 API's ControlNet units may name: a pixeldrift ControlNet folder, "
                   "or a Stable Diffusion ControlNet (diffusers folder or .safetensors file). Repeat for several.")
@click.option("--loras", "lora_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of LoRA .safetensors files, subfolders included; a prompt applies one with "
                   "<lora:FILE-NAME:WEIGHT>.")
@click.option("--embeddings", "embedding_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of textual-inversion embeddings (pixeldrift's or Stable Diffusion's: .safetensors, "
                   "A1111's .pt and .png cards, diffusers' .bin), subfolders included; a prompt that uses an "
                   "embedding's word applies it.")
@click.option("--video", "video_path", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A video model folder (pixeldrift train video) for the studio's 'to video' and POST /api/video "
                   "[models/video when it exists; else the server runs without video].")
@click.option("--video-plan-control", "plan_control_path",
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The layout ControlNet folder that draws planned clips (POST /api/video with plan: true, the "
                   "studio's 'Plan the motion'), as `pixeldrift video --plan` does; it must have been trained on the "
                   "image model the video model's spatial layers are, else the server runs without plans and says "
                   "why at GET /api/video [models/cn-layout when it exists and a video model is served].")
@click.option("--upscaler", "upscaler_path", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="An upscaler folder (pixeldrift train upscaler): the hires fix's 'SR3' upscaler (A1111's "
                   "hr_upscaler, listed at /sdapi/v1/upscalers), and OpenAI sizes above the model's own are drawn "
                   "at its size and enlarged by it.")
@click.option("--no-video", is_flag=True, help="Serve no video model, even where models/video exists.")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda: one worker runs jobs there.")
@click.option("--queue-size", type=click.IntRange(1, 10_000), default=16, show_default=True,
              help="Jobs that may wait; one more is answered 429 with Retry-After.")
@click.option("--max-side", type=click.IntRange(16, 8192), default=512, show_default=True,
              help="Largest image side a request may ask for (each model's own limit also applies).")
@click.option("--max-steps", type=click.IntRange(1, 1000), default=150, show_default=True)
@click.option("--max-images", type=click.IntRange(1, 1000), default=16, show_default=True,
              help="Images one request may make (batch size x iterations).")
@click.option("--no-watermark", is_flag=True, help="Skip the invisible watermark (recorded in each label).")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="info", show_default=True)
def serve(host, port, token, gallery_dir, model_paths, control_paths, lora_dir, embedding_dir, video_path,
          plan_control_path, upscaler_path, no_video, device, queue_size, max_side, max_steps, max_images,
          no_watermark, log_level):
    """Start the studio: a web page for people, HTTP APIs for programs.

    Open http://127.0.0.1:7860/ in a browser. Programs can use pixeldrift's own API
    (/api/jobs, documented at /openapi.json), the AUTOMATIC1111 API (/sdapi/v1/txt2img,
    ...) or the OpenAI Images API (base URL http://127.0.0.1:7860/v1). Every image
    lands in the gallery folder with its settings and labels.

    \b
    Examples:
      pixeldrift serve
      pixeldrift serve --model models/my-model --model sd15.safetensors --gallery ~/pixeldrift-gallery
      pixeldrift serve --control models/cn-layout
      pixeldrift serve --loras my-loras --embeddings my-embeddings   # prompts: "a red sks shape <lora:style:0.8>"
      pixeldrift serve --video models/video   # the studio's "to video": clips of a prompt or an image
      pixeldrift serve --video models/video --video-plan-control models/cn-layout   # and planned clips
      pixeldrift serve --model sd15.safetensors --control control_v11p_sd15_canny.safetensors
      PIXELDRIFT_TOKEN=$(openssl rand -hex 16) pixeldrift serve --host 0.0.0.0
    """
    import uvicorn  # the server extra; imported here so other commands start fast

    from pixeldrift.server.app import create_app

    video_path, plan_control_path = _video_folders(video_path, plan_control_path, no_video)
    try:
        settings = ServerSettings(host=host, port=port, token=token or None, gallery_dir=gallery_dir,
                                  model_paths=tuple(model_paths) or (None,), control_paths=tuple(control_paths),
                                  lora_dir=lora_dir, embedding_dir=embedding_dir, video_path=video_path,
                                  video_plan_control_path=plan_control_path, upscaler_path=upscaler_path,
                                  device=device, queue_size=queue_size,
                                  max_side=max_side, max_steps=max_steps, max_images=max_images,
                                  watermark=not no_watermark)
        app = create_app(settings)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    shown = f"[{host}]" if ":" in host else host
    video = f", video: {video_path}" if video_path is not None else ""
    video += f", plan control: {plan_control_path}" if plan_control_path is not None else ""
    click.echo(f"pixeldrift studio on http://{shown}:{port}/  (gallery: {gallery_dir}{video})")
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=False, server_header=False)


def _video_folders(video_path, plan_control_path, no_video):
    """The video model and plan ControlNet folders to serve: the ones given, else models/video and models/cn-layout
    where they exist (the plan ControlNet only beside a video model), none with --no-video."""
    for given, name in ((video_path, "--video"), (plan_control_path, "--video-plan-control")):
        if given is not None and no_video:
            raise click.BadParameter(f"{name} and --no-video contradict each other", param_hint="--no-video")
    if video_path is None and not no_video and DEFAULT_VIDEO_MODEL.is_dir():
        video_path = DEFAULT_VIDEO_MODEL
    if plan_control_path is not None and video_path is None:
        raise click.BadParameter("a plan ControlNet steers a video model, and none is served (give --video)",
                                 param_hint="--video-plan-control")
    if plan_control_path is None and video_path is not None and DEFAULT_LAYOUT_CONTROLNET.is_dir():
        plan_control_path = DEFAULT_LAYOUT_CONTROLNET
    return video_path, plan_control_path
