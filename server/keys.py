"""API keys: random bearer tokens of which only a hash is stored, each with an id and a role.

Keys are 32 random bytes, so a plain SHA-256 is enough to keep a stolen keys file useless
(there is nothing to brute-force, unlike passwords, which would need scrypt). The key id is
stored beside its hash and is what logs and the audit trail name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

Role = Literal["reader", "admin"]
ROLES: tuple[str, ...] = ("reader", "admin")
KEY_PREFIX = "crk_"
log = logging.getLogger(__name__)


class KeyFileError(ValueError):
    """The keys file or the key list in the environment is malformed."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id and role (never the key itself)."""

    key_id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    role: Role
    sha256: str
    created: str
    note: str = ""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """(key id, key): the id is public, the key is shown once and never stored."""
    return secrets.token_hex(4), KEY_PREFIX + secrets.token_urlsafe(32)


class KeyRing:
    """Hashes of the valid keys; ``lookup(key)`` returns the caller or None.

    Loaded from a keys file, ``refresh()`` rereads it when it changes, so a key added or
    revoked with ``clinrag keys`` takes effect without a restart.
    """

    def __init__(self, records: list[KeyRecord], keys_file: Path | None = None,
                 env_value: str | None = None):
        self._by_hash = {r.sha256: r for r in records}
        self._file = keys_file
        self._env = env_value
        self._stamp = _stamp(keys_file)

    def refresh(self) -> None:
        if self._file is None:
            return
        stamp = _stamp(self._file)
        if stamp == self._stamp:
            return
        try:
            records = read_keys_file(self._file) + parse_env_keys(self._env or "")
        except KeyFileError as exc:  # a half-edited file must not lock everyone out
            log.error("keeping the previous keys: %s", exc)
            return
        self._by_hash = {r.sha256: r for r in records}
        self._stamp = stamp

    def __len__(self) -> int:
        return len(self._by_hash)

    def lookup(self, key: str) -> Principal | None:
        digest = hash_key(key)
        record = self._by_hash.get(digest)
        # The dict finds the candidate; compare_digest keeps the final check constant-time.
        if record is None or not hmac.compare_digest(record.sha256, digest):
            return None
        return Principal(record.key_id, record.role)

    @classmethod
    def load(cls, keys_file: Path | None, env_value: str | None = None) -> KeyRing:
        records = read_keys_file(keys_file) if keys_file is not None else []
        if env_value:
            records += parse_env_keys(env_value)
        return cls(records, keys_file, env_value)


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        stat = path.stat() if path is not None else None
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size) if stat else None


def parse_env_keys(value: str) -> list[KeyRecord]:
    """``role:key,role:key`` (development only); ids are derived from the key hash."""
    records = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        role, sep, key = item.partition(":")
        if not sep or role not in ROLES or len(key) < 8:
            raise KeyFileError("CLINRAG_API_KEYS must be 'role:key,...' with role reader or "
                               "admin and keys of at least 8 characters")
        digest = hash_key(key)
        records.append(KeyRecord("env-" + digest[:8], role, digest, "", "environment"))
    return records


def read_keys_file(path: Path) -> list[KeyRecord]:
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text("utf-8"))
        records = [KeyRecord(k["id"], k["role"], k["sha256"], k.get("created", ""),
                             k.get("note", "")) for k in data["keys"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a valid keys file: {exc!r}") from exc
    for record in records:
        if record.role not in ROLES or len(record.sha256) != 64:
            raise KeyFileError(f"{path}: key {record.key_id} has an invalid role or hash")
    return records


def add_key(path: Path, role: Role, note: str = "") -> tuple[str, str]:
    """Create a key, store its hash in ``path`` (mode 0600, atomic), return (id, key)."""
    if role not in ROLES:
        raise KeyFileError(f"role must be one of {', '.join(ROLES)}")
    records = read_keys_file(path)
    key_id, key = new_key()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    records.append(KeyRecord(key_id, role, hash_key(key), created, note))
    _write(path, records)
    return key_id, key


def revoke_key(path: Path, key_id: str) -> bool:
    records = read_keys_file(path)
    kept = [r for r in records if r.key_id != key_id]
    if len(kept) == len(records):
        return False
    _write(path, kept)
    return True


def _write(path: Path, records: list[KeyRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": 1, "hash": "sha256", "keys": [
        {"id": r.key_id, "role": r.role, "sha256": r.sha256, "created": r.created,
         "note": r.note} for r in records]}
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
