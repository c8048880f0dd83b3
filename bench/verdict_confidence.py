"""Does the verdict model's confidence pick out verdicts that can be trusted?

On the held-out (question, gold evidence) pairs mined for training the verdict model
(validation and test splits, never trained on; ``clinrag train verdict`` caches them in the
index folder as ``mined_verdict_<generation>_<n>.json``), for PubMedQA and BioASQ yes/no
questions separately: accuracy of the yes/no/maybe verdict overall and among the pairs whose
calibrated confidence (renormalised over yes/no/maybe, as ``clinrag ask`` shows it) reaches a
threshold, against the share of "yes" (the always-yes baseline).

    python bench/verdict_confidence.py [--mined data/cache/pqa_index/mined_verdict_*.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

THRESHOLDS = (0.4, 0.5, 0.6, 0.7)


def analyse(probs: np.ndarray, labels: np.ndarray) -> dict:
    """``probs``: yes/no/maybe probabilities (rows sum to 1); ``labels``: 0 yes, 1 no, 2 maybe."""
    pred, conf = probs.argmax(1), probs.max(1)
    out = {"pairs": int(len(labels)), "accuracy": float((pred == labels).mean()),
           "always_yes": float((labels == 0).mean()), "max_confidence": float(conf.max()),
           "by_threshold": {}}
    for t in THRESHOLDS:
        keep = conf >= t
        out["by_threshold"][str(t)] = {
            "coverage": float(keep.mean()),
            "accuracy": float((pred[keep] == labels[keep]).mean()) if keep.any() else None}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mined", type=Path, help="mined_verdict_*.json (default: the newest "
                        "under data/cache/pqa_index*)")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    args = parser.parse_args()
    mined = args.mined or max(REPO.glob("data/cache/pqa_index*/mined_verdict_*.json"),
                              key=lambda p: p.stat().st_mtime, default=None)
    if mined is None or not mined.exists():
        print("no mined verdict pairs: run `clinrag train verdict` first", file=sys.stderr)
        return 2
    from generator.verdict import VerdictModel

    model = VerdictModel.load()
    answers = [model.labels.index(x) for x in ("yes", "no", "maybe")]
    pairs = json.loads(mined.read_text("utf-8"))
    result = {"mined": mined.name, "model": model.name, "splits": {}}
    for split in ("val", "test"):
        held = [p for p in pairs[split] if model.labels[p["label"]] in ("yes", "no", "maybe")]
        probs = model.classifier.probabilities([(p["a"], p["b"]) for p in held])[:, answers]
        probs = probs / probs.sum(1, keepdims=True)
        labels = np.array([answers.index(p["label"]) for p in held])
        for dataset in ("pubmedqa", "bioasq"):
            # PubMedQA pairs are grouped by PMID (digits), BioASQ ones by question id (hex).
            rows = [i for i, p in enumerate(held) if p["group"].isdigit() == (dataset == "pubmedqa")]
            result["splits"][f"{split}/{dataset}"] = analyse(probs[rows], labels[rows])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "verdict_confidence.json").write_text(json.dumps(result, indent=1))
    (args.out / "verdict_confidence.md").write_text(render(result) + "\n")
    print(render(result))
    return 0


def render(result: dict) -> str:
    lines = [f"# Verdict confidence ({result['model']}, pairs {result['mined']})", "",
             "| split / questions | pairs | accuracy | always yes | highest confidence | "
             + " | ".join(f"conf ≥ {t}: coverage, accuracy" for t in THRESHOLDS) + " |",
             "|---|---:|---:|---:|---:|" + "---|" * len(THRESHOLDS)]
    for name, r in result["splits"].items():
        cells = []
        for t in THRESHOLDS:
            b = r["by_threshold"][str(t)]
            cells.append(f"{b['coverage']:.2f}, " + (f"{b['accuracy']:.2f}"
                                                     if b["accuracy"] is not None else "–"))
        lines.append(f"| {name} | {r['pairs']} | {r['accuracy']:.3f} | {r['always_yes']:.3f} | "
                     f"{r['max_confidence']:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
