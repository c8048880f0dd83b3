"""A run folder that survives interruption: per-question results appended and fsynced.

``per_example.jsonl`` gains one line per finished question, flushed and fsynced before the
next question starts, so a killed run loses at most the question in flight. Re-running with
the same folder skips finished questions. A torn last line (killed mid-write) is dropped and
that question redone. A folder made with different settings is refused, since mixing them
would report numbers no single configuration produced.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ingest.store.files import atomic_write_text

PER_EXAMPLE = "per_example.jsonl"
CONFIG = "run_config.json"


class RunFolderError(RuntimeError):
    """The run folder belongs to a different configuration or cannot be used."""


class RunFolder:
    def __init__(self, path: Path):
        self.path = Path(path)

    def start(self, identity: dict[str, Any], fresh: bool = False) -> list[dict[str, Any]]:
        """Prepare the folder for ``identity``; returns the rows already finished."""
        self.path.mkdir(parents=True, exist_ok=True)
        config = self.path / CONFIG
        if fresh:
            for name in (CONFIG, PER_EXAMPLE):
                (self.path / name).unlink(missing_ok=True)
        if config.exists():
            previous = json.loads(config.read_text("utf-8"))
            diff = sorted(k for k in set(previous) | set(identity)
                          if previous.get(k) != identity.get(k))
            if diff:
                raise RunFolderError(
                    f"{self.path} holds a run with different settings ({', '.join(diff)}); "
                    "pass --fresh to start it over or choose another --out")
        else:
            atomic_write_text(config, json.dumps(identity, indent=1, sort_keys=True))
        return self.rows()

    def rows(self) -> list[dict[str, Any]]:
        """Finished rows; a torn final line is cut off the file."""
        path = self.path / PER_EXAMPLE
        if not path.exists():
            return []
        data = path.read_bytes()
        rows, good_end = [], 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
            good_end += len(line)
        if good_end < len(data):
            with open(path, "r+b") as handle:
                handle.truncate(good_end)
                os.fsync(handle.fileno())
        return rows

    def append(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, ensure_ascii=False, default=_jsonable) + "\n"
        with open(self.path / PER_EXAMPLE, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def write_json(self, name: str, data: Any) -> None:
        atomic_write_text(self.path / name, json.dumps(data, indent=1, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
