"""BioASQ Task B golden files walked one way for evaluation and training.

A path is one golden file or a folder of them (every ``*.json`` below it, in sorted order);
each file must hold a ``questions`` list of objects with an ``id``; a question id seen in an
earlier file is skipped (the golden files of later rounds repeat questions). What each
consumer needs of a question (the evaluation's exact answers and snippet offsets, the
trainers' snippet texts) it reads from ``GoldenQuestion.raw``; document references become
ids through the one PubMed-id reader (clinrag/pubmed_ids.py). Ingest reads snippets, not
questions, file by file (ingest/sources/benchmark_json.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class BioASQFormatError(ValueError):
    """A golden file or question is not in the BioASQ format; the message says where."""


@dataclass(frozen=True)
class GoldenQuestion:
    qid: str
    raw: dict[str, Any]     # the question object as the file has it
    where: str              # "FILE: question #N (id ID)", for messages
    round: str              # "7B" ... "10B", from the folder or file name ("" if none)


def golden_files(path: Path) -> list[Path]:
    path = Path(path)
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    if not files:
        raise BioASQFormatError(f"{path}: no BioASQ golden *.json files")
    return files


def round_of(path: Path) -> str:
    """The BioASQ round a golden file belongs to ("Task9BGoldenEnriched/9B1_golden.json": 9B)."""
    for part in reversed(Path(path).parts):
        found = re.match(r"(?:Task)?(\d+B)", part)
        if found:
            return found.group(1)
    return ""


def golden_questions(files: list[tuple[Path, Any]]) -> list[GoldenQuestion]:
    """Every question of every (path, parsed JSON) pair, first occurrence of an id winning."""
    seen: dict[str, GoldenQuestion] = {}
    for path, data in files:
        name = Path(path).name
        questions = data.get("questions") if isinstance(data, dict) else None
        if not isinstance(questions, list):
            raise BioASQFormatError(f"{name}: missing field 'questions' (BioASQ golden JSON)")
        for index, q in enumerate(questions, start=1):
            if not isinstance(q, dict):
                raise BioASQFormatError(f"{name}: question #{index} is not an object")
            qid = str(q.get("id") or "").strip()
            where = f"{name}: question #{index}" + (f" (id {qid})" if qid else "")
            if not qid:
                raise BioASQFormatError(f"{where}: missing field 'id'")
            if qid not in seen:
                seen[qid] = GoldenQuestion(qid, q, where, round_of(path))
    return list(seen.values())


def read_golden(path: Path) -> list[GoldenQuestion]:
    """``golden_questions`` of the file or folder at ``path``."""
    files = []
    for file in golden_files(path):
        try:
            files.append((file, json.loads(file.read_text("utf-8"))))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BioASQFormatError(f"{file.name}: not valid JSON ({exc})") from None
    return golden_questions(files)
