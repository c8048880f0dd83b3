"""Load clinrag's small trained heads: a LoRA adapter + classification head over a base model.

The reranker, the verdict model and the support model all ship the same way (a few MB in
``data/models/<name>/``: peft adapter files, a ``clinrag_<name>.json`` describing the base and
its weights hash, and a model card). Loading merges the adapter into the base weights, so
inference costs the same as the plain base model. Only safetensors are read: no pickle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clinrag.models import model_revision, resolve_model
from clinrag.process import setup_process

REPO_MODELS = Path(__file__).resolve().parent.parent / "data" / "models"


class AdapterUnavailable(RuntimeError):
    """The adapter is missing, or was trained on other base weights than those installed."""


def default_adapter_path(name: str, models_dir: Path | None = None) -> Path:
    """The home's ``models/<name>`` if it holds a trained adapter, else the repository's."""
    for folder in filter(None, [models_dir, REPO_MODELS]):
        if (folder / name / f"clinrag_{name}.json").exists():
            return folder / name
    return REPO_MODELS / name


def adapter_config(path: Path, name: str) -> dict[str, Any] | None:
    file = Path(path) / f"clinrag_{name}.json"
    return json.loads(file.read_text("utf-8")) if file.exists() else None


@dataclass
class LoadedClassifier:
    model: Any
    tokenizer: Any
    name: str                 # what answers and reports record, e.g. "clinrag-verdict:20261129"
    config: dict[str, Any]    # the adapter's clinrag_<name>.json ({} for a plain checkpoint)


def load_sequence_classifier(spec: str | Path, name: str, *, num_labels: int,
                             models_dir: Path | None = None) -> LoadedClassifier:
    """``spec``: "default" (the shipped/trained adapter), an adapter folder, or any HF
    sequence-classification checkpoint name or path."""
    # Quiet loaders (clinrag/process.py): the base checkpoint has no classifier head (the
    # adapter brings it), and the "newly initialized" warning would alarm users at every start.
    setup_process()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = default_adapter_path(name, models_dir) if str(spec) == "default" else Path(str(spec))
    config = adapter_config(path, name) if path.exists() else None
    if config is not None and config.get("kind") == "full":
        # A fully fine-tuned model carries all its weights: load the folder itself.
        model = AutoModelForSequenceClassification.from_pretrained(str(path))
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        return LoadedClassifier(model.eval(), tokenizer,
                                f"clinrag-{name}:{config.get('version', '?')}", config)
    if config is not None:
        base = config["base_model"]
        installed = model_revision(base)
        if config.get("base_revision") and config["base_revision"] != installed:
            raise AdapterUnavailable(
                f"{name} adapter {path} was trained on base weights {config['base_revision']}, "
                f"installed are {installed}")
        from peft import PeftModel

        resolved = str(resolve_model(base))
        model = AutoModelForSequenceClassification.from_pretrained(
            resolved, num_labels=int(config.get("num_labels", num_labels)))
        if config.get("init_from"):
            warm_start(model, config["init_from"], models_dir)
        model = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
        tokenizer = AutoTokenizer.from_pretrained(resolved)
        return LoadedClassifier(model.eval(), tokenizer,
                                f"clinrag-{name}:{config.get('version', '?')}", config)
    if str(spec) == "default":
        raise AdapterUnavailable(f"no trained {name} model at {path}; run `clinrag train {name}`")
    resolved = str(resolve_model(str(spec)))
    model = AutoModelForSequenceClassification.from_pretrained(resolved)
    tokenizer = AutoTokenizer.from_pretrained(resolved)
    return LoadedClassifier(model.eval(), tokenizer, str(spec), {})


def warm_start(model, init_from: dict[str, Any], models_dir: Path | None = None) -> None:
    """Load into ``model``'s encoder the encoder of another clinrag adapter (merged over the
    same base), e.g. the reranker's, whose question-passage relevance the verdict and support
    heads build on. ``init_from`` = {"name": ..., "version": ...} as recorded at training."""
    donor = load_sequence_classifier("default", init_from["name"], num_labels=1,
                                     models_dir=models_dir)
    version = donor.config.get("version")
    if init_from.get("version") and version != init_from["version"]:
        raise AdapterUnavailable(
            f"this adapter was trained on top of the {init_from['name']} version "
            f"{init_from['version']}, installed is {version}")
    prefix = model.base_model_prefix
    getattr(model, prefix).load_state_dict(getattr(donor.model, prefix).state_dict())
