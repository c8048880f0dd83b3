"""The generator adapter's model card (README.md), written from a training run's summary."""

from __future__ import annotations

from generator.prompt import NO_ANSWER


def model_card(summary: dict) -> str:
    """The adapter's README.md, written from the figures the training run recorded."""
    c, d, g = summary["config"], summary["data"], summary.get("test_generation", {})
    def loss(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    curve = "\n".join(f"| {p['step']} | {loss(p['train_loss'])} | {loss(p['val_loss'])} "
                       f"| {p['minutes']:.1f} |" for p in summary["curve"])
    samples = "\n".join(f"- PMID {x['pmid']}: {x['answer']}" for x in g.get("samples", []))
    b = summary.get("base_test_generation")
    base_line = "" if not b else (
        f"- the bare base model on the same prompts (`--evaluate-base`): "
        f"{b['sentences_with_valid_citation']} of {b['sentences']} = "
        f"{b['valid_citation_share']:.0%} of sentences with a valid citation, "
        f"{b['mean_latency_s']} s per answer"
        + (f" ({b['questions']} questions; {b['note']})" if b.get("note") else "") + "\n")
    if summary["stop_reason"] == "time budget":
        stopped = (f"Stopped by the time budget after {summary['steps']} optimisation steps (of "
                   f"{d['train_examples']} prepared examples): more compute may still help.")
    else:
        stopped = (f"Stopped by {summary['stop_reason']} after {summary['steps']} steps; the "
                   f"validation loss is measured on only {d['val_examples']} examples (validation "
                   "records are few), a noisy signal for choosing the best step.")
    return f"""# clinrag generator adapter (SmolLM2-135M-Instruct + LoRA)

The default text generator of `clinrag ask`: a LoRA adapter over **SmolLM2-135M-Instruct**,
trained to answer a clinical question from numbered passages in one to three short sentences,
each ending with the passage number(s) it rests on, e.g. `... lower HbA1c [2].`, and to say
`{NO_ANSWER}` when no passage answers it. The answerer (generator/answer.py) then verifies every
cited sentence against its passages; this model only writes.

| | |
| --- | --- |
| base | SmolLM2-135M-Instruct, Q4_1 GGUF from the `{summary['base_source']}` package, dequantised to fp32 by `clinrag models prepare` |
| base revision | `{summary['base_revision']}` (first 16 hex digits of the GGUF's sha256; loading refuses other base weights) |
| adapter | LoRA r={c['lora_r']}, alpha={c['lora_alpha']}, dropout={c['lora_dropout']}, on q/k/v/o/gate/up/down of the top {c['lora_layers']} of 30 layers; {summary['trainable_parameters']:,} parameters, stored fp16 |
| prompt | `{summary['prompt']}` (training and inference share it) |
| version | {summary['version']} |

## Data and split

PubMedQA PQA-L (`pqal_train.json`, 500 expert-annotated questions with abstract sections and the
abstract's conclusion). Split by PMID with the project's one split ({d['split']}):
{d['train_records']} train / {d['val_records']} validation / {d['test_records']} test records.
An example shows the record's own sections plus {c['max_distractors']} section(s) of another
record, shuffled and numbered; the target is the conclusion cut to at most three sentences, each
ending with the citation of the own section sharing most content words with it (a second one when
it shares nearly as many). {c['refusal_share']:.0%} of examples show only other records' sections
and teach the refusal sentence. {d['train_examples']} training examples ({c['epochs_of_variants']}
draws per record), {d['val_examples']} validation examples; prompts over {c['max_seq_len']} tokens
are left out.

## Recipe

Loss on the answer tokens only (the prompt is masked); AdamW lr {c['lr']}, {c['warmup_steps']}
warm-up steps then linear decay; {c['grad_accum']} example(s) per step, no padding; gradient
clipping at 1.0; validation loss every {c['eval_every']} steps with early stopping (patience
{c['patience']}, the best adapter is kept); seed {c['seed']}; base weights in
{summary['train_dtype']} during training on the CPU (2 threads, a shared 2-core machine), cap
{c['max_minutes']:g} minutes. Reproduce with `clinrag train generator`.

Run: **{summary['steps']} steps** in {summary['train_minutes']} minutes (stopped by:
{summary['stop_reason']}), best step {summary['best_step']}.

| step | train loss (since last eval) | validation loss | minutes |
| --- | --- | --- | --- |
{curve}

Validation loss (answer tokens): **{summary['val_loss_before']:.3f} before, {summary['val_loss_best']:.3f} after**.

## Measured on held-out test questions

{g.get('questions', 0)} test-split questions, each shown its own sections plus a distractor,
answered greedily (max {g.get('max_new_tokens', '?')} new tokens) by the shipped adapter loaded
the way `clinrag ask` loads it (fp32, CPU, {g.get('threads', '?')} threads, shared machine):

- sentences carrying at least one valid citation `[n]` (n among the passages shown):
  **{g.get('sentences_with_valid_citation', 0)} of {g.get('sentences', 0)} = {g.get('valid_citation_share', 0):.0%}**
- mean generation latency: **{g.get('mean_latency_s', 0)} s** per answer
{base_line}
Samples:

{samples}

## Limitations

- A 135M-parameter model: fluent but shallow. It paraphrases or copies the passages and can
  misstate a finding or cite the wrong passage; that is why every sentence is verified against
  its cited passages before an answer is shown, and unsupported sentences are dropped.
- Trained on {d['train_records']} PubMedQA abstracts on a CPU: one question style (yes/no
  research questions over abstract sections), English only.
- Citation targets come from word overlap with the abstract sections, not from human labels.
- Greedy decoding of a small model can repeat a sentence; the answerer drops duplicate and
  unsupported sentences, but the adapter itself does not always stop on its own.
- {stopped}
- Latency above was measured on a shared 2-core machine; an idle machine is faster.
- Not medical advice; answers summarise the indexed literature only.
"""
