"""Publishing a committed generation to a Milvus server (``retrieve.backend = "milvus"``).

The index folder stays the librarian's record (ledger, report, the generation's files, written
and switched exactly as for the local backend); after each commit the current generation is
published to Milvus, where readers search it:

- one collection per generation, ``<alias>_g000007``: the chunk id (a content hash) as the
  primary key, the chunk and what a citation needs as scalar fields, the 384-d embedding
  (HNSW, inner product) and a BM25 ``Function`` from the indexed text into a sparse field;
- one term collection beside it, ``<alias>_g000007_terms``: the BM25 IDF of every term the
  local engine knows, so the answerer's term coverage weighs terms exactly as locally;
- the collection is marked complete (a property) only after every row is in, flushed, loaded
  and counted; the alias readers search is moved to it last, and older generations beyond
  ``ingest.keep_generations`` are dropped after that.

A writer killed at any point leaves the alias on the previous generation; the next run finds
the alias behind the folder's current generation and publishes it again (an incomplete
collection is dropped and rewritten, so upserts by chunk id are never doubled).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from clinrag.settings import ChunkSettings, Settings
from ingest.chunk import index_text
from ingest.errors import IndexError_, IndexMismatch
from ingest.store.faults import checkpoint
from ingest.store.generation import Generation

log = logging.getLogger(__name__)

SCHEMA_VERSION = "clinrag-milvus-1"
BATCH = 500
# VARCHAR limits are bytes; longer values are cut at a character boundary (a chunk is
# ~256 tokens, so only pathological titles or paths ever reach them).
TEXT_BYTES = 65_535
SHORT_BYTES = 2_048
MAX_TYPES = 64


class BackendUnavailable(IndexError_):
    """The Milvus server cannot be reached or refused the request."""


@dataclass(frozen=True)
class MilvusTarget:
    uri: str
    token: str | None
    db: str | None
    alias: str
    ef: int = 128

    @classmethod
    def of(cls, settings: Settings) -> MilvusTarget:
        r = settings.retrieve
        return cls(r.milvus_uri, r.milvus_token, r.milvus_db, r.milvus_collection, r.milvus_ef)

    def collection(self, generation: str) -> str:
        return f"{self.alias}_{generation}"

    def terms(self, generation: str) -> str:
        return f"{self.alias}_{generation}_terms"


def connect(target: MilvusTarget, timeout_s: float = 10.0):
    """A ``MilvusClient`` on ``target``, or BackendUnavailable in one line."""
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise BackendUnavailable("the milvus backend needs pymilvus: pip install "
                                 "'clinrag[milvus]'") from exc
    # Keep-alive pings only on busy channels and at most every 5 minutes: a gRPC server
    # with default settings (milvus-lite's) answers pymilvus's default (every 10 s, idle
    # too) with GOAWAY "too many pings", which killed long-lived clients in the tests.
    kwargs: dict[str, Any] = {"uri": target.uri, "timeout": timeout_s, "grpc_options": {
        "grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": 0}}
    if target.token:
        kwargs["token"] = target.token
    if target.db:
        kwargs["db_name"] = target.db
    try:
        client = MilvusClient(**kwargs)
        client.list_collections()
    except Exception as exc:  # pymilvus raises its own and grpc's errors
        raise BackendUnavailable(f"cannot reach the Milvus server at {target.uri}: "
                                 f"{error_line(exc)}") from exc
    return client


def error_line(exc: Exception) -> str:
    """The first line of a pymilvus or gRPC error, for a one-line message."""
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def aliased(client, target: MilvusTarget) -> str | None:
    """The collection the alias points to (None before the first publish)."""
    try:
        if target.alias not in client.list_aliases().get("aliases", []):
            return None
        return client.describe_alias(target.alias)["collection_name"]
    except Exception as exc:
        raise BackendUnavailable(f"Milvus at {target.uri}: cannot read alias "
                                 f"{target.alias!r}: {error_line(exc)}") from exc


def properties(client, collection: str) -> dict[str, str]:
    return dict(client.describe_collection(collection).get("properties") or {})


def analyzer(stopwords: bool) -> dict[str, Any]:
    """Milvus's standard tokenizer, lower-cased, with the local BM25's stop words when it
    drops them (ingest/tokenize.py): the same terms count on both backends as far as the
    engine allows (docs/milvus.md)."""
    params: dict[str, Any] = {"tokenizer": "standard", "filter": ["lowercase"]}
    if stopwords:
        from ingest.tokenize import STOPWORDS

        params["filter"].append({"type": "stop", "stop_words": sorted(STOPWORDS)})
    return params


def chunk_schema(dim: int, stopwords: bool = True):
    """The collection's fields (see the module docstring)."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=128)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=SHORT_BYTES)
    # The text BM25 reads: the chunk with its real title, as the local BM25 and the
    # embedder read it (ingest.chunk.index_text).
    schema.add_field("index_text", DataType.VARCHAR, max_length=TEXT_BYTES,
                     enable_analyzer=True, analyzer_params=analyzer(stopwords))
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES)
    schema.add_field("title", DataType.VARCHAR, max_length=SHORT_BYTES)
    for name in ("section", "source", "journal", "pmid", "doi", "path"):
        schema.add_field(name, DataType.VARCHAR, max_length=SHORT_BYTES)
    for name in ("page_number", "start", "end", "year"):   # -1: none
        schema.add_field(name, DataType.INT64)
    for name in ("publication_types", "publication_types_lc"):
        schema.add_field(name, DataType.ARRAY, element_type=DataType.VARCHAR,
                         max_capacity=MAX_TYPES, max_length=256)
    schema.add_field("retracted", DataType.BOOL)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["index_text"],
                                 output_field_names=["sparse"]))
    return schema


