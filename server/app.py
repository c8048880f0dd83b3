"""The app factory: ``create_app(settings, config, answerer=...)``.

All state (answerers, keys, rate limiter, work queues, audit log) hangs on ``app.state``, so
several apps can live in one process (tests do) and nothing is shared through globals. The
answerer (index + models) is opened once, at start-up, unless one is passed in.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from clinrag import __version__
from clinrag.settings import Settings
from retriever.hybrid import QueryError
from server import api, ingest_api, openai_compat
from server.api import PageTable
from server.audit import AuditLog, load_secret
from server.auth import reader
from server.config import ServeConfig
from server.keys import KeyRing
from server.limits import Overloaded, RateLimiter, TimedOut, WorkQueue
from server.live import LiveAnswerer

log = logging.getLogger("clinrag.server")
WEB = Path(__file__).resolve().parent / "web"
# The page loads nothing from elsewhere: it must work offline and leak nothing.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
}


def open_answerer(settings: Settings):
    """The models, loaded once for the server's life (generator/runtime.py), over the
    index's current generation; each new generation is reopened with the same runtime."""
    from generator.runtime import Runtime

    return Runtime.load(settings).answerer()


def _served(settings: Settings):
    """Which generation is live: None (the index folder's CURRENT) for the local backend;
    the Milvus alias's, read at most every 2 s, for the milvus backend."""
    if settings.retrieve.backend != "milvus":
        return None
    from retriever.milvus_view import served_generation

    return served_generation(settings)


def create_app(settings: Settings, config: ServeConfig | None = None, *,
               answerer: Any = None, keys: KeyRing | None = None) -> FastAPI:
    config = (config or ServeConfig()).resolved(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if app.state.live is None:
            opened = await asyncio.to_thread(open_answerer, settings)
            app.state.live = LiveAnswerer(opened, settings.index_dir,
                                          current_name=_served(settings))
            log.info("serving index generation %s", opened.generation_id)
        try:
            yield
        finally:
            app.state.work.shutdown()
            app.state.ingest_work.shutdown()

    app = FastAPI(title="clinrag", version=__version__, lifespan=lifespan,
                  description="Grounded, cited answers from an indexed clinical literature "
                  "collection. Literature summaries, not medical advice.",
                  docs_url=None, redoc_url=None, openapi_url=None)
    state = app.state
    state.settings = settings
    state.config = config
    state.keys = keys if keys is not None else KeyRing.load(
        config.keys_file, os.environ.get("CLINRAG_API_KEYS"))
    if not len(state.keys):
        log.warning("no API keys configured: every request will get 401 (create one with "
                    "`clinrag keys add --role reader`)")
    state.limiter = RateLimiter(config.rate_per_minute, config.burst)
    state.work = WorkQueue(config.workers, config.queue_size, "clinrag-answer")
    state.ingest_work = WorkQueue(1, 1, "clinrag-ingest")
    state.audit = AuditLog(config.audit_log, load_secret(config.audit_secret_file))
    state.live = LiveAnswerer(answerer, settings.index_dir, current_name=_served(settings)) \
        if answerer is not None else None
    state.pages = PageTable()

    app.add_middleware(BodyLimit, limits={"/v1/ingest": int(config.max_upload_mb * 2**20)},
                       default=config.max_body_bytes)
    _add_error_handlers(app)
    app.include_router(api.router)
    app.include_router(openai_compat.router)
    app.include_router(ingest_api.router)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(who=Depends(reader)) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB / "index.html")

    app.mount("/static", StaticFiles(directory=WEB), name="static")

    app.add_middleware(CommonHeaders)
    return app


class CommonHeaders:
    """No caching of answers, the page's security headers, and the time spent in the app
    (``Server-Timing``, apart from the client's and the network's share)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        extra = [(b"cache-control", b"no-store")]
        if scope["path"] == "/" or scope["path"].startswith("/static/"):
            extra += [(k.lower().encode(), v.encode()) for k, v in PAGE_HEADERS.items()]

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                elapsed = f"app;dur={(time.perf_counter() - start) * 1000:.1f}".encode()
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in extra if k not in names),
                                      (b"server-timing", elapsed)]
            await send(message)

        await self.app(scope, receive, with_headers)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, exc: Overloaded) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 503,
                            headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(TimedOut)
    async def timed_out(request: Request, exc: TimedOut) -> JSONResponse:
        return JSONResponse({"detail": f"request timed out: {exc}"}, 504)

    @app.exception_handler(QueryError)
    async def bad_query(request: Request, exc: QueryError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 422)


class BodyLimit:
    """413 for bodies over the limit, by Content-Length up front or by counting as they
    arrive (chunked uploads), before any handler buffers them."""

    def __init__(self, app, limits: dict[str, int], default: int):
        self.app = app
        self.limits = limits
        self.default = default

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limits.get(scope["path"].rstrip("/"), self.default)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await _send_error(send, 400, "invalid Content-Length")
            if int(declared) > limit:
                return await _send_error(send, 413, f"request body over {limit} bytes")
        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(413, f"request body over {limit} bytes")
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await _send_error(send, 413, f"request body over {limit} bytes")


class _TooLarge(HTTPException):
    """An HTTPException, so that body parsers pass it on and it is answered as 413."""


async def _send_error(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
