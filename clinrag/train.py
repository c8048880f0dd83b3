"""``clinrag train MODEL``: train one of clinrag's small models."""

from __future__ import annotations

import importlib
import sys

_TRAINERS = {"reranker": "retriever.train_reranker"}


def main(argv: list[str] | None = None, prog: str = "clinrag train") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in _TRAINERS:
        print(f"usage: {prog} {{{','.join(_TRAINERS)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(_TRAINERS[argv[0]])
    return module.main(argv[1:], prog=f"{prog} {argv[0]}")
