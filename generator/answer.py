"""``answer(question) -> Answer``: retrieve, judge, generate, verify, or abstain.

The answer path stays grounded whatever the generator writes:

1. the retriever picks the evidence (``answer.evidence_k`` passages, numbered 1..n);
2. the verdict model reads the question and the top passages; the answerability gate
   (generator/answerability.py) weighs its P(insufficient) with how well the best passage
   matches the question and decides abstention; for a yes/no question the stance model
   reads every evidence sentence and gives the verdict, its confidence and the evidence
   meter (generator/verdicts.py, generator/evidence_stance.py);
3. the generator (a local causal LM, an OpenAI-compatible endpoint, or none) writes sentences
   with ``[n]`` citations;
4. every sentence is checked by the support model against its cited passages; unsupported
   sentences are re-cited or dropped (generator/citations.py);
5. if no generated sentence survives, the best supporting passage sentences are quoted
   (extractive fallback; the sentences that carry the verdict first); if nothing is
   supported at all, the answer abstains and shows the closest evidence;
6. a yes/no verdict is shown only when the shown sentences carry it and none reads the other
   way.

Citations can only point into the evidence list, so no reference can be invented.
``Runtime.load`` (generator/runtime.py) loads every model once; ``runtime.answerer()``
opens an Answerer over the index's current generation.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from clinrag.settings import Settings
from generator.answerability import AnswerabilitySignals
from generator.citations import extractive, parse_statements, says_no_answer, verify
from generator import verdicts
from generator.evidence_stance import without_title
from generator.language import language_message, unreadable_script
from generator.stance import quote_tier
from generator.sources import source_of
from generator.turn import Turn
from generator.types import Answer, Source, Statement
from generator.verdict import VerdictPrediction, is_yes_no_question
from retriever.hybrid import QueryError, Retriever
from retriever.types import Filters, Mode, SearchParams

if TYPE_CHECKING:    # generator/runtime.py opens Answerers
    from generator.runtime import Runtime

log = logging.getLogger(__name__)

__all__ = ["Answerer", "QueryError", "answer"]


class Answerer:
    """Answers questions over one index generation with a loaded ``Runtime``
    (generator/runtime.py); ``Answerer.over(runtime, retriever)`` opens one."""

    def __init__(self, runtime: Runtime, retriever: Retriever | None):
        self.runtime = runtime
        self.settings = runtime.settings
        self.retriever = retriever
        self.models = runtime.versions

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def over(cls, runtime: Runtime, retriever: Retriever | None) -> Answerer:
        return cls(runtime, retriever)

    @classmethod
    def open(cls, settings: Settings, *, retriever: Retriever | None = None) -> Answerer:
        """One-shot: load a runtime and open an answerer over the index (or ``retriever``,
        whose embedder and reranker the runtime then shares)."""
        from generator.runtime import Runtime

        if retriever is None:
            return Runtime.load(settings).answerer()
        runtime = Runtime.load(settings, embedder=retriever.embedder,
                               reranker=retriever.reranker)
        return runtime.answerer(retriever)

    def reopen(self, index_dir: Path | None = None) -> Answerer:
        """The same runtime over the now-current generation of the index (or of another
        index folder, e.g. an evaluation corpus)."""
        retriever = self.runtime.retriever(index_dir)
        if retriever is None:
            return self if index_dir is None else Answerer.over(self.runtime, None)
        return Answerer.over(self.runtime, retriever)

    @property
    def support_model(self):
        """The loaded support model (the evaluation reuses it as its citation judge)."""
        return self.runtime.support

    @property
    def generation_id(self) -> str:
        return self.retriever.store.name if self.retriever is not None else ""

    # -- answering -------------------------------------------------------------------------
    def answer(self, question: str, *, filters: Filters = Filters(), k: int | None = None,
               mode: Mode | None = None, rerank: bool | None = None,
               verify: bool | None = None, max_per_doc: int | None = None) -> Answer:
        """The stages below, in order, over one ``Turn``; a stage that finds no answer
        sets ``turn.abstention`` and the answer abstains with what is known so far."""
        turn = self._turn(question, filters, k, mode, rerank, verify, max_per_doc)
        for stage in (self._readable, self._retrieve, self._judge, self._gate,
                      self._read_stances, self._write, self._quote):
            stage(turn)
            if turn.abstention is not None:
                return self._abstain(turn)
        return self._assemble(turn)

    def _turn(self, question: str, filters: Filters, k: int | None, mode: Mode | None,
              rerank: bool | None, verify: bool | None, max_per_doc: int | None) -> Turn:
        """A checked question and what this call asks for (QueryError when unusable)."""
        started = time.perf_counter()
        question = " ".join(str(question).split())
        if not question:
            raise QueryError("empty question")
        if len(question) > self.settings.retrieve.max_query_chars:
            raise QueryError(f"question is {len(question)} characters; the limit is "
                             f"{self.settings.retrieve.max_query_chars}")
        config = self.settings.answer
        if rerank is None and self.retriever is not None:
            rerank = self.settings.retrieve.rerank and self.retriever.reranker is not None
        params = SearchParams(k=k or config.evidence_k, mode=mode, rerank=rerank,
                              max_per_doc=max_per_doc, filters=filters)
        return Turn(question, params, config.verify if verify is None else verify, started)

    def _readable(self, turn: Turn) -> None:
        """A question in a script the models cannot read, or an empty index, ends here."""
        script = unreadable_script(turn.question)
        if script is not None:
            turn.abstention = language_message(script)
        elif self.retriever is None or not self.retriever.store.size:
            turn.abstention = "the index is empty: nothing has been ingested yet"

    def _retrieve(self, turn: Turn) -> None:
        """The evidence: ``evidence_k`` passages, numbered 1..n."""
        t = time.perf_counter()
        # Embedded once for the dense search and the answerability gate (if either runs).
        dense = (turn.params.mode or self.settings.retrieve.mode) != "bm25"
        if dense or self.runtime.gate is not None:
            turn.vector = self.retriever.embedder.encode([turn.question])[0]
        found = self.retriever.search(turn.question, turn.params, query_vector=turn.vector)
        turn.timings["retrieve"] = _ms(t)
        turn.timings.update({f"retrieve.{key}": v for key, v in found.trace.timings_ms.items()})
        turn.hits = found.hits
        turn.sources = [source_of(i + 1, hit)
                        for i, hit in enumerate(found.hits)]
        turn.passages = {s.n: self.retriever.passage_of(s.chunk_id) for s in turn.sources}
        if not turn.sources:
            turn.abstention = "no passage matched the question (and its filters)"

    def _judge(self, turn: Turn) -> None:
        """The verdict model's reading of the question and the top passages."""
        t = time.perf_counter()
        turn.prediction = self.runtime.verdict.predict(
            turn.question, [turn.passages[s.n] for s in turn.sources])
        turn.timings["verdict"] = _ms(t)

    def _gate(self, turn: Turn) -> None:
        """Abstain when the evidence does not appear to answer (the answerability gate), or
        when the best passage scores below ``answer.min_evidence_score``."""
        t = time.perf_counter()
        turn.answerability = self._answerability(turn.question, turn.sources,
                                                 turn.prediction, turn.vector)
        turn.timings["answerability"] = _ms(t)
        config = self.settings.answer
        if turn.answerability["p_unanswerable"] >= turn.answerability["threshold"]:
            turn.abstention = "the retrieved passages do not appear to answer the question"
            return
        best = turn.hits[0].scores.get("rerank")
        if config.min_evidence_score is not None and best is not None \
                and best < config.min_evidence_score:
            turn.abstention = "no retrieved passage is relevant enough to the question"

    def _read_stances(self, turn: Turn) -> None:
        """For a yes/no question with the stance model on: every evidence sentence's stance,
        each paper's, and the verdict they give (generator/verdicts.py)."""
        if self.runtime.stance is None or not is_yes_no_question(turn.question):
            return
        t = time.perf_counter()
        context = turn.context
        turn.stances, turn.read = verdicts.stance_reading(
            self.runtime.stance, turn.question, turn.sources,
            lambda texts: self.retriever.coverage(turn.question, texts, context),
            self.runtime.stance.rule.min_relevance)
        turn.timings["stance"] = _ms(t)

    def _write(self, turn: Turn) -> None:
        """Generated, verified sentences (when a generator is configured)."""
        if self.runtime.generator is None:
            return
        t = time.perf_counter()
        generated = self._generate(turn.question, turn.sources, turn.passages, turn.check,
                                   turn.timings, turn.checks)
        turn.statements = self._relevant(turn.question, generated, turn.context, turn.checks)
        turn.timings["generate+verify"] = _ms(t)

    def _quote(self, turn: Turn) -> None:
        """Without generated sentences, verified quotes of the passages (the sentences that
        carry the verdict, or for mixed evidence each side, first, weightiest paper first);
        without any, the answer abstains."""
        if not turn.statements:
            t = time.perf_counter()
            config = self.settings.answer
            question, passages = turn.question, turn.passages
            section = {s.n: s.section for s in turn.sources}
            polar = question if is_yes_no_question(question) else None
            first = verdicts.quote_order(turn.stances)
            # Only a floor under the quotes' own can let a stance sentence in: otherwise
            # the coverage of the carrying sentences need not be computed at all.
            answering = verdicts.answering(
                turn.stances, lambda texts: self.retriever.coverage(question, texts,
                                                                    turn.context),
                config.min_stance_relevance) \
                if config.min_stance_relevance < config.min_relevance else None
            statements = extractive(
                passages, lambda sentences: self._relevance(question, sentences, turn.context),
                self.runtime.support.score, threshold=config.support_threshold if turn.check else 0.0,
                max_sentences=min(2, config.max_sentences),
                texts={s.n: without_title(s.text, s.title) for s in turn.sources},
                tier=lambda n, s: first(quote_tier(s, section.get(n), polar), s),
                min_relevance=config.min_relevance, exempt=answering)
            turn.statements = self._relevant(question, statements, turn.context, turn.checks,
                                             exempt=answering)
            turn.timings["extractive"] = _ms(t)
            turn.checks["extractive_sentences"] = len(turn.statements)
        if not turn.statements:
            turn.abstention = "no sentence could be verified against the retrieved passages"

    def _assemble(self, turn: Turn) -> Answer:
        """The verdict the shown sentences allow, and the answer."""
        question, prediction = turn.question, turn.prediction
        verdict, confidence, probs = None, prediction.answerable, prediction.probs
        papers, meter, reason = [], None, None
        if turn.stances is not None:
            checked = verdicts.checked(self.runtime.stance, question, turn.stances, turn.statements,
                                       turn.read, turn.checks)
            verdict, confidence, probs = checked.verdict, checked.confidence, checked.probs
            papers, meter, reason = verdicts.meter(checked), checked.meter(), checked.reason
        elif is_yes_no_question(question):
            verdict, confidence = verdicts.by_rules(
                question, turn.statements, turn.sources, prediction,
                self.settings.answer.verdict_veto_confidence, turn.checks)
        turn.timings["total"] = _ms(turn.started)
        return Answer(question=question, verdict=verdict,
                      confidence=None if confidence is None else round(confidence, 4),
                      verdict_probs=_rounded(probs), sentences=turn.statements,
                      evidence=turn.sources, abstained=False, abstention_reason=None,
                      index_generation=self.generation_id, models=self.models,
                      timings_ms=turn.timings, checks=turn.checks,
                      answerability=turn.answerability, papers=papers, meter=meter,
                      verdict_reason=reason)

    def _answerability(self, question: str, sources: list[Source],
                       prediction: VerdictPrediction, vector) -> dict[str, float]:
        """P(unanswerable), the threshold it is held to, and the signals behind it."""
        config = self.settings.answer
        p_insufficient = float(prediction.probs.get("insufficient", 0.0))
        gate = self.runtime.gate
        if gate is None:
            threshold = 0.3 if config.abstain_threshold is None else config.abstain_threshold
            return {"p_unanswerable": round(p_insufficient, 4), "threshold": threshold,
                    "p_insufficient": round(p_insufficient, 4)}
        coverage, similarity = self.retriever.evidence_match(
            question, [s.chunk_id for s in sources], vector)
        signals = AnswerabilitySignals(p_insufficient, coverage, similarity)
        threshold = gate.threshold if config.abstain_threshold is None \
            else config.abstain_threshold
        return {"p_unanswerable": round(gate.p_unanswerable(signals), 4),
                "threshold": round(threshold, 4),
                **{key: round(value, 4) for key, value in zip(
                    ("p_insufficient", "term_coverage", "similarity"), signals.vector())}}

    def _generate(self, question: str, sources: list[Source], passages: dict[int, str],
                  check: bool, timings: dict[str, float],
                  checks: dict[str, int]) -> list[Statement]:
        from generator.prompt import build_messages

        config = self.settings.answer
        t = time.perf_counter()
        try:
            text = self.runtime.generator.generate(build_messages(question, sources),
                                              config.max_new_tokens)
        except Exception as exc:  # noqa: BLE001 - any backend failure falls back to quoting
            log.warning("generator failed (%s); falling back to extractive", type(exc).__name__)
            return []
        timings["generate"] = _ms(t)
        parsed = parse_statements(text, len(sources), keep_rejected=True)
        drafts = [d for d in parsed if d.rejected is None]
        checks["generated_sentences"] = len(parsed)
        checks["dropped_citations"] = sum(len(d.dropped) for d in parsed)
        checks["rejected_instructions"] = sum(d.rejected == "instruction" for d in parsed)
        if not drafts or (says_no_answer(text) and not any(d.citations for d in drafts)):
            return []
        t = time.perf_counter()
        if check:
            kept = verify(drafts, passages, self.runtime.support.score,
                          threshold=config.support_threshold,
                          max_sentences=config.max_sentences)
        else:
            # Unverified (ablation only): still never a citation outside the evidence list.
            kept = [Statement(d.text, d.citations, float("nan"), "generated")
                    for d in drafts if d.citations][: config.max_sentences]
        timings["verify"] = _ms(t)
        checks["verified_sentences"] = len(kept)
        cited_by_text = {d.text: set(d.citations) for d in drafts}
        checks["recited_sentences"] = sum(
            1 for s in kept if not set(s.citations) <= cited_by_text.get(s.text, set()))
        return kept

    def _relevance(self, question: str, sentences: list[str],
                   context: list[str]) -> list[float]:
        """How well each sentence answers the question: the IDF-weighted share of the
        question's terms it contains (weighted by how few evidence passages hold each term,
        ``Retriever.coverage``), the reranker breaking ties among equal shares."""
        coverage = self.retriever.coverage(question, sentences, context)
        if self.runtime.reranker is None or not sentences:
            return coverage
        scores = [float(s) for s in self.runtime.reranker.score(question, sentences)]
        # A reranker logit squashed to (0, 0.01): it orders sentences of equal coverage only.
        return [c + 0.01 / (1 + math.exp(-s)) for c, s in zip(coverage, scores)]

    def _relevant(self, question: str, statements: list[Statement], context: list[str],
                  checks: dict[str, int],
                  exempt: Callable[[str], bool] | None = None) -> list[Statement]:
        """The statements that answer the question asked: a true sentence about something
        else (another drug, another outcome) is dropped (``answer.min_relevance``), unless
        ``exempt`` (the stance model read it as answering the yes/no question)."""
        if not statements:
            return statements
        floor = self.settings.answer.min_relevance
        coverage = self.retriever.coverage(question, [s.text for s in statements], context)
        kept = [s for s, c in zip(statements, coverage)
                if c >= floor or (exempt is not None and exempt(s.text))]
        checks["irrelevant_sentences"] = checks.get("irrelevant_sentences", 0) + \
            len(statements) - len(kept)
        return kept

    def _abstain(self, turn: Turn) -> Answer:
        """No answer: the reason, and the evidence and judgements known when it stopped."""
        turn.timings["total"] = _ms(turn.started)
        prediction, answerability = turn.prediction, turn.answerability
        probs = prediction.probs if prediction is not None else {"insufficient": 1.0}
        return Answer(question=turn.question, verdict="insufficient",
                      confidence=round(answerability["p_unanswerable"] if answerability
                                       else probs.get("insufficient", 1.0), 4),
                      verdict_probs=_rounded(probs), sentences=[], evidence=turn.sources,
                      abstained=True, abstention_reason=turn.abstention,
                      index_generation=self.generation_id, models=self.models,
                      timings_ms=turn.timings, checks=turn.checks,
                      answerability=answerability or {})

    # -- helpers ---------------------------------------------------------------------------


def answer(question: str, settings: Settings | None = None, **kwargs) -> Answer:
    """One-shot convenience: load everything, answer one question."""
    from clinrag.settings import load_settings

    return Answerer.open(settings or load_settings()).answer(question, **kwargs)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def _rounded(probs: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in probs.items()}

