"""Retriever: dense (FAISS) + BM25 search over an ingested index, fused with reciprocal rank
fusion and reranked by a cross-encoder.

Public surface: :class:`retriever.hybrid.Retriever` (``Retriever.open(settings).search(q)``).
"""
