"""``clinrag train MODEL``: train one of clinrag's small models."""

from __future__ import annotations

import importlib
import sys

_TRAINERS = {"reranker": "retriever.training.reranker",
             "verdict": "generator.training.heads_train:main_verdict",
             "support": "generator.training.heads_train:main_support",
             "stance": "generator.training.heads_train:main_stance",
             "generator": "generator.training.generator_train",
             "answerability": "generator.training.answerability"}


def main(argv: list[str] | None = None, prog: str = "clinrag train") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in _TRAINERS:
        print(f"usage: {prog} {{{','.join(_TRAINERS)}}} [options]", file=sys.stderr)
        return 2
    module_name, _, function = _TRAINERS[argv[0]].partition(":")
    entry = getattr(importlib.import_module(module_name), function or "main")
    return entry(argv[1:], prog=f"{prog} {argv[0]}")
