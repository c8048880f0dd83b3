"""The flags that pick where search runs, shared by every command that opens the index.

``--backend local|milvus`` and ``--milvus-uri`` are the ``retrieve.backend`` and
``retrieve.milvus_uri`` settings (also ``CLINRAG_RETRIEVE__BACKEND``, ``clinrag.toml``); the
token is read from ``CLINRAG_RETRIEVE__MILVUS_TOKEN`` only, so it never shows in a process
list.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_backend_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=["local", "milvus"],
                        help="where search runs: the index folder (local, the default) or a "
                        "Milvus server the index is published to (docs/milvus.md)")
    parser.add_argument("--milvus-uri", help="the Milvus server, e.g. http://127.0.0.1:19530")
    parser.add_argument("--milvus-db", help="Milvus database (default: the server's)")
    parser.add_argument("--milvus-collection", help="the alias searched (default clinrag)")


def backend_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The ``retrieve`` overrides the flags give (None: not given)."""
    get = lambda name: getattr(args, name, None)  # noqa: E731
    return {"backend": get("backend"), "milvus_uri": get("milvus_uri"),
            "milvus_db": get("milvus_db"), "milvus_collection": get("milvus_collection")}
