"""``clinrag eval run BENCH --data PATH ...`` and ``clinrag eval compare RUN_A RUN_B``.

Exit codes: 0 done; 1 the run could not go ahead (bad data, index, missing component, a run
folder of other settings); 2 usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from clinrag.backend_args import add_backend_args, backend_settings
from clinrag.settings import load_settings


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Evaluate retrieval, answers and "
                                     "grounding on a benchmark.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a benchmark and write a run folder")
    run.add_argument("benchmark", choices=["pubmedqa", "bioasq", "squad", "jsonl"])
    run.add_argument("--data", type=Path, required=True,
                     help="benchmark file (BioASQ: a golden file or a folder of them)")
    run.add_argument("--setting", choices=["retrieval", "context"], default="retrieval",
                     help="retrieval: question only, corpus retrieved (PubMedQA*); context: "
                     "answer from the question's own gold documents")
    run.add_argument("--limit", type=int, help="first N questions (the corpus stays whole)")
    run.add_argument("--out", type=Path, help="run folder (default HOME/cache/eval/runs/NAME); "
                     "an interrupted run in it resumes")
    run.add_argument("--fresh", action="store_true", help="discard what the run folder holds")
    run.add_argument("--index", type=Path, help="evaluate against this existing index")
    add_backend_args(run)
    run.add_argument("--extra-corpus", type=Path, nargs="+", default=[], metavar="PATH",
                     help="distractor sources ingested into the corpus too")
    run.add_argument("--mode", choices=["bm25", "dense", "hybrid"])
    run.add_argument("--no-rerank", action="store_true")
    run.add_argument("--max-per-doc", type=int, metavar="N",
                     help="at most N passages from one document (default: retrieve.max_per_doc)")
    run.add_argument("--chunk-size", type=int, metavar="TOKENS",
                     help="build the corpus index with this chunk size (a separate cached index)")
    run.add_argument("--chunk-overlap", type=int, metavar="TOKENS")
    run.add_argument("--no-verify", action="store_true", help="answerer skips verification")
    run.add_argument("--no-answer", action="store_true",
                     help="retrieval metrics only (no answerer)")
    run.add_argument("--generator", metavar="NAME",
                     help="answer writer for this run (settings' answer.generator): 'default' "
                     "(SmolLM2 + adapter), 'extractive' (verified quotes, no language model; "
                     "what a 1-hour full BioASQ run uses), a local causal LM path, or 'openai'")
    run.add_argument("--depth", type=int, default=100, help="documents ranked per question")
    run.add_argument("--split", choices=["train", "val", "test"],
                     help="only questions of this split of clinrag's training data (pubmedqa, "
                     "bioasq: by question id; squad: by paper); 'test' was never trained or "
                     "tuned on")
    run.add_argument("--home", type=Path)
    run.add_argument("--json", action="store_true", help="print metrics.json to stdout")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    cmp = sub.add_parser("compare", help="two run folders side by side")
    cmp.add_argument("run_a", type=Path)
    cmp.add_argument("run_b", type=Path)
    cmp.add_argument("--json", action="store_true")
    return parser


def main(argv: list[str] | None = None, prog: str = "clinrag eval") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("eval").setLevel(logging.INFO)
    if args.command == "compare":
        return _compare(args, prog)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if not 1 <= args.depth <= 1000:
        parser.error("--depth must be between 1 and 1000")
    from eval.corpus import CorpusError
    from eval.datasets import DatasetError
    from eval.harness import EvalConfig, HarnessError, evaluate
    from eval.runfolder import RunFolderError
    from ingest.errors import IndexCorrupt, IndexMismatch

    if args.max_per_doc is not None and args.max_per_doc < 1:
        parser.error("--max-per-doc must be at least 1")
    chunk = {k: v for k, v in (("size", args.chunk_size), ("overlap", args.chunk_overlap))
             if v is not None}
    try:
        settings = load_settings({"home": args.home, "answer": {"generator": args.generator},
                                  "retrieve": backend_settings(args),
                                  **({"chunk": chunk} if chunk else {})})
    except ValueError as exc:   # pydantic's ValidationError names the field and the bound
        parser.error(str(exc))
    config = EvalConfig(
        benchmark=args.benchmark, data=args.data, setting=args.setting, limit=args.limit,
        out=args.out, index=args.index, extra_corpus=tuple(args.extra_corpus),
        mode=args.mode, rerank=False if args.no_rerank else None,
        verify=False if args.no_verify else None, answers=not args.no_answer,
        fresh=args.fresh, depth=args.depth, split=args.split, max_per_doc=args.max_per_doc,
        progress=not args.quiet)
    try:
        result = evaluate(config, settings)
    except (DatasetError, CorpusError, HarnessError, RunFolderError, IndexMismatch,
            IndexCorrupt, FileNotFoundError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**result.metrics, "meta": result.meta, "out": str(result.out)},
                         indent=1))
    else:
        print((result.out / "report.md").read_text("utf-8"))
        print(f"run folder: {result.out}")
    return 0


def _compare(args, prog: str) -> int:
    from eval.compare import CompareError, compare, render

    try:
        rows = compare(args.run_a, args.run_b)
    except (CompareError, json.JSONDecodeError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"a": str(args.run_a), "b": str(args.run_b), "rows": rows}, indent=1))
    else:
        print(render(rows, str(args.run_a), str(args.run_b)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
