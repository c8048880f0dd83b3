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
    if is_decoder(model):
        # A causal LM as a classifier (e.g. SmolLM2): its attention and MLP projections have
        # other names, and its head is ``score`` over the last token.
        targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        heads = ["score"]
    else:
        targets, heads = ["query", "key", "value", "dense"], ["classifier", "pooler"]
    model = get_peft_model(model, LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets,
        modules_to_save=heads))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return model, trainable, total


def is_decoder(model) -> bool:
    """True for a causal LM base (no [SEP] pair encoding, a ``score`` head on the last
    token), False for a BERT-style encoder."""
    return not getattr(model.config, "is_encoder_decoder", False) and \
        model.config.model_type not in ("bert", "roberta", "xlm-roberta", "deberta-v2",
                                        "distilbert", "electra", "mpnet")


def encode_pairs(tokenizer, a: list[str], b: list[str], max_length: int):
    """Pairs as the model reads them: [CLS] a [SEP] b [SEP] for an encoder; for a causal LM,
    whose tokenizer has no pair template, one prompt-like text ending where the head reads."""
    if tokenizer.sep_token is not None:
        return tokenizer(a, b, truncation="longest_first", max_length=max_length,
                         padding=True, return_tensors="pt")
    texts = [f"Question: {x}\nEvidence: {y}\nAnswer:" for x, y in zip(a, b)]
    # Truncate the evidence's start rather than the end, where the head reads.
    tokenizer.truncation_side = "left"
    return tokenizer(texts, truncation=True, max_length=max_length, padding=True,
                     return_tensors="pt")


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
