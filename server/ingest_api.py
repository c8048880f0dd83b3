"""``POST /v1/ingest`` (admin): index uploaded files or paths under the library folder.

Named paths must resolve, symlinks followed, inside the library folder; anything else is
refused before the pipeline sees it. Uploads are stored content-addressed under
``LIBRARY/uploads`` so a re-upload of the same file is an unchanged file to the ingest ledger.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from ingest.errors import IndexError_
from ingest.sources import is_supported
from server.api import ERRORS
from server.auth import admin
from server.keys import Principal
from server.limits import Overloaded
from server.schemas import ErrorBody, IngestPathsRequest

router = APIRouter()
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_UPLOAD_FILES = 100


class PathRefused(ValueError):
    """A named path is not an existing file or folder inside the library."""


def library_path(library: Path, raw: str) -> Path:
    """``raw`` (relative to the library) resolved, or PathRefused."""
    if not raw or "\x00" in raw or len(raw) > 4096:
        raise PathRefused("empty or invalid path")
    if Path(raw).is_absolute():
        raise PathRefused(f"{raw!r}: give paths relative to the library folder")
    root = library.resolve()
    try:
        resolved = (root / raw).resolve(strict=True)  # follows every symlink on the way
    except (FileNotFoundError, NotADirectoryError):
        raise PathRefused(f"{raw!r}: no such file or folder in the library") from None
    except (OSError, RuntimeError) as exc:  # e.g. a symlink loop
        raise PathRefused(f"{raw!r}: cannot be resolved ({exc.__class__.__name__})") from None
    if not resolved.is_relative_to(root):
        raise PathRefused(f"{raw!r} leads outside the library folder: refused")
    return resolved


def upload_name(filename: str | None, digest: str) -> str:
    """A safe file name for an upload: its content hash and its cleaned base name."""
    base = _SAFE_NAME.sub("_", Path((filename or "").replace("\\", "/")).name).strip("._")
    return f"{digest[:16]}-{base[-120:] or 'upload'}"


_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": IngestPathsRequest.model_json_schema()},
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["files"],
            "properties": {"files": {"type": "array",
                                     "items": {"type": "string", "format": "binary"}}}}},
    },
}


@router.post("/v1/ingest", tags=["ingest"], openapi_extra={"requestBody": _BODY},
             responses={**ERRORS, 400: {"model": ErrorBody, "description": "path refused"},
                        403: {"model": ErrorBody, "description": "needs an admin key"},
                        409: {"model": ErrorBody, "description": "index busy or mismatched"}})
async def ingest(request: Request, who: Principal = Depends(admin)) -> dict[str, Any]:
    """Run the ingest pipeline on uploaded files or library paths; returns its report."""
    state = request.app.state
    library: Path = state.config.library
    library.mkdir(parents=True, exist_ok=True)
    content_type = request.headers.get("content-type", "")
    prune = False
    if content_type.startswith("multipart/form-data"):
        paths = await _save_uploads(request, library / "uploads")
    elif content_type.startswith("application/json"):
        try:
            body = IngestPathsRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            raise HTTPException(422, exc.errors(include_url=False, include_context=False)) \
                from None
        try:
            paths = [library_path(library, p) for p in body.paths]
        except PathRefused as exc:
            raise HTTPException(400, str(exc)) from None
        prune = body.prune
    else:
        raise HTTPException(415, "send application/json {\"paths\": [...]} or "
                            "multipart/form-data files")

    def job():
        from ingest.pipeline import run

        current = state.live.current
        embedder = getattr(getattr(current, "retriever", None), "embedder", None)
        report = run(paths, state.settings, prune=prune, embedder=embedder)
        state.live.get()  # swap to the new generation before answering
        return report

    start = time.perf_counter()
    status, report = 200, None
    try:
        report = await state.ingest_work.run(job, timeout=state.config.ingest_timeout_s)
    except Overloaded:
        status = 503
        raise
    except IndexError_ as exc:
        status = 409
        raise HTTPException(409, str(exc)) from None
    finally:
        state.audit.record(route="/v1/ingest", key_id=who.key_id, status=status,
                           generation=report.generation if report else None,
                           files=len(paths), latency_ms=round(
                               (time.perf_counter() - start) * 1000, 1))
    return report.to_json()


async def _save_uploads(request: Request, folder: Path) -> list[Path]:
    form = await request.form(max_files=MAX_UPLOAD_FILES, max_fields=10)
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not files:
        raise HTTPException(422, "no files in the 'files' field")
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for upload in files:
        if not is_supported(Path(upload.filename or "")):
            raise HTTPException(422, f"{upload.filename!r}: not an ingestible file type")
        digest = hashlib.sha256()
        tmp = folder / f".incoming-{os.getpid()}-{id(upload)}"
        with tmp.open("wb") as out:
            while block := await upload.read(1 << 20):
                digest.update(block)
                out.write(block)
        target = folder / upload_name(upload.filename, digest.hexdigest())
        os.replace(tmp, target)
        saved.append(target)
    await form.close()
    return saved
