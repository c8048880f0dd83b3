"""``evaluate(config, settings)``: one benchmark run, from data file to report.

1. Read the benchmark (all of it) and take the first ``limit`` questions.
2. Open the corpus index (built once per data hash, or ``--index``).
3. Per question, in order, skipping those a previous run of the same folder finished:
   a plain retriever run ranks documents (one hit per document, ``depth`` deep) for the
   retrieval metrics, so ``--mode``/``--no-rerank`` ablations need no answerer; then, unless
   retrieval-only, the answerer answers and its answer is scored and judged. Each row is
   appended and fsynced before the next question.
4. Metrics with bootstrap intervals, TREC run, reports, settings and index manifest.

In the ``context`` setting the answerer's evidence is restricted to the question's own gold
documents (for PubMedQA: the abstract the question was written from), so it answers from the
given contexts; there is no retrieval to score.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from clinrag.settings import Settings
from eval.corpus import (CorpusView, cache_folder, cached_index, ensure_index,
                         milvus_alias_for)
from eval.datasets import Benchmark, Example, load_benchmark
from eval.retrieval import write_trec, ranking_scores
from eval.runfolder import RunFolder
from eval.question_run import run_example
from eval.summary import summarize
from ingest.store import IndexStore
from retriever.types import SearchParams

log = logging.getLogger(__name__)

Setting = Literal["retrieval", "context"]
COMPONENTS = "components.json"   # the models and judge that produced the rows


class HarnessError(RuntimeError):
    """The run cannot go ahead (missing component, unusable configuration)."""


@dataclass
class EvalConfig:
    benchmark: str
    data: Path
    setting: Setting = "retrieval"
    limit: int | None = None
    out: Path | None = None
    index: Path | None = None
    extra_corpus: tuple[Path, ...] = ()
    mode: Literal["bm25", "dense", "hybrid"] | None = None
    rerank: bool | None = None
    verify: bool | None = None
    answers: bool = True
    fresh: bool = False
    depth: int = 100
    split: Literal["train", "val", "test"] | None = None
    max_per_doc: int | None = None   # None: settings.retrieve.max_per_doc
    rank_documents: bool = True      # False: full-text passage metrics only (benches)
    progress: bool = True

    def run_name(self, settings: Settings) -> str:
        mode = self.mode or settings.retrieve.mode
        rerank = settings.retrieve.rerank if self.rerank is None else self.rerank
        parts = [self.benchmark, self.setting, mode + ("+rerank" if rerank else "")]
        if not self.answers:
            parts.append("retrieval-only")
        if self.verify is False:
            parts.append("noverify")
        if self.max_per_doc is not None:
            parts.append(f"perdoc{self.max_per_doc}")
        if self.split:
            parts.append(self.split)
        if self.limit:
            parts.append(f"limit{self.limit}")
        return "-".join(parts)


@dataclass
class Judge:
    """The grounding judge: a scoring function plus what to pin in the report."""

    score: Callable
    name: str
    version: str
    threshold: float = 0.5


@dataclass
class EvalResult:
    out: Path
    metrics: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Run:
    """What one evaluation run is: its questions, its index and the settings it runs under
    (``retrieve.max_per_doc`` from ``--max-per-doc``, ``index`` the corpus index)."""

    config: EvalConfig
    settings: Settings
    benchmark: Benchmark
    examples: list[Example]
    index_dir: Path
    mode: str
    rerank: bool
    embedder: Any
    started: float


@dataclass
class _Tools:
    """What answers the run's questions: one opened retriever asked with per-call
    parameters, the answerer and the citation judge (None where the run needs none)."""

    retriever: Any
    corpus: CorpusView
    doc_params: SearchParams | None
    passage_params: SearchParams | None
    answerer: Any
    judge: Judge | None
    components: dict[str, Any]


def evaluate(config: EvalConfig, settings: Settings, *, answerer=None,
             judge: Judge | None | Literal["auto"] = "auto", retriever=None) -> EvalResult:
    """Run ``config`` and write its folder; returns the metrics. The stages: read the
    benchmark and find or build its index, open (or resume) the run folder, load what
    answers, answer every question not yet done, summarise and write the report."""
    run = _prepare(config, settings, retriever)
    folder, todo, resumed = _open_folder(run, judge)
    tools = _load(run, folder, bool(todo), retriever, answerer, judge)
    _answer_all(run, tools, folder, todo, resumed)
    return _report(run, tools, folder, resumed)


def _prepare(config: EvalConfig, settings: Settings, retriever) -> _Run:
    started = time.perf_counter()
    if config.setting not in ("retrieval", "context"):
        raise HarnessError(f"unknown setting {config.setting!r} (retrieval, context)")
    if config.limit is not None and config.limit < 1:
        raise HarnessError("--limit must be at least 1")
    benchmark = load_benchmark(config.benchmark, config.data)
    examples = benchmark.examples
    if config.split:
        split_of = _split_function(benchmark.name)
        examples = [e for e in examples if split_of(e) == config.split]
    examples = examples[: config.limit or None]
    embedder = retriever.embedder if retriever is not None else None
    if settings.retrieve.backend == "milvus" and config.index is None:
        # The benchmark's own corpus is served under its own alias, never the user's.
        settings = milvus_alias_for(settings, cache_folder(benchmark, settings,
                                                           list(config.extra_corpus)))
    index_dir = cached_index(benchmark, settings, extra=list(config.extra_corpus),
                             index=config.index)
    if index_dir is None:
        from ingest.embed import Embedder

        embedder = embedder or Embedder.load(settings.embed)
        index_dir = ensure_index(benchmark, settings, extra=list(config.extra_corpus),
                                 progress=config.progress, embedder=embedder)
    settings = settings.model_copy(update={"index": index_dir})
    if settings.retrieve.backend == "milvus":
        from ingest.backend import publish_folder

        publish_folder(settings)    # a cached corpus folder may never have been published
    mode = config.mode or settings.retrieve.mode
    rerank = settings.retrieve.rerank if config.rerank is None else config.rerank
    if config.max_per_doc is not None:
        settings = settings.model_copy(update={"retrieve": settings.retrieve.model_copy(
            update={"max_per_doc": config.max_per_doc})})
    return _Run(config, settings, benchmark, examples, index_dir, mode, rerank, embedder,
                started)


def _open_folder(run: _Run, judge) -> tuple[RunFolder, list[Example], int]:
    """The run folder, refused if it holds a run of other settings (before any model is
    loaded), and the questions it has not answered yet."""
    config, settings = run.config, run.settings
    out = Path(config.out) if config.out else (settings.home / "cache" / "eval" / "runs"
                                                / config.run_name(settings))
    folder = RunFolder(out)
    identity = {
        "benchmark": run.benchmark.name, "data_hash": run.benchmark.data_hash,
        "setting": config.setting, "mode": run.mode, "rerank": run.rerank,
        "verify": config.verify, "answers": config.answers, "depth": config.depth,
        "rank_documents": config.rank_documents,
        "split": config.split, "index": str(run.index_dir),
        "index_generation": IndexStore(run.index_dir).current_name(),
        "settings": settings.model_dump(mode="json", exclude={"index"}),
        "judge": (f"{judge.name}@{judge.version}" if isinstance(judge, Judge) else
                  None if judge is None or not config.answers else
                  f"auto:{settings.answer.support_model}"),
    }
    rows = folder.start(identity, fresh=config.fresh)
    done = {str(r["id"]) for r in rows}
    todo = [e for e in run.examples if e.id not in done]
    resumed = len(run.examples) - len(todo)
    if resumed:
        log.info("resuming %s: %d of %d questions already done", out, resumed,
                 len(run.examples))
    return folder, todo, resumed


def _load(run: _Run, folder: RunFolder, anything_to_do: bool, retriever, answerer,
          judge) -> _Tools:
    config, settings, mode, rerank = run.config, run.settings, run.mode, run.rerank
    if not config.answers:
        answerer = None
    if retriever is None:
        from retriever.hybrid import Retriever

        retriever = Retriever.open(settings, embedder=run.embedder,
                                   reranker="auto" if rerank else None)
    rank_retrieval = config.setting == "retrieval"
    # One opened retriever, asked per call: documents ranked one hit per document (deep
    # enough that the cap still leaves config.depth documents); full-text QA asks for a
    # passage inside one paper, ranked the way the answerer sees them (the run's cap).
    doc_params = SearchParams(
        k=config.depth, mode=mode, rerank=rerank, max_per_doc=1,
        depth=max(settings.retrieve.depth, 4 * config.depth),
        rerank_top_n=settings.retrieve.rerank_top_n,
    ) if rank_retrieval and config.rank_documents else None
    passage_params = SearchParams(
        k=10, mode=mode, rerank=rerank, max_per_doc=settings.retrieve.max_per_doc,
        depth=settings.retrieve.depth, rerank_top_n=settings.retrieve.rerank_top_n,
    ) if rank_retrieval and run.benchmark.name == "squad" else None
    if config.answers and answerer is None and anything_to_do:
        answerer = _open_answerer(settings, retriever)
    if judge == "auto":
        judge = _open_judge(settings, answerer) if answerer is not None else None
    components = {
        "models": _models(retriever, answerer),
        "citation_judge": None if judge is None else {
            "name": judge.name, "version": judge.version, "threshold": judge.threshold}}
    if anything_to_do or not (folder.path / COMPONENTS).exists():
        folder.write_json(COMPONENTS, components)
    else:
        # Nothing left to answer, so no answerer was loaded: report the models that ran.
        components = json.loads((folder.path / COMPONENTS).read_text("utf-8"))
    # Scoring reads the folder's tables (chunk spans, chunks per document) whichever backend
    # searched: with Milvus it is the generation the server was just given.
    from retriever.index_view import IndexView

    generation = retriever.store.generation if isinstance(retriever.store, IndexView) \
        else IndexStore(run.index_dir).open()
    return _Tools(retriever, CorpusView(generation), doc_params, passage_params,
                  answerer, judge, components)


def _answer_all(run: _Run, tools: _Tools, folder: RunFolder, todo: list[Example],
                resumed: int) -> None:
    """Each question not yet done, appended to the folder as soon as it is (resumable)."""
    from tqdm import tqdm

    bar = tqdm(total=len(run.examples), initial=resumed, desc=f"eval {run.benchmark.name}",
               unit="q", disable=not run.config.progress, file=sys.stderr)
    for example in todo:
        row = run_example(example, tools.retriever, tools.doc_params, tools.passage_params,
                          tools.answerer, tools.judge, tools.corpus, run.config, run.mode,
                          run.rerank, run.benchmark.labels)
        folder.append(row)
        bar.update(1)
    bar.close()


def _report(run: _Run, tools: _Tools, folder: RunFolder, resumed: int) -> EvalResult:
    config, benchmark = run.config, run.benchmark
    generation = tools.corpus.generation
    wanted = {e.id for e in run.examples}
    rows = [r for r in folder.rows() if str(r["id"]) in wanted]
    summary = summarize(rows, benchmark.labels)
    meta = {
        "benchmark": benchmark.name, "setting": config.setting, "data": str(config.data),
        "data_hash": benchmark.data_hash, "questions_in_data": len(benchmark.examples),
        "limit": config.limit, "split": config.split, "questions": len(rows),
        "resumed": resumed,
        "index": str(run.index_dir), "index_generation": generation.name,
        "index_counts": generation.manifest.get("counts", {}),
        "mode": run.mode, "rerank": run.rerank, "verify": config.verify,
        "answers": config.answers, "depth": config.depth,
        "retrieval_source": "plain retriever run, one hit per document"
        if config.setting == "retrieval" else None,
        **tools.components,
        "bootstrap": {"resamples": 1000, "method": "percentile", "interval": 0.95},
        "runtime_s": round(time.perf_counter() - run.started, 2),
        "latency_ms_median": _median_timings(rows),
    }
    _write_outputs(folder, rows, summary, meta, run.settings, generation, config, benchmark)
    return EvalResult(folder.path, summary["metrics"], meta)


def _split_function(benchmark: str) -> Callable[[Example], str]:
    """The train/val/test split clinrag's models are trained with: by question id (BioASQ,
    PubMedQA), by paper for full-text QA (SQuAD format: no paper on two sides)."""
    if benchmark == "bioasq":
        from retriever.bioasq import question_split

        return lambda e: question_split(e.id)
    if benchmark == "pubmedqa":
        from clinrag.pubmedqa import record_split

        return lambda e: record_split(e.id)
    if benchmark == "squad":
        from clinrag.splits import paper_split

        return lambda e: paper_split(e.relevant_doc_ids[0])
    raise HarnessError("--split applies to pubmedqa, bioasq and squad (the splits clinrag's "
                       "models are trained on)")


# -- components -----------------------------------------------------------------------------------
def _open_answerer(settings: Settings, retriever):
    """The run's runtime, loaded once (sharing the retriever's embedder and reranker), and
    its answerer over the run's retriever."""
    try:
        from generator.runtime import Runtime
    except ImportError as exc:
        raise HarnessError(f"the answerer is not available ({exc}); run with --no-answer for "
                           "retrieval metrics only") from exc
    try:
        runtime = Runtime.load(settings, embedder=retriever.embedder,
                               reranker=retriever.reranker)
        return runtime.answerer(retriever)
    except (OSError, RuntimeError, ValueError) as exc:
        raise HarnessError(f"the answerer could not be loaded: {exc}; run with --no-answer for "
                           "retrieval metrics only") from exc


