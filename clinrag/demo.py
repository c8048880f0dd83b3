"""``clinrag demo``: index the embedded demo corpus, show the index, answer one question."""

from __future__ import annotations

import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
QUESTION = "Do SGLT2 inhibitors reduce hospitalisation for heart failure?"


def main(argv: list[str] | None = None, prog: str = "clinrag demo") -> int:
    from ingest.cli import main as ingest_main

    sources = [str(SAMPLE / "pubmed"), str(SAMPLE / "pdfs")]
    print(f"Ingesting the fictional demo corpus ({SAMPLE}) ...", flush=True)
    code = ingest_main(["run", *sources, *(argv or [])], prog=prog)
    if code not in (0, 3):
        return code
    code = ingest_main(["status"], prog=prog)
    if code != 0:
        return code
    from generator.cli import main as ask_main

    print(f"\n$ clinrag ask {QUESTION!r}\n", flush=True)
    return ask_main([QUESTION], prog=prog)


if __name__ == "__main__":
    sys.exit(main())
