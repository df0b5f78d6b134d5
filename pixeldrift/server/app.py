"""create_app(): the studio as a FastAPI application.

    app = create_app(ServerSettings(gallery_dir="outputs/gallery"))   # loads the models
    uvicorn.run(app, host="127.0.0.1", port=7860)

The worker thread starts and stops with the app (its lifespan). Docs pages are off:
Swagger UI and ReDoc load their scripts from a CDN, and no installed package ships them
for offline use; /docs says so, and the OpenAPI document is at /openapi.json.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from pixeldrift import __version__
from pixeldrift.server import a1111_api, a1111_controlnet, a1111_settings, openai_api, own_api, own_controls
from pixeldrift.server import arena_api, audit_api, augment_api
from pixeldrift.server import spot_api
from pixeldrift.server import restore_api, video_api
from pixeldrift.server.adapters import AdapterCatalog
from pixeldrift.server.control_catalog import ControlCatalog
from pixeldrift.server.errors import ApiError, install_error_handlers
from pixeldrift.server.gallery import Gallery
from pixeldrift.server.guard import RequestGuard
from pixeldrift.server.job_queue import JobQueue
from pixeldrift.server.model_catalog import ModelCatalog
from pixeldrift.server.settings import ServerSettings
from pixeldrift.server.studio import Studio

STATIC = Path(__file__).resolve().parent / "static"


def _upscaler(settings: ServerSettings):
    """The trained upscaler of settings.upscaler_path, on the server's device; None without one."""
    if settings.upscaler_path is None:
        return None
    from pixeldrift.pipeline.upscaler_folder import load_upscaler
    return load_upscaler(settings.upscaler_path, settings.device)


def create_app(settings: ServerSettings, catalog: ModelCatalog | None = None,
               controls: ControlCatalog | None = None) -> FastAPI:
    """The app; `catalog` and `controls` let a caller pass models and ControlNets it already loaded (else
    settings.model_paths and settings.control_paths). The video model, if any, is settings.video_path's, its plans
    drawn by settings.video_plan_control_path's ControlNet."""
    catalog = catalog or ModelCatalog.load(settings.model_paths, settings.device)
    if controls is None:
        controls = ControlCatalog.load(settings.control_paths, catalog, settings.device)
    video = None if settings.video_path is None else \
        video_api.ServedVideo.load(settings.video_path, settings.device, settings.gallery_dir,
                                   settings.video_plan_control_path)
    gallery = Gallery(settings.gallery_dir)
    studio = Studio(settings, catalog, gallery, queue=None, controls=controls,
                    adapters=AdapterCatalog.load(settings.lora_dir, settings.embedding_dir), video=video,
                    upscaler=_upscaler(settings))
    # one worker for images, clips, audits and restorations (restore_api.RestoreRunner, an audit_api.AuditRunner, a
    # video_api.ClipRunner): none runs beside another
    studio.queue = JobQueue(restore_api.RestoreRunner(catalog, gallery, settings), settings.queue_size,
                            settings.device, on_change=studio.save_job)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        studio.queue.start()
        try:
            yield
        finally:
            studio.queue.stop()
            gallery.close()

    app = FastAPI(title="pixeldrift studio", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, description="Image generation with pixeldrift: its own job API, "
                  "AUTOMATIC1111-compatible (with the sd-webui-controlnet extension's ControlNet units) and OpenAI "
                  "Images-compatible endpoints.")
    app.state.studio = studio
    install_error_handlers(app)
    app.include_router(own_api.router)
    app.include_router(own_controls.router)
    app.include_router(a1111_api.router)
    app.include_router(a1111_settings.router)
    app.include_router(a1111_controlnet.router)
    app.include_router(openai_api.router)
    app.include_router(openai_api.models_router)
    app.include_router(arena_api.router)
    app.include_router(audit_api.router)
    app.include_router(augment_api.router)
    app.include_router(spot_api.router)
    app.include_router(video_api.router)
    app.include_router(restore_api.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> None:
        raise ApiError(404, "no interactive docs on this server: Swagger UI would load its scripts from a CDN, and "
                            "nothing is fetched from outside; the API is described at /openapi.json")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.add_middleware(RequestGuard, settings=settings)
    return app
