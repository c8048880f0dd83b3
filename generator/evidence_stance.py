"""The verdict read off the evidence one sentence at a time, paper by paper.

1. The stance model (``clinrag train stance``, generator/training/stance_mining.py) reads each
   sentence of the evidence against the question (a concessive sentence on its main clause,
   ``main_clause``): P(yes), P(no), P(neither). Background, methods and references parts,
   aims, open questions and sentences the word rules read the other way take no stance
   (``guarded``); so does a sentence under the rule's relevance floor
   (generator/verdicts.py).
2. Each cited paper takes the stance of the sentence that says it most clearly (if any says it
   with P >= ``floor``); that sentence is the one quoted for the paper.
3. The papers' leans (P(yes) - P(no) of their sentence) are weighed by rank, study design
   (meta-analyses and trials over observational studies over case reports; retracted papers
   weigh nothing) and relevance into one balance; a logistic fitted on validation questions
   turns it into P(yes), so the verdict, its confidence and the probabilities always agree.
4. The verdict is "yes"/"no" when that probability clears ``threshold``, otherwise "unclear";
   when papers take opposite stances it says the evidence is mixed (and, where
   ``mixed_is_unclear`` holds, is "unclear").

Why sentences: an earlier version scored whole passages; a passage holds background, methods
and findings at once, and on PubMedQA's retrieved results sections it called almost all of them
"neither" (coverage 0.10). The rule's numbers are fitted by ``bench/stance_heldout.py --fit`` on
validation questions and stored next to the model (``verdict_rule.json``).

Everything here but ``StanceModel`` is pure.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

STANCE_LABELS = ("yes", "no", "none")
# A structured-abstract label opening a part of a chunk ("RESULTS: ...").
_LABEL = re.compile(r"((?<![^\s])[A-Z][A-Z /&-]{2,40}):\s+")
# A sentence that calls the question open answers it neither way ("the effect of X on Y is
# uncertain"); the first stance model read such background sentences as "no" (demo corpus).
_OPEN_QUESTION = re.compile(
    r"\b(unknown|unclear|uncertain|remains? to be|controversial|debated|inconsistent|"
    r"conflicting|incompletely (?:understood|established)|not (?:well |fully |yet )?"
    r"(?:established|understood|known))\b", re.IGNORECASE)
UNCLEAR = "unclear"
RULE_FILE = "verdict_rule.json"

# How much a paper's stance counts by its design (generator/study_type.py labels, "(inferred)"
# dropped). The order is the evidence hierarchy clinicians use; the sizes are a prior, not
# fitted: BioASQ and PubMedQA records carry no publication types to fit them on.
DESIGN_WEIGHTS = {
    "meta-analysis": 1.0, "systematic review": 1.0, "randomized controlled trial": 1.0,
    "guideline": 1.0, "clinical trial": 0.9, "cohort study": 0.8, "observational study": 0.8,
    "comparative study": 0.8, "case-control study": 0.7, "cross-sectional study": 0.7,
    "retrospective study": 0.7, "review": 0.7, "preclinical study": 0.5, "case report": 0.4,
    "retraction notice": 0.0,
}
UNKNOWN_DESIGN_WEIGHT = 0.8


@dataclass(frozen=True)
class SentenceStance:
    n: int            # the evidence number the sentence's passage has ([n])
    text: str
    yes: float        # P(the sentence says yes to the question)
    no: float         # P(it says no)
    relevance: float = 1.0   # the IDF-weighted share of the question's terms it holds

    @property
    def decided(self) -> float:
        return max(self.yes, self.no)

    @property
    def says(self) -> str:
        return "yes" if self.yes >= self.no else "no"


@dataclass(frozen=True)
class PaperInfo:
    """What the verdict needs to know of one evidence passage's paper."""

    n: int
    doc_id: str
    title: str = ""
    year: int | None = None
    design: str | None = None
    retracted: bool = False


@dataclass(frozen=True)
class PaperStance:
    """One cited paper in the evidence meter."""

    doc_id: str
    title: str
    year: int | None
    design: str | None
    retracted: bool
    stance: str                   # "yes", "no" or "unclear"
    lean: float                   # P(yes) - P(no) of its deciding sentence (0 when unclear)
    weight: float                 # rank x design; 0 for a retracted paper
    sentence: str | None          # the sentence that carries its stance
    n: int | None                 # the evidence number of that sentence's passage
    p_yes: float = 0.0
    p_no: float = 0.0


