"""The manifest: how a generation was built, its counts, and a checksum for every file."""

from __future__ import annotations

import importlib.metadata
from typing import Any

from ingest.errors import IndexMismatch

FORMAT_VERSION = 1
_LIBRARIES = ("clinrag", "faiss-cpu", "sentence-transformers", "transformers", "torch",
              "langchain-text-splitters", "pypdf", "pypdfium2", "numpy", "scipy")


def library_versions() -> dict[str, str]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def identity(manifest: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide whether two indexes' chunks and vectors are comparable."""
    embedder = manifest["embedder"]
    return {
        "embedder": {k: embedder[k] for k in ("name", "revision", "dim", "normalized")},
        "chunker": manifest["chunker"],
        "sparse": manifest["sparse"],
    }


def check_compatible(existing: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Raise IndexMismatch naming each setting that differs."""
    old, new = identity(existing), identity(wanted)
    diffs = []
    for section in old:
        for key in sorted(set(old[section]) | set(new[section])):
            if old[section].get(key) != new[section].get(key):
                diffs.append(f"{section}.{key}: index has {old[section].get(key)!r}, "
                             f"settings ask for {new[section].get(key)!r}")
    if diffs:
        raise IndexMismatch(
            "the index was built with different settings; refusing to mix them ("
            + "; ".join(diffs) + "). Re-run with --rebuild to rebuild it from its sources."
        )
