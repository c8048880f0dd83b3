"""Benchmarks in their official formats, read into one typed record per question.

Four formats: ``pubmedqa`` (``ori_pqal.json``: PMID -> {QUESTION, CONTEXTS, LABELS, ...,
final_decision}), ``bioasq`` (Task B golden JSON, one file or a folder of them), ``squad``
(SQuAD-format extractive QA over full texts, e.g. COVID-QA: eval/squad.py) and ``jsonl``
(``{id, question, answer?, relevant_doc_ids?, choices?, contexts?}`` per line). A record that
lacks what evaluation needs is an error naming the record and the field, never a silent skip:
a benchmark that quietly loses questions reports numbers for a different benchmark.

Document ids follow ``ingest/sources/benchmark_json.py`` (``pubmed:<PMID>``), because those are
the ids the index holds and retrieval is scored against.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from clinrag.bioasq import BioASQFormatError, golden_files, golden_questions
from clinrag.pubmed_ids import pubmed_doc_id
from clinrag.pubmedqa import PubMedQAFormatError, read_pubmedqa

BenchmarkName = Literal["pubmedqa", "bioasq", "squad", "jsonl"]
QType = Literal["yesno", "factoid", "list", "summary", "multiple_choice", "open"]

class DatasetError(ValueError):
    """The benchmark file is unreadable or a record lacks a field evaluation needs."""


@dataclass(frozen=True)
class GoldSnippet:
    """A gold passage as character offsets in one section of one document."""

    doc_id: str
    section: str          # "title" | "abstract" | "body" (SQuAD contexts)
    start: int
    end: int              # exclusive


@dataclass(frozen=True)
class Example:
    """One benchmark question with everything needed to score an answer to it.

    ``gold`` depends on ``qtype``: "yes"/"no"/"maybe" (yesno), a list of synonym lists
    (factoid: one entity; list: one entry per item), the correct choice text
    (multiple_choice), a free-text answer (open) or None (summary: only ``ideal``).
    """

    id: str
    question: str
    qtype: QType
    gold: Any = None
    ideal: tuple[str, ...] = ()
    relevant_doc_ids: tuple[str, ...] = ()
    gold_snippets: tuple[GoldSnippet, ...] = ()
    choices: tuple[str, ...] = ()
    contexts: tuple[str, ...] = ()


@dataclass
class Benchmark:
    """Questions plus the files their corpus is built from (all of them, whatever the limit)."""

    name: BenchmarkName
    examples: list[Example]
    files: list[Path]
    data_hash: str
    labels: tuple[str, ...] = field(default=())   # closed label set for macro-F1, if any


def load_benchmark(name: str, path: Path) -> Benchmark:
    """Read benchmark ``name`` from ``path`` (a file, or for BioASQ also a folder)."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if name == "pubmedqa":
        files = [_single_file(path, "*.json")]
        examples = pubmedqa_examples(_read_json(files[0]), files[0].name)
        labels = ("yes", "no", "maybe")
    elif name == "bioasq":
        try:
            files = golden_files(path)
        except BioASQFormatError as exc:
            raise DatasetError(str(exc)) from None
        examples = bioasq_examples([(f, _read_json(f)) for f in files])
        labels = ("yes", "no")
    elif name == "squad":
        from eval.squad import squad_examples

        files = [_single_file(path, "*.json")]
        examples = squad_examples(_read_json(files[0]), files[0].name)
        labels = ()
    elif name == "jsonl":
        files = [_single_file(path, "*.jsonl")]
        examples = jsonl_examples(files[0])
        labels = ()
    else:
        raise DatasetError(f"unknown benchmark {name!r} (pubmedqa, bioasq, squad, jsonl)")
    if not examples:
        raise DatasetError(f"{path}: no questions")
    return Benchmark(name, examples, files, files_hash(files), labels)


