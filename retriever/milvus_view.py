"""The generation a Milvus server serves, as the retriever's ``ChunkStore`` (retriever/store.py).

Search runs in the engine: a dense and a BM25 ``AnnSearchRequest``, each with the filters as
its ``expr`` (so each run's top-``depth`` is taken among the allowed chunks), fused by
Milvus's ``RRFRanker`` with the same constant as the local fusion. ``RRFRanker`` has no run
weights, so unequal ``dense_weight``/``bm25_weight`` are refused rather than silently
ignored. A candidate's key is a ``RowKey``: the chunk id with the row Milvus returned, which
carries everything a hit and the reranker need, so no second round trip is made per hit and
nothing of a search is kept on the view (threads share it).

Opening resolves the alias once: a reader keeps searching the collection it opened even if
a writer moves the alias meanwhile (as a local reader keeps its generation).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clinrag.settings import Settings
from ingest.chunk import titled
from ingest.errors import IndexCorrupt, IndexMismatch
from ingest.store.milvus import (SCHEMA_VERSION, BackendUnavailable, MilvusTarget, error_line,
                                 aliased, connect, properties)
from ingest.tokenize import TokenizerConfig
from retriever.store import Candidate, Candidates, Fusion
from retriever.types import Filters, Hit, Mode

_HIT_FIELDS = ["chunk_id", "doc_id", "text", "title", "section", "source", "journal", "pmid",
               "doi", "path", "page_number", "start", "end", "year", "publication_types",
               "retracted"]


def _quoted(value: str) -> str:
    """A string literal of Milvus's expression language."""
    return json.dumps(str(value), ensure_ascii=False)


def filter_expr(filters: Filters) -> str:
    """``filters`` as a Milvus boolean expression ("" when none is active); the same
    semantics as the local mask (retriever/index_view.IndexView.mask)."""
    parts = []
    if filters.year_min is not None:
        parts.append(f"year >= {int(filters.year_min)}")
    if filters.year_max is not None:
        parts.append(f"(year <= {int(filters.year_max)} and year >= 0)")
    if filters.sources:
        parts.append(f"source in [{', '.join(map(_quoted, filters.sources))}]")
    if filters.publication_types:
        wanted = ", ".join(_quoted(t.lower()) for t in filters.publication_types)
        parts.append(f"array_contains_any(publication_types_lc, [{wanted}])")
    if filters.doc_ids:
        parts.append(f"doc_id in [{', '.join(map(_quoted, filters.doc_ids))}]")
    if filters.exclude_retracted:
        parts.append("retracted == false")
    return " and ".join(parts)


