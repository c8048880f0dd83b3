"""Dense embedding of chunks and queries with a sentence-transformers model."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from clinrag.device import configure_cpu_threads, pick_device, pick_precision
from clinrag.models import model_revision, resolve_model
from clinrag.process import setup_process
from clinrag.settings import EmbedSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbedderInfo:
    """What identifies an embedding space; recorded in every index manifest."""

    name: str
    revision: str
    dim: int
    normalized: bool = True


class Embedder:
    """The sentence embedder; ``Embedder.load(settings)`` loads the model once, ``encode``
    returns L2-normalised float32 rows."""

    def __init__(self, settings: EmbedSettings, model, device: str, precision: str,
                 info: EmbedderInfo):
        self.settings = settings
        self.model = model
        self.device = device
        self.precision = precision
        self.info = info

    @classmethod
    def load(cls, settings: EmbedSettings) -> Embedder:
        setup_process()
        from sentence_transformers import SentenceTransformer

        device = pick_device(settings.device)
        precision = pick_precision(settings.precision, device)
        if device == "cpu":
            configure_cpu_threads()
        model = SentenceTransformer(str(resolve_model(settings.model)), device=device)
        if precision == "bf16":
            # The whole model in bf16 rather than fp32 weights under autocast (layer norms and
            # softmax in bf16 too). bench/embed_variants.py: 1.04-1.05x autocast's chunks/s,
            # cosine >= 0.9999 to fp32 (autocast: 0.99996); equal BioASQ recall (bench/ingest.py).
            import torch

            model.to(torch.bfloat16)
        dim = model.get_embedding_dimension() if hasattr(
            model, "get_embedding_dimension") else model.get_sentence_embedding_dimension()
        return cls(settings, model, device, precision,
                   EmbedderInfo(settings.model, model_revision(settings.model), int(dim)))

    @property
    def tokenizer(self):
        return self.model.tokenizer

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Embed ``texts`` (sentence-transformers sorts by length to batch efficiently)."""
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        import torch

        vectors = self.model.encode(
            texts,
            batch_size=self.settings.batch_size,
            show_progress_bar=show_progress,
            convert_to_tensor=True,
            normalize_embeddings=False,
        )
        # Normalised in fp32: a bf16 model's outputs normalised in bf16 are unit length only
        # to ~3 digits, and inner-product search reads the norm as part of the score.
        vectors = torch.nn.functional.normalize(vectors.float(), dim=1)
        return np.ascontiguousarray(vectors.cpu().numpy(), dtype=np.float32)