def _chunk_indexes(client):
    params = client.prepare_index_params()
    params.add_index(field_name="dense", index_type="HNSW", metric_type="IP",
                     params={"M": 16, "efConstruction": 200})
    params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX",
                     metric_type="BM25")
    return params


def _clip(text: str | None, limit: int) -> str:
    data = (text or "").encode("utf-8")
    if len(data) <= limit:
        return text or ""
    return data[:limit].decode("utf-8", "ignore")


def chunk_rows(generation: Generation, paths: dict[str, str]) -> Iterator[list[dict]]:
    """The generation's chunks as Milvus rows, ``BATCH`` at a time, vectors included."""
    prefix = bool(generation.manifest["chunker"].get("prefix_title", True))
    chunk_settings = ChunkSettings(prefix_title=prefix)
    chunks = generation.chunks
    for start in range(0, len(chunks), BATCH):
        part = chunks[start:start + BATCH]
        vectors = np.stack([generation.dense.reconstruct(int(c.row_id)) for c in part])
        rows = []
        for chunk, vector in zip(part, vectors):
            doc = generation.documents[chunk.doc_id]
            types = [_clip(t, 256) for t in doc.publication_types][:MAX_TYPES]
            rows.append({
                "chunk_id": chunk.chunk_id, "doc_id": _clip(chunk.doc_id, SHORT_BYTES),
                "index_text": _clip(index_text(chunk, doc.title, chunk_settings), TEXT_BYTES),
                "dense": vector.astype(np.float32).tolist(),
                "text": _clip(chunk.text, TEXT_BYTES), "title": _clip(doc.title, SHORT_BYTES),
                "section": _clip(chunk.section, SHORT_BYTES),
                "source": _clip(doc.source, SHORT_BYTES),
                "journal": _clip(doc.journal, SHORT_BYTES), "pmid": _clip(doc.pmid, SHORT_BYTES),
                "doi": _clip(doc.doi, SHORT_BYTES),
                "path": _clip(paths.get(chunk.doc_id), SHORT_BYTES),
                "page_number": -1 if chunk.page_number is None else int(chunk.page_number),
                "start": int(chunk.start), "end": int(chunk.end),
                "year": -1 if doc.year is None else int(doc.year),
                "publication_types": types,
                "publication_types_lc": [t.lower() for t in types],
                "retracted": bool(doc.retracted),
            })
        yield rows


def _terms_schema():
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("term", DataType.VARCHAR, is_primary=True, max_length=1024)
    schema.add_field("idf", DataType.DOUBLE)
    # Milvus wants a vector field in every collection; this one is never searched.
    schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
    return schema


def _write_terms(client, name: str, generation: Generation) -> int:
    from ingest.store.sparse import SparseIndex

    sparse: SparseIndex = generation.sparse
    idf = sparse.idf()
    params = client.prepare_index_params()
    params.add_index(field_name="unused", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=_terms_schema(), index_params=params)
    rows = [{"term": _clip(term, 1024), "idf": float(value), "unused": [0.0, 0.0]}
            for term, value in zip(sparse.vocab, idf) if value > 0]
    for start in range(0, len(rows), 5 * BATCH):
        client.upsert(name, rows[start:start + 5 * BATCH])
    client.flush(name)
    client.load_collection(name)
    return len(rows)


