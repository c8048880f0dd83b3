"""The audit trail: one JSON line per answered request, appended, never rewritten.

Questions are health information, so neither the log nor the trail holds their text: a
fingerprint (HMAC-SHA256 under a server-local secret) lets an auditor match a known question
to its records without the trail revealing what was asked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def load_secret(path: Path) -> bytes:
    """The fingerprint key, created (mode 0600) on first use."""
    try:
        return bytes.fromhex(path.read_text("utf-8").strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return bytes.fromhex(path.read_text("utf-8").strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(secret.hex() + "\n")
    return secret


def fingerprint(secret: bytes, question: str) -> str:
    """Keyed hash of the whitespace-normalised question (same question, same fingerprint)."""
    normal = " ".join(question.split()).lower()
    return hmac.new(secret, normal.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


class AuditLog:
    """Append-only JSON lines; one write() per record under a lock, so lines never interleave."""

    def __init__(self, path: Path, secret: bytes):
        self.path = path
        self.secret = secret
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def fingerprint(self, question: str) -> str:
        return fingerprint(self.secret, question)

    def record(self, *, route: str, key_id: str, status: int, question: str | None = None,
               generation: str | None = None, cited_chunk_ids: list[str] | None = None,
               models: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "route": route, "key_id": key_id, "status": status,
            "question_fp": self.fingerprint(question) if question is not None else None,
            "generation": generation, "cited_chunk_ids": cited_chunk_ids or [],
            "models": models or {},
        }
        entry.update(extra)
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            # O_APPEND: each record lands at the end even with several writers.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        return entry
