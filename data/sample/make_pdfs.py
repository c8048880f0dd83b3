"""Regenerate the three demo PDFs in data/sample/pdfs/ (run: python data/sample/make_pdfs.py).

Everything written here is FICTIONAL demo content made for the clinrag quick start: the
"papers", authors, numbers and DOIs (10.5555/demo.pdf.*) are invented. They are not real
studies and not medical advice.

Only the PDF core fonts (Helvetica, Times) are used, so no font files are needed, and all
text is plain ASCII (latin-1 safe). The creation date is fixed so that reruns produce
byte-identical files.

The parts: ``demo_pdf_layout.py`` (the page layout and drawing helpers) and
``demo_papers.py`` (the text of the three papers).
"""

from __future__ import annotations

from pathlib import Path

from demo_papers import PAPERS
from demo_pdf_layout import build

OUT_DIR = Path(__file__).resolve().parent / "pdfs"


def main() -> None:
    for paper in PAPERS:
        path = build(paper, OUT_DIR)
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
