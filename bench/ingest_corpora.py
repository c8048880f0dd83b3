"""The corpora and systems of the ingest bench: which systems run on which corpus, where the
input files are, a prefix copy of them for ``--limit-docs``, what our loaders extract from them,
and the BioASQ questions that the quality check asks.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CORPORA = ["bioasq", "pdfs"]
# clinrag's configurations: settings overrides per system. pypdfium2 first only matters for PDFs.
OURS = {"ours": {"embed": {"precision": "auto"}},
        "ours-fp32": {"embed": {"precision": "fp32"}},
        "ours-pdfium": {"embed": {"precision": "auto"}, "ingest": {"pdf_extractor": "pypdfium2"}}}
SYSTEMS_OF = {"bioasq": ["baseline", "ours", "ours-fp32"],
              "pdfs": ["baseline", "ours", "ours-fp32", "ours-pdfium"]}
SYSTEMS = ["baseline", *OURS]
_PMID = re.compile(r"(\d+)\s*/?\s*$")


def default_data() -> Path:
    env = os.environ.get("CLINRAG_SHARED_DATA")
    return Path(env) if env else (REPO / ".." / "shared" / "data").resolve()


def source_files(data: Path) -> dict[str, list[Path]]:
    bioasq = sorted(Path(p) for p in glob.glob(str(data / "bioasq" / "Task*BGoldenEnriched" / "*.json")))
    pdfs = sorted((data / "pdfs").glob("*.pdf")) if (data / "pdfs").is_dir() else []
    missing = []
    if not bioasq:
        missing.append(f"{data}/bioasq/Task*BGoldenEnriched/*.json")
    if not pdfs:
        missing.append(f"{data}/pdfs/*.pdf")
    if missing:
        sys.exit(f"bench/ingest.py: benchmark data not found: {', '.join(missing)}.\n"
                 f"Pass --data DIR (the shared data folder, default ../shared/data from the repo "
                 f"root, or $CLINRAG_SHARED_DATA).")
    return {"bioasq": bioasq, "pdfs": pdfs}


def prepare_inputs(data: Path, limit: int | None, workdir: Path) -> dict:
    """The input files of each corpus (a filtered copy when ``limit`` asks for a prefix).

    BioASQ prefix = the first ``limit`` distinct PMIDs in loader order (files sorted, PMIDs
    ascending within a file); each golden file is rewritten keeping only those PMIDs' snippets,
    which gives exactly the same documents for them. PDF prefix = the first ``limit`` files.
    """
    from ingest.sources.benchmark_json import load_benchmark_json

    files = source_files(data)
    out: dict = {}
    bioasq = files["bioasq"]
    if limit:
        chosen: dict[str, None] = {}
        for path in bioasq:
            for doc in load_benchmark_json(path).documents:
                if len(chosen) >= limit:
                    break
                chosen.setdefault(doc.pmid, None)
        keep = set(chosen)
        subset = []
        for path in bioasq:
            raw = json.loads(path.read_text("utf-8"))
            questions = []
            for q in raw.get("questions", ()):
                snippets = [s for s in q.get("snippets") or ()
                            if _pmid_of(s.get("document", "")) in keep]
                if snippets:
                    questions.append({**q, "snippets": snippets})
            if questions:
                target = workdir / "inputs" / "bioasq" / path.parent.name / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps({"questions": questions}), "utf-8")
                subset.append(target)
        bioasq = subset
    pdfs = files["pdfs"]
    if limit and limit < len(pdfs):
        copies = []
        for path in pdfs[:limit]:
            target = workdir / "inputs" / "pdfs" / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            copies.append(target)
        pdfs = copies
    out["files"] = {"bioasq": [str(p) for p in bioasq], "pdfs": [str(p) for p in pdfs]}
    return out


def _pmid_of(url: str) -> str | None:
    match = _PMID.search(str(url))
    return match.group(1) if match else None


def our_input_stats(files: list[str], corpus: str) -> dict:
    """Documents and characters our loaders extract from the inputs (untimed)."""
    from ingest.sources import loader_for

    docs = chars = 0
    for name in files:
        path = Path(name)
        loaded = loader_for(path)(path)
        docs += len(loaded.documents)
        chars += sum(len(p.text) for d in loaded.documents for p in d.pages)
    return {"documents": docs, "chars": chars}


def load_questions(files: list[Path]) -> list[tuple[str, str, list[str]]]:
    """(id, body, gold doc ids) of every distinct question with gold documents, in a stable
    order spread over the task years (sorted by a hash of the id)."""
    seen: dict[str, tuple[str, str, list[str]]] = {}
    for path in files:
        for q in json.loads(path.read_text("utf-8")).get("questions", ()):
            qid = str(q.get("id"))
            body = " ".join(str(q.get("body") or "").split())
            gold = list(dict.fromkeys(f"pubmed:{p}" for p in
                                      (_pmid_of(d) for d in q.get("documents") or ()) if p))
            if qid not in seen and body and gold:
                seen[qid] = (qid, body, gold)
    return sorted(seen.values(), key=lambda q: hashlib.sha256(q[0].encode()).hexdigest())

