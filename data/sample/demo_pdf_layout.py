"""Page layout of the demo PDFs: the ``Paper`` record, the fpdf2 page (header, footer) and the
drawing helpers that turn one paper into a PDF file.

Only the PDF core fonts (Helvetica, Times) are used, so no font files are needed. The creation
date is fixed so that reruns produce byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from fpdf import FPDF

DEMO_NOTICE = "Demo document - fictional, generated for clinrag"
CREATED = datetime(2024, 1, 1, tzinfo=timezone.utc)

BODY_FONT = ("Times", "", 10.5)
LINE_H = 5.0


@dataclass
class Paper:
    filename: str
    title: str
    short_title: str
    authors: str
    affiliation: str
    doi: str
    keywords: str
    abstract: str
    # (heading, [paragraph, ...]); a paragraph starting with "## " is a sub-heading
    sections: list[tuple[str, list[str]]]
    references: list[str]
    two_column_sections: tuple[str, ...] = ()
    # (caption, column widths in mm, rows) placed at the end of "3. Results"
    table: tuple[str, tuple[float, ...], list[list[str]]] | None = None
    extra: dict = field(default_factory=dict)


class DemoPDF(FPDF):
    def __init__(self, short_title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.short_title = short_title
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(auto=True, margin=20)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, self.short_title, align="R", new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(180, 180, 180)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(4)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"{DEMO_NOTICE}  |  Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def heading(pdf: DemoPDF, text: str, sub: bool = False) -> None:
    pdf.ln(2 if sub else 3)
    pdf.set_font("Helvetica", "B", 10 if sub else 11.5)
    pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(0.5)


def paragraph(pdf: DemoPDF, text: str) -> None:
    pdf.set_font(*BODY_FONT)
    pdf.multi_cell(0, LINE_H, text, align="J", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)


def two_column_block(pdf: DemoPDF, sections: list[tuple[str, list[str]]]) -> None:
    """Flow several sections through fpdf2's text_columns (two columns, page breaks handled)."""
    pdf.ln(2)
    with pdf.text_columns(ncols=2, gutter=7, text_align="J", line_height=1.2, balance=True) as cols:
        for head, paras in sections:
            pdf.set_font("Helvetica", "B", 11)
            with cols.paragraph(text_align="L", top_margin=2, bottom_margin=1) as par:
                par.write(head)
            for para in paras:
                sub = para.startswith("## ")
                if sub:
                    pdf.set_font("Helvetica", "B", 9.5)
                    with cols.paragraph(text_align="L", top_margin=1) as par:
                        par.write(para[3:])
                    continue
                pdf.set_font("Times", "", 10)
                with cols.paragraph(bottom_margin=1.5) as par:
                    par.write(para)


def results_table(pdf: DemoPDF, caption: str, widths: tuple[float, ...], rows: list[list[str]]) -> None:
    pdf.ln(1)
    pdf.set_font("Helvetica", "B", 9)
    pdf.multi_cell(0, 5, caption, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8.5)
    with pdf.table(
        col_widths=widths,
        text_align=("LEFT",) + ("CENTER",) * (len(widths) - 1),
        line_height=4.6,
        first_row_as_headings=True,
    ) as table:
        for row in rows:
            r = table.row()
            for value in row:
                r.cell(value)
    pdf.ln(3)


def build(paper: Paper, out_dir: Path) -> Path:
    """Lay ``paper`` out and write it to ``out_dir / paper.filename``."""
    pdf = DemoPDF(paper.short_title)
    pdf.set_title(paper.title)
    pdf.set_author(paper.authors)
    pdf.set_subject(DEMO_NOTICE + " (not a real study, not medical advice)")
    pdf.set_keywords(paper.keywords)
    pdf.set_creator("clinrag data/sample/make_pdfs.py")
    pdf.set_creation_date(CREATED)
    pdf.add_page()

    # Demo banner on the first page.
    pdf.set_fill_color(255, 243, 205)
    pdf.set_draw_color(200, 160, 60)
    pdf.set_font("Helvetica", "B", 9)
    pdf.multi_cell(
        0, 5,
        f"{DEMO_NOTICE}. All content, authors, data and references are invented for "
        "software testing. Not a real study and not medical advice.",
        border=1, fill=True, align="C", new_x="LMARGIN", new_y="NEXT",
    )
    pdf.ln(5)

    pdf.set_font("Times", "B", 16)
    pdf.multi_cell(0, 7.5, paper.title, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 5, paper.authors, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "I", 8.5)
    pdf.multi_cell(0, 4.5, paper.affiliation, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(0, 5, f"doi: {paper.doi}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    pdf.set_font("Helvetica", "B", 10)
    pdf.multi_cell(0, 5, "Abstract", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Times", "I", 10)
    pdf.multi_cell(0, 4.8, paper.abstract, align="J", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8.5)
    pdf.ln(1)
    pdf.multi_cell(0, 4.5, f"Keywords: {paper.keywords}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    pending_columns: list[tuple[str, list[str]]] = []
    for head, paras in paper.sections:
        if head in paper.two_column_sections:
            pending_columns.append((head, paras))
            continue
        if pending_columns:
            two_column_block(pdf, pending_columns)
            pending_columns = []
        heading(pdf, head)
        for para in paras:
            if para.startswith("## "):
                heading(pdf, para[3:], sub=True)
            else:
                paragraph(pdf, para)
        if head.startswith("3.") and paper.table:
            results_table(pdf, *paper.table)
    if pending_columns:
        two_column_block(pdf, pending_columns)

    heading(pdf, "References")
    pdf.set_font("Times", "", 9)
    for i, ref in enumerate(paper.references, 1):
        pdf.multi_cell(0, 4.4, f"[{i}] {ref}", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(0.8)

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / paper.filename
    pdf.output(str(path))
    return path
