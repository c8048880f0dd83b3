"""PubMedQA (PQA-L, ``ori_pqal.json`` format) records for training and evaluation (pure data).

Records are split by a hash of their PMID, so the split is stable across runs and machines:
80% train, 10% validation (model selection, calibration), 10% test (reported figures only).
Every trainer and the evaluation use this one split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from clinrag.splits import tenths_split

LABELS = ("yes", "no", "maybe")


@dataclass(frozen=True)
class PubMedQARecord:
    pmid: str
    question: str
    contexts: tuple[str, ...]
    labels: tuple[str, ...]        # section label of each context (BACKGROUND, RESULTS, ...)
    long_answer: str               # the abstract's conclusion
    decision: str                  # yes / no / maybe
    year: int | None = None

    @property
    def doc_id(self) -> str:
        return f"pubmed:{self.pmid}"


class PubMedQAFormatError(ValueError):
    """A record misses a field or has the wrong type; the message names the record."""


def record_split(pmid: str) -> str:
    """"train" (80%), "val" (10%) or "test" (10%) for a PubMedQA record."""
    return tenths_split("clinrag-pubmedqa-split", pmid, test=1, val=1)


def load_pubmedqa(path: Path) -> list[PubMedQARecord]:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise PubMedQAFormatError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise PubMedQAFormatError(f"{path}: expected an object keyed by PMID")
    records = []
    for pmid, raw in data.items():
        if not isinstance(raw, dict):
            raise PubMedQAFormatError(f"{path}: record {pmid} is not an object")
        missing = [f for f in ("QUESTION", "CONTEXTS", "final_decision") if f not in raw]
        if missing:
            raise PubMedQAFormatError(f"{path}: record {pmid} misses {', '.join(missing)}")
        decision = str(raw["final_decision"]).strip().lower()
        if decision not in LABELS:
            raise PubMedQAFormatError(
                f"{path}: record {pmid} has final_decision {raw['final_decision']!r}")
        contexts = raw["CONTEXTS"]
        if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
            raise PubMedQAFormatError(f"{path}: record {pmid} CONTEXTS is not a list of strings")
        year = raw.get("YEAR")
        records.append(PubMedQARecord(
            pmid=str(pmid), question=" ".join(str(raw["QUESTION"]).split()),
            contexts=tuple(contexts), labels=tuple(raw.get("LABELS") or ()),
            long_answer=" ".join(str(raw.get("LONG_ANSWER", "")).split()),
            decision=decision, year=int(year) if str(year or "").isdigit() else None))
    return records


def split_records(records: list[PubMedQARecord], name: str) -> list[PubMedQARecord]:
    return [r for r in records if record_split(r.pmid) == name]
