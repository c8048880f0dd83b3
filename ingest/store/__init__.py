"""The on-disk index: generations of immutable files behind one atomically switched pointer."""

from ingest.store.generation import Generation, IndexStore

__all__ = ["Generation", "IndexStore"]