@dataclass(frozen=True)
class VerdictRule:
    """How sentence stances become a verdict (fitted on validation, see module docstring).

    ``floor``: P a sentence needs to give its paper a stance; ``decay``: weight of the paper
    at rank i is decay**i; ``slope``/``intercept``: P(yes) = logistic(slope*balance +
    intercept); ``threshold``: max(P(yes), P(no)) a shown verdict needs;
    ``mixed_is_unclear``: papers with opposite stances give "unclear"; ``min_relevance``:
    the IDF-weighted share of the question's terms a sentence needs to take a stance
    (generator/verdicts.stance_reading); ``relevance_power``: a paper's weight is also its most
    relevant sentence's share to this power (0: off)."""

    floor: float = 0.6
    decay: float = 0.7
    slope: float = 4.0
    intercept: float = 0.0
    threshold: float = 0.7
    mixed_is_unclear: bool = True
    min_relevance: float = 0.1
    relevance_power: float = 0.0
    fitted_on: str = "not fitted (defaults)"

    @classmethod
    def load(cls, folder: Path | None) -> VerdictRule:
        path = None if folder is None else Path(folder) / RULE_FILE
        if path is None or not path.is_file():
            return cls()
        raw = json.loads(path.read_text("utf-8"))
        return cls(**{k: raw[k] for k in asdict(cls()) if k in raw})

    def save(self, folder: Path) -> Path:
        path = Path(folder) / RULE_FILE
        path.write_text(json.dumps(asdict(self), indent=1) + "\n", "utf-8")
        return path


@dataclass(frozen=True)
class StanceVerdict:
    verdict: str                  # "yes", "no" or "unclear"
    p_yes: float                  # calibrated P(the answer is yes)
    balance: float                # weighted mean lean of the papers
    papers: tuple[PaperStance, ...]
    reason: str

    @property
    def confidence(self) -> float:
        """P(the leaning answer is right): shown for every verdict, "unclear" included."""
        return max(self.p_yes, 1.0 - self.p_yes)

    @property
    def probs(self) -> dict[str, float]:
        return {"yes": self.p_yes, "no": 1.0 - self.p_yes}

    def meter(self) -> str:
        """"4 papers: 3 yes · 1 unclear" (retracted papers are named, not counted)."""
        counted = [p for p in self.papers if not p.retracted]
        counts = {s: sum(p.stance == s for p in counted) for s in ("yes", "no", UNCLEAR)}
        parts = [f"{c} {s}" for s, c in counts.items() if c]
        noun = "paper" if len(counted) == 1 else "papers"
        text = f"{len(counted)} {noun}: " + " · ".join(parts) if counted else "no papers"
        retracted = len(self.papers) - len(counted)
        return text + (f" (+{retracted} retracted, not counted)" if retracted else "")

    def carrying(self) -> list[tuple[int, str]]:
        """(evidence number, sentence) of the papers whose stance is the verdict's, weightiest
        first; for "unclear", of every paper that takes a stance (mixed evidence shows both)."""
        papers = sorted((p for p in self.papers if p.sentence is not None and p.n is not None
                         and p.stance != UNCLEAR
                         and (self.verdict == UNCLEAR or p.stance == self.verdict)),
                        key=lambda p: -p.weight * abs(p.lean))
        return [(p.n, p.sentence) for p in papers]


def design_weight(design: str | None) -> float:
    if not design:
        return UNKNOWN_DESIGN_WEIGHT
    return DESIGN_WEIGHTS.get(design.replace(" (inferred)", ""), UNKNOWN_DESIGN_WEIGHT)


def paper_stances(sentences: Sequence[SentenceStance], papers: Sequence[PaperInfo],
                  rule: VerdictRule) -> list[PaperStance]:
    """One stance per paper, papers in the order of their first passage (the rank order)."""
    doc_of = {p.n: p for p in papers}
    order: dict[str, PaperInfo] = {}
    for p in sorted(papers, key=lambda p: p.n):
        order.setdefault(p.doc_id, p)
    out = []
    for rank, (doc_id, info) in enumerate(order.items()):
        own = [s for s in sentences if s.n in doc_of and doc_of[s.n].doc_id == doc_id]
        best = max(own, key=lambda s: s.decided, default=None)
        takes = best is not None and best.decided >= rule.floor
        # How much the paper is about the question: its most relevant sentence.
        topic = max((s.relevance for s in own), default=0.0) ** rule.relevance_power
        weight = 0.0 if info.retracted else \
            rule.decay ** rank * design_weight(info.design) * topic
        out.append(PaperStance(
            doc_id=doc_id, title=info.title, year=info.year, design=info.design,
            retracted=info.retracted, stance=best.says if takes else UNCLEAR,
            lean=best.yes - best.no if takes else 0.0, weight=weight,
            sentence=best.text if takes else None, n=best.n if takes else None,
            p_yes=best.yes if best else 0.0, p_no=best.no if best else 0.0))
    return out


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))


