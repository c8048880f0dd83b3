"""Hard negatives for the support model: a faithful sentence distorted the way a small
generator distorts it (pure).

Each kind the verifier must reject has its own edit, applied to a sentence its gold passage
supports; the edited sentence against the same passage is a negative:

- ``negation``: a negation inserted or removed, or a direction flipped (increased/decreased);
- ``entity_swap``: a name of the sentence (drug, gene, disease, acronym) replaced by a name from
  another document's passage;
- ``number_change``: a number changed;
- ``population_widened``: the population stretched to everyone ("in all patients");
- ``strength_overstated``: a hedge removed or an association made a cause;
- ``added_claim``: a clause from another document appended as if the passage said it too.

``distortions`` returns every kind that applies, so the miner can keep a balanced mix.
"""

from __future__ import annotations

import random
import re

from generator.claim_checks import is_name, tokens

_FLIPS = ((" was not ", " was "), (" were not ", " were "), (" is not ", " is "),
          (" are not ", " are "), (" did not ", " did "), (" does not ", " does "),
          (" no ", " a "), (" increased ", " decreased "), (" decreased ", " increased "),
          (" higher ", " lower "), (" lower ", " higher "), (" improved ", " worsened "),
          (" reduced ", " increased "), (" more ", " less "), (" better ", " worse "),
          (" greater ", " smaller "), (" positive ", " negative "), (" with ", " without "))
_VERBS = (" is ", " are ", " was ", " were ", " can ", " may ", " did ", " has ", " have ")
_STRENGTH = ((" may ", " "), (" might ", " "), (" could ", " "), ("was associated with",
             "caused"), ("were associated with", "caused"), ("is associated with", "causes"),
             ("are associated with", "cause"), (" suggest ", " prove "),
             (" suggests ", " proves "), (" suggested ", " proved "), (" appears to ", " "),
             (" likely ", " certainly "), (" possible ", " proven "), (" trend ", " significant "
             "effect "), (" potential ", " established "))
_GROUP = re.compile(r"\b(?:in|among|of)\s+(?:the\s+)?(?:\w+\s+){0,3}?"
                    r"(patients|adults|children|women|men|participants|subjects|cases|mice|rats)"
                    r"\b(?:\s+(?:with|who|aged|from|after|undergoing)\s+[\w\s-]{3,40}?)?"
                    r"(?=[,.;]|\s+(?:was|were|is|are|had|showed)\b|$)", re.IGNORECASE)
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")


def _flip(sentence: str, rng: random.Random) -> str | None:
    padded = f" {sentence} "
    options = [(a, b) for a, b in _FLIPS if a in padded]
    if options:
        a, b = rng.choice(options)
        return padded.replace(a, b, 1).strip()
    verbs = [v for v in _VERBS if v in padded]
    if verbs:
        verb = rng.choice(verbs)
        return padded.replace(verb, f"{verb.rstrip()} not ", 1).strip()
    return None


def negated(sentence: str, rng: random.Random) -> str | None:
    """The sentence with its claim negated or its direction flipped, or None where no edit
    applies (the stance miner's opposite-answer copies)."""
    return _flip(sentence, rng)


def _swap(sentence: str, other: str, rng: random.Random) -> str | None:
    own = [t for i, t in enumerate(tokens(sentence)) if is_name(t, i)]
    lowered = sentence.lower()
    theirs = sorted({t for i, t in enumerate(tokens(other)) if is_name(t, i) and len(t) > 2
                     and t.lower() not in lowered})
    if not own or not theirs:
        return None
    old, new = rng.choice(own), rng.choice(theirs)
    return re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", new, sentence, count=1)


def _renumber(sentence: str, rng: random.Random) -> str | None:
    numbers = _NUMBER.findall(sentence)
    if not numbers:
        return None
    old = rng.choice(numbers)
    value = float(old) * rng.choice([2, 3, 0.5, 1.5]) + rng.choice([0, 1])
    new = (f"{value:.{len(old.split('.')[1])}f}" if "." in old else str(int(round(value))))
    if new == old:
        new = str(int(float(old)) + 7)
    return re.sub(rf"\b{re.escape(old)}\b", new, sentence, count=1)


def _widen(sentence: str, rng: random.Random) -> str | None:
    match = _GROUP.search(sentence)
    if match:
        wider = "In all patients" if match.start() == 0 else "in all patients"
        return sentence[:match.start()] + wider + sentence[match.end():]
    body = sentence.rstrip(". ")
    return f"{body} in all patients, regardless of age or condition." if rng.random() < 0.5 \
        else None


def _strengthen(sentence: str, rng: random.Random) -> str | None:
    padded = f" {sentence} "
    options = [(a, b) for a, b in _STRENGTH if a in padded]
    if not options:
        return None
    a, b = rng.choice(options)
    return " ".join(padded.replace(a, b, 1).split())


def _add(sentence: str, other: str, rng: random.Random) -> str | None:
    clauses = [c.strip(" .") for c in re.split(r"(?<=[.;])\s+", other)
               if 6 <= len(c.split()) <= 22]
    if not clauses:
        return None
    extra = rng.choice(clauses)
    return f"{sentence.rstrip(' .')}, and {extra[0].lower() + extra[1:]}."


def distortions(sentence: str, other: str, rng: random.Random) -> list[tuple[str, str]]:
    """(kind, distorted sentence) for every kind that applies; ``other`` is a passage of
    another document (the source of swapped names and added claims)."""
    edits = (("negation", _flip(sentence, rng)), ("entity_swap", _swap(sentence, other, rng)),
             ("number_change", _renumber(sentence, rng)),
             ("population_widened", _widen(sentence, rng)),
             ("strength_overstated", _strengthen(sentence, rng)),
             ("added_claim", _add(sentence, other, rng)))
    return [(kind, text) for kind, text in edits
            if text and " ".join(text.split()) != " ".join(sentence.split())]