def _open_judge(settings: Settings, answerer) -> Judge | None:
    # The answerer already holds the support model the settings name: judge with it rather
    # than loading the same weights twice (another answerer may not have one).
    model = getattr(answerer, "support_model", None)
    if model is not None:
        return Judge(model.score, model.name, model.version, settings.answer.support_threshold)
    try:
        from generator.support import SupportModel

        model = SupportModel.open(settings)
    except Exception as exc:  # noqa: BLE001 - any failure to load means "no judge", said loudly
        log.warning("citation judge unavailable, grounding is scored lexically only: %s", exc)
        return None
    return Judge(model.score, model.name, model.version, settings.answer.support_threshold)


def _models(retriever, answerer) -> dict[str, str]:
    models = {"embedder": str(retriever.store.manifest.get("embedder", {}).get("name")),
              "embedder_revision": str(retriever.store.manifest.get("embedder", {})
                                       .get("revision"))}
    if retriever.reranker is not None:
        models["reranker"] = str(getattr(retriever.reranker, "name", "?"))
    if answerer is not None:
        models.update({f"answerer.{k}": str(v) for k, v in
                       (getattr(answerer, "models", None) or {}).items()})
    return models


def _median_timings(rows: list[dict[str, Any]]) -> dict[str, float]:
    import numpy as np

    keys = {k for r in rows for k in (r.get("timings_ms") or {})}
    return {k: round(float(np.median([r["timings_ms"][k] for r in rows
                                      if k in (r.get("timings_ms") or {})])), 1)
            for k in sorted(keys)}


# -- outputs ------------------------------------------------------------------------------------
def _write_outputs(folder: RunFolder, rows, summary, meta, settings: Settings, generation,
                   config: EvalConfig, benchmark: Benchmark) -> None:
    from eval.report import write_reports

    metrics = summary["metrics"]
    folder.write_json("metrics.json", {**metrics, "meta": meta})
    folder.write_json("per_example_scores.json", summary["table"])
    folder.write_json("curves.json", summary["curves"])
    run = {str(r["id"]): ranking_scores(r["retrieved"]) for r in rows
           if r.get("retrieved") is not None}
    trec = folder.path / "run.trec"
    if run:
        write_trec(run, trec, name=config.run_name(settings))
    else:
        trec.unlink(missing_ok=True)
    folder.write_json("settings.json", {
        "settings": settings.model_dump(mode="json"),
        "eval": {k: (str(v) if isinstance(v, Path) else
                     [str(p) for p in v] if isinstance(v, tuple) else v)
                 for k, v in asdict(config).items()},
        "command": " ".join(sys.argv) if sys.argv else None})
    shutil.copyfile(generation.path / "manifest.json", folder.path / "index_manifest.json")
    write_reports(folder.path, metrics, summary["curves"], meta)
