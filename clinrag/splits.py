"""Train/validation/test splits by paper, for data without years (full-text QA such as COVID-QA).

Questions about one paper are never on two sides, so a model trained on some papers is judged
on papers it never saw. The split hashes the document id, so it is stable across runs, files
and machines, and a paper added later lands in a split without moving the others.
"""

from __future__ import annotations

import hashlib


def hash_bucket(salt: str, key: str, buckets: int) -> int:
    """A bucket in [0, buckets) for ``key``, fixed by sha256 of "salt:key": stable across
    runs, files and machines; each split has its own salt so splits are independent."""
    return int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()[:8], 16) % buckets


def tenths_split(salt: str, key: str, test: int, val: int) -> str:
    """"test" for ``test`` tenths of the keys, "val" for the next ``val`` tenths, else
    "train". Every hashed split in clinrag is this one function with its own salt."""
    bucket = hash_bucket(salt, key, 10)
    return "test" if bucket < test else "val" if bucket < test + val else "train"


def paper_split(doc_id: str) -> str:
    """"train" (60%), "val" (20%) or "test" (20%) for the paper ``doc_id``."""
    return tenths_split("clinrag-paper-split", doc_id, test=2, val=2)


def fixed_sample(items: list, key, n: int | None) -> list:
    """The first ``n`` of ``items`` in an order fixed by a hash of ``key(item)`` (all when
    ``n`` is None): a sample of validation questions spread over many papers, not the first
    few papers' questions, and the same on every machine."""
    ordered = sorted(items, key=lambda x: hashlib.sha256(str(key(x)).encode()).hexdigest())
    return ordered[:n] if n else ordered
