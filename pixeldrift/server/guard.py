"""Checks in front of every route: API token, cross-site requests, Host names, body size.

A plain ASGI middleware, so it also guards streamed responses and multipart uploads.

* Token: when the server has one, every request but the page shell (/ and /static/)
  carries it as `Authorization: Bearer TOKEN` (what the openai client sends) or as
  the `pixeldrift_token` cookie (what the web page sets), else 401.
* Cross-site: a browser on another site may send requests to 127.0.0.1; we refuse
  any whose Origin differs from the Host it was sent to, and any the browser marks
  `Sec-Fetch-Site: cross-site` (except following a link to a page).
* DNS rebinding: on a loopback address, the Host header must be a loopback name, so
  a page whose own name resolves to 127.0.0.1 still cannot talk to us.
* Body size: a body over its route's limit (`max_body_bytes` where images are uploaded,
  `max_text_body_bytes` elsewhere) is refused with 413 before it is read, from its
  Content-Length, or as soon as a chunked body passes the limit. Bodies being received
  at once share `max_body_bytes_in_flight`; past it a request gets 429, so a burst of
  large bodies cannot take the server's memory.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import unquote, urlsplit

from pixeldrift.server.errors import error_body
from pixeldrift.server.settings import ServerSettings

TOKEN_COOKIE = "pixeldrift_token"
PUBLIC_PATHS = ("/", "/favicon.ico")
PUBLIC_PREFIXES = ("/static/",)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
     b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
]


# routes whose JSON or multipart bodies carry images; every other body holds text fields only
# txt2img and /controlnet/detect carry images too: ControlNet units' control images, as base64; /api/video a first
# frame; /api/restore the image to restore and its mask
UPLOAD_PATHS = ("/api/jobs", "/api/control/map", "/sdapi/v1/img2img", "/sdapi/v1/txt2img", "/controlnet/detect",
                "/v1/images/edits", "/v1/images/variations", "/api/video", "/api/restore")
BUSY = "the server is holding too many large request bodies at once; try again in a moment"


class BodyTooLarge(Exception):
    """A body went past its route's limit (413) or the server's budget for bodies in flight (429)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def body_limit(settings: ServerSettings, path: str) -> int:
    """The most bytes one body to `path` may have: a text-only route needs far less than an upload."""
    return settings.max_body_bytes if path in UPLOAD_PATHS else settings.max_text_body_bytes


def too_large(limit: int) -> str:
    return f"request body larger than {limit} bytes (this endpoint's limit)"


class BodyMeter:
    """One request's body bytes, counted against its route's limit and held in the server's budget.

    The declared Content-Length is held from the start; a chunked body is held as it arrives.
    What is held is given back when the response is done, because the parsed body lives until then.
    """

    def __init__(self, guard: "RequestGuard", limit: int, declared: int):
        self.guard, self.limit, self.seen, self.held = guard, limit, 0, declared
        guard.in_flight += declared

    def add(self, count: int) -> None:
        self.seen += count
        if self.seen > self.limit:
            raise BodyTooLarge(413, too_large(self.limit))
        extra = self.seen - self.held
        if extra > 0:
            if self.guard.in_flight + extra > self.guard.settings.max_body_bytes_in_flight:
                raise BodyTooLarge(429, BUSY)
            self.guard.in_flight += extra
            self.held += extra

    def release(self) -> None:
        self.guard.in_flight -= self.held
        self.held = 0


class RequestGuard:
    def __init__(self, app, settings: ServerSettings):
        self.app = app
        self.settings = settings
        self.in_flight = 0   # body bytes held by requests being handled (one event loop: no lock needed)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self.refusal(scope, headers)
        if refusal is not None:
            return await _send_error(send, scope["path"], *refusal)
        declared = int(headers.get("content-length", "0"))
        if declared and self.in_flight + declared > self.settings.max_body_bytes_in_flight:
            return await _send_error(send, scope["path"], 429, BUSY)
        meter = BodyMeter(self, body_limit(self.settings, scope["path"]), declared)
        try:
            await self._guarded(scope, receive, send, meter)
        finally:
            meter.release()

    async def _guarded(self, scope, receive, send, meter: BodyMeter) -> None:
        """Run the app with a counted body; a body stopped part-way is answered 413 (or 429)."""
        sent, stopped = False, []

        async def counted():
            message = await receive()
            if message["type"] == "http.request":
                try:
                    meter.add(len(message.get("body", b"")))
                except BodyTooLarge as error:
                    stopped.append(error)
                    raise
            return message

        async def send_guarded(message):
            # routes may turn the body error into a 400 of their own; answer with ours instead
            nonlocal sent
            if stopped:
                if not sent:
                    sent = True
                    await _send_error(send, scope["path"], stopped[0].status, stopped[0].message)
                return
            if message["type"] == "http.response.start":
                sent = True
                message = {**message, "headers": list(message.get("headers", [])) + SECURITY_HEADERS}
            await send(message)

        try:
            await self.app(scope, counted, send_guarded)
        except BodyTooLarge as error:
            if not sent:
                await _send_error(send, scope["path"], error.status, error.message)

    def refusal(self, scope, headers: dict) -> tuple[int, str] | None:
        """(status, message) when the request must not reach a route; None when it may."""
        host = headers.get("host", "")
        if self.settings.is_loopback and _hostname(host) not in self.settings.allowed_hosts:
            return 403, (f"Host {host!r} is not a loopback name; this server answers only to "
                         f"{', '.join(self.settings.allowed_hosts)} (DNS-rebinding guard)")
        origin = headers.get("origin")
        if origin is not None and _origin_netloc(origin) != host.lower():
            return 403, f"cross-site request refused: Origin {origin!r} does not match Host {host!r}"
        if headers.get("sec-fetch-site") == "cross-site" and not (
                headers.get("sec-fetch-mode") == "navigate" and scope["method"] == "GET"):
            return 403, "cross-site request refused (Sec-Fetch-Site: cross-site)"
        if self.settings.token and not _is_public(scope["path"]) and not self._has_token(headers):
            return 401, "missing or wrong API token: send 'Authorization: Bearer TOKEN'"
        length = headers.get("content-length", "0")
        if not length.isdigit():
            return 400, f"bad Content-Length {length!r}"
        limit = body_limit(self.settings, scope["path"])
        if int(length) > limit:
            return 413, too_large(limit)
        return None

    def _has_token(self, headers: dict) -> bool:
        expected = self.settings.token.encode()
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and hmac.compare_digest(auth[7:].strip().encode(), expected):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is simply no token
            return False
        sent = cookie.get(TOKEN_COOKIE)
        return sent is not None and hmac.compare_digest(unquote(sent.value).encode(), expected)


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _hostname(host: str) -> str:
    """'127.0.0.1:7860' -> '127.0.0.1', '[::1]:80' -> '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _origin_netloc(origin: str) -> str | None:
    """'http://127.0.0.1:7860' -> '127.0.0.1:7860'; 'null' and junk -> None (never matches)."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    default_port = {"http": ":80", "https": ":443"}[parts.scheme]
    netloc = parts.netloc.lower()
    return netloc[: -len(default_port)] if netloc.endswith(default_port) else netloc


async def _send_error(send, path: str, status: int, message: str) -> None:
    body = json.dumps(error_body(path, status, message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="pixeldrift"'))
    if status == 429:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers + SECURITY_HEADERS})
    await send({"type": "http.response.body", "body": body})
