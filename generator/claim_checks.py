"""Exact checks of a sentence against the passages it cites (pure).

The learned support model judges meaning, but it is weakest exactly where a distortion is a
single token: a flipped negation, another drug, a changed number, "may" turned into "does".
Where exactness is possible we check exactly, and a sentence that fails any check is never
shown, whatever the model says:

- **numbers**: every number in the sentence occurs in the cited passages;
- **names**: every drug, gene, receptor, disease or other specific name (acronyms, tokens mixing
  letters and digits, words with a drug-class or disease suffix, capitalised words inside the
  sentence) occurs in them;
- **polarity**: a negation in the sentence ("not", "no", "failed to", ...) needs one in the
  passages, and a direction word ("increased", "lower", "improved", ...) needs the same
  direction there;
- **strength**: a causal, certainty or benefit word ("causes", "proves", "effective",
  "significantly", "useful", "safe") and universal scope ("all patients", "everyone") need the same word in the passages;
- **recommendations**: "should", "must", "recommend", "avoid", ... need the same word there;
- **novelty**: at most a small share of the sentence's content words may be absent from the
  passages (generic wording such as "study", "suggest" or "authors" does not count).

Words are compared by their Snowball stem, after British/American spelling is unified, so
"hospitalisation"/"hospitalization" and "reduced"/"reduces" match. Each failure is returned as
a short reason, so callers can log and count why a sentence was refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from nltk.stem.snowball import SnowballStemmer

from generator.sentences import passage_sentences, without_citations

_STEMMER = SnowballStemmer("english")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-/.]*[A-Za-z0-9]|[A-Za-z0-9]")
_NUMBER = re.compile(r"(?<![A-Za-z])\d+(?:[.,]\d+)?")

_WORD_NUMBERS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                 "seven": "7", "eight": "8", "nine": "9", "ten": "10", "half": "50",
                 "twice": "2", "double": "2", "single": "1", "first": "1", "second": "2"}

# Counting words a changed claim uses ("two trials", "half of patients"); "first"/"single" are
# too often not numbers to be checked.
_CARDINALS = frozenset("two three four five six seven eight nine ten twice half double".split())

_NEGATIONS = frozenset("""not no never without neither nor none cannot fail failed fails
unable lack lacked lacking absence absent unlikely insignificant nonsignificant
non-significant ineffective unchanged""".split())

# Direction words, grouped so that a sentence's direction must appear in the passage.
_DIRECTIONS = {
    "up": frozenset("increase increased increases increasing higher high elevated elevate "
                    "raise raised rise rises greater more enhance enhanced improve improved "
                    "improves improvement better gain gains promote promoted upregulated "
                    "upregulation".split()),
    "down": frozenset("decrease decreased decreases decreasing lower low reduce reduced "
                      "reduces reducing reduction decline declined fall fell less fewer "
                      "diminish diminished worse worsen worsened worsening impair impaired "
                      "inhibit inhibited inhibits suppress suppressed downregulated "
                      "downregulation loss".split()),
}

_STRONG = frozenset("""cause causes caused causing causal proves proved proven prove
demonstrate demonstrates demonstrated establish established definitely definitive clearly
always effective efficacious cure cures cured curative significantly significant confirm
confirms confirmed guarantee guarantees eliminate eliminates prevent prevents prevented
useful beneficial helpful safe safer safely protective protects protect superior
recommended""".split())
_UNIVERSAL = re.compile(r"\b(all|every|everyone|everybody|any|regardless|universally|"
                        r"in general|general population|all patients|all adults)\b",
                        re.IGNORECASE)
_RECOMMEND = frozenset("""should must recommend recommends recommended recommendation advise
advised advises avoid avoided avoids contraindicated mandatory required withheld withhold
discontinue discontinued stop stopped""".split())

# Wording that restates rather than claims: allowed in a sentence even when absent from the
# passage (the generator writes "The results suggest that ..." around a finding).
_GENERIC = frozenset("""a an the and or but if of in on at to for from by with as is are was
were be been being it its this that these those there here than then so such do does did can
could should would will may might must have has had also which who whom whose their they them
we our us study studies result results finding findings found find show shows showed shown
suggest suggests suggested suggesting indicate indicates indicated author authors conclude
concluded conclusion conclusions data evidence report reports reported patient patients
participant participants trial trials analysis analyses research researchers observed
observe effect effects associated association compared comparison group groups overall
among between both each other however therefore thus while whereas use used using based
likely potential potentially possible possibly present current paper article review
demonstrate demonstrated role treatment treated outcome outcomes level levels rate rates
case cases""".split())

_SUFFIXES = ("mab", "nib", "tide", "pril", "sartan", "olol", "statin", "flozin", "gliptin",
             "azole", "mycin", "cillin", "cycline", "floxacin", "vir", "parin", "xaban",
             "gatran", "platin", "taxel", "rubicin", "dronate", "tidine", "prazole", "semide",
             "thiazide", "dipine", "oxetine", "azepam", "itis", "oma", "emia", "aemia",
             "opathy", "osis", "algia", "ectomy", "plasty", "kinase", "receptor", "oxacin",
             "formin", "sone", "olone", "lukast", "triptan", "vastatin", "umab", "ximab")
_NOVELTY_LIMIT = 0.34


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    reasons: tuple[str, ...] = ()


def _unify(word: str) -> str:
    word = word.lower()
    for brit, amer in (("isation", "ization"), ("ising", "izing"), ("ised", "ized"),
                       ("aemia", "emia"), ("oedema", "edema"), ("haem", "hem"),
                       ("oestr", "estr"), ("paediatr", "pediatr"), ("tumour", "tumor"),
                       ("behaviour", "behavior"), ("colour", "color"), ("randomis", "randomiz")):
        word = word.replace(brit, amer)
    return word


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _STEMMER.stem(_unify(word))


def tokens(text: str) -> list[str]:
    """Word tokens (hyphenated names kept whole), citation markers left out."""
    return _TOKEN.findall(without_citations(text))


def numbers(text: str) -> set[str]:
    """The numbers written in ``text`` as digits, normalised ("1.50" -> "1.5")."""
    found = {n.replace(",", ".").rstrip("0").rstrip(".") if "." in n or "," in n else n
             for n in _NUMBER.findall(without_citations(text))}
    return {n for n in found if n}


def is_name(token: str, position: int) -> bool:
    """A specific name whose substitution changes the claim (drug, gene, disease, ...)."""
    plain = token.strip("-/.")
    if len(plain) < 2 or plain.lower() in _GENERIC or plain.lower() in _NEGATIONS:
        return False
    letters = sum(c.isalpha() for c in plain)
    if letters and any(c.isdigit() for c in plain):
        return True                                   # SGLT2, IL-6, COVID-19, H1N1
    if plain.isupper() and letters >= 2:
        return True                                   # ACE, HbA1c-like acronyms, MRI
    if sum(c.isupper() for c in plain[1:]) >= 1 and letters >= 3:
        return True                                   # mRNA, HbA, iPSC
    if plain[0].isupper() and len(plain) > 3:
        # A proper name inside the sentence; at its start, where every word is capitalised,
        # the word is usually what the sentence is about ("Aspirin reduced ..."), which a
        # swap replaces, so it is checked too (generic openers are in _GENERIC).
        return True
    lowered = plain.lower()
    return len(lowered) > 6 and lowered.endswith(_SUFFIXES)


def stems(tokens: Iterable[str]) -> set[str]:
    out = set()
    for t in tokens:
        out.add(stem(t))
        for part in re.split(r"[-/]", t):       # "sglt2-inhibitors" also as its parts
            if part:
                out.add(stem(part))
    return out


_CLAUSE = re.compile(r";\s+|,\s+(?:but|whereas|while|although|and)\s+|\s+(?:but|whereas|while)\s+"
                     r"|\s+and\s+(?=(?:\w+\s+){0,2}(?:was|were|is|are|did|had|has|increased|"
                     r"decreased|reduced|improved|not)\b)")


def clauses(text: str) -> list[str]:
    """``text`` cut where one statement ends and another begins ("did not reduce X and
    increased Y" is two claims with opposite polarity)."""
    parts = [p.strip() for p in _CLAUSE.split(text) if p and p.strip()]
    return [p for p in parts if len(content_stems(p)) >= 2] or [text]


def check_claim(sentence: str, passages: Iterable[str], window: int | None = 1) -> CheckResult:
    """Whether every exactly checkable part of ``sentence`` is found in ``passages``.

    Each clause of the sentence is checked against the passage sentence it restates (the one
    sharing most of its content words): its numbers, names and scope words must be in that
    sentence, its wording and strength within ``window`` sentences either side (None: the
    whole passage), so that a number or a drug found only in another paragraph of a long text
    does not support it. Polarity and direction must match a clause of that sentence.
    """
    evidence = " ".join(" ".join(p.split()) for p in passages)
    units = passage_sentences(evidence) or [evidence]
    reasons: list[str] = []
    for clause in clauses(without_citations(sentence)):
        best = _aligned(clause, units)
        lo, hi = (0, len(units)) if window is None else (max(0, best - window), best + window + 1)
        reasons += _check_clause(clause, units[best], " ".join(units[lo:hi]), evidence)
    return CheckResult(not reasons, tuple(dict.fromkeys(reasons)))


def _check_clause(clause: str, restated: str, context: str, evidence: str) -> list[str]:
    s_tokens = tokens(clause)
    p_tokens = tokens(restated)
    p_lower = {t.lower() for t in p_tokens}
    c_stems = stems(tokens(context))
    reasons: list[str] = []

    p_numbers = numbers(context) | {_WORD_NUMBERS[t] for t in p_lower if t in _WORD_NUMBERS}
    for number in sorted(numbers(clause)):
        if number not in p_numbers:
            reasons.append(f"number {number} not in the cited passage")
    for word in {t.lower() for t in s_tokens} & _CARDINALS:
        if _WORD_NUMBERS[word] not in p_numbers and word not in p_lower:
            reasons.append(f"number '{word}' not in the cited passage")

    for i, token in enumerate(s_tokens):
        if is_name(token, i) and not _name_found(token, evidence):
            reasons.append(f"name '{token}' not in the cited passage")
    s_lower = [t.lower() for t in s_tokens]
    reasons += _polarity(clause, s_lower, restated)
    for match in _UNIVERSAL.finditer(clause):
        if not re.search(rf"\b{re.escape(match.group(0))}\b", restated, re.IGNORECASE):
            reasons.append(f"scope '{match.group(0).lower()}' not in the cited passage")

    for t in s_lower:
        if t in _STRONG and stem(t) not in c_stems:
            reasons.append(f"claim strength '{t}' not in the cited passage")
        if t in _RECOMMEND and stem(t) not in c_stems:
            reasons.append(f"recommendation '{t}' not in the cited passage")
    content = [t for t in s_lower if t not in _GENERIC and len(t) > 2 and not t.isdigit()]
    if content:
        novel = [t for t in content if stem(t) not in c_stems]
        if len(novel) / len(content) > _NOVELTY_LIMIT:
            reasons.append(f"{len(novel)} of {len(content)} content words not in the cited "
                           f"passage ({', '.join(novel[:4])})")
    return reasons


def _polarity(clause: str, words: list[str], restated: str) -> list[str]:
    """Negation and direction of the claim against the passage sentence's clauses.

    Polarity is read per clause, not over the whole passage: "without diabetes" elsewhere in
    an abstract must not license "did not reduce" here, and "did not reduce X and increased Y"
    licenses "increased Y" but not "reduced X". The claim passes when one clause of the
    sentence that shares at least two of its content words has the same polarity and states
    its direction; otherwise the reason comes from the clause that shares most.
    """
    negated, wanted = is_negated(words, clause), directions(words)
    shared_stems = content_stems(clause)
    candidates = sorted(clauses(restated), key=lambda c: -len(shared_stems & stems(tokens(c))))
    for candidate in candidates:
        c_words = [t.lower() for t in tokens(candidate)]
        if len(shared_stems & stems(c_words)) < 2 and candidate is not candidates[0]:
            break
        if is_negated(c_words, candidate) == negated and \
                wanted <= directions_of_stems(stems(c_words)):
            return []
    best = [t.lower() for t in tokens(candidates[0])] if candidates else []
    if negated and not is_negated(best, candidates[0] if candidates else ""):
        return ["negation not in the passage sentence it restates"]
    if is_negated(best, candidates[0] if candidates else "") and not negated:
        return ["the passage sentence it restates is negated"]
    missing = sorted(wanted - directions_of_stems(stems(best)))
    used = next((t for t in words if missing and t in _DIRECTIONS[missing[0]]), "?")
    return [f"direction '{used}' not in the passage sentence it restates"]


def _aligned(clause: str, units: list[str]) -> int:
    """Index of the unit sharing most content stems with ``clause`` (0 if none shares any)."""
    wanted = content_stems(clause)
    overlaps = [len(wanted & stems(tokens(u))) for u in units]
    return max(range(len(units)), key=lambda i: (overlaps[i], -i))


def is_negated(words: list[str], text: str) -> bool:
    """A negation cue among the (lower-cased) words, or a contracted "n't" in the text."""
    return bool(set(words) & _NEGATIONS) or "n't" in text.lower()


def directions(words: Iterable[str]) -> set[str]:
    """Which directions ("up", "down") the (lower-cased) words state."""
    words = set(words)
    return {d for d, cues in _DIRECTIONS.items() if words & cues}


def directions_of_stems(stems: set[str]) -> set[str]:
    return {d for d, cues in _DIRECTIONS.items() if any(stem(w) in stems for w in cues)}


def content_stems(text: str) -> set[str]:
    """Stems of the words that carry a claim's content (generic wording left out)."""
    return {stem(t) for t in tokens(text) if t.lower() not in _GENERIC and len(t) > 2}


def _name_found(token: str, evidence: str) -> bool:
    """The name, its stem, its hyphenated parts, or its abbreviation or long form as the
    passage defines it ("tranexamic acid (TXA)") occur in the passage."""
    plain = token.strip("-/.")
    p_stems = _evidence_stems(evidence)
    if stem(plain) in p_stems or re.search(re.escape(plain), evidence, re.IGNORECASE):
        return True
    parts = [p for p in re.split(r"[-/]", plain) if p]
    if len(parts) > 1 and all(stem(p) in p_stems for p in parts):
        return True
    for long_form, short in _DEFINITION.findall(evidence):
        words = [stem(w) for w in tokens(long_form)]
        if plain.lower() == short.lower() or stem(plain) in words[-len(short) - 1:]:
            return True
    return False


# "tranexamic acid (TXA)": a long form and the abbreviation the passage gives it.
_DEFINITION = re.compile(r"((?:[\w-]+\s+){1,5})\(([A-Za-z][A-Za-z0-9-]{1,9})\)")


@lru_cache(maxsize=256)
def _evidence_stems(evidence: str) -> frozenset[str]:
    return frozenset(stems(tokens(evidence)))