def files_hash(files: list[Path]) -> str:
    """sha256 over the files' names and bytes, in sorted order (the corpus cache key)."""
    digest = hashlib.sha256()
    for f in sorted(Path(p) for p in files):
        digest.update(f.name.encode() + b"\0")
        with open(f, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


# -- PubMedQA ----------------------------------------------------------------------------------
def pubmedqa_examples(data: Any, where: str = "pubmedqa") -> list[Example]:
    """Every record as a yes/no/maybe question (read by clinrag/pubmedqa.py)."""
    try:
        records = read_pubmedqa(data, where)
    except PubMedQAFormatError as exc:
        raise DatasetError(str(exc)) from None
    return [Example(id=r.pmid, question=r.question, qtype="yesno", gold=r.decision,
                    ideal=(r.long_answer,) if r.long_answer else (),
                    relevant_doc_ids=(r.doc_id,), contexts=r.contexts) for r in records]


# -- BioASQ ------------------------------------------------------------------------------------
def bioasq_examples(files: list[tuple[Path, Any]]) -> list[Example]:
    """Every question of every golden file, the first occurrence of an id winning
    (clinrag/bioasq.py walks the files)."""
    try:
        questions = golden_questions(files)
    except BioASQFormatError as exc:
        raise DatasetError(str(exc)) from None
    return [_bioasq_example(g.raw, g.qid, g.where) for g in questions]


def _bioasq_example(q: dict[str, Any], qid: str, name: str) -> Example:
    body = _text(q, "body", name)
    qtype = str(_field(q, "type", name)).strip().lower()
    if qtype not in ("yesno", "factoid", "list", "summary"):
        raise DatasetError(f"{name}: type {qtype!r} is not yesno/factoid/list/summary")
    documents = q.get("documents")
    if not isinstance(documents, list):
        raise DatasetError(f"{name}: missing field 'documents' (a list of PubMed URLs)")
    doc_ids = tuple(dict.fromkeys(_doc_id(d, name) for d in documents))
    snippets = []
    for s_index, s in enumerate(q.get("snippets") or (), start=1):
        try:
            begin = str(s.get("beginSection") or "abstract").lower()
            end_section = str(s.get("endSection") or begin).lower()
            start, end = int(s["offsetInBeginSection"]), int(s["offsetInEndSection"])
            doc = _doc_id(s["document"], name)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{name}: snippet #{s_index} lacks a usable {exc}") from exc
        if begin == end_section and end > start:
            snippets.append(GoldSnippet(doc, begin, start, end))
    ideal = q.get("ideal_answer")
    ideal = tuple(str(i) for i in ideal) if isinstance(ideal, list) else (
        (str(ideal),) if ideal else ())
    gold: Any = None
    if qtype == "yesno":
        exact = q.get("exact_answer")
        gold = str(exact[0] if isinstance(exact, list) and exact else exact or "").strip().lower()
        if gold not in ("yes", "no"):
            raise DatasetError(f"{name}: yesno question with exact_answer {exact!r}")
    elif qtype in ("factoid", "list"):
        if "exact_answer" not in q:
            raise DatasetError(f"{name}: missing field 'exact_answer'")
        gold = synonym_lists(q["exact_answer"], qtype)
        if not gold:
            raise DatasetError(f"{name}: empty exact_answer")
    return Example(id=qid, question=body, qtype=qtype, gold=gold, ideal=ideal,
                   relevant_doc_ids=doc_ids, gold_snippets=tuple(snippets))


def synonym_lists(exact: Any, qtype: str) -> list[list[str]]:
    """BioASQ exact answers as a list of synonym lists.

    Factoid answers are one entity given as synonyms, written ``[["a", "b"]]`` or (older
    years) ``["a", "b"]``; list answers are one synonym list per item, ``[["a"], ["b", "b2"]]``.
    """
    if isinstance(exact, str):
        exact = [exact]
    if not isinstance(exact, list):
        return []
    if qtype == "factoid":
        flat = [str(x) for item in exact for x in (item if isinstance(item, list) else [item])]
        return [[x for x in flat if x.strip()]] if any(x.strip() for x in flat) else []
    items = [[str(x) for x in (item if isinstance(item, list) else [item]) if str(x).strip()]
             for item in exact]
    return [item for item in items if item]


def _doc_id(url: Any, name: str) -> str:
    doc_id = pubmed_doc_id(url)
    if doc_id is None:
        raise DatasetError(f"{name}: document {url!r} has no PubMed id")
    return doc_id


# -- generic JSONL -----------------------------------------------------------------------------
def jsonl_examples(path: Path) -> list[Example]:
    examples, seen = [], set()
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            name = f"{path.name}: line {line_no}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{name}: invalid JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise DatasetError(f"{name}: not a JSON object")
            qid = str(_field(record, "id", name))
            name = f"{name} (id {qid})"
            if qid in seen:
                raise DatasetError(f"{name}: duplicate id")
            seen.add(qid)
            examples.append(_jsonl_example(record, qid, name))
    return examples


def _jsonl_example(record: dict[str, Any], qid: str, name: str) -> Example:
    question = _text(record, "question", name)
    relevant = record.get("relevant_doc_ids") or ()
    if not isinstance(relevant, (list, tuple)):
        raise DatasetError(f"{name}: 'relevant_doc_ids' must be a list")
    contexts = record.get("contexts") or ()
    choices = record.get("choices")
    answer = record.get("answer")
    if choices is not None:
        if isinstance(choices, dict):
            labels, texts = list(choices), [str(v) for v in choices.values()]
        elif isinstance(choices, list) and choices:
            labels, texts = [chr(ord("A") + i) for i in range(len(choices))], list(map(str, choices))
        else:
            raise DatasetError(f"{name}: 'choices' must be a non-empty list or object")
        if answer is None:
            raise DatasetError(f"{name}: multiple-choice record without 'answer'")
        gold = _choice_text(answer, labels, texts, name)
        return Example(id=qid, question=question, qtype="multiple_choice", gold=gold,
                       relevant_doc_ids=tuple(map(str, relevant)), choices=tuple(texts),
                       contexts=tuple(map(str, contexts)))
    qtype: QType = "open"
    gold = None if answer is None else str(answer).strip()
    if gold is not None and gold.lower() in ("yes", "no", "maybe"):
        qtype, gold = "yesno", gold.lower()
    return Example(id=qid, question=question, qtype=qtype, gold=gold,
                   ideal=(gold,) if qtype == "open" and gold else (),
                   relevant_doc_ids=tuple(map(str, relevant)), contexts=tuple(map(str, contexts)))


def _choice_text(answer: Any, labels: list[str], texts: list[str], name: str) -> str:
    """The gold choice's text, from a label ("B"), a 0-based index or the text itself."""
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(texts):
        return texts[answer]
    value = str(answer).strip()
    if value in labels:
        return texts[labels.index(value)]
    if value in texts:
        return value
    raise DatasetError(f"{name}: answer {answer!r} is none of the choices {labels}")


# -- helpers -----------------------------------------------------------------------------------
def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: invalid JSON at line {exc.lineno} col {exc.colno}: "
                           f"{exc.msg}") from exc


def _single_file(path: Path, pattern: str) -> Path:
    if path.is_file():
        return path
    found = sorted(path.glob(pattern))
    if len(found) != 1:
        raise DatasetError(f"{path}: expected one {pattern} file, found {len(found)}")
    return found[0]


def _field(record: dict[str, Any], key: str, name: str) -> Any:
    value = record.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DatasetError(f"{name}: missing field {key!r}")
    return value


def _text(record: dict[str, Any], key: str, name: str) -> str:
    return " ".join(str(_field(record, key, name)).split())
