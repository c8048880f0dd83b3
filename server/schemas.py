"""Request and response bodies of the JSON API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retriever.types import Filters

# The schema's bound; the server's own limit (ServeConfig.max_question_chars) may be lower
# and is checked before any model runs.
QUESTION_MAX = 2000


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year_min: int | None = Field(None, ge=1000, le=3000)
    year_max: int | None = Field(None, ge=1000, le=3000)
    sources: list[str] = Field(default_factory=list, max_length=20,
                               description="e.g. pubmed, pdf, bioasq, pubmedqa, text")
    publication_types: list[str] = Field(default_factory=list, max_length=20)
    doc_ids: list[str] = Field(default_factory=list, max_length=200)
    exclude_retracted: bool = False

    @model_validator(mode="after")
    def _years_in_order(self) -> FiltersIn:
        if self.year_min is not None and self.year_max is not None \
                and self.year_min > self.year_max:
            raise ValueError("year_min is after year_max")
        return self

    def to_filters(self) -> Filters:
        return Filters(year_min=self.year_min, year_max=self.year_max,
                       sources=tuple(self.sources),
                       publication_types=tuple(self.publication_types),
                       doc_ids=tuple(self.doc_ids), exclude_retracted=self.exclude_retracted)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., min_length=1, max_length=QUESTION_MAX)
    filters: FiltersIn = Field(default_factory=FiltersIn)
    k: int | None = Field(None, ge=1, le=20, description="Evidence passages (default from "
                          "settings).")


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(..., min_length=1, max_length=QUESTION_MAX)
    filters: FiltersIn = Field(default_factory=FiltersIn)
    k: int | None = Field(None, ge=1, le=100)
    mode: Literal["dense", "bm25", "hybrid"] | None = None
    rerank: bool | None = None


class IngestPathsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(..., min_length=1, max_length=1000,
                             description="Files or folders relative to the library folder.")
    prune: bool = False


class ErrorBody(BaseModel):
    detail: Any


class StatementOut(BaseModel):
    text: str
    citations: list[int]
    support: float
    origin: str


class SourceOut(BaseModel):
    n: int
    chunk_id: str
    doc_id: str
    title: str
    text: str
    page_number: int | None
    section: str | None
    start: int
    end: int
    score: float
    source: str
    path: str | None
    year: int | None
    journal: str | None
    pmid: str | None
    doi: str | None
    study_type: str | None
    retracted: bool


class PaperVerdictOut(BaseModel):
    doc_id: str
    title: str
    year: int | None
    design: str | None
    stance: Literal["yes", "no", "unclear"]
    sentence: str | None
    n: int | None
    p_yes: float
    p_no: float
    weight: float
    retracted: bool


class AnswerOut(BaseModel):
    """``generator.types.Answer.to_json()``."""

    question: str
    verdict: Literal["yes", "no", "maybe", "insufficient", "unclear"] | None
    confidence: float | None
    verdict_probs: dict[str, float]
    sentences: list[StatementOut]
    evidence: list[SourceOut]
    abstained: bool
    abstention_reason: str | None
    index_generation: str
    models: dict[str, str]
    disclaimer: str
    timings_ms: dict[str, float]
    answerability: dict[str, float] = {}
    papers: list[PaperVerdictOut] = Field(
        [], description="The evidence meter: each cited paper's stance on a yes/no question.")
    meter: str | None = Field(None, description='e.g. "4 papers: 3 yes · 1 unclear"')
    verdict_reason: str | None = None


class HitOut(BaseModel):
    """``retriever.types.Hit.to_json()``."""

    rank: int
    chunk_id: str
    doc_id: str
    title: str
    text: str
    page_number: int | None
    section: str | None
    start: int
    end: int
    score: float
    scores: dict[str, float]
    source: str
    year: int | None
    journal: str | None
    pmid: str | None
    doi: str | None
    publication_types: list[str]
    retracted: bool


class SearchOut(BaseModel):
    generation: str
    hits: list[HitOut]


class PageOut(BaseModel):
    number: int | None = Field(description="1-based page in document order (= the PDF page "
                               "for PDFs)")
    pdf_page: int | None
    section: str | None
    chars: int
    text: str | None = None


class DocumentOut(BaseModel):
    generation: str
    doc_id: str
    source: str
    title: str
    pmid: str | None
    doi: str | None
    journal: str | None
    year: int | None
    authors: list[str]
    mesh_terms: list[str]
    publication_types: list[str]
    retracted: bool
    pages: list[PageOut]
    page: PageOut | None = None


class IndexOut(BaseModel):
    generation: str
    generations: list[str]
    created: str | None
    counts: dict[str, int]
    sources: dict[str, int]
    embedder: dict[str, Any]
    models: dict[str, str]


class HealthOut(BaseModel):
    status: Literal["ok"]
    generation: str | None


# -- OpenAI-compatible chat -----------------------------------------------------------------
class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = Field(None, max_length=QUESTION_MAX)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = Field(None)

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return " ".join(p.text or "" for p in self.content if p.type == "text")


class ChatRequest(BaseModel):
    # Unknown OpenAI options (temperature, top_p, ...) are accepted and ignored: the answer is
    # grounded and deterministic by design.
    model_config = ConfigDict(extra="allow")

    model: str = Field(..., max_length=200, json_schema_extra={"enum": ["clinrag"]},
                       description="'clinrag' (see /v1/models); others get 404")
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=100)
    stream: bool = False
    filters: FiltersIn = Field(default_factory=FiltersIn,
                               description="clinrag extension (send in extra_body)")
    k: int | None = Field(None, ge=1, le=20, description="clinrag extension")


class ChatChoiceMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class ChatChoice(BaseModel):
    index: int
    message: ChatChoiceMessage
    finish_reason: Literal["stop"]


class ChatCompletionOut(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: dict[str, int]
    clinrag: AnswerOut = Field(description="The full answer with its evidence.")


class ModelOut(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelOut]
