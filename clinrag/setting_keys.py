"""Which keys a settings source names that no setting has, and the closest real one.

Pure logic over plain dicts: ``clinrag.settings`` reads the sources (flags, environment,
``clinrag.toml``) and asks here. A typo must never pass silently: pydantic-settings reads
only the environment variables it knows, so ``CLINRAG_RETRIEVE__RERANK_TOPN=30`` would change
nothing and say nothing; the same key in a TOML section is dropped the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class UnknownKey:
    """A dotted key (``retrieve.rerank_topn``) that no setting has, where it came from and
    the valid key closest to it (None when nothing is close)."""

    key: str
    source: str
    closest: str | None

    def message(self) -> str:
        hint = f"; did you mean '{self.closest}'?" if self.closest else ""
        return f"unknown setting '{self.key}' ({self.source}){hint}"


def valid_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every dotted key ``model`` accepts, sections included (``retrieve``, ``retrieve.k``)."""
    keys = []
    for name, field in model.model_fields.items():
        dotted = prefix + name
        keys.append(dotted)
        sub = _section(field.annotation)
        if sub is not None:
            keys += valid_keys(sub, dotted + ".")
    return keys


def unknown_keys(data: Mapping[str, Any], model: type[BaseModel],
                 source: str) -> list[UnknownKey]:
    """The keys of nested ``data`` that ``model`` does not have, outermost first: an unknown
    section is reported once, not once per key inside it."""
    candidates = valid_keys(model)
    return [UnknownKey(key, source, closest(key, candidates))
            for key in _unknown(data, model, "")]


def _unknown(data: Mapping[str, Any], model: type[BaseModel], prefix: str) -> list[str]:
    out = []
    for key, value in data.items():
        field = model.model_fields.get(str(key))
        sub = _section(field.annotation) if field is not None else None
        if field is None:
            out.append(prefix + str(key))
        elif sub is not None and isinstance(value, Mapping):
            out += _unknown(value, sub, f"{prefix}{key}.")
    return out


def env_keys(environ: Mapping[str, str], prefix: str, delimiter: str,
             reserved: frozenset[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(variable, nested dict) for every ``prefix*`` variable not in ``reserved`` (clinrag's
    own variables that are not settings) and not starting with a reserved name followed by
    ``_`` (``CLINRAG_SERVE_*`` belongs to the server's config)."""
    for name in sorted(environ):
        if not name.startswith(prefix) or name in reserved:
            continue
        if any(name.startswith(r + "_") for r in reserved):
            continue
        parts = name[len(prefix):].lower().split(delimiter)
        nested: dict[str, Any] = {}
        cursor = nested
        for part in parts[:-1]:
            cursor = cursor.setdefault(part, {})
        cursor[parts[-1]] = environ[name]
        yield name, nested


def closest(key: str, candidates: list[str]) -> str | None:
    """The candidate most like ``key`` (same section preferred by the dotted spelling)."""
    match = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    return match[0] if match else None


def _section(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
