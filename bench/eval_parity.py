"""Evaluation parity: the same benchmark runs with two checkouts of clinrag, compared row by
row. A refactoring that claims "behaviour unchanged" must leave every per-question row (the
documents and passages ranked, the answer, its scores) identical; only timings may differ.

    git worktree add /tmp/before <commit>; git worktree add /tmp/after HEAD
    python bench/eval_parity.py --before /tmp/before --after /tmp/after --work /tmp/parity

Runs (the corpus index is built once, in WORK/home, and shared by both checkouts):
BioASQ 10B1 retrieval (90 questions), COVID-QA validation passages (80 questions), BioASQ
answers (12) and answers in the context setting (6). Each checkout runs as its own process
with PYTHONPATH set to it; a run folder already complete is not run again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLINRAG_SHARED_DATA", REPO.parent / "shared" / "data"))
BIOASQ = SHARED / "bioasq" / "Task10BGoldenEnriched" / "10B1_golden.json"
COVIDQA = SHARED / "covidqa" / "covidqa_200423.json"
RUNS = {
    "bioasq": ["bioasq", "--data", str(BIOASQ), "--no-answer"],
    "covid": ["squad", "--data", str(COVIDQA), "--split", "val", "--limit", "80",
              "--no-answer"],
    "bioasq-answers": ["bioasq", "--data", str(BIOASQ), "--limit", "12"],
    "bioasq-context": ["bioasq", "--data", str(BIOASQ), "--limit", "6", "--setting",
                       "context"],
}
UNTIMED = ("timings_ms", "runtime_s", "latency_ms_median")


def run(checkout: Path, label: str, work: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(checkout), "CLINRAG_HOME": str(work / "home")}
    for name, args in RUNS.items():
        subprocess.run([sys.executable, "-m", "clinrag.cli", "eval", "run", *args, "--out",
                        str(work / f"{label}-{name}")], env=env, check=True, cwd=REPO)


def untimed(value):
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in UNTIMED}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def compare(work: Path, before: str = "before", after: str = "after") -> dict[str, dict]:
    out = {}
    for name in RUNS:
        a, b = work / f"{before}-{name}", work / f"{after}-{name}"
        rows = [[untimed(json.loads(line)) for line in
                 (folder / "per_example.jsonl").read_text().splitlines()] for folder in (a, b)]
        metrics = [{k: v for k, v in json.loads((f / "metrics.json").read_text()).items()
                    if k != "meta"} for f in (a, b)]
        out[name] = {"questions": len(rows[0]), "rows_identical": rows[0] == rows[1],
                     "metrics_identical": metrics[0] == metrics[1]}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout before")
    parser.add_argument("--after", type=Path, required=True, help="checkout after")
    parser.add_argument("--work", type=Path, default=Path("/tmp/clinrag-parity"))
    parser.add_argument("--compare-only", action="store_true",
                        help="compare run folders already in WORK")
    args = parser.parse_args(argv)
    if not args.compare_only:
        run(args.before, "before", args.work)
        run(args.after, "after", args.work)
    result = compare(args.work)
    print(json.dumps(result, indent=1))
    return 0 if all(r["rows_identical"] and r["metrics_identical"]
                    for r in result.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
