"""Cross-encoder reranking: score (query, passage) pairs jointly.

The default reranker is clinrag's own: a LoRA adapter plus classification head (a few MB, in
``data/models/reranker``) trained on BioASQ over the packaged MiniLM weights, merged into the
base at load. Any sentence-transformers CrossEncoder name or local path works instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from clinrag.device import configure_cpu_threads, pick_device, pick_precision
from clinrag.models import model_revision, resolve_model

log = logging.getLogger(__name__)

REPO_MODELS = Path(__file__).resolve().parent.parent / "data" / "models"
ADAPTER_CONFIG = "clinrag_reranker.json"


def default_reranker_path(models_dir: Path | None = None) -> Path:
    """The home's models folder if it holds a reranker, else the one shipped in the repo."""
    for folder in filter(None, [models_dir, REPO_MODELS]):
        if (folder / "reranker" / ADAPTER_CONFIG).exists():
            return folder / "reranker"
    return REPO_MODELS / "reranker"


class RerankerUnavailable(RuntimeError):
    pass


class CrossEncoderReranker:
    """``score(query, passages) -> np.ndarray`` (higher = more relevant)."""

    def __init__(self, spec: str | Path = "default", *, models_dir: Path | None = None,
                 device: str = "auto", precision: str = "auto", max_length: int = 256,
                 batch_size: int = 32):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        # The base checkpoint has no classifier head (the adapter brings it): silence the
        # "newly initialized" warning that would otherwise alarm users at every start.
        hf_logging.set_verbosity_error()
        self.device = pick_device(device)
        self.precision = pick_precision(precision, self.device)
        self.max_length = max_length
        self.batch_size = batch_size
        if self.device == "cpu":
            configure_cpu_threads()
        path = default_reranker_path(models_dir) if spec == "default" else spec
        adapter = Path(path) / ADAPTER_CONFIG
        if adapter.exists():
            config = json.loads(adapter.read_text())
            base = resolve_model(config["base_model"])
            if config.get("base_revision") and config["base_revision"] != model_revision(
                    config["base_model"]):
                raise RerankerUnavailable(
                    f"reranker adapter {path} was trained on base weights "
                    f"{config['base_revision']}, installed are {model_revision(config['base_model'])}")
            from peft import PeftModel

            model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=1)
            model = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
            self.tokenizer = AutoTokenizer.from_pretrained(str(base))
            self.name = f"clinrag-reranker:{config.get('version', '?')}"
            self.max_length = int(config.get("max_length", max_length))
        elif spec == "default":
            raise RerankerUnavailable(
                f"no trained reranker at {path}; run `clinrag train reranker` or pass --no-rerank")
        else:
            resolved = resolve_model(str(spec))
            model = AutoModelForSequenceClassification.from_pretrained(str(resolved))
            self.tokenizer = AutoTokenizer.from_pretrained(str(resolved))
            self.name = str(spec)
        self.model = model.to(self.device).eval()
        self._torch = torch

    def score(self, query: str, passages: list[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        torch = self._torch
        order = np.argsort([-len(p) for p in passages])  # similar lengths batch together
        out = np.zeros(len(passages), dtype=np.float32)
        with torch.inference_mode(), self._autocast():
            for i in range(0, len(order), self.batch_size):
                idx = order[i:i + self.batch_size]
                batch = self.tokenizer([query] * len(idx), [passages[j] for j in idx],
                                       truncation="longest_first", max_length=self.max_length,
                                       padding=True, return_tensors="pt").to(self.device)
                logits = self.model(**batch).logits.float().reshape(-1)
                out[idx] = logits.cpu().numpy()
        return out

    def _autocast(self):
        if self.precision != "bf16":
            return contextlib.nullcontext()
        return self._torch.autocast(device_type=self.device, dtype=self._torch.bfloat16)
