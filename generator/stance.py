"""Which way a shown sentence answers a yes/no question, and the verdict the shown evidence gives
(pure).

The verdict a reader sees must be one a careful reader of the shown sentences would give. So it
is read off the verified sentences themselves: a sentence takes a stance only when it is about
the question's proposition (it names every specific name of the question and most of its
content words), and its stance is "yes" when it states the proposition with the question's
polarity and direction, "no" when it negates it or states the opposite direction ("Do X reduce
Y?" against "X did not reduce Y" or "X increased Y"). Sentences about something else take no
stance. The verdict is shown only when every stance-taking sentence agrees *and* the verdict
model does not say otherwise; anything else is "unclear": no clear answer in these passages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from generator.claim_checks import (clauses, content_stems, directions, is_name, is_negated,
                                    numbers, stem, stems, tokens)

_AUXILIARIES = frozenset("""is are was were do does did can could should would will has have
had may might must shall""".split())
_MIN_COVERAGE = 0.6
# Prefixes that make a word its opposite or another thing ("anti-apoptotic" against "pro
# apoptotic", "nonsegmented" against "segmented"). Read on BioASQ 9B answers, where sentences
# naming the question's word under such a prefix were taken for a "yes".
_PREFIXES = ("anti", "non", "pro")
# A sentence that states what a study set out to do, or how, restates the question without
# answering it ("We assessed whether X reduces Y"): it takes no stance.
_NOT_A_FINDING = re.compile(
    r"\b(whether|to (?:determine|assess|evaluate|investigate|examine|compare|test|explore|"
    r"identify|describe|study)|we (?:aimed|sought|hypothesi[sz]ed|searched|report|describe|"
    r"studied|investigated|examined|evaluated|assessed)|aims? (?:of|to|was)|objectives?|"
    r"purpose|hypothesis|was (?:performed|conducted|designed)|were (?:enrolled|included|"
    r"randomi[sz]ed|recruited)|erratum|corrigendum)\b|\?\s*$", re.IGNORECASE)
UNCLEAR = "unclear"
# Where a second claim hangs off the first ("..., without increasing mortality").
_SIDE_CLAUSE = re.compile(r",?\s+(?:without\s+(?=\w+ing\b)|but not\s+)", re.IGNORECASE)
# Opposites a sentence answers a question with ("Are Tregs a positive regulator?" against
# "Tregs are negative regulators"): the question's word absent and its opposite present flips
# the stance, like a negation. Seen on BioASQ 10B answers (docs/answer_reading.md).
_OPPOSITES = (("positive", "negative"), ("promote", "suppress"), ("promote", "inhibit"),
              ("activate", "inhibit"), ("activate", "suppress"), ("common", "rare"),
              ("frequent", "rare"), ("dependent", "independent"),
              ("dependence", "independence"), ("benign", "malignant"), ("agonist", "antagonist"),
              ("coding", "non-coding"), ("effective", "ineffective"), ("safe", "unsafe"),
              ("present", "absent"), ("gain", "loss"), ("sensitive", "resistant"),
              ("essential", "dispensable"), ("upregulate", "downregulate"),
              ("overexpressed", "underexpressed"), ("oncogene", "suppressor"))
# "unknown", "unclear", "remains to be" and "controversial" say the question is open, which
# is not an answer either way (BioASQ 9B: "the efficacy ... of X are unknown" read as "yes").
_HEDGE = re.compile(r"\b(may|might|could|possibly|perhaps|suggests?|suggested|appears?|"
                    r"potential(?:ly)?|hypothes\w*|unknown|unclear|remains? to be|"
                    r"controversial|debated)\b", re.IGNORECASE)
# Structured-abstract sections that set a question up rather than answer it. A sentence whose
# every cited passage is one of these takes no stance (PubMedQA validation: shown verdicts
# right 0.50 of the time without this rule, 1.00 with it, at lower coverage).
_SETUP_SECTION = re.compile(r"background|introduction|objective|aim|purpose|method|design|"
                            r"setting|participants|context", re.IGNORECASE)


_REFERENCES = re.compile(r"^\s*(?:\d+\.?\s*)?(?:references|bibliography|literature cited)\b",
                         re.IGNORECASE)


def _prefixed(words: Iterable[str]) -> set[tuple[str, str]]:
    """(prefix, stem of the rest) for words such as "anti-apoptotic" or "nonsegmented"."""
    out = set()
    for word in words:
        word = word.lower()
        for prefix in _PREFIXES:
            rest = word[len(prefix):].lstrip("-")
            if word.startswith(prefix) and len(rest) >= 5 and rest.isalpha():
                out.add((prefix, stem(rest)))
    return out


def states_a_finding(sentence: str) -> bool:
    """False for a sentence that states what a study set out to do or how ("To assess
    whether ...", "We enrolled ..."): it restates a question without answering it."""
    return not _NOT_A_FINDING.search(sentence)


def states_no_findings(section: str | None) -> bool:
    """True for a part of a paper whose sentences are not findings about the question: its
    background or methods, or its reference list."""
    return bool(section) and (from_setup_sections([section]) or
                              bool(_REFERENCES.search(section)))


def from_setup_sections(sections: Iterable[str | None]) -> bool:
    """True when every section given names a background or methods part of a paper."""
    named = [s for s in sections if s]
    return bool(named) and all(_SETUP_SECTION.search(s) for s in named)


@dataclass(frozen=True)
class EvidenceVerdict:
    verdict: str                      # "yes", "no" or "unclear"
    stances: tuple[str | None, ...]   # per shown sentence: "yes", "no" or None (no stance)
    reason: str


def stance(question: str, sentence: str) -> str | None:
    """"yes" or "no" if ``sentence`` answers the polar ``question``, else None.

    Read on the clause of the sentence that states the question's proposition: in "X reduced
    Y without increasing Z" or "X reduced Y but not Z" the negation belongs to another claim.
    A hedged clause ("may reduce", "suggests") states no finding and takes no stance."""
    q_words = [t.lower() for t in tokens(question)]
    wanted = content_stems(question) - {stem(w) for w in _AUXILIARIES}
    if not wanted or not states_a_finding(sentence):
        return None
    parts = [c for part in clauses(sentence) for c in _SIDE_CLAUSE.split(part) if c.strip()]
    sentence = max(parts or [sentence], key=lambda c: len(wanted & stems(tokens(c))))
    if _HEDGE.search(sentence):
        return None
    s_words = [t.lower() for t in tokens(sentence)]
    have = stems(tokens(sentence))
    names = [t for i, t in enumerate(tokens(question)) if i > 0 and is_name(t, i)]
    if any(stem(n.strip("-/.")) not in have and n.lower() not in sentence.lower()
           for n in names):
        return None
    if len(wanted & have) / len(wanted) < _MIN_COVERAGE:
        return None
    if numbers(question) - numbers(sentence):
        return None     # "type 1 diabetes" asked, "type 2 diabetes" stated
    s_negated = is_negated(_qualifiers_dropped(s_words), sentence)
    flip = is_negated(_qualifiers_dropped(q_words), question) != s_negated
    # Whole words here, not hyphen parts: "non-coding" must not count as "coding".
    q_whole = {stem(t) for t in tokens(question)}
    s_whole = {stem(t) for t in tokens(sentence)}
    for a, b in _OPPOSITES:
        pair = {(stem(a), stem(b)), (stem(b), stem(a))}
        if any(x in q_whole and y not in q_whole and y in s_whole and x not in s_whole
               for x, y in pair):
            flip = not flip
            break
    else:
        q_prefixed = _prefixed(q_words) | {("", stem(w)) for w in q_words}
        if any(x not in q_prefixed and ("", x[1]) in q_prefixed for x in _prefixed(s_words)):
            return None     # "anti-apoptotic" stated, "apoptotic" asked: another thing
    q_dir, s_dir = directions(q_words), directions(s_words)
    if q_dir and not s_dir and not s_negated:
        return None     # "Do X reduce Y?" against a sentence that states no effect on Y
    if q_dir and s_dir and not (q_dir & s_dir):
        flip = not flip
    return "no" if flip else "yes"


def _qualifiers_dropped(words: list[str]) -> list[str]:
    """The words without a "without" that qualifies a noun ("adults without diabetes" names
    a population; it negates nothing). "without increasing Z" is a side claim, cut off
    before (``_SIDE_CLAUSE``). Read on the demo corpus: "In adults with overweight or obesity
    without diabetes, once-weekly semaglutide ... produced clinically meaningful weight loss"
    gave a "no" to "Does semaglutide reduce body weight in adults with obesity?"."""
    return [w for i, w in enumerate(words)
            if not (w == "without" and i + 1 < len(words) and not words[i + 1].endswith("ing"))]


def quote_tier(sentence: str, section: str | None, question: str | None = None
                ) -> int | None:
    """Which quotes come first (lower first); None: never quoted.

    None for a sentence stating a study's aim or procedure: it restates the question (on
    PubMedQA validation such sentences were the first quote of most answers and answer
    nothing). Findings come before background or methods sentences (2). For a yes/no
    ``question``, a finding that answers it (``stance``) comes first (0), another
    finding next (1): on BioASQ 9B the most relevant finding was often a neighbour of the
    answering sentence (shown verdicts right 0.776 -> 0.803, wrong 15 -> 13 of 117).
    A reference-list entry is never quoted: on the demo a cited meta-analysis's title from a
    PDF's references stood as the second quote under a verdict."""
    if not states_a_finding(sentence) or (section and _REFERENCES.search(section)):
        return None
    if from_setup_sections([section]):
        return 2
    return 0 if question is None or stance(question, sentence) is not None else 1


def evidence_verdict(question: str, sentences: Iterable[str],
                     model_label: str | None) -> EvidenceVerdict:
    """The verdict the shown sentences support, checked against the verdict model's label."""
    stances = tuple(stance(question, s) for s in sentences)
    taken = {s for s in stances if s is not None}
    if not taken:
        return EvidenceVerdict(UNCLEAR, stances, "no shown sentence answers the question "
                                                 "directly")
    if len(taken) > 1:
        return EvidenceVerdict(UNCLEAR, stances, "the shown sentences disagree")
    verdict = taken.pop()
    if model_label is not None and model_label != verdict:
        return EvidenceVerdict(UNCLEAR, stances, f"the sentences say {verdict!r}, the verdict "
                                                 f"model {model_label!r}")
    return EvidenceVerdict(verdict, stances, "the shown sentences agree")
