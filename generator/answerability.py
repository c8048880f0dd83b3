"""Should the answerer abstain? A small calibrated gate over three evidence signals.

The verdict model's P(insufficient) alone separates "the source is among the evidence" from
"it is not" with AUC 0.95 on PubMedQA validation questions; that misses ~1 in 5 unanswerable
questions at 10% false abstention. Two cheap signals of how well the *best* passage matches the
question do better, and together almost perfectly (docs/answering.md):

- ``term_coverage``: the IDF-weighted share of the question's terms (the BM25 tokenizer's)
  found in one passage. A passage that never names the drug or the condition asked about
  cannot answer the question, however fluent the rest of it is.
- ``similarity``: the best cosine between the question's and a passage's embedding.

The gate is a logistic regression over these and P(insufficient), fitted by ``clinrag train
answerability`` on PubMedQA training questions retrieved with and without their source
abstract, and stored as JSON (weights, bias, the tuned threshold, the embedder the similarity
came from). Everything here is pure: the retriever computes the signals
(``retriever/coverage.py`` holds the term-coverage one).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clinrag.adapters import default_adapter_path

log = logging.getLogger(__name__)

FEATURES = ("p_insufficient", "term_coverage", "similarity")
GATE_FILE = "clinrag_answerability.json"  # the name default_adapter_path looks for


class GateUnavailable(RuntimeError):
    """No gate file at the path, or one that cannot be read."""


@dataclass(frozen=True)
class AnswerabilitySignals:
    """What the gate reads; each in [0, 1] (similarity: a cosine, in practice 0..1)."""

    p_insufficient: float
    term_coverage: float
    similarity: float

    def vector(self, features: Iterable[str] = FEATURES) -> list[float]:
        values = asdict(self)
        return [float(values[f]) for f in features]


@dataclass(frozen=True)
class AnswerabilityGate:
    weights: tuple[float, ...]
    bias: float
    threshold: float                 # abstain when P(unanswerable) reaches this
    embedder: str                    # the similarity signal's embedding model
    features: tuple[str, ...] = FEATURES
    name: str = "answerability"
    metrics: dict[str, Any] = field(default_factory=dict)

    def p_unanswerable(self, signals: AnswerabilitySignals) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, signals.vector(self.features)))
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["weights"] = list(self.weights)
        data["features"] = list(self.features)
        return data

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / GATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n", "utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, folder: Path) -> AnswerabilityGate:
        path = Path(folder) / GATE_FILE if Path(folder).is_dir() else Path(folder)
        try:
            data = json.loads(path.read_text("utf-8"))
            features = tuple(data["features"])
            unknown = set(features) - set(FEATURES)
            if unknown or len(data["weights"]) != len(features):
                raise ValueError(f"features {features} do not match the weights")
            return cls(weights=tuple(float(w) for w in data["weights"]),
                       bias=float(data["bias"]), threshold=float(data["threshold"]),
                       embedder=str(data["embedder"]), features=features,
                       name=str(data.get("name", "answerability")),
                       metrics=dict(data.get("metrics", {})))
        except FileNotFoundError as exc:
            raise GateUnavailable(f"no answerability gate at {path}") from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GateUnavailable(f"unreadable answerability gate {path}: {exc}") from exc


def default_gate_path(models_dir: Path | None = None) -> Path:
    """The home's ``models/answerability`` if it holds a gate, else the repository's."""
    return default_adapter_path("answerability", models_dir)


def open_gate(spec: str, models_dir: Path | None, embedder: str) -> AnswerabilityGate | None:
    """The gate ``spec`` names ('default', a path, or 'none'); None when there is none to use.

    A gate fitted on another embedder's similarities would misjudge every question, so it is
    refused (the answerer then falls back to the verdict model's probability alone).
    """
    if spec == "none":
        return None
    gate = AnswerabilityGate.load(default_gate_path(models_dir) if spec == "default"
                                  else Path(spec))
    if gate.embedder != embedder:
        raise GateUnavailable(f"the answerability gate was fitted with embedder "
                              f"{gate.embedder!r}, the index uses {embedder!r}")
    return gate


def usable_gate(spec: str, models_dir: Path | None, embedder: str) -> AnswerabilityGate | None:
    """``open_gate``, except that a missing or mismatched *default* gate is a warning: the
    answerer is still safe without it, only more often wrong about what the index answers
    (it abstains on the verdict model's P(insufficient) alone). A gate the user named must
    load."""
    try:
        return open_gate(spec, models_dir, embedder)
    except GateUnavailable as exc:
        if spec != "default":
            raise
        log.warning("answerability gate unavailable, abstaining on the verdict model's "
                    "P(insufficient) alone: %s", exc)
        return None
