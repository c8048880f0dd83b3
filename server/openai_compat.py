"""OpenAI-compatible ``/v1/chat/completions`` (plain and SSE streaming) and ``/v1/models``.

The last user message is the question. The reply is the answer text with its [n] citations,
then the numbered sources and the disclaimer, so any OpenAI client shows a usable answer; the
full Answer JSON rides along in the extra ``clinrag`` field (on the last chunk when streaming).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from generator.types import Answer
from server import service
from server.api import ERRORS
from server.auth import reader
from server.keys import Principal
from server.schemas import ChatCompletionOut, ChatRequest, ErrorBody, ModelList

router = APIRouter(tags=["openai"])
MODEL_ID = "clinrag"
_CREATED = 1_767_225_600  # fixed: the model list must not change between calls


@router.get("/v1/models", response_model=ModelList, responses=ERRORS)
def models(who: Principal = Depends(reader)) -> dict[str, Any]:
    return {"object": "list", "data": [
        {"id": MODEL_ID, "object": "model", "created": _CREATED, "owned_by": "clinrag"}]}


@router.post("/v1/chat/completions", response_model=ChatCompletionOut,
             responses={**ERRORS, 404: {"model": ErrorBody, "description": "unknown model"},
                        200: {"content": {"text/event-stream": {}},
                              "description": "the completion, or with stream=true its "
                              "chunks as server-sent events"}})
async def chat_completions(body: ChatRequest, request: Request,
                           who: Principal = Depends(reader)):
    if body.model != MODEL_ID:
        raise HTTPException(404, f"unknown model {body.model!r}; this server has "
                            f"{MODEL_ID!r}")
    state = request.app.state
    users = [m for m in body.messages if m.role == "user"]
    if not users:
        raise HTTPException(422, "no user message: the last user message is the question")
    question = service.check_question(users[-1].text(), state.config.max_question_chars)
    answer = await service.answer(state, who, "/v1/chat/completions", question,
                                  body.filters.to_filters(), body.k)
    completion_id = "chatcmpl-" + uuid.uuid4().hex
    created = int(time.time())
    content = render(answer)
    if body.stream:
        return StreamingResponse(_sse(completion_id, created, content, answer),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})
    return {
        "id": completion_id, "object": "chat.completion", "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "clinrag": answer.to_json(),
    }


def render(answer: Answer) -> str:
    """The answer as plain text: statements with [n], verdict, numbered sources, disclaimer."""
    parts: list[str] = []
    if answer.abstained:
        parts.append("No answer: the indexed literature does not support one"
                     + (f" ({answer.abstention_reason})." if answer.abstention_reason else "."))
    else:
        if answer.verdict == "unclear":
            parts.append("Verdict: no clear answer in these passages.")
        elif answer.verdict and answer.verdict != "insufficient":
            confidence = f" (confidence {answer.confidence:.0%})" \
                if answer.confidence is not None else ""
            parts.append(f"Verdict: {answer.verdict}{confidence}.")
        parts.append(" ".join(
            f"{s.text} " + "".join(f"[{n}]" for n in s.citations) for s in answer.sentences))
    cited = {n for s in answer.sentences for n in s.citations}
    sources = [f"[{e.n}] {e.title}" + (f" ({e.year})" if e.year else "") + f" - {e.locator()}"
               for e in answer.evidence if e.n in cited or answer.abstained]
    if sources:
        parts.append("Sources:\n" + "\n".join(sources))
    parts.append(answer.disclaimer)
    return "\n\n".join(p for p in parts if p)


def _sse(completion_id: str, created: int, content: str, answer: Answer) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                "model": MODEL_ID,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    # The answer is complete before streaming starts (it is verified as a whole); it is sent
    # in line-sized pieces so streaming clients render progressively all the same.
    for piece in content.splitlines(keepends=True):
        yield chunk({"content": piece})
    yield chunk({}, "stop", clinrag=answer.to_json())
    yield "data: [DONE]\n\n"