def manifest_property(generation: Generation) -> str:
    """What a reader must know of how the generation was built (the embedder check)."""
    keep = ("embedder", "chunker", "sparse", "counts", "created", "format")
    return json.dumps({k: generation.manifest.get(k) for k in keep}, sort_keys=True)


@dataclass
class Published:
    collection: str
    chunks: int
    terms: int
    seconds: float
    previous: str | None
    unchanged: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def publish(generation: Generation, target: MilvusTarget, keep: int,
            paths: dict[str, str]) -> Published:
    """Make ``generation`` the one the alias serves (see the module docstring)."""
    started = time.perf_counter()
    client = connect(target)
    name, terms = target.collection(generation.name), target.terms(generation.name)
    previous = aliased(client, target)
    try:
        if previous == name and _complete(client, name):
            return Published(name, len(generation.chunks), 0, 0.0, previous, unchanged=True)
        if not (client.has_collection(name) and _complete(client, name)):
            for stale in (name, terms):      # a half-written one from a killed writer
                if client.has_collection(stale):
                    client.drop_collection(stale)
            n_terms = _write_terms(client, terms, generation)
            dim = int(generation.manifest["embedder"]["dim"])
            stopwords = bool(generation.manifest["sparse"].get("stopwords", True))
            client.create_collection(name, schema=chunk_schema(dim, stopwords),
                                     index_params=_chunk_indexes(client),
                                     properties={"clinrag.schema": SCHEMA_VERSION,
                                                 "clinrag.generation": generation.name,
                                                 "clinrag.terms": terms,
                                                 "clinrag.manifest": manifest_property(
                                                     generation),
                                                 "clinrag.complete": "0"})
            written = 0
            for rows in chunk_rows(generation, paths):
                client.upsert(name, rows)
                written += len(rows)
                checkpoint("milvus-half-written")
            client.flush(name)
            client.load_collection(name)
            counted = _count(client, name)
            if counted != len(generation.chunks):
                raise BackendUnavailable(f"Milvus holds {counted} chunks of {name} after the "
                                         f"write, not {len(generation.chunks)}")
            client.alter_collection_properties(name, {"clinrag.complete": "1"})
            checkpoint("milvus-written")
        else:
            n_terms = 0
        if previous is None:
            client.create_alias(name, target.alias)
        else:
            client.alter_alias(name, target.alias)
        checkpoint("milvus-switched")
        _prune(client, target, name, keep)
    except IndexError_:
        raise
    except Exception as exc:
        raise BackendUnavailable(f"publishing {generation.name} to Milvus at {target.uri} "
                                 f"failed: {error_line(exc)}; readers stay on "
                                 f"{previous or 'nothing'}") from exc
    return Published(name, len(generation.chunks), n_terms,
                     round(time.perf_counter() - started, 3), previous)


def _complete(client, name: str) -> bool:
    props = properties(client, name)
    if props.get("clinrag.schema") != SCHEMA_VERSION:
        raise IndexMismatch(f"Milvus collection {name} was not written by this version of "
                            f"clinrag (schema {props.get('clinrag.schema')!r}, expected "
                            f"{SCHEMA_VERSION!r}); drop it or use another "
                            "retrieve.milvus_collection")
    return props.get("clinrag.complete") == "1"


def _count(client, name: str) -> int:
    found = client.query(name, filter="", output_fields=["count(*)"])
    return int(found[0]["count(*)"])


def _prune(client, target: MilvusTarget, current: str, keep: int) -> None:
    """Drop generations older than the ``keep`` newest (the served one always stays)."""
    prefix = f"{target.alias}_g"
    mine = sorted(c for c in client.list_collections()
                  if c.startswith(prefix) and not c.endswith("_terms") and c <= current)
    for old in mine[: max(0, len(mine) - max(1, keep))]:
        if old == current:
            continue
        for name in (old, old + "_terms"):
            if client.has_collection(name):
                client.drop_collection(name)


def describe(settings: Settings) -> dict[str, Any]:
    """What the server serves, for ``ingest status``."""
    target = MilvusTarget.of(settings)
    client = connect(target)
    name = aliased(client, target)
    out: dict[str, Any] = {"uri": target.uri, "alias": target.alias, "collection": name}
    if name is not None:
        props = properties(client, name)
        out.update(generation=props.get("clinrag.generation"),
                   complete=props.get("clinrag.complete") == "1", chunks=_count(client, name))
    return out