def weighed(papers: Sequence[PaperStance]) -> float:
    total = sum(p.weight for p in papers)
    return sum(p.weight * p.lean for p in papers) / total if total else 0.0


def stance_verdict(sentences: Sequence[SentenceStance], papers: Sequence[PaperInfo],
                   rule: VerdictRule) -> StanceVerdict:
    stances = paper_stances(sentences, papers, rule)
    balance = weighed(stances)
    p_yes = _logistic(rule.slope * balance + rule.intercept)
    taking = {p.stance for p in stances if p.stance != UNCLEAR and p.weight > 0}
    if not taking:
        return StanceVerdict(UNCLEAR, p_yes, balance, tuple(stances),
                             "no passage answers the question clearly")
    if len(taking) == 2 and rule.mixed_is_unclear:
        return StanceVerdict(UNCLEAR, p_yes, balance, tuple(stances),
                             "the evidence is mixed: papers say yes and no")
    leaning = "yes" if p_yes >= 0.5 else "no"
    if max(p_yes, 1 - p_yes) < rule.threshold:
        return StanceVerdict(UNCLEAR, p_yes, balance, tuple(stances),
                             f"the evidence leans {leaning!r}, not clearly enough")
    if len(taking) == 2:
        against = sum(p.stance not in (UNCLEAR, leaning) and p.weight > 0 for p in stances)
        return StanceVerdict(leaning, p_yes, balance, tuple(stances),
                             f"the weightier papers say {leaning!r}; the evidence is mixed "
                             f"({against} paper{'s' if against > 1 else ''} say"
                             f"{'' if against > 1 else 's'} otherwise)")
    return StanceVerdict(leaning, p_yes, balance, tuple(stances),
                         f"the papers say {leaning!r}")


# "Although A, B" / "A, but B": B is what the sentence claims. Read whole, the model took the
# negation in A for the answer ("Although participants could not be blinded, exercise
# provides moderate improvements in pain" read as "no"; demo corpus).
_CONCESSION = re.compile(r"^(?:although|though|while|whereas|despite|even though)\b[^,]{5,200},\s*"
                         r"(?P<main>.{20,})$", re.IGNORECASE)
_BUT = re.compile(r"^(?P<head>.{20,}?),?\s+but\s+(?P<main>.{20,})$", re.IGNORECASE)
# "X reduced Y without increasing Z": the side claim after "without ...ing" is another
# finding (the word rules cut it the same way, generator/stance.py). Read whole, the model
# took it for the answer ("Procalcitonin-guided stopping rules reduced antibiotic exposure
# ... without increasing mortality" read as "no" to "Does procalcitonin guidance shorten
# antibiotic courses?", demo corpus).
_WITHOUT = re.compile(r"^(?P<main>.{20,}?),?\s+without\s+\w+ing\b.*$", re.IGNORECASE)


def main_clause(sentence: str) -> str:
    """The clause a sentence asserts: after "Although ...," or ", but", and before a side
    claim "without ...ing"."""
    found = _CONCESSION.match(sentence) or _BUT.match(sentence)
    claim = found.group("main") if found else sentence
    side = _WITHOUT.match(claim)
    return side.group("main") if side else claim


def guarded(question: str, said: Sequence[SentenceStance],
            sections: dict[str, str | None] | None = None) -> list[SentenceStance]:
    """The model's readings with the word rules of generator/stance.py as guards, never as the
    decision. No stance is taken by a sentence in a background, methods or references part
    (``sections``: sentence -> section), one that states an aim or a method ("To assess
    whether ..."), one that calls the question open ("... is uncertain"), or one the rules
    read the other way (the model's "yes" often means "on topic"; the rules are precise where
    they speak). Chosen on validation and the demo corpus (docs/answering.md)."""
    from generator.stance import stance, states_a_finding, states_no_findings

    out = []
    for s in said:
        if states_no_findings((sections or {}).get(sentence_key(s.text))) \
                or not states_a_finding(s.text) \
                or _OPEN_QUESTION.search(s.text):
            out.append(SentenceStance(s.n, s.text, 0.0, 0.0))
            continue
        if s.decided >= 0.5 and stance(question, s.text) not in (None, s.says):
            s = SentenceStance(s.n, s.text, 0.0, 0.0)
        out.append(s)
    return out


