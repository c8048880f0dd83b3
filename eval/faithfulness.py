"""The hand-labelled faithfulness set (data/faithfulness/): (sentence, passage) pairs, and the
verifier's scores on them.

Each pair names its passage by reference into the shared benchmark data (PubMedQA abstract
sections, BioASQ gold snippets, COVID-QA full-text spans), so no data set is copied into the
repository; ``load_pairs`` resolves the references and fails loudly if one does not resolve.
Labels and the labelling rules: data/faithfulness/RULES.md. The split follows the passage's
document (a sha256 rule, 40% test), so every pair of one paper is on one side.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.training.held_out import PAIRS_FILE, doc_key

FAITHFUL_KINDS = ("faithful_quote", "faithful_paraphrase")
DISTORTION_KINDS = ("negation", "entity_swap", "number_change", "population_widened",
                    "strength_overstated", "added_claim", "unsupported_other")


class FaithfulnessSetError(ValueError):
    """A pair that cannot be read or whose passage reference does not resolve."""


@dataclass(frozen=True)
class Pair:
    pair_id: str
    sentence: str
    passage: str
    supported: bool
    kind: str
    origin: str           # "system" (a real answer sentence) or "written"
    dataset: str          # "pubmedqa", "bioasq", "covidqa"
    doc_key: str
    split: str            # "dev" or "test"
    question: str = ""


def split_of(key: str) -> str:
    return "test" if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10 < 4 else "dev"


class PassageResolver:
    """Reads the shared data once per data set and returns the text a reference names."""

    def __init__(self, data: Path):
        self.data = data

    @functools.cached_property
    def _pubmedqa(self) -> dict[str, Any]:
        return json.loads((self.data / "pubmedqa" / "pqal_train.json").read_text("utf-8"))

    @functools.cached_property
    def _bioasq(self) -> dict[tuple, set[str]]:
        index: dict[tuple, set[str]] = {}
        for path in sorted((self.data / "bioasq").glob("*/*.json")):
            for question in json.loads(path.read_text("utf-8"))["questions"]:
                for s in question.get("snippets", []):
                    pmid = s["document"].rstrip("/").rsplit("/", 1)[-1]
                    key = (pmid, s["beginSection"], s["offsetInBeginSection"],
                           s["offsetInEndSection"])
                    index.setdefault(key, set()).add(s["text"])
        return index

    @functools.cached_property
    def _covidqa(self) -> dict[int, str]:
        raw = json.loads((self.data / "covidqa" / "covidqa_200423.json").read_text("utf-8"))
        return {int(p["document_id"]): p["context"]
                for d in raw["data"] for p in d["paragraphs"]}

    def resolve(self, ref: dict[str, Any]) -> str:
        dataset = ref.get("dataset")
        if dataset == "pubmedqa":
            text = self._pubmedqa[str(ref["pmid"])]["CONTEXTS"][int(ref["context"])]
        elif dataset == "bioasq":
            key = (str(ref["pmid"]), ref["section"], ref["begin"], ref["end"])
            texts = {" ".join(t.split()) for t in self._bioasq[key]}
            if len(texts) != 1:
                raise FaithfulnessSetError(f"BioASQ snippet {key} is ambiguous")
            return texts.pop()     # BioASQ's begin/end are the snippet's own offsets
        elif dataset == "covidqa":
            return self._covidqa[int(ref["document_id"])][int(ref["start"]):int(ref["end"])]
        else:
            raise FaithfulnessSetError(f"unknown data set {dataset!r}")
        if "start" in ref or "end" in ref:
            text = text[int(ref.get("start", 0)):int(ref.get("end", len(text)))]
        return text


def load_pairs(data: Path, path: Path = PAIRS_FILE) -> list[Pair]:
    resolver = PassageResolver(data)
    pairs = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            ref = row["passage_ref"]
            passage = resolver.resolve(ref)
            key = doc_key(ref)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise FaithfulnessSetError(f"{path.name} line {number}: {exc!r}") from exc
        if row["split"] != split_of(key):
            raise FaithfulnessSetError(f"{path.name} line {number}: split {row['split']!r} "
                                       f"does not follow the document rule for {key}")
        pairs.append(Pair(row["id"], row["sentence"], passage, row["label"] == "supported",
                          row["kind"], row["origin"], ref["dataset"], key, row["split"],
                          row.get("question", "")))
    return pairs


def rates(pairs: Sequence[Pair], accepted: Sequence[bool]) -> dict[str, Any]:
    """Faithful kept and distortions rejected, overall and per kind, dataset and origin."""
    def share(rows: list[tuple[Pair, bool]], want: bool) -> dict[str, Any]:
        hits = sum(a == want for _, a in rows)
        return {"n": len(rows), "rate": round(hits / len(rows), 4) if rows else None}

    rows = list(zip(pairs, accepted))
    faithful = [r for r in rows if r[0].supported]
    distorted = [r for r in rows if not r[0].supported]
    out: dict[str, Any] = {"faithful_kept": share(faithful, True),
                           "distortions_rejected": share(distorted, False),
                           "by_kind": {}, "by_dataset": {}, "by_origin": {}}
    for kind in (*FAITHFUL_KINDS, *DISTORTION_KINDS):
        group = [r for r in rows if r[0].kind == kind]
        if group:
            out["by_kind"][kind] = share(group, kind in FAITHFUL_KINDS)
    for field, target in (("dataset", "by_dataset"), ("origin", "by_origin")):
        for value in sorted({getattr(p, field) for p in pairs}):
            group_f = [r for r in faithful if getattr(r[0], field) == value]
            group_d = [r for r in distorted if getattr(r[0], field) == value]
            out[target][value] = {"faithful_kept": share(group_f, True),
                                  "distortions_rejected": share(group_d, False)}
    return out


def accept_all(pairs: Sequence[Pair], support: Callable[[list[tuple[str, str]]], Sequence[float]],
               threshold: float, check: Callable[[str, str], bool] | None) -> list[bool]:
    """Whether the verifier shows each sentence: support >= threshold and, with ``check``,
    the exact checks passing."""
    scores = list(support([(p.sentence, p.passage) for p in pairs]))
    return [float(s) >= threshold and (check is None or check(p.sentence, p.passage))
            for p, s in zip(pairs, scores)]
