"""Retrieved hits as the numbered sources an answer cites."""

from __future__ import annotations

from dataclasses import fields

from generator.study_type import study_type
from generator.types import Source
from ingest.store import Generation
from retriever.types import Hit

# The fields a Source takes from its Hit as they are (the rest are derived below), read
# from the two dataclasses so a field added to both is carried without another hand copy.
_CARRIED = tuple(sorted({f.name for f in fields(Source)} & {f.name for f in fields(Hit)}
                        - {"score"}))


def source_of(n: int, hit: Hit, path: str | None) -> Source:
    """Hit ``hit`` as source number ``n``; ``path`` is the file its document came from."""
    return Source(n=n, score=round(hit.score, 4), path=path,
                  study_type=study_type(hit.publication_types, hit.text),
                  **{name: getattr(hit, name) for name in _CARRIED})


def document_paths(generation: Generation) -> dict[str, str]:
    """doc id -> the file it came from (first file in path order), for citations."""
    paths: dict[str, str] = {}
    for path, entry in sorted(generation.ledger.items()):
        for doc_id in entry.doc_ids:
            paths.setdefault(doc_id, entry.path or path)
    return paths
