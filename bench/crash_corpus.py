"""The crash loop's corpus: mixed files of every kind the loaders read (PubMed XML, text,
Markdown, JSONL, small fpdf2 PDFs) plus broken ones, and the edits that switch it between two
states, so that kills land in full builds and in incremental updates alike.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

_WORDS = (
    "patients randomised trial cohort placebo dose mortality hospitalisation kidney heart "
    "failure stroke insulin metformin statin aspirin anticoagulation bleeding infection "
    "vaccine influenza pneumonia sepsis outcome hazard ratio confidence interval baseline "
    "follow-up adverse events primary endpoint secondary analysis biomarker inflammation "
    "interleukin troponin creatinine haemoglobin blood pressure diabetes obesity exercise "
    "physiotherapy pain fracture osteoporosis asthma copd smoking cessation depression "
    "anxiety dementia cognition screening incidence prevalence risk reduction survival"
).split()


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(n)]
    return (" ".join(words)).capitalize() + "."


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng, rng.randint(8, 16)) for _ in range(sentences))


def _pubmed_xml(rng: random.Random, first_pmid: int, articles: int) -> str:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE PubmedArticleSet PUBLIC '
             '"-//NLM//DTD PubMedArticle, 1st January 2024//EN" '
             '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">\n<PubmedArticleSet>']
    for i in range(articles):
        parts.append(
            f"<PubmedArticle><MedlineCitation><PMID>{first_pmid + i}</PMID><Article>"
            f"<Journal><Title>Journal of Synthetic Medicine</Title><JournalIssue><PubDate>"
            f"<Year>{rng.randint(2000, 2024)}</Year></PubDate></JournalIssue></Journal>"
            f"<ArticleTitle>{_sentence(rng, 7)}</ArticleTitle><Abstract>"
            f"<AbstractText Label=\"BACKGROUND\">{_paragraph(rng, 2)}</AbstractText>"
            f"<AbstractText Label=\"RESULTS\">{_paragraph(rng, 3)}</AbstractText>"
            f"</Abstract></Article></MedlineCitation></PubmedArticle>")
    parts.append("</PubmedArticleSet>\n")
    return "".join(parts)


def _pdf(rng: random.Random, pages: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(_FIXED_DATE)
    pdf.set_title(_sentence(rng, 6))
    pdf.set_font("Helvetica", size=11)
    for _ in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 6, _paragraph(rng, 5))
    return bytes(pdf.output())


def _broken(rng: random.Random, kind: str) -> tuple[str, bytes]:
    if kind == "utf8":
        return "txt", b"Aspirin and \xff\xfe bleeding risk in \xc3 older adults.\n"
    if kind == "json":
        return "jsonl", b'{"id": "broken-1", "title": "Cut off", "text": "Statins red'
    if kind == "xml":
        return "xml", b"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID>"
    if kind == "pdf":
        return "pdf", b"%PDF-1.7\n" + rng.randbytes(600)
    if kind == "notpdf":
        return "pdf", b"<html><body>This is not a PDF.</body></html>\n"
    return "txt", b""  # empty


_FIXED_DATE = None


def make_corpus(folder: Path, files: int = 200, seed: int = 7) -> dict[str, int]:
    """Write ``files`` files of mixed kinds into ``folder``; returns the count per kind.

    Shares: 30 % text/Markdown, 25 % PubMed XML (1-3 articles), 20 % JSONL (2-4 records, some
    with a bad line), 15 % PDF (1-2 pages), 10 % broken (invalid UTF-8, truncated JSON,
    malformed XML, garbage or HTML named .pdf, empty).
    """
    global _FIXED_DATE
    from datetime import datetime, timezone

    _FIXED_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, int] = {}
    pmid = 91_000_000 + seed * 10_000
    for i in range(files):
        roll = rng.random()
        if roll < 0.30:
            kind = "text"
            if rng.random() < 0.5:
                body = f"# {_sentence(rng, 5)}\n\n## Methods\n\n{_paragraph(rng, 3)}\n\n" \
                       f"## Results\n\n{_paragraph(rng, 3)}\n"
                (folder / f"note_{i:04d}.md").write_text(body, "utf-8")
            else:
                (folder / f"note_{i:04d}.txt").write_text(_paragraph(rng, 5) + "\n", "utf-8")
        elif roll < 0.55:
            kind = "pubmed"
            n = rng.randint(1, 3)
            (folder / f"pubmed_{i:04d}.xml").write_text(_pubmed_xml(rng, pmid, n), "utf-8")
            pmid += n
        elif roll < 0.75:
            kind = "jsonl"
            lines = [json.dumps({"id": f"rec-{seed}-{i}-{j}", "title": _sentence(rng, 6),
                                 "text": _paragraph(rng, 4), "year": rng.randint(1990, 2024)})
                     for j in range(rng.randint(2, 4))]
            if rng.random() < 0.3:
                lines.insert(1, '{"id": "half a record", "text": ')
            (folder / f"records_{i:04d}.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
        elif roll < 0.90:
            kind = "pdf"
            (folder / f"paper_{i:04d}.pdf").write_bytes(_pdf(rng, rng.randint(1, 2)))
        else:
            kind = "broken"
            suffix, data = _broken(rng, rng.choice(["utf8", "json", "xml", "pdf", "notpdf",
                                                    "empty"]))
            (folder / f"broken_{i:04d}.{suffix}").write_bytes(data)
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


@dataclass
class Mutation:
    """State B of a corpus: some files edited, some deleted, some added (toggled back to A)."""

    edited: dict[Path, tuple[bytes, bytes]] = field(default_factory=dict)
    deleted: dict[Path, bytes] = field(default_factory=dict)
    added: dict[Path, bytes] = field(default_factory=dict)
    state: str = "A"

    @classmethod
    def plan(cls, folder: Path, seed: int, share: float = 0.1) -> Mutation:
        rng = random.Random(seed + 1)
        texts = sorted(p for p in folder.iterdir() if p.suffix in (".txt", ".md"))
        others = sorted(p for p in folder.iterdir() if p.suffix in (".xml", ".jsonl", ".pdf"))
        n = max(1, int(len(texts) * share))
        mutation = cls()
        for path in rng.sample(texts, min(n, len(texts))):
            old = path.read_bytes()
            mutation.edited[path] = (old, old + f"\n{_paragraph(rng, 2)}\n".encode())
        for path in rng.sample(others, min(max(1, n // 2), len(others))):
            mutation.deleted[path] = path.read_bytes()
        for j in range(max(1, n // 2)):
            mutation.added[folder / f"added_{j:03d}.txt"] = (_paragraph(rng, 4) + "\n").encode()
        return mutation

    def toggle(self) -> str:
        to_b = self.state == "A"
        for path, (old, new) in self.edited.items():
            path.write_bytes(new if to_b else old)
        for path, data in self.deleted.items():
            if to_b:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)
        for path, data in self.added.items():
            if to_b:
                path.write_bytes(data)
            else:
                path.unlink(missing_ok=True)
        self.state = "B" if to_b else "A"
        return self.state

