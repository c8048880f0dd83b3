"""The umbrella command: ``clinrag <stage> ...``.

Each stage owns its own command line; this only dispatches, importing the stage lazily so
that ``clinrag --help`` stays fast.
"""

from __future__ import annotations

import sys

_COMMANDS = {
    "ingest": ("ingest.cli", "build and maintain the literature index"),
    "search": ("retriever.cli", "hybrid search with reranking over the index"),
    "ask": ("generator.cli", "a grounded answer with verified citations"),
    "train": ("clinrag.train", "train clinrag's small models (reranker, verdict, support, generator)"),
    "demo": ("clinrag.demo", "index the embedded demo corpus and show the result"),
    "models": ("generator.smollm2", "convert the packaged generator weights once (models prepare)"),
    "eval": ("eval.cli", "evaluate retrieval, answers and grounding on a benchmark"),
    "serve": ("server.cli", "HTTP API, OpenAI-compatible chat and web page"),
    "keys": ("server.keys_cli", "create, list and revoke API keys of the server"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: clinrag COMMAND [ARGS...]\n\ncommands:")
        for name, (_, help_text) in _COMMANDS.items():
            print(f"  {name:10s} {help_text}")
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from clinrag import __version__

        print(f"clinrag {__version__}")
        return 0
    command = _COMMANDS.get(argv[0])
    if command is None:
        print(f"clinrag: unknown command {argv[0]!r} (see clinrag --help)", file=sys.stderr)
        return 2
    import importlib

    from clinrag.process import setup_process
    from clinrag.settings import SettingsError

    setup_process()   # before any stage imports a model library (docs/runtime.md)
    module = importlib.import_module(command[0])
    try:
        return module.main(argv[1:], prog=f"clinrag {argv[0]}")
    except SettingsError as exc:   # a mistyped or out-of-range setting, from any source
        print(f"clinrag {argv[0]}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
