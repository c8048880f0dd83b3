"""Shared scaffolding of clinrag's classifier trainers (reranker, verdict, support).

LoRA adapters on every attention and feed-forward projection of a BERT-style encoder, with
the classifier and pooler trained in full; AdamW with weight decay except on biases and
LayerNorm; linear warm-up then linear decay. Kept in one place so every head is trained, and
its artefact saved, the same way.
"""

from __future__ import annotations

from typing import Any


def lora_classifier(base_path: str, num_labels: int, *, r: int, alpha: int, dropout: float,
                    prepare=None) -> tuple[Any, int, int]:
    """(peft model, trainable parameters, total parameters); ``prepare(model)`` runs on the
    plain model before the adapters are added (e.g. a warm start)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(base_path, num_labels=num_labels)
    if prepare is not None:
        prepare(model)
    model = get_peft_model(model, LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout,
        target_modules=["query", "key", "value", "dense"],
        modules_to_save=["classifier", "pooler"]))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return model, trainable, total


def adamw_with_warmup(model, *, lr: float, weight_decay: float, warmup_ratio: float,
                      max_steps: int):
    """(optimizer, scheduler): no decay on biases and LayerNorm; warm-up then linear decay."""
    import torch

    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    plain = [p for n, p in params if "bias" in n or "LayerNorm" in n]
    decay = [p for n, p in params if not ("bias" in n or "LayerNorm" in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": plain, "weight_decay": 0.0}], lr=lr)
    warmup = max(1, int(warmup_ratio * max_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup
        else max(0.0, (max_steps - s) / max(1, max_steps - warmup)))
    return optimizer, scheduler


def adapter_state(model) -> dict[str, Any]:
    """A copy of what the adapter file holds (LoRA and fully trained modules): the best step
    is kept in memory and restored with ``model.load_state_dict(state, strict=False)``."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if "lora" in k or "modules_to_save" in k}
