"""Every error the server answers is JSON with a clear message; OpenAI's error shape under /v1/.

Own and A1111 routes:  {"error": "bad_request", "detail": "steps must be ..."}
OpenAI routes:         {"error": {"message": "...", "type": "invalid_request_error", "param": ..., "code": ...}}
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

LOG = logging.getLogger("pixeldrift.server")
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 422: "invalid_field", 429: "queue_full", 500: "internal_error"}


class ApiError(Exception):
    """An answer other than success: an HTTP status, a message for people, and optionally the field."""

    def __init__(self, status: int, message: str, param: str | None = None, headers: dict | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.headers = status, message, param, headers or {}
        self.code = code or _CODES.get(status, "error")


def error_body(path: str, status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    code = code or _CODES.get(status, "error")
    if path.startswith("/v1/"):
        kind = "invalid_request_error" if status < 500 else "server_error"
        return {"error": {"message": message, "type": kind, "param": param, "code": code}}
    body = {"error": code, "detail": message}
    if param:
        body["param"] = param
    return body


def error_response(request: Request, status: int, message: str, param: str | None = None,
                   headers: dict | None = None, code: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(request.url.path, status, message, param, code), status, headers=headers)


def describe_validation(errors: list[dict]) -> tuple[int, str, str | None]:
    """(status, message, first field) for pydantic's error list; malformed JSON is a 400 of its own."""
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = error.get("ctx", {}).get("error", "cannot parse")
            return 400, f"malformed JSON body: {reason}", None
    parts, first = [], None
    for error in errors[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        first = first or where
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return 422, "; ".join(parts), first


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        return error_response(request, error.status, error.message, error.param, error.headers, error.code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        status, message, param = describe_validation(list(error.errors()))
        return error_response(request, status, message, param)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        message = error.detail if isinstance(error.detail, str) else f"HTTP {error.status_code}"
        if message == "There was an error parsing the body":  # FastAPI's words for undecodable bodies
            message = "malformed JSON body: it cannot be decoded (invalid JSON or not UTF-8 text)"
        if error.status_code == 404 and message == "Not Found":
            message = f"no such endpoint or resource: {request.method} {request.url.path}"
        return error_response(request, error.status_code, message, headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):
        LOG.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(request, 500, f"internal error ({type(error).__name__}); see the server log")
