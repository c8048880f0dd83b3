"""PubMedQA (PQA-L, ``ori_pqal.json``) read one way for ingest, evaluation and training.

``read_record`` checks one record and names it in any error: an object with a non-empty
list of CONTEXTS strings; with ``need_answer`` (evaluation, training) also a QUESTION and a
final_decision of yes/no/maybe. Ingest reads a file as a corpus (records without a question
are still abstracts) and refuses bad records one by one; evaluation and training refuse the
file at the first bad record.

Records are split by a hash of their PMID, so the split is stable across runs and machines:
80% train, 10% validation (model selection, calibration), 10% test (reported figures only).
Every trainer and the evaluation use this one split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clinrag.splits import tenths_split

LABELS = ("yes", "no", "maybe")


@dataclass(frozen=True)
class PubMedQARecord:
    pmid: str
    question: str
    contexts: tuple[str, ...]
    labels: tuple[str, ...]        # section label of each context (BACKGROUND, RESULTS, ...)
    long_answer: str               # the abstract's conclusion
    decision: str                  # yes / no / maybe ("" in a corpus record without one)
    year: int | None = None
    meshes: tuple[str, ...] = ()

    @property
    def doc_id(self) -> str:
        return f"pubmed:{self.pmid}"


class PubMedQAFormatError(ValueError):
    """A record misses a field or has the wrong type; the message names the record.
    ``category`` is the ingest report's: "no_text" for a record without abstract text."""

    def __init__(self, message: str, category: str = "parse_error"):
        super().__init__(message)
        self.category = category


def record_split(pmid: str) -> str:
    """"train" (80%), "val" (10%) or "test" (10%) for a PubMedQA record."""
    return tenths_split("clinrag-pubmedqa-split", pmid, test=1, val=1)


def is_pubmedqa(data: Any) -> bool:
    """An object of PMID -> record, the records holding CONTEXTS."""
    return isinstance(data, dict) and bool(data) and all(
        isinstance(v, dict) and "CONTEXTS" in v for v in data.values())


def read_record(pmid: Any, raw: Any, *, need_answer: bool = True,
                where: str = "pubmedqa") -> PubMedQARecord:
    """One record, checked (PubMedQAFormatError naming ``where`` and the PMID)."""
    name = f"{where}: PMID {pmid}"
    if not str(pmid).isdigit():
        raise PubMedQAFormatError(f"{where}: key {pmid!r} is not a PMID")
    if not isinstance(raw, dict):
        raise PubMedQAFormatError(f"{name}: record is not an object")
    contexts = raw.get("CONTEXTS")
    if not isinstance(contexts, list) or not contexts \
            or not all(isinstance(c, str) for c in contexts):
        raise PubMedQAFormatError(f"{name}: missing field 'CONTEXTS' (a non-empty list of "
                                  "strings)", "no_text")
    decision = str(raw.get("final_decision", "")).strip().lower()
    question = " ".join(str(raw.get("QUESTION", "")).split())
    if need_answer:
        for field in ("QUESTION", "final_decision"):
            if raw.get(field) is None or not str(raw[field]).strip():
                raise PubMedQAFormatError(f"{name}: missing field '{field}'")
        if decision not in LABELS:
            raise PubMedQAFormatError(f"{name}: final_decision "
                                      f"{raw.get('final_decision')!r} is not yes/no/maybe")
    year = raw.get("YEAR")
    return PubMedQARecord(
        pmid=str(pmid), question=question, contexts=tuple(contexts),
        labels=tuple(str(label) for label in raw.get("LABELS") or ()),
        long_answer=" ".join(str(raw.get("LONG_ANSWER") or "").split()),
        decision=decision, year=int(year) if str(year or "").isdigit() else None,
        meshes=tuple(str(m) for m in raw.get("MESHES") or ()))


def read_pubmedqa(data: Any, where: str = "pubmedqa") -> list[PubMedQARecord]:
    """Every record of a parsed ``ori_pqal.json``, refusing the file at the first bad one."""
    if not isinstance(data, dict) or not data:
        raise PubMedQAFormatError(f"{where}: expected a JSON object of PMID -> record "
                                  "(ori_pqal.json)")
    return [read_record(pmid, raw, where=where) for pmid, raw in data.items()]


def load_pubmedqa(path: Path) -> list[PubMedQARecord]:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise PubMedQAFormatError(f"{path}: not valid JSON ({exc})") from exc
    return read_pubmedqa(data, str(path))


def split_records(records: list[PubMedQARecord], name: str) -> list[PubMedQARecord]:
    return [r for r in records if record_split(r.pmid) == name]
