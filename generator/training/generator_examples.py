"""The generator's training examples, built from PubMedQA records (pure).

Each example shows the record's own abstract sections plus one or two sections of other records
(distractors), shuffled and numbered as the inference prompt numbers them; the target is the
conclusion cut to at most three sentences, each ending with the citation of the section it
overlaps most in words. ``citation_share`` scores generated answers the same way.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict

from generator.prompt import NO_ANSWER
from generator.sentences import citation_numbers, passage_sentences
from clinrag.pubmedqa import PubMedQARecord
from generator.types import Source

_WORD = re.compile(r"[a-z0-9]+(?:[-.][a-z0-9]+)*")
_STOP = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was "
    "were which with we our not no than there these those may can".split())


def words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def cite_sentence(sentence: str, own: list[Source]) -> list[int]:
    """The number of the own section sharing most words with ``sentence`` (a second one too
    when it shares nearly as many)."""
    sw = words(sentence)
    scored = sorted(((len(sw & words(s.text)), s.n) for s in own), reverse=True)
    best = scored[0][0]
    cited = [scored[0][1]]
    if len(scored) > 1 and best > 0 and scored[1][0] >= 0.8 * best and scored[1][0] >= 3:
        cited.append(scored[1][1])
    return sorted(cited)


def with_citations(sentence: str, numbers: list[int]) -> str:
    """``sentence`` with ``[n]`` markers placed before its final punctuation."""
    marks = "".join(f"[{n}]" for n in numbers)
    body = sentence.rstrip()
    end = body[-1] if body and body[-1] in ".!?" else "."
    body = body[:-1].rstrip() if body and body[-1] in ".!?" else body
    return f"{body} {marks}{end}"


def record_sources(record: PubMedQARecord) -> list[Source]:
    return [Source(n=0, chunk_id=f"pubmed:{record.pmid}:{i}", doc_id=record.doc_id, title="",
                   text=ctx, page_number=None,
                   section=record.labels[i] if i < len(record.labels) else None,
                   start=0, end=len(ctx), score=0.0, source="pubmedqa", year=record.year,
                   pmid=record.pmid)
            for i, ctx in enumerate(record.contexts)]


def _numbered(sources: list[Source]) -> list[Source]:
    return [Source(**{**asdict(s), "n": i + 1}) for i, s in enumerate(sources)]


def make_example(record: PubMedQARecord, pool: list[PubMedQARecord], rng: random.Random, *,
                 refusal: bool = False, max_distractors: int = 2) -> tuple[list[Source], str]:
    """(numbered sources, target answer) for one training or validation example."""
    others = [r for r in rng.sample(pool, min(len(pool), 4)) if r.pmid != record.pmid]
    distractors = [rng.choice(record_sources(r))
                   for r in others[:rng.randint(1, max(1, max_distractors))]]
    if refusal:
        extra = [rng.choice(record_sources(r)) for r in others[2:4]]
        sources = _numbered(rng.sample(distractors + extra, len(distractors + extra)))
        return sources, NO_ANSWER
    own = record_sources(record)
    mixed = own + distractors
    sources = _numbered(rng.sample(mixed, len(mixed)))
    own_ids = {s.chunk_id for s in own}
    numbered_own = [s for s in sources if s.chunk_id in own_ids]
    sentences = passage_sentences(record.long_answer)[:3] or [record.long_answer]
    target = " ".join(with_citations(s, cite_sentence(s, numbered_own)) for s in sentences)
    return sources, target


def build_examples(records: list[PubMedQARecord], pool: list[PubMedQARecord], seed: int,
                   variants: int, refusal_share: float, max_distractors: int = 2
                   ) -> list[tuple[str, list[Source], str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(variants):
        for record in records:
            refusal = rng.random() < refusal_share
            sources, target = make_example(record, pool, rng, refusal=refusal,
                                           max_distractors=max_distractors)
            out.append((record.question, sources, target))
    rng.shuffle(out)
    return out


def citation_share(answer: str, n_sources: int) -> tuple[int, int]:
    """(sentences carrying at least one citation within 1..n_sources, sentences)."""
    sentences = passage_sentences(answer)
    ok = sum(1 for s in sentences
             if any(1 <= n <= n_sources for n in citation_numbers(s)))
    return ok, len(sentences)
