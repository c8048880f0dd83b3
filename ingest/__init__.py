"""Ingest: parse sources, chunk, embed and write the literature index.

Public surface: :func:`ingest.pipeline.run` (``ingest run``) and :class:`ingest.store.IndexStore`.
"""
