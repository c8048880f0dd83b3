"""Retrieved hits as the numbered sources an answer cites."""

from __future__ import annotations

from dataclasses import fields

from generator.study_type import study_type
from generator.types import Source
from retriever.types import Hit

# The fields a Source takes from its Hit as they are (the rest are derived below), read
# from the two dataclasses so a field added to both is carried without another hand copy.
_CARRIED = tuple(sorted({f.name for f in fields(Source)} & {f.name for f in fields(Hit)}
                        - {"score"}))


def source_of(n: int, hit: Hit) -> Source:
    """Hit ``hit`` as source number ``n`` (its path: the file its document came from)."""
    return Source(n=n, score=round(hit.score, 4),
                  study_type=study_type(hit.publication_types, hit.text),
                  **{name: getattr(hit, name) for name in _CARRIED})
