"""When a retrieved passage counts as holding an answer span (full-text QA relevance), and where
a chunk lies in its document.

One rule for the reranker's training labels (retriever/training/groups.py) and the benchmark's
passage metrics (eval/retrieval.py), so the model is trained toward what it is judged on.
"""

from __future__ import annotations


def holds_span(passage: tuple[int, int], answer: tuple[int, int]) -> bool:
    """(start, end) character spans in one text: the passage holds the answer when it covers
    at least half of the answer's characters or, for an answer longer than the passage, when
    half of the passage is answer."""
    overlap = min(passage[1], answer[1]) - max(passage[0], answer[0])
    return overlap > 0 and overlap >= 0.5 * min(answer[1] - answer[0], passage[1] - passage[0])


def chunk_span(generation, chunk) -> tuple[int, int]:
    """A chunk's (start, end) in its document's text: its page's offset plus its own."""
    offset = generation.pages[chunk.page_id].page.offset
    return offset + chunk.start, offset + chunk.end
