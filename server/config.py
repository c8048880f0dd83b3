"""Settings of the HTTP service (command-line flags > ``CLINRAG_SERVE_*`` environment > defaults).

Paths left unset are derived from ``Settings.home`` so one ``CLINRAG_HOME`` moves everything.
"""

from __future__ import annotations

from pathlib import Path

import os
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from clinrag.setting_keys import env_keys, unknown_keys
from clinrag.settings import Settings, SettingsError, invalid_value

ENV_PREFIX = "CLINRAG_SERVE_"


class ServeConfig(BaseSettings):
    """How the service listens, whom it lets in and how much work it accepts."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    host: str = Field("127.0.0.1", description="Interface to bind; loopback unless told.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port (0 = any free port).")
    workers: int = Field(2, ge=1, le=64, description="Threads that run answers at once.")
    queue_size: int = Field(8, ge=0, le=10_000,
                            description="Requests that may wait for a worker; more get 503.")
    request_timeout_s: float = Field(120.0, gt=0, description="Longer requests get 504.")
    ingest_timeout_s: float = Field(1800.0, gt=0, description="Longer ingest requests get "
                                    "504 (the run itself still completes).")
    rate_per_minute: float = Field(30.0, gt=0, description="Sustained requests per key.")
    burst: int = Field(10, ge=1, description="Requests a key may make at once.")
    max_question_chars: int | None = Field(
        None, ge=1, description="Longer questions get 422; default retrieve.max_query_chars.")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="JSON bodies above get 413.")
    max_upload_mb: float = Field(100.0, gt=0, description="Ingest uploads above get 413.")
    keys_file: Path | None = Field(None, description="API key hashes; default "
                                   "HOME/server/keys.json.")
    audit_log: Path | None = Field(None, description="Default HOME/server/audit.jsonl.")
    audit_secret_file: Path | None = Field(
        None, description="Key of the question fingerprint; default HOME/server/audit.key.")
    library: Path | None = Field(
        None, description="Folder ingest requests may name paths under; uploads land in "
        "LIBRARY/uploads. Default HOME/library.")
    log_questions: bool = Field(False, description="Write question text to the log (off: "
                                "only a keyed fingerprint is kept).")

    def resolved(self, settings: Settings) -> ServeConfig:
        """A copy with every derived default filled in."""
        server = settings.home / "server"
        return self.model_copy(update={
            "keys_file": self.keys_file or server / "keys.json",
            "audit_log": self.audit_log or server / "audit.jsonl",
            "audit_secret_file": self.audit_secret_file or server / "audit.key",
            "library": self.library or settings.home / "library",
            "max_question_chars": self.max_question_chars or settings.retrieve.max_query_chars,
        })


def load_serve_config(flags: dict[str, Any]) -> ServeConfig:
    """The service's config from command-line ``flags`` (None = not given) over
    ``CLINRAG_SERVE_*``; raises SettingsError on a variable no setting has (it would
    otherwise be ignored) or a value out of range."""
    for name, key in env_keys(os.environ, ENV_PREFIX, "__", frozenset()):
        found = unknown_keys(key, ServeConfig, f"environment variable {name}")
        if found:
            raise SettingsError(found[0].message())
    try:
        return ServeConfig(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        raise SettingsError(invalid_value(exc)) from None
