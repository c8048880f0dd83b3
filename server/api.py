"""The JSON API: ask, search, documents, index status and health."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from ingest.store import IndexStore
from server import service
from server.auth import reader
from server.keys import Principal
from server.schemas import (
    AnswerOut, AskRequest, DocumentOut, ErrorBody, HealthOut, IndexOut, PageOut, SearchOut,
    SearchRequest,
)

router = APIRouter()

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in (
        (401, "missing or invalid API key"), (413, "request body too large"),
        (422, "invalid request (e.g. question empty or too long)"),
        (429, "rate limit exceeded (see Retry-After)"),
        (503, "server busy (see Retry-After)"), (504, "timed out"))}


@router.get("/healthz", response_model=HealthOut, tags=["status"])
def healthz(request: Request) -> dict[str, Any]:
    """Liveness (no key needed): the models are loaded and an index generation is served."""
    return {"status": "ok", "generation": request.app.state.live.current.generation_id}


@router.post("/v1/ask", response_model=AnswerOut, responses=ERRORS, tags=["answer"])
async def ask(body: AskRequest, request: Request,
              who: Principal = Depends(reader)) -> dict[str, Any]:
    """A grounded, cited answer to a clinical question."""
    state = request.app.state
    question = service.check_question(body.question, state.config.max_question_chars)
    result = await service.answer(state, who, "/v1/ask", question, body.filters.to_filters(),
                                  body.k)
    return result.to_json()


@router.post("/v1/search", response_model=SearchOut, responses=ERRORS, tags=["search"])
async def search(body: SearchRequest, request: Request,
                 who: Principal = Depends(reader)) -> dict[str, Any]:
    """Hybrid retrieval (dense + BM25, fused, reranked) without answering."""
    state = request.app.state
    query = service.check_question(body.query, state.config.max_question_chars)
    return await service.search(state, who, query, body.filters.to_filters(), body.k,
                                body.mode, body.rerank)


@router.get("/v1/documents/{doc_id}", response_model=DocumentOut,
            responses={**ERRORS, 404: {"model": ErrorBody, "description": "no such document "
                                       "or page"}}, tags=["documents"])
def document(doc_id: str, request: Request,
             page: int | None = Query(None, ge=1, le=100_000,
                                      description="1-based page whose text to return"),
             chunk: str | None = Query(None, max_length=200, description="or: the page "
                                       "holding this chunk (a citation's chunk_id)"),
             who: Principal = Depends(reader)) -> dict[str, Any]:
    """A document's metadata and page list; with ``page`` or ``chunk`` also a page's text."""
    state = request.app.state
    answerer = state.live.get()
    generation = service.retriever_of(answerer).generation
    meta = generation.documents.get(doc_id)
    if meta is None:
        raise HTTPException(404, f"no document {doc_id!r} in generation {generation.name}")
    pages = state.pages.of(generation, doc_id)
    if chunk is not None:
        page = state.pages.page_of_chunk(generation, chunk, doc_id)
        if page is None:
            raise HTTPException(404, f"no chunk {chunk!r} in {doc_id}")
    out = {
        "generation": generation.name, "doc_id": meta.doc_id, "source": meta.source,
        "title": meta.title, "pmid": meta.pmid, "doi": meta.doi, "journal": meta.journal,
        "year": meta.year, "authors": list(meta.authors), "mesh_terms": list(meta.mesh_terms),
        "publication_types": list(meta.publication_types), "retracted": meta.retracted,
        "pages": [_page(i, p) for i, p in enumerate(pages, 1)],
    }
    if page is not None:
        if page > len(pages):
            raise HTTPException(404, f"{doc_id} has {len(pages)} page(s); no page {page}")
        out["page"] = {**_page(page, pages[page - 1]), "text": pages[page - 1].text}
    return out


@router.get("/v1/index", response_model=IndexOut, responses=ERRORS, tags=["status"])
def index_status(request: Request, who: Principal = Depends(reader)) -> dict[str, Any]:
    """The generation being served, its counts, embedder and the models answering."""
    state = request.app.state
    answerer = state.live.get()
    generation = service.retriever_of(answerer).generation
    manifest = generation.manifest
    sources: dict[str, int] = {}
    for meta in generation.documents.values():
        sources[meta.source] = sources.get(meta.source, 0) + 1
    return {
        "generation": generation.name,
        "generations": IndexStore(state.settings.index_dir).names(),
        "created": manifest.get("created"),
        "counts": {k: int(v) for k, v in manifest.get("counts", {}).items()},
        "sources": sources, "embedder": manifest.get("embedder") or {},
        "models": dict(answerer.models),
    }


def _page(number: int, page) -> PageOut | dict[str, Any]:
    return {"number": number, "pdf_page": page.number, "section": page.section,
            "chars": len(page.text)}


class PageTable:
    """Pages of each document in reading order, built once per generation."""

    def __init__(self):
        self._lock = threading.Lock()
        self._name: str | None = None
        self._by_doc: dict[str, list] = {}
        self._chunk_page: dict[str, tuple[str, int]] = {}

    def of(self, generation, doc_id: str) -> list:
        return self._tables(generation)[0].get(doc_id, [])

    def page_of_chunk(self, generation, chunk_id: str, doc_id: str) -> int | None:
        """The 1-based page number (in ``of`` order) holding the chunk, if in ``doc_id``."""
        found = self._tables(generation)[1].get(chunk_id)
        return found[1] if found and found[0] == doc_id else None

    def _tables(self, generation):
        with self._lock:
            if generation.name != self._name:
                refs: dict[str, list] = {}
                for ref in generation.pages.values():
                    refs.setdefault(ref.doc_id, []).append(ref)
                for items in refs.values():
                    items.sort(key=lambda r: (r.page.number or 0, r.page.offset))
                position = {r.page_id: (doc, i) for doc, items in refs.items()
                            for i, r in enumerate(items, 1)}
                chunk_page = {}
                for chunk in getattr(generation, "chunks", ()):
                    if chunk.page_id in position:
                        chunk_page[chunk.chunk_id] = position[chunk.page_id]
                self._by_doc = {doc: [r.page for r in items] for doc, items in refs.items()}
                self._chunk_page = chunk_page
                self._name = generation.name
            return self._by_doc, self._chunk_page
