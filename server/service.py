"""What the routes share: question checks, running work through the queue, auditing."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import HTTPException

from retriever.hybrid import QueryError
from retriever.types import Filters, SearchParams
from server.keys import Principal
from server.limits import Overloaded, TimedOut

log = logging.getLogger("clinrag.server")


def check_question(text: str, limit: int) -> str:
    """The normalised question, or 422 before any model runs."""
    question = " ".join(str(text).split())
    if not question:
        raise HTTPException(422, "the question is empty")
    if len(question) > limit:
        raise HTTPException(422, f"the question is {len(question)} characters; the limit is "
                            f"{limit}")
    return question


def retriever_of(answerer):
    """The answerer's retriever, or 503 while nothing has been ingested."""
    retriever = getattr(answerer, "retriever", None)
    if retriever is None:
        raise HTTPException(503, "the index is empty: nothing has been ingested yet",
                            headers={"Retry-After": "60"})
    return retriever


def status_of(exc: BaseException) -> int:
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, Overloaded):
        return 503
    if isinstance(exc, TimedOut):
        return 504
    if isinstance(exc, QueryError):
        return 422
    return 500


async def answer(state, who: Principal, route: str, question: str, filters: Filters,
                 k: int | None):
    """Run one answer on a worker and audit it (success or not); returns the Answer."""
    def job():
        return state.live.get().answer(question, filters=filters, k=k)

    start = time.perf_counter()
    result = None
    status = 200
    try:
        result = await state.work.run(job, timeout=state.config.request_timeout_s)
        return result
    except BaseException as exc:
        status = status_of(exc)
        raise
    finally:
        elapsed = round((time.perf_counter() - start) * 1000, 1)
        entry = state.audit.record(
            route=route, key_id=who.key_id, status=status, question=question,
            generation=result.index_generation if result else state.live.current.generation_id,
            cited_chunk_ids=result.cited_chunk_ids() if result else [],
            models=result.models if result else dict(state.live.current.models),
            latency_ms=elapsed, abstained=result.abstained if result else None)
        shown = repr(question) if state.config.log_questions else entry["question_fp"]
        log.info("%s key=%s question=%s status=%d generation=%s ms=%.0f", route, who.key_id,
                 shown, status, entry["generation"], elapsed)


async def search(state, who: Principal, query: str, filters: Filters, k: int | None,
                 mode: str | None, rerank: bool | None) -> dict[str, Any]:
    def job():
        answerer = state.live.get()
        retriever = retriever_of(answerer)
        params = SearchParams(k=k, mode=mode, rerank=rerank, filters=filters)
        hits = retriever.search(query, params).hits
        return answerer.generation_id, hits

    start = time.perf_counter()
    status = 200
    generation, hits = None, []
    try:
        generation, hits = await state.work.run(job, timeout=state.config.request_timeout_s)
        return {"generation": generation, "hits": [h.to_json() for h in hits]}
    except BaseException as exc:
        status = status_of(exc)
        raise
    finally:
        elapsed = round((time.perf_counter() - start) * 1000, 1)
        state.audit.record(route="/v1/search", key_id=who.key_id, status=status,
                           question=query, generation=generation,
                           cited_chunk_ids=[h.chunk_id for h in hits], latency_ms=elapsed)
