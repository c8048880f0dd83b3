"""The documents the hand-labelled faithfulness set (data/faithfulness/pairs.jsonl) quotes.

The set measures the verifier, so none of its passages may be trained on: the support miner
leaves out every claim whose gold documents are among these. ``doc_key`` is the set's own
document key (its split follows it too, eval/faithfulness.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PAIRS_FILE = Path(__file__).resolve().parents[2] / "data" / "faithfulness" / "pairs.jsonl"


def doc_key(ref: dict[str, Any]) -> str:
    if ref["dataset"] == "covidqa":
        return f"covidqa:{ref['document_id']}"
    return f"pubmed:{ref['pmid']}"


def faithfulness_documents(path: Path = PAIRS_FILE) -> frozenset[str]:
    """Document keys of every pair in the set (empty if the file is absent)."""
    if not path.is_file():
        return frozenset()
    return frozenset(doc_key(json.loads(line)["passage_ref"])
                     for line in path.read_text("utf-8").splitlines() if line.strip())
