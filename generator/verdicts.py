"""The verdict of a yes/no question, for the answerer: from the stance model (the default) or,
without one, by word rules off the shown sentences.

With the stance model (``answer.stance_model``): every evidence sentence is read
(``stance_reading``), the sentences that carry the verdict are quoted first (``quote_order``),
and the verdict is shown only if the shown sentences carry it and none reads the other way
(``checked``); ``meter`` turns the papers' stances into the answer's evidence meter.
"""

from __future__ import annotations

from collections.abc import Callable

from generator.evidence_stance import (UNCLEAR, PaperInfo, SentenceStance, StanceModel,
                                       StanceVerdict, checked_by_quotes, evidence_sentences,
                                       sentence_key, stance_verdict)
from generator.stance import evidence_verdict, from_setup_sections
from generator.types import PaperVerdict, Source, Statement
from generator.verdict import VerdictPrediction


def stance_reading(model: StanceModel, question: str, sources: list[Source],
                   relevance: Callable[[list[str]], list[float]] | None = None,
                   min_relevance: float = 0.0
                   ) -> tuple[StanceVerdict, dict[str, SentenceStance]]:
    """Every evidence sentence read by the stance model, and the verdict they give. A
    sentence whose ``relevance`` (the IDF-weighted share of the question's terms it holds,
    Retriever.coverage) is under ``min_relevance`` takes no stance: the same floor a quote
    must clear. Without it, papers on other topics in the evidence said "no" wherever they
    negated something of their own (demo: "sodium restriction did not reduce clinical
    events" against a question on SGLT2 inhibitors)."""
    units = evidence_sentences({s.n: s.text for s in sources}, {s.n: s.title for s in sources},
                               {s.n: s.section for s in sources})
    read = model.read(question, units)
    if relevance is not None and read:
        read = off_topic_silenced(read, relevance([s.text for s in read]), min_relevance)
    papers = [PaperInfo(s.n, s.doc_id, s.title, s.year, s.study_type, s.retracted)
              for s in sources]
    verdict = stance_verdict(read, papers, model.rule)
    return verdict, {sentence_key(s.text): s for s in read}


def off_topic_silenced(read: list[SentenceStance], relevance: list[float],
                       floor: float) -> list[SentenceStance]:
    return [SentenceStance(s.n, s.text, s.yes, s.no, r) if r >= floor
            else SentenceStance(s.n, s.text, 0.0, 0.0, r) for s, r in zip(read, relevance)]


def quote_order(found: StanceVerdict | None) -> Callable[[int | None, str], int | None]:
    """A quote tier: the sentences that carry the verdict (for mixed evidence, each side's)
    first, weightiest paper first, then the rules' tiers (generator/stance.quote_tier). A
    sentence the rules never quote (an aim, a method) stays unquoted even where the model
    reads a stance in it."""
    carrying = {} if found is None else {
        sentence_key(text): rank for rank, (_, text) in enumerate(found.carrying())}

    def tier(rules_tier: int | None, sentence: str) -> int | None:
        if rules_tier is None:
            return None
        rank = carrying.get(sentence_key(sentence))
        return rules_tier if rank is None else -100 + rank

    return tier


def answering(found: StanceVerdict | None, relevance: Callable[[list[str]], list[float]],
              floor: float) -> Callable[[str], bool] | None:
    """Whether a sentence is one the stance model read as answering the question (a paper's
    deciding sentence) and holds at least ``floor`` of the question's terms: such a sentence
    is quoted even under the quotes' own relevance floor. Without it, PubMedQA validation
    answers lost 18 of 56 stance verdicts to "no shown sentence says so" and 11 to "no
    sentence could be verified"; without ``floor`` (0.1), secondary results that name none of
    the question's terms ("There was no effect on length of stay") carried a "no" on the
    demo corpus (docs/answering.md)."""
    if found is None:
        return None
    texts = [text for _, text in found.carrying()]
    keys = {sentence_key(t) for t, r in zip(texts, relevance(texts) if texts else [])
            if r >= floor}
    return lambda sentence: sentence_key(sentence) in keys


def checked(model: StanceModel, question: str, found: StanceVerdict,
            statements: list[Statement], read: dict[str, SentenceStance],
            checks: dict[str, int]) -> StanceVerdict:
    """The stance verdict, unless a shown sentence reads the other way or none carries it
    (generator/evidence_stance.checked_by_quotes)."""
    unread = [s for s in statements if sentence_key(s.text) not in read]
    if unread:   # a generated sentence, or a quote cut differently: read it too
        more = model.read(question, [(s.citations[0], s.text) for s in unread])
        read = {**read, **{sentence_key(s.text): s for s in more}}
    quoted = [read[sentence_key(s.text)] for s in statements]
    result = checked_by_quotes(found, quoted, model.rule.floor)
    checks["stance_vetoed"] = int(result.verdict != found.verdict)
    checks["stance_papers"] = sum(p.stance != UNCLEAR for p in found.papers)
    return result


def meter(found: StanceVerdict) -> list[PaperVerdict]:
    return [PaperVerdict(doc_id=p.doc_id, title=p.title, year=p.year, design=p.design,
                         stance=p.stance, sentence=p.sentence, n=p.n,
                         p_yes=round(p.p_yes, 4), p_no=round(p.p_no, 4),
                         weight=round(p.weight, 4), retracted=p.retracted)
            for p in found.papers]


def by_rules(question: str, statements: list[Statement], sources: list[Source],
             prediction: VerdictPrediction, veto_confidence: float,
             checks: dict[str, int]) -> tuple[str, float | None]:
    """Without a stance model (``answer.stance_model = "none"``): the verdict the shown
    sentences support by rules (generator/stance.py), or "unclear". Sentences cited only to
    background or methods sections take no stance. The verdict model vetoes the rules when
    its own label differs with probability >= ``veto_confidence`` (0.5; on BioASQ 10B shown
    verdicts are right 0.852 at coverage 0.61 with it, 0.839 at 0.62 without, 0.885 at 0.48
    when the two must always agree): each signal alone is too often wrong on held-out
    questions."""
    section = {source.n: source.section for source in sources}
    findings = [s.text for s in statements
                if not from_setup_sections(section.get(n) for n in s.citations)]
    label, p_label = prediction.among(("yes", "no", "maybe"))
    veto = label if p_label >= veto_confidence else None
    found = evidence_verdict(question, findings, veto)
    checks["stance_yes"] = sum(x == "yes" for x in found.stances)
    checks["stance_no"] = sum(x == "no" for x in found.stances)
    # No calibrated probability exists for a verdict read off the sentences, and the
    # verdict model's own probability would misstate it: no number is shown.
    return found.verdict, None
