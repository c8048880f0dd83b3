"""``clinrag demo``: ingest the embedded demo corpus into the home index and show it."""

from __future__ import annotations

import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def main(argv: list[str] | None = None, prog: str = "clinrag demo") -> int:
    from ingest.cli import main as ingest_main

    sources = [str(SAMPLE / "pubmed"), str(SAMPLE / "pdfs")]
    print(f"Ingesting the fictional demo corpus ({SAMPLE}) ...", flush=True)
    code = ingest_main(["run", *sources, *(argv or [])], prog=prog)
    if code not in (0, 3):
        return code
    return ingest_main(["status"], prog=prog)


if __name__ == "__main__":
    sys.exit(main())