def sentence_key(sentence: str) -> str:
    """One sentence however it was cut or spaced: the key the answer path matches quotes by."""
    return " ".join(sentence.lower().split())


def checked_by_quotes(found: StanceVerdict, quoted: Sequence[SentenceStance],
                      floor: float) -> StanceVerdict:
    """The verdict, if the shown sentences carry it: "unclear" when a shown sentence reads
    the other way (P >= ``floor``) or none reads the verdict's way. A page must never show a
    verdict above a quote that says otherwise."""
    if found.verdict == UNCLEAR:
        return found
    against = [s for s in quoted if s.decided >= floor and s.says != found.verdict]
    if against:
        return StanceVerdict(UNCLEAR, found.p_yes, found.balance, found.papers,
                             f"the evidence leans {found.verdict!r}, a shown sentence says "
                             "otherwise")
    if not any(s.decided >= floor and s.says == found.verdict for s in quoted):
        return StanceVerdict(UNCLEAR, found.p_yes, found.balance, found.papers,
                             f"the evidence leans {found.verdict!r}, no shown sentence says so")
    return found


class StanceModel:
    """The trained stance head over (question, sentence) pairs (``clinrag train stance``)."""

    def __init__(self, classifier, rule: VerdictRule):
        self.classifier = classifier
        self.name = classifier.name
        self.rule = rule

    @classmethod
    def load(cls, spec: str | Path = "default", *, models_dir: Path | None = None,
             device: str = "auto") -> StanceModel:
        """The classifier and the verdict rule fitted with it (``verdict_rule.json``)."""
        from clinrag.adapters import default_adapter_path
        from generator.classifier import PairClassifier

        classifier = PairClassifier.load(spec, "stance", num_labels=len(STANCE_LABELS),
                                         models_dir=models_dir, device=device, batch_size=32)
        folder = default_adapter_path("stance", models_dir) if str(spec) == "default" \
            else Path(str(spec))
        return cls(classifier, VerdictRule.load(folder if folder.is_dir() else None))

    def read(self, question: str, sentences: Sequence[tuple]) -> list[SentenceStance]:
        """The stance of each (evidence number, sentence[, section]), in the order given,
        ``guarded``."""
        texts = [text for _, text, *_ in sentences]
        claims = [main_clause(text) for text in texts]
        probs = self.classifier.probabilities([(question, c) for c in claims])
        said = [SentenceStance(n, text, float(p[0]), float(p[1]))
                for (n, text, *_), p in zip(sentences, probs)]
        sections = {sentence_key(text): rest[0] for _, text, *rest in sentences if rest}
        return guarded(question, said, sections)


def without_title(text: str, title: str) -> str:
    """A chunk's text without the paper's title where the chunk opens with it (the first
    chunk of a PubMed abstract does): a title states a topic, not a finding, and quoted as
    one it put a green YES above "did not reduce cardiovascular events" on the demo."""
    words = title.split()
    if not words:
        return text
    opening = re.match(r"\s*" + r"\s+".join(map(re.escape, words)) + r"\s*", text)
    return text[opening.end():] if opening else text


def evidence_sentences(texts: dict[int, str], titles: dict[int, str] | None = None,
                       sections: dict[int, str | None] | None = None
                       ) -> list[tuple[int, str, str | None]]:
    """(evidence number, sentence, section) for every sentence of each passage's own text (the
    chunk, not the title-prefixed passage the models read; its opening title cut off too).
    The section is the structured-abstract label the sentence falls under ("BACKGROUND: ...")
    where the chunk has one inline, else the chunk's own section."""
    from generator.citations import quotable_sentences

    seen: set[str] = set()
    out = []
    for n, text in texts.items():
        section = (sections or {}).get(n)
        body = without_title(text, (titles or {}).get(n, ""))
        parts = _LABEL.split(body)        # text, label, text, label, text ...
        for i, part in enumerate(parts):
            if i % 2:
                section = part.strip()
                continue
            for sentence in quotable_sentences(part):
                key = sentence_key(sentence)
                if key not in seen:        # overlapping chunks repeat sentences
                    seen.add(key)
                    out.append((n, sentence, section))
    return out
