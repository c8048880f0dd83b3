"""``clinrag train MODEL``: train one of clinrag's small models."""

from __future__ import annotations

import importlib
import sys

_TRAINERS = {"reranker": "retriever.train_reranker",
             "verdict": "generator.train_heads:main_verdict",
             "support": "generator.train_heads:main_support",
             "generator": "generator.train_generator",
             "answerability": "generator.train_answerability"}


def main(argv: list[str] | None = None, prog: str = "clinrag train") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in _TRAINERS:
        print(f"usage: {prog} {{{','.join(_TRAINERS)}}} [options]", file=sys.stderr)
        return 2
    module_name, _, function = _TRAINERS[argv[0]].partition(":")
    entry = getattr(importlib.import_module(module_name), function or "main")
    return entry(argv[1:], prog=f"{prog} {argv[0]}")
