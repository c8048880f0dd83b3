"""The support model: does a passage support a sentence? (citation verification and grading)

A one-logit classification head over the packaged MiniLM, trained by ``clinrag train support``
on BioASQ ideal-answer sentences and PubMedQA conclusions against their gold passages
(positives), retrieved passages from other documents and minimally edited sentences (negated,
numbers changed) against the gold passage (negatives). ``score`` returns calibrated
probabilities; the answerer keeps a sentence only when each citation reaches a threshold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from generator.classifier import PairClassifier


class SupportModel:
    def __init__(self, classifier: PairClassifier):
        self.classifier = classifier
        self.name = classifier.name
        self.version = str(classifier.config.get("version", "?"))

    @classmethod
    def load(cls, spec: str | Path = "default", *, models_dir: Path | None = None,
             device: str = "auto") -> SupportModel:
        return cls(PairClassifier.load(spec, "support", num_labels=1, models_dir=models_dir,
                                       device=device))

    @classmethod
    def open(cls, settings) -> SupportModel:
        return cls.load(settings.answer.support_model, models_dir=settings.models_dir,
                        device=settings.embed.device)

    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """P(passage supports sentence) for each (sentence, passage) pair."""
        if not pairs:
            return np.zeros(0, dtype=np.float64)
        return self.classifier.probabilities(pairs)
