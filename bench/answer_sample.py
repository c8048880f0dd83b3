"""Answers to a random sample of held-out BioASQ questions of every type, saved for reading.

    python bench/answer_sample.py [--n 50] [--round 10B] [--exclude-reading docs/answer_reading.md]

Draws ``--n`` questions of every type (yes/no, factoid, list, summary) of one BioASQ round with
``random.Random(--seed)``, leaving out the ids a previous reading already holds (any 24-hex id
in the ``--exclude-reading`` files), answers each with the shipped defaults on the PubMedQA*
index (question only, evidence retrieved) and writes one JSON line per answer: the question,
its type, the gold ideal and exact answers and snippets, and the answer with its evidence and
evidence meter (data/cache/answer_sample.jsonl; not committed: it quotes the shared data).
The reading itself is written by hand (docs/answer_reading_stance.md).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from clinrag.settings import load_settings  # noqa: E402
from retriever.bioasq import load_questions  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=REPO / "data/cache/pqa_index")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--round", default="10B")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--exclude-reading", type=Path, nargs="*",
                        default=[REPO / "docs/answer_reading.md"])
    parser.add_argument("--out", type=Path, default=REPO / "data/cache/answer_sample.jsonl")
    args = parser.parse_args(argv)
    from generator.answer import Answerer

    read = {m for path in args.exclude_reading if path.is_file()
            for m in re.findall(r"\b[0-9a-f]{24}\b", path.read_text("utf-8"))}
    questions = {q.qid: q for q in load_questions(args.data / "bioasq" /
                                                  f"Task{args.round}GoldenEnriched")}
    pool = sorted(qid for qid in questions if qid not in read)
    chosen = random.Random(args.seed).sample(pool, min(args.n, len(pool)))
    answerer = Answerer.open(load_settings({"index": args.index}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as out:
        for i, qid in enumerate(chosen):
            q = questions[qid]
            t0 = time.perf_counter()
            answer = answerer.answer(q.body)
            out.write(json.dumps({
                "i": i + 1, "id": qid, "type": q.qtype, "question": q.body,
                "gold_exact": q.exact_answer, "gold_ideal": q.ideal_answer,
                "gold_snippets": list(q.gold_snippets)[:6], "gold_docs": list(q.gold_doc_ids),
                "seconds": round(time.perf_counter() - t0, 2), "answer": answer.to_json(),
            }) + "\n")
            print(f"{i + 1}/{len(chosen)} {q.qtype} {answer.verdict} "
                  f"{'abstained' if answer.abstained else len(answer.sentences)}", flush=True)
    print(f"{len(read)} ids left out as read before; answers in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
