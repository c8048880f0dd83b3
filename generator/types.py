"""Records the answerer returns: an answer, its cited sentences and its numbered evidence.

These are the contract between the generator and its consumers (``clinrag ask``, the HTTP
service, the evaluation harness): plain dataclasses with a lossless JSON form.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# "unclear": the shown evidence gives no clear yes or no (generator/stance.py).
Verdict = Literal["yes", "no", "maybe", "insufficient", "unclear"]
Origin = Literal["generated", "extractive"]

DISCLAIMER = ("Literature summary generated from the indexed sources, not medical advice. "
              "Check the cited passages before acting on them.")


@dataclass(frozen=True)
class Source:
    """One retrieved passage shown to the generator, numbered ``n`` (1-based) for citations."""

    n: int
    chunk_id: str
    doc_id: str
    title: str
    text: str
    page_number: int | None
    section: str | None
    start: int
    end: int
    score: float
    source: str = ""
    path: str | None = None
    year: int | None = None
    journal: str | None = None
    pmid: str | None = None
    doi: str | None = None
    study_type: str | None = None
    retracted: bool = False

    def locator(self) -> str:
        """Where a reader finds the passage: file or PMID, then page or section, then span."""
        where = self.path or (f"PMID {self.pmid}" if self.pmid else self.doc_id)
        place = f"p. {self.page_number}" if self.page_number else (self.section or "abstract")
        return f"{where}, {place}, chars {self.start}-{self.end}"


@dataclass(frozen=True)
class Statement:
    """One answer sentence and the evidence numbers it cites (never empty)."""

    text: str
    citations: tuple[int, ...]
    support: float           # the support model's lowest probability over its citations
    origin: Origin = "generated"


@dataclass(frozen=True)
class PaperVerdict:
    """One cited paper in the evidence meter: its stance toward a yes/no question, read by the
    stance model off its clearest sentence (generator/evidence_stance.py)."""

    doc_id: str
    title: str
    year: int | None
    design: str | None           # study design (generator/study_type.py)
    stance: Literal["yes", "no", "unclear"]
    sentence: str | None         # the sentence that carries the stance, verbatim
    n: int | None                # the evidence number of that sentence's passage
    p_yes: float                 # the stance model's reading of that sentence
    p_no: float
    weight: float                # how much it counts: rank x design; 0 when retracted
    retracted: bool = False


@dataclass
class Answer:
    question: str
    verdict: Verdict | None          # None: not a yes/no question
    confidence: float | None         # probability of the verdict (calibrated on validation);
                                     # None when the verdict is "unclear"
    verdict_probs: dict[str, float]
    sentences: list[Statement]
    evidence: list[Source]
    abstained: bool
    abstention_reason: str | None
    index_generation: str
    models: dict[str, str]
    disclaimer: str = DISCLAIMER
    timings_ms: dict[str, float] = field(default_factory=dict)
    # What verification did: generated / verified sentences, dropped citation numbers, ...
    checks: dict[str, int] = field(default_factory=dict)
    # Why the answer was given or withheld: P(unanswerable), its threshold, the signals.
    answerability: dict[str, float] = field(default_factory=dict)
    # The evidence meter for a yes/no question: each cited paper's stance ("3 papers: 2 yes ·
    # 1 unclear" in ``meter``) and why the verdict is what it is.
    papers: list[PaperVerdict] = field(default_factory=list)
    meter: str | None = None
    verdict_reason: str | None = None

    def cited_chunk_ids(self) -> list[str]:
        by_n = {s.n: s.chunk_id for s in self.evidence}
        seen: dict[str, None] = {}
        for statement in self.sentences:
            for n in statement.citations:
                seen.setdefault(by_n[n], None)
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for statement in data["sentences"]:
            statement["citations"] = list(statement["citations"])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        data = dict(data)
        data["sentences"] = [Statement(**{**s, "citations": tuple(s["citations"])})
                             for s in data["sentences"]]
        data["evidence"] = [Source(**s) for s in data["evidence"]]
        data["papers"] = [PaperVerdict(**p) for p in data.get("papers", [])]
        return cls(**data)
