"""The studio: an HTTP server with a web UI, a job queue, a gallery and three APIs.

    app.py            create_app(): the FastAPI application, wired from the parts below
    settings.py       ServerSettings: address, token, limits, folders
    model_catalog.py  the models a server offers (model loading lives in one function there)
    guard.py          token, Origin/Host and body-size checks in front of every route (and a budget
                      for the bodies held at once)
    errors.py         ApiError and the JSON error answers (OpenAI's shape under /v1/)
    job.py            one job: status, progress, preview, waiting for changes
    job_queue.py      a bounded queue per device and the one worker thread that drains it
    job_runner.py     what the worker does with a job: generate, save to the gallery
    gallery.py        SQLite (WAL) rows + labelled PNG files, crash-safe
    uploads.py        base64 and multipart images in, with size guards; URLs refused
    job_request.py    turning API fields into a checked job (limits, moderation, seeds)
    own_api.py        /api/...       pixeldrift's JSON API (jobs, progress stream, gallery)
    a1111_api.py      /sdapi/v1/...  AUTOMATIC1111-compatible generation, progress, interrupt, skip
    a1111_settings.py /sdapi/v1/...  AUTOMATIC1111-compatible listings and options (the model switch)
    a1111_names.py    A1111 sampler and scheduler display names <-> ours
    openai_api.py     /v1/images/... OpenAI Images-compatible endpoints, and /v1/models
    adapters.py       the LoRAs and embeddings of --loras/--embeddings, and the <lora:NAME:WEIGHT> tag
    openai_size.py    the size an OpenAI client asks for -> the size the model draws (then resized)
    video_api.py      /api/video     clips from the video model (--video), run on the same worker; MP4 + GIF
    static/           the web page (plain HTML, CSS and JavaScript)

The server adds no generation logic: every image comes from model.generate().
"""

from pixeldrift.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str):
    # FastAPI is imported only when an app is made, so `pixeldrift --help` stays fast without it
    if name == "create_app":
        from pixeldrift.server.app import create_app
        return create_app
    raise AttributeError(f"module 'pixeldrift.server' has no attribute {name!r}")
