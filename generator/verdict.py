"""The verdict model: (question, evidence) -> yes / no / maybe / insufficient evidence.

A sequence-classification head over the packaged MiniLM, trained by ``clinrag train verdict``
on PubMedQA and BioASQ yes/no questions. The fourth label, "insufficient", is learned from the
same questions paired with retrieved passages that do not come from their source documents, so
the model also tells the answerer when to abstain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from generator.classifier import PairClassifier

VERDICT_LABELS = ("yes", "no", "maybe", "insufficient")

# Questions a yes/no verdict makes sense for start with an auxiliary or modal verb.
_YES_NO_START = re.compile(
    r"^(is|are|was|were|do|does|did|can|could|should|would|will|has|have|had|may|might|must|"
    r"shall)\b", re.IGNORECASE)


_WH_START = re.compile(r"^(what|which|who|whom|whose|when|where|why|how|list|name|describe|"
                       r"give|explain)\b", re.IGNORECASE)


def is_yes_no_question(question: str) -> bool:
    """A polar question: not a wh-question, and it or one of its clauses starts with an
    auxiliary or modal verb ("Statins after stroke: are they safe?")."""
    text = question.strip().lstrip("¿\"'(")
    parts = [p.strip() for p in re.split(r"[.:;,]|--|\s[-\u2013]\s", text) if p.strip()]
    if any(_WH_START.match(p) for p in parts):
        return False
    if any(_YES_NO_START.match(p) for p in parts):
        return True
    # A headline put as a question ("Aripiprazole: a new risk factor for gambling?").
    return text.endswith("?") and len(parts) > 1


def evidence_text(passages: list[str], max_chars: int = 2400) -> str:
    """The evidence the verdict model reads: the top passages, best first, cut to a budget."""
    out, used = [], 0
    for passage in passages:
        passage = " ".join(passage.split())
        if used + len(passage) > max_chars:
            passage = passage[: max(0, max_chars - used)]
        if passage:
            out.append(passage)
            used += len(passage)
        if used >= max_chars:
            break
    return " | ".join(out)


@dataclass(frozen=True)
class VerdictPrediction:
    probs: dict[str, float]

    @property
    def label(self) -> str:
        return max(self.probs, key=self.probs.get)

    @property
    def answerable(self) -> float:
        """Probability that the evidence answers the question (1 - P(insufficient))."""
        return 1.0 - self.probs.get("insufficient", 0.0)

    def among(self, labels: tuple[str, ...]) -> tuple[str, float]:
        """The best label among ``labels`` and its probability renormalised over them."""
        total = sum(self.probs[label] for label in labels) or 1.0
        best = max(labels, key=lambda label: self.probs[label])
        return best, self.probs[best] / total


class VerdictModel:
    def __init__(self, classifier: PairClassifier):
        self.classifier = classifier
        self.labels = tuple(classifier.config.get("labels", VERDICT_LABELS))
        self.name = classifier.name
        self.evidence_passages = int(classifier.config.get("evidence_passages", 3))

    @classmethod
    def load(cls, spec: str | Path = "default", *, models_dir: Path | None = None,
             device: str = "auto") -> VerdictModel:
        return cls(PairClassifier.load(spec, "verdict", num_labels=len(VERDICT_LABELS),
                                       models_dir=models_dir, device=device))

    def predict(self, question: str, passages: list[str]) -> VerdictPrediction:
        evidence = evidence_text(passages[: self.evidence_passages])
        probs = self.classifier.probabilities([(question, evidence)])[0]
        return VerdictPrediction({label: float(p) for label, p in zip(self.labels, probs)})
