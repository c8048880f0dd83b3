"""The verifier on the hand-labelled faithfulness set: support model, exact checks, both.

    python bench/faithfulness.py [--data ../shared/data] [--out bench/results/faithfulness.json]

Pairs: data/faithfulness/pairs.jsonl (rules in RULES.md), split by document. Every setting is
compared on the dev part; the support threshold is chosen there (the highest share of faithful
sentences kept among thresholds that reject at least 95% of distortions, else the one that
rejects most); the test part is reported once, for the shipped threshold and for the chosen
one, with per-kind, per-dataset and per-origin figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from clinrag.settings import load_settings  # noqa: E402
from eval.faithfulness import accept_all, load_pairs, rates  # noqa: E402
from generator.citations import exact_check  # noqa: E402

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def choose(dev_rows: dict[float, dict]) -> float:
    """Most faithful sentences kept among thresholds rejecting >= 95% of distortions."""
    ok = [t for t, r in dev_rows.items() if r["distortions_rejected"]["rate"] >= 0.95]
    if ok:
        return max(ok, key=lambda t: (dev_rows[t]["faithful_kept"]["rate"], -t))
    return max(dev_rows, key=lambda t: (dev_rows[t]["distortions_rejected"]["rate"], -t))


def line(name: str, r: dict) -> str:
    return (f"| {name} | {r['faithful_kept']['rate']:.3f} ({r['faithful_kept']['n']}) | "
            f"{r['distortions_rejected']['rate']:.3f} ({r['distortions_rejected']['n']}) |")


def to_markdown(result: dict) -> str:
    out = ["# Verifier on the faithfulness set", "",
           f"{result['pairs']} pairs ({result['dev_pairs']} dev, {result['test_pairs']} test, "
           "split by document); support model "
           f"`{result['support_model']}`; shipped threshold {result['shipped_threshold']}, "
           f"chosen on dev {result['chosen_threshold']}.", "",
           "## Dev (choices made here)", "",
           "| setting | faithful kept | distortions rejected |", "| --- | --- | --- |"]
    for name, r in result["dev"].items():
        out.append(line(name, r))
    out += ["", "## Test (reported once)", "",
            "| setting | faithful kept | distortions rejected |", "| --- | --- | --- |"]
    for name, r in result["test"].items():
        out.append(line(name, r))
    shipped = result["test"][result["test_detail_key"]]
    out += ["", f"### Test per kind ({result['test_detail_key']})", "",
            "| kind | n | share handled right |", "| --- | --- | --- |"]
    out += [f"| {k} | {v['n']} | {v['rate']:.3f} |" for k, v in shipped["by_kind"].items()]
    out += ["", "| dataset / origin | faithful kept | distortions rejected |",
            "| --- | --- | --- |"]
    for group in ("by_dataset", "by_origin"):
        for name, r in shipped[group].items():
            out.append(line(name, r))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" /
                        "faithfulness.json")
    parser.add_argument("--dev-only", action="store_true",
                        help="while developing: dev figures only, the test part untouched")
    args = parser.parse_args(argv)
    if not (args.data / "pubmedqa").is_dir():
        print(f"no shared data at {args.data} (pass --data)", file=sys.stderr)
        return 2
    from generator.support import SupportModel

    settings = load_settings()
    pairs = load_pairs(args.data)
    support = SupportModel.open(settings)
    t0 = time.perf_counter()
    scores = {p.pair_id: float(s) for p, s in
              zip(pairs, support.score([(p.sentence, p.passage) for p in pairs]))}
    by_text = {(p.sentence, p.passage): p.pair_id for p in pairs}

    def cached(batch: list[tuple[str, str]]) -> list[float]:   # each pair is scored once
        return [scores[by_text[pair]] for pair in batch]

    checks = {p.pair_id: exact_check(p.sentence, p.passage) for p in pairs}
    seconds = time.perf_counter() - t0

    def evaluate(part, threshold, with_checks):
        check = (lambda s, passage: checks[by_text[(s, passage)]]) if with_checks else None
        return rates(part, accept_all(part, cached, threshold, check))

    dev = [p for p in pairs if p.split == "dev"]
    test = [] if args.dev_only else [p for p in pairs if p.split == "test"]
    shipped = settings.answer.support_threshold
    dev_rows = {t: evaluate(dev, t, True) for t in THRESHOLDS}
    chosen = choose(dev_rows)
    if args.dev_only:
        for name, r in {f"support >= {shipped} alone": evaluate(dev, shipped, False),
                        "exact checks alone": evaluate(dev, 0.0, True), **{
                            f"support >= {t} + exact checks": r for t, r in dev_rows.items()}
                        }.items():
            print(line(name, r))
        return 0
    result = {
        "pairs": len(pairs), "dev_pairs": len(dev), "test_pairs": len(test),
        "support_model": support.name, "shipped_threshold": shipped,
        "chosen_threshold": chosen, "scoring_seconds": round(seconds, 1),
        "dev": {f"support >= {shipped} alone": evaluate(dev, shipped, False),
                "exact checks alone": evaluate(dev, 0.0, True),
                **{f"support >= {t} + exact checks": r for t, r in dev_rows.items()}},
        "test": {f"support >= {shipped} alone": evaluate(test, shipped, False),
                 "exact checks alone": evaluate(test, 0.0, True),
                 f"support >= {shipped} + exact checks": evaluate(test, shipped, True),
                 f"support >= {chosen} + exact checks (chosen on dev)":
                     evaluate(test, chosen, True)},
        "test_detail_key": f"support >= {shipped} + exact checks",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(to_markdown(result))
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
