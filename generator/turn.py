"""The state of one question on its way through the answer stages (generator/answer.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from generator.evidence_stance import StanceVerdict
from generator.types import Source, Statement
from generator.verdict import VerdictPrediction
from retriever.types import Hit, SearchParams


@dataclass
class Turn:
    """One question on its way through the answer stages; each stage reads what the ones
    before it left and adds its own part. Nothing of it is kept on the Answerer, which
    serves many threads at once."""

    question: str
    params: SearchParams
    check: bool                      # verify generated sentences against their citations
    started: float
    timings: dict[str, float] = field(default_factory=dict)
    checks: dict[str, int] = field(default_factory=dict)
    vector: np.ndarray | None = None
    hits: list[Hit] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    passages: dict[int, str] = field(default_factory=dict)     # n -> text the models read
    prediction: VerdictPrediction | None = None
    answerability: dict[str, float] | None = None
    stances: StanceVerdict | None = None     # the stance model's reading (yes/no only)
    read: dict = field(default_factory=dict)
    statements: list[Statement] = field(default_factory=list)
    abstention: str | None = None            # set by the stage that finds no answer

    @property
    def context(self) -> list[str]:
        return list(self.passages.values())
