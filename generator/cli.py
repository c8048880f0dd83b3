"""``clinrag ask "question"``: a grounded, cited answer, printed readably or as JSON."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from clinrag.backend_args import add_backend_args, backend_settings
from clinrag.settings import load_settings
from generator.types import Answer
from retriever.cli import add_filter_args, filters_from_args


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Answer a literature question with verified citations.")
    parser.add_argument("question")
    parser.add_argument("--k", type=int, help="passages used as evidence (default 5)")
    parser.add_argument("--mode", choices=["dense", "bm25", "hybrid"])
    parser.add_argument("--no-rerank", action="store_true", help="skip the cross-encoder")
    parser.add_argument("--no-verify", action="store_true",
                        help="keep generated sentences unchecked (ablation; not for use)")
    parser.add_argument("--generator",
                        help="'default', 'extractive', 'openai', or a local causal LM path/name")
    parser.add_argument("--endpoint", help="OpenAI-compatible base URL (with --generator openai)")
    add_filter_args(parser)
    parser.add_argument("--index", type=Path)
    add_backend_args(parser)
    parser.add_argument("--home", type=Path)
    parser.add_argument("--json", action="store_true")
    return parser


def _meter_lines(answer: Answer, wrap) -> list[str]:
    """The evidence meter: each cited paper's stance, design and year, and its sentence."""
    if not answer.papers:
        return []
    lines = [f"Evidence: {answer.meter}"]
    for paper in answer.papers:
        facts = ", ".join(str(x) for x in (paper.year, paper.design) if x)
        flag = " RETRACTED, not counted" if paper.retracted else ""
        where = f"[{paper.n}] " if paper.n is not None else ""
        lines.append(wrap(f"{paper.stance:>7}  {where}{paper.title}"
                          + (f" ({facts})" if facts else "") + flag, "  "))
        if paper.sentence:
            lines.append(wrap(f'"{paper.sentence}"', "           "))
    return lines + [""]


def render(answer: Answer, width: int = 96) -> str:
    """The answer as a clinician reads it: verdict, cited sentences, sources, disclaimer."""
    lines: list[str] = []
    wrap = lambda text, indent="": textwrap.fill(  # noqa: E731
        text, width, initial_indent=indent, subsequent_indent=indent)
    if answer.abstained:
        lines.append(wrap("No answer: the indexed literature does not answer this question "
                          f"({answer.abstention_reason})."))
        if answer.evidence:
            lines += ["", "Closest evidence found:"]
    else:
        if answer.verdict == "unclear":
            why = f": {answer.verdict_reason}" if answer.verdict_reason else ""
            lines.append(wrap(f"Verdict: no clear answer in these passages{why} (the evidence "
                              "is shown below)"))
        elif answer.verdict is not None:
            confidence = ("" if answer.confidence is None
                          else f" (confidence {answer.confidence:.0%})")
            lines.append(f"Verdict: {answer.verdict.upper()}{confidence}")
        lines += _meter_lines(answer, wrap)
        for statement in answer.sentences:
            marks = "".join(f"[{n}]" for n in statement.citations)
            quote = '"' if statement.origin == "extractive" else ""
            lines.append(wrap(f"{quote}{statement.text}{quote} {marks}"))
        lines += ["", "Sources:"]
    for source in answer.evidence:
        facts = ", ".join(str(x) for x in (source.journal, source.year, source.study_type) if x)
        flag = "  ** RETRACTED **" if source.retracted else ""
        lines.append(wrap(f"[{source.n}] {source.title}{flag}", ""))
        if facts:
            lines.append(wrap(facts, "    "))
        lines.append(wrap(source.locator(), "    "))
        if answer.abstained:
            lines.append(wrap(source.text[:240] + ("..." if len(source.text) > 240 else ""),
                              "    "))
    lines += ["", wrap(answer.disclaimer),
              f"(index {answer.index_generation or 'empty'}; "
              + ", ".join(f"{k} {v}" for k, v in answer.models.items()) + ")"]
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str = "clinrag ask") -> int:
    args = build_parser(prog).parse_args(argv)
    from clinrag.adapters import AdapterUnavailable
    from generator.answer import QueryError
    from generator.llm import GeneratorError
    from generator.runtime import Runtime
    from ingest.errors import IndexError_

    settings = load_settings({
        "home": args.home, "index": args.index,
        "retrieve": {"mode": args.mode, "rerank": False if args.no_rerank else None,
                     **backend_settings(args)},
        "answer": {"evidence_k": args.k, "generator": args.generator,
                   "endpoint": args.endpoint, "verify": False if args.no_verify else None},
    })
    try:
        answerer = Runtime.load(settings).answerer()
        answer = answerer.answer(args.question, filters=filters_from_args(args))
    except (QueryError, IndexError_, AdapterUnavailable, GeneratorError,
            FileNotFoundError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer.to_json(), indent=1) if args.json else render(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
