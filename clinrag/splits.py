"""Train/validation/test splits by paper, for data without years (full-text QA such as COVID-QA).

Questions about one paper are never on two sides, so a model trained on some papers is judged
on papers it never saw. The split hashes the document id, so it is stable across runs, files
and machines, and a paper added later lands in a split without moving the others.
"""

from __future__ import annotations

import hashlib


def paper_split(doc_id: str) -> str:
    """"train" (60%), "val" (20%) or "test" (20%) for the paper ``doc_id``."""
    bucket = int(hashlib.sha256(f"clinrag-paper-split:{doc_id}".encode()).hexdigest()[:8],
                 16) % 10
    return "test" if bucket < 2 else "val" if bucket < 4 else "train"


def fixed_sample(items: list, key, n: int | None) -> list:
    """The first ``n`` of ``items`` in an order fixed by a hash of ``key(item)`` (all when
    ``n`` is None): a sample of validation questions spread over many papers, not the first
    few papers' questions, and the same on every machine."""
    ordered = sorted(items, key=lambda x: hashlib.sha256(str(key(x)).encode()).hexdigest())
    return ordered[:n] if n else ordered
