"""Turn generated text into cited statements, and keep only what the evidence supports (pure).

The generator's output is untrusted: it may cite passage numbers that were never shown, add
links, echo instructions planted in a document, or state things no passage says. This module
parses it into sentences with citation numbers, drops every number outside the evidence list,
strips links and markup, and then keeps a sentence only if its citations support it: the
support model says so *and* every exactly checkable part of it (numbers, names, negation,
direction, strength, recommendations) is found in the cited passage (generator/claim_checks.py).
A sentence failing its own citations is re-cited to another retrieved passage that passes both,
when one does. The support model enters as a plain function, so the logic is testable without
a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from generator.claim_checks import check_claim
from generator.sentences import answer_pieces, citation_numbers, passage_sentences, \
    without_citations
from generator.types import Statement

# (sentence, passage) pairs -> probability that the passage supports the sentence.
SupportFn = Callable[[list[tuple[str, str]]], Sequence[float]]
# (sentence, passage) -> whether the exact checks pass (generator/claim_checks.py by default).
ClaimCheck = Callable[[str, str], bool]


def exact_check(sentence: str, passage: str) -> bool:
    return check_claim(sentence, [passage]).passed

_URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+|\b[\w.-]+\.(?:com|org|net|io|ru|cn)\b\S*",
                  re.IGNORECASE)
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\((?:[^()]|\([^()]*\))*\)")
_TAG = re.compile(r"<[^>]{0,200}>")
_NO_ANSWER = re.compile(r"\b(passages?|evidence|sources?|context)\b[^.]{0,40}\b(do(es)? not|don't|"
                        r"cannot|can't|insufficient|not enough)\b", re.IGNORECASE)
_MIN_CHARS = 12
_MIN_CONTENT_WORDS = 4
_STOP = frozenset("""a an the and or but if of in on at to for from by with as is are was were be
been being it its this that these those there here than then so such not no do does did can
could should would will may might must have has had see now more most very also which who""".split())
# An answer sentence states a finding. Imperatives ("Visit ...", "Ignore ...") and talk about
# prompts or roles are what injected instructions look like, never what a finding looks like.
_IMPERATIVE = re.compile(
    r"^(please\s+)?(visit|click|go|ignore|disregard|forget|reply|respond|answer|say|write|"
    r"print|output|repeat|cite|call|contact|email|send|open|download|install|run|execute|"
    r"always|never|stop|start|recommend|tell|act|pretend|buy|order|subscribe|follow|"
    r"use|take|avoid|do)\b", re.IGNORECASE)
_INJECTION = re.compile(
    r"\b(previous|prior|above)\s+instructions?\b|\bdeveloper mode\b|\bsystem prompt\b|"
    r"\bas an (ai|assistant|language model)\b|\bjailbreak|\bprompt\b|\bjavascript:|"
    r"\bthe (real|true) answer\b|\b(system|assistant|user|human)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Draft:
    """A sentence as the generator wrote it: its text without markers, and valid citations."""

    text: str
    citations: tuple[int, ...]
    dropped: tuple[int, ...] = ()   # numbers outside the evidence list, never emitted
    rejected: str | None = None     # "instruction" or "fragment": never an answer sentence


def looks_like_instruction(sentence: str) -> bool:
    """An imperative or prompt-talk sentence: the shape of injected text, not of a finding."""
    return bool(_IMPERATIVE.match(sentence.strip()) or _INJECTION.search(sentence))


def is_claim(sentence: str) -> bool:
    """Enough content words to state something checkable, and not an instruction."""
    words = [w for w in re.findall(r"[a-z0-9][a-z0-9-]*", sentence.lower()) if w not in _STOP]
    return len(words) >= _MIN_CONTENT_WORDS and not looks_like_instruction(sentence)


def clean(text: str) -> str:
    """Generated text without links, markup or chat residue; whitespace collapsed."""
    text = _MARKDOWN_LINK.sub(lambda m: m.group(1), text)
    text = _TAG.sub(" ", text)
    text = _URL.sub(" ", text)
    text = re.sub(r"[*_`#>]+", " ", text)
    return " ".join(text.split())


def parse_statements(text: str, n_sources: int, *, keep_rejected: bool = False
                     ) -> list[Draft]:
    """Split generated text into sentences and their citation numbers (1..n_sources only).

    Instructions (the shape of injected text) and fragments too short to state a finding are
    left out, or returned marked ``rejected`` with ``keep_rejected`` (for accounting)."""
    drafts: list[Draft] = []
    for raw in answer_pieces(clean(text)):
        numbers = citation_numbers(raw)
        body = " ".join(without_citations(raw).split())
        body = re.sub(r"\s+([.,;:!?])", r"\1", body).strip(" ,;:")
        if len(body) < _MIN_CHARS:
            # A citation standing on its own belongs to the sentence before it.
            if numbers and drafts and not body.strip(". "):
                last = drafts[-1]
                valid = tuple(dict.fromkeys(
                    [*last.citations, *[n for n in numbers if 1 <= n <= n_sources]]))
                drafts[-1] = Draft(last.text, valid, last.dropped)
            continue
        valid = tuple(dict.fromkeys(n for n in numbers if 1 <= n <= n_sources))
        dropped = tuple(dict.fromkeys(n for n in numbers if not 1 <= n <= n_sources))
        if body[-1] not in ".!?":
            body += "."
        rejected = ("instruction" if looks_like_instruction(body)
                    else None if is_claim(body) else "fragment")
        drafts.append(Draft(body, valid, dropped, rejected))
    return drafts if keep_rejected else [d for d in drafts if d.rejected is None]


def says_no_answer(text: str) -> bool:
    """The generator itself said the passages do not answer the question."""
    return bool(_NO_ANSWER.search(text))


def verify(drafts: Sequence[Draft], passages: dict[int, str], support: SupportFn, *,
           threshold: float, max_sentences: int,
           claim_check: ClaimCheck = exact_check) -> list[Statement]:
    """Keep the sentences the evidence supports, each with only supporting citations.

    A sentence keeps those of its citations whose passage supports it (support at least
    ``threshold`` and ``claim_check`` passing); if none does (or it cited nothing), it is
    re-cited to the retrieved passage that supports it best among those passing the check, if
    any reaches ``threshold``; otherwise it is dropped. Duplicate sentences are dropped.
    """
    numbers = sorted(passages)
    pairs = [(d.text, passages[n]) for d in drafts for n in numbers]
    scores = list(support(pairs)) if pairs else []
    kept: list[Statement] = []
    seen: set[str] = set()
    for i, draft in enumerate(drafts):
        by_n = {n: float(scores[i * len(numbers) + j]) for j, n in enumerate(numbers)}
        key = draft.text.lower()
        if key in seen:
            continue
        def passes(n: int) -> bool:
            return by_n.get(n, 0.0) >= threshold and claim_check(draft.text, passages[n])

        cited = [n for n in draft.citations if n in passages and passes(n)]
        if not cited:
            ranked = sorted(numbers, key=lambda n: -by_n[n])
            best = next((n for n in ranked if by_n[n] >= threshold and passes(n)), None)
            if best is None:
                continue
            cited = [best]
        seen.add(key)
        kept.append(Statement(draft.text, tuple(cited), min(by_n[n] for n in cited),
                              "generated"))
        if len(kept) == max_sentences:
            break
    return kept


# A structured abstract's section label ("CONCLUSIONS: ...") opens a sentence of the page
# text; it is layout, not part of the finding, and is never shown as if it were.
_SECTION_LABEL = re.compile(r"^(?:[A-Z][A-Z /&-]{2,40}):\s+")


def quotable_sentences(text: str) -> list[str]:
    """Sentences of a passage, for extractive answers, without section labels."""
    out = []
    for sentence in passage_sentences(text):
        sentence = _SECTION_LABEL.sub("", sentence)
        if len(sentence) >= 30:
            out.append(sentence)
    return out


def _same_quote(a: str, b: str) -> bool:
    """True when one quote is the other, or a piece of it: overlapping chunks of one abstract
    cut the same sentence twice, once clipped ("rison to linear RNAs, circRNAs are ...")."""
    a, b = (" ".join(x.lower().split()) for x in (a, b))
    return a in b or b in a


def extractive(passages: dict[int, str], relevance: Callable[[list[str]], Sequence[float]],
               support: SupportFn, *, threshold: float, max_sentences: int = 2,
               claim_check: ClaimCheck = exact_check,
               texts: dict[int, str] | None = None,
               tier: Callable[[int, str], int | None] | None = None,
               min_relevance: float = float("-inf"),
               exempt: Callable[[str], bool] | None = None) -> list[Statement]:
    """Quote the passage sentences most relevant to the question, each citing its passage.

    Quotes are cut from ``texts`` (the chunks' own text) where given, so the title line the
    models read in ``passages`` (for a record without one, a placeholder such as "PubMed 123")
    never opens a quoted sentence; support is still judged against ``passages``.

    ``tier`` orders candidates before relevance does (lower first; None: never quoted), and
    a candidate scoring under ``min_relevance`` is never quoted unless ``exempt`` says so (the
    sentences the stance model reads as answering a yes/no question: a results sentence
    rarely repeats the question's words).

    ``relevance`` scores candidate sentences against the question (higher is better). A quote
    is still checked by the support model against its passage, so even the fallback never
    cites a passage that does not carry the sentence.
    """
    # Quotes are verbatim, so a sentence that would need cleaning (links, markup, chat
    # tokens) or that reads as an instruction is never quoted: that is what a poisoned
    # passage plants, and no finding needs it.
    own = texts or passages
    candidates = [(n, s) for n in sorted(passages) for s in
                  quotable_sentences(own.get(n, passages[n]))
                  if is_claim(s) and clean(s) == " ".join(s.split()) and "<|" not in s]
    tiered = [(c, 0 if tier is None else tier(*c)) for c in candidates]
    candidates = [c for c, t in tiered if t is not None]
    tiers = [t for _, t in tiered if t is not None]
    if not candidates:
        return []
    ranked = sorted(((r, i) for i, r in enumerate(relevance([s for _, s in candidates]))
                     if float(r) >= min_relevance
                     or (exempt is not None and exempt(candidates[i][1]))),
                    key=lambda t: (tiers[t[1]], -float(t[0]), t[1]))
    chosen = [candidates[i] for _, i in ranked[: max_sentences * 4]]
    scores = list(support([(s, passages[n]) for n, s in chosen]))
    out: list[Statement] = []
    for (n, sentence), score in zip(chosen, scores):
        if float(score) >= threshold and not any(_same_quote(sentence, o.text) for o in out) \
                and claim_check(sentence, passages[n]):
            out.append(Statement(sentence, (n,), float(score), "extractive"))
        if len(out) == max_sentences:
            break
    return out
