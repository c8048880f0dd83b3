"""Token-aware, sentence-friendly chunking with exact character offsets (pure logic).

LangChain's recursive splitter cuts at paragraph, line, sentence, clause and word boundaries
(in that order of preference) until a piece fits ``size`` tokens of the embedder's tokenizer.
Every chunk is then located in its page so that ``page.text[start:end] == chunk.text`` holds.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from clinrag.records import Chunk, Document, Page, is_placeholder_title
from clinrag.settings import ChunkSettings

SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]
ROW_ID_MASK = (1 << 63) - 1


@dataclass(frozen=True)
class PageRef:
    """A page as stored in the index: its content-hash id and owning document."""

    page_id: str
    doc_id: str
    page: Page


def page_id(doc_id: str, page: Page) -> str:
    key = "\x1f".join([doc_id, str(page.number), page.section or "", str(page.offset), page.text])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def chunk_id(doc_id: str, pid: str, start: int, end: int, text: str) -> str:
    key = "\x1f".join([doc_id, pid, str(start), str(end), text])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def row_id_of(cid: str) -> int:
    """The int64 index key of a chunk: the first 63 bits of its content hash."""
    return int(cid[:16], 16) & ROW_ID_MASK


class Chunker:
    """Splits pages into chunks measured in the embedder's tokens."""

    def __init__(self, settings: ChunkSettings, count_tokens: Callable[[str], int]):
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        if settings.overlap >= settings.size:
            raise ValueError("chunk overlap must be smaller than chunk size")
        self.settings = settings
        self._count = count_tokens
        self._splitter = RecursiveCharacterTextSplitter(
            separators=SEPARATORS,
            keep_separator="end",
            chunk_size=settings.size,
            chunk_overlap=settings.overlap,
            length_function=count_tokens,
            strip_whitespace=True,
        )

    @classmethod
    def for_tokenizer(cls, settings: ChunkSettings, tokenizer) -> Chunker:
        return cls(settings, token_counter(tokenizer))

    def chunk_document(self, document: Document) -> tuple[list[PageRef], list[Chunk]]:
        pages: list[PageRef] = []
        chunks: list[Chunk] = []
        for page in document.pages:
            pid = page_id(document.doc_id, page)
            pages.append(PageRef(pid, document.doc_id, page))
            chunks.extend(self.chunk_page(document.doc_id, pid, page))
        return pages, chunks

    def _pieces(self, text: str) -> list[str]:
        # Most abstracts and snippet pages fit in one chunk. The splitter would still cut them
        # at every separator and count the tokens of each piece to glue them back into the
        # same single chunk; one count of the whole decides that instead. Same output: checked
        # once on all 16,360 BioASQ and PDF pages (docs/benchmarks.md), and by the property
        # and demo-corpus tests in tests/test_chunk_and_tokenize.py.
        if self._count(text) <= self.settings.size and text.strip():
            return [text.strip()]
        return self._splitter.split_text(text)

    def chunk_page(self, doc_id: str, pid: str, page: Page) -> Iterable[Chunk]:
        prev_start, prev_end = -1, 0
        seen: set[str] = set()
        for piece in self._pieces(page.text):
            # Chunks come in page order, each reaching past the previous one's end and starting
            # no later than the first non-space character after it. In repetitive text several
            # matches qualify: the last one is the splitter's (an earlier one would leave the
            # page's tail uncovered, which a property test found).
            limit = prev_end
            while limit < len(page.text) and page.text[limit].isspace():
                limit += 1
            start = -1
            match = page.text.find(piece, max(prev_start + 1, prev_end - len(piece) + 1))
            while 0 <= match <= limit:
                start = match
                match = page.text.find(piece, match + 1)
            if start < 0:
                start = page.text.find(piece, max(prev_start + 1, prev_end - len(piece) + 1))
            if start < 0:
                start = page.text.find(piece, prev_start + 1)
            if start < 0:
                start = page.text.find(piece)
            if start < 0 or not piece.strip():
                continue  # cannot happen with strip-only splitting; never emit a wrong span
            end = start + len(piece)
            prev_start, prev_end = start, max(prev_end, end)
            cid = chunk_id(doc_id, pid, start, end, piece)
            if cid in seen:
                continue
            seen.add(cid)
            yield Chunk(
                chunk_id=cid,
                row_id=row_id_of(cid),
                doc_id=doc_id,
                page_id=pid,
                page_number=page.number,
                section=page.section_at(start),
                start=start,
                end=end,
                text=piece,
            )


def token_counter(tokenizer) -> Callable[[str], int]:
    """Counts ``tokenizer.tokenize(text)`` tokens, fast.

    The splitter counts every piece of a long page several times (about 20,000 calls for the
    8 test PDFs). A fast tokenizer's Rust backend, called directly, costs half of
    ``tokenize`` per call, and a cache removes the repeated counts of the same piece. The
    backend is a private copy without truncation or padding, so a long text is counted in
    full (a truncated count would let an oversized page pass as one chunk).
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        from tokenizers import Tokenizer

        private = Tokenizer.from_str(backend.to_str())
        private.no_truncation()
        private.no_padding()

        def count(text: str) -> int:
            return len(private.encode(text, add_special_tokens=False).ids)
    else:
        def count(text: str) -> int:
            return len(tokenizer.tokenize(text))

    # Repeats come from the same page's recursive split, so a small cache catches them; it
    # holds at most a few thousand pieces of one or a few pages.
    return functools.lru_cache(maxsize=4096)(count)


def passage_text(chunk: Chunk, title: str, settings: ChunkSettings) -> str:
    """What the trained models (reranker, verdict, support) read for a chunk: the title line
    exactly as they were trained on it, a placeholder title included, then the chunk.

    Kept apart from ``index_text``: dropping the placeholder line from the models' input too
    was measured on the PubMedQA* answer bench to cost verified generated sentences (66/98
    with it, 53/97 without) and abstention with the source removed (0.974 vs 0.965): the
    models learnt with it.
    """
    return titled(chunk.text, title, settings.prefix_title)


def titled(text: str, title: str, prefix_title: bool) -> str:
    """``text`` under its title line, unless it opens with the title already."""
    if prefix_title and title and not text.startswith(title):
        return f"{title}\n{text}"
    return text


def index_text(chunk: Chunk, title: str, settings: ChunkSettings) -> str:
    """What is embedded and BM25-indexed for a chunk: optionally prefixed by its real title
    (a placeholder such as "PubMed 123" names no topic and would only add tokens)."""
    return passage_text(chunk, "" if is_placeholder_title(title) else title, settings)
