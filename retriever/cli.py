"""``clinrag search "question"``: hybrid search over the index, printed or as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from clinrag.backend_args import add_backend_args, backend_settings
from clinrag.settings import load_settings
from ingest.errors import IndexError_
from retriever.types import Filters, SearchParams


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Search the literature index.")
    parser.add_argument("query")
    parser.add_argument("--k", type=int, help="hits to return (default 10)")
    parser.add_argument("--mode", choices=["dense", "bm25", "hybrid"])
    parser.add_argument("--no-rerank", action="store_true", help="skip the cross-encoder")
    parser.add_argument("--reranker", help="CrossEncoder name or path instead of the default")
    parser.add_argument("--max-per-doc", type=int)
    add_filter_args(parser)
    parser.add_argument("--index", type=Path)
    parser.add_argument("--home", type=Path)
    add_backend_args(parser)
    parser.add_argument("--json", action="store_true")
    return parser


def add_filter_args(parser: argparse.ArgumentParser) -> None:
    """The metadata filter flags shared by ``search`` and ``ask``."""
    parser.add_argument("--year-min", type=int)
    parser.add_argument("--year-max", type=int)
    parser.add_argument("--source", action="append", default=[],
                        help="pdf, pubmed, pubmedqa, bioasq, text, jsonl (repeatable)")
    parser.add_argument("--type", action="append", default=[], dest="types",
                        help="publication type, e.g. 'Randomized Controlled Trial' (repeatable)")
    parser.add_argument("--doc", action="append", default=[], help="restrict to document ids")
    parser.add_argument("--exclude-retracted", action="store_true")


def filters_from_args(args: argparse.Namespace) -> Filters:
    return Filters(year_min=args.year_min, year_max=args.year_max,
                   sources=tuple(args.source), publication_types=tuple(args.types),
                   doc_ids=tuple(args.doc), exclude_retracted=args.exclude_retracted)


def main(argv: list[str] | None = None, prog: str = "clinrag search") -> int:
    args = build_parser(prog).parse_args(argv)
    from retriever.hybrid import QueryError, Retriever
    from retriever.rerank import RerankerUnavailable

    settings = load_settings({
        "home": args.home, "index": args.index,
        "retrieve": {"reranker": args.reranker, "rerank": False if args.no_rerank else None,
                     **backend_settings(args)},
    })
    try:
        params = SearchParams(k=args.k, mode=args.mode, max_per_doc=args.max_per_doc,
                              filters=filters_from_args(args))
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    try:
        retriever = Retriever.open(settings)
        result = retriever.search(args.query, params)
        hits = result.hits
    except (QueryError, IndexError_, RerankerUnavailable,
            FileNotFoundError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"query": args.query, "generation": retriever.store.name,
                          "hits": [h.to_json() for h in hits],
                          "timings_ms": result.trace.timings_ms}, indent=1))
        return 0
    if not hits:
        print("no matching passages")
    for hit in hits:
        flags = " [RETRACTED]" if hit.retracted else ""
        meta = ", ".join(str(x) for x in (hit.journal, hit.year) if x)
        print(f"{hit.rank:>2}. {hit.citation()}{flags}  score {hit.score:.3f}")
        if meta:
            print(f"    {meta}  {hit.doc_id}")
        print(f"    {hit.text[:300]}{'...' if len(hit.text) > 300 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