@dataclass(frozen=True)
class RowKey:
    """A candidate's key: equal and hashed by chunk id; the row rides along."""

    chunk_id: str
    row: dict = field(compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class MilvusView:
    client: Any
    target: MilvusTarget
    collection: str
    terms_collection: str
    name: str
    manifest: dict[str, Any]
    size: int
    tokenizer: TokenizerConfig

    @classmethod
    def open(cls, settings: Settings) -> MilvusView:
        target = MilvusTarget.of(settings)
        client = connect(target)
        collection = aliased(client, target)
        if collection is None:
            raise IndexCorrupt(f"Milvus at {target.uri} serves no clinrag index under "
                               f"{target.alias!r}: run `ingest run PATH --backend milvus` first")
        props = properties(client, collection)
        if props.get("clinrag.schema") != SCHEMA_VERSION:
            raise IndexMismatch(f"Milvus collection {collection} (alias {target.alias!r}) was "
                                f"not written by this version of clinrag (schema "
                                f"{props.get('clinrag.schema')!r}, expected {SCHEMA_VERSION!r})")
        try:
            manifest = json.loads(props["clinrag.manifest"])
        except (KeyError, ValueError) as exc:
            raise IndexCorrupt(f"Milvus collection {collection} has no readable manifest") \
                from exc
        sparse = manifest["sparse"]
        return cls(client, target, collection, props.get("clinrag.terms", ""),
                   props.get("clinrag.generation", collection), manifest,
                   int(manifest["counts"]["chunks"]),
                   TokenizerConfig(sparse["stopwords"], sparse["stem"]))

    # -- the ChunkStore interface ----------------------------------------------------------
    def candidates(self, query: str, vector: np.ndarray | None, mode: Mode, depth: int,
                   filters: Filters, fusion: Fusion) -> Candidates:
        from pymilvus import AnnSearchRequest, RRFRanker

        expr = filter_expr(filters)
        dense_param = {"metric_type": "IP", "params": {"ef": max(self.target.ef, depth)}}
        requests, runs = [], []
        if mode in ("dense", "hybrid"):
            requests.append(AnnSearchRequest(data=[np.asarray(vector, np.float32).tolist()],
                                             anns_field="dense", param=dense_param,
                                             limit=depth, expr=expr or None))
            runs.append("dense")
        if mode in ("bm25", "hybrid"):
            requests.append(AnnSearchRequest(data=[query], anns_field="sparse",
                                             param={"metric_type": "BM25"}, limit=depth,
                                             expr=expr or None))
            runs.append("bm25")
        if len(runs) == 2 and fusion.dense_weight != fusion.bm25_weight:
            raise IndexMismatch("the milvus backend fuses dense and BM25 runs with equal "
                                "weights (Milvus's RRFRanker); set retrieve.dense_weight = "
                                "retrieve.bm25_weight")
        t = time.perf_counter()
        try:
            if len(requests) == 2:
                found = self.client.hybrid_search(self.collection, requests,
                                                  RRFRanker(fusion.rrf_k), limit=2 * depth,
                                                  output_fields=_HIT_FIELDS)
            else:
                r = requests[0]
                found = self.client.search(self.collection, data=r.data, anns_field=r.anns_field,
                                           search_params=r.param, limit=depth,
                                           filter=expr, output_fields=_HIT_FIELDS)
        except Exception as exc:
            raise BackendUnavailable(f"Milvus search on {self.collection} failed: "
                                     f"{error_line(exc)}") from exc
        elapsed = round((time.perf_counter() - t) * 1000, 3)
        ranked = []
        for row in found[0]:
            entity = dict(row["entity"])
            entity["chunk_id"] = chunk_id = str(row.get("chunk_id") or entity["chunk_id"])
            score = float(row["distance"])
            if runs == ["bm25"]:
                score = -score   # milvus-lite reports BM25 scores negated (docs/milvus.md)
            ranked.append(Candidate(RowKey(chunk_id, entity), entity["doc_id"], score,
                                    {"rrf" if len(runs) == 2 else runs[0]: score}))
        return Candidates(ranked, {"fused": len(ranked)}, {"milvus": elapsed})

    def passage(self, key: RowKey) -> str:
        """As the local rule (ingest.chunk.passage_text) reads a chunk."""
        prefix = bool(self.manifest["chunker"].get("prefix_title", True))
        return titled(key.row["text"], key.row["title"] if prefix else "", prefix)

    def hit(self, key: RowKey, rank: int, score: float, stages: dict[str, float]) -> Hit:
        row = key.row
        return Hit(rank=rank, chunk_id=key.chunk_id, doc_id=row["doc_id"], title=row["title"],
                   text=row["text"],
                   page_number=None if row["page_number"] < 0 else int(row["page_number"]),
                   section=row["section"] or None, start=int(row["start"]),
                   end=int(row["end"]), score=float(score), scores=stages,
                   source=row["source"], year=None if row["year"] < 0 else int(row["year"]),
                   journal=row["journal"] or None, pmid=row["pmid"] or None,
                   doi=row["doi"] or None,
                   publication_types=tuple(row["publication_types"] or ()),
                   retracted=bool(row["retracted"]), path=row["path"] or None)

    def key_of(self, chunk_id: str) -> RowKey:
        found = self.client.get(self.collection, ids=[chunk_id], output_fields=_HIT_FIELDS)
        if not found:
            raise KeyError(chunk_id)
        return RowKey(chunk_id, dict(found[0]))

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        wanted = sorted(set(terms))
        if not wanted or not self.terms_collection:
            return {}
        rows = self.client.query(self.terms_collection,
                                 filter=f"term in [{', '.join(map(_quoted, wanted))}]",
                                 output_fields=["term", "idf"])
        return {r["term"]: float(r["idf"]) for r in rows}

    def vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        rows = {r["chunk_id"]: r["dense"] for r in
                self.client.get(self.collection, ids=list(chunk_ids), output_fields=["dense"])}
        return np.array([rows[c] for c in chunk_ids], dtype=np.float32)


def served_generation(settings: Settings, every_s: float = 2.0):
    """A function giving the generation the alias serves now ("g000007"; None when it cannot
    tell), asking the server at most every ``every_s`` seconds: the server checks it per
    request to switch to a newly published generation (server/live.py)."""
    import threading

    target = MilvusTarget.of(settings)
    state: dict[str, Any] = {"at": float("-inf"), "name": None, "client": None}
    lock = threading.Lock()

    def current() -> str | None:
        with lock:
            if time.monotonic() - state["at"] < every_s:
                return state["name"]
            state["at"] = time.monotonic()
            try:
                state["client"] = state["client"] or connect(target)
                collection = aliased(state["client"], target)
                state["name"] = None if collection is None else \
                    properties(state["client"], collection).get("clinrag.generation")
            except Exception:   # the server is away: keep serving what is open
                state["client"] = None
                state["name"] = None
            return state["name"]

    return current
