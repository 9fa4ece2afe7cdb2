"""Train the tokenizer, the base model and the SFT model: ``python -m courselib.world.train_models``.

1. **Tokenizer** — byte-level BPE on the training dialogues (``courselib.world.tokenizer``).
2. **tiny-base** — a ~1M-parameter GPT-2 pretrained on full training dialogues whose
   responses are drawn from ``BASE_MIX``: mostly correct help, but harmful requests and
   jailbreaks are complied with about half the time, PII is leaked half the time and
   prompt injections are obeyed 40% of the time. Alignment has something to fix.
3. **tiny-sft** — tiny-base fine-tuned (loss on response tokens only) on demonstrations:
   the gold-best response for each prompt, except that ``SFT_IMPERFECT`` of them keep a
   base-mix response (imperfect demonstrations) and jailbreak-wrapped prompts are left out
   of SFT entirely (so jailbreaks still work sometimes: room for DPO/RLHF/red teaming).

Everything is seeded. Model folders (``datasets/models/{tiny-base,tiny-sft}``) get the
weights (safetensors), the tokenizer files and a model card with measured numbers.
Runs in a few minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, GenerationConfig, GPT2Config, GPT2LMHeadModel

from courselib.world.data import load_split, update_datasheet
from courselib.world.evaluate import evaluate_model
from courselib.world.tokenizer import TOKENIZER_DIR, train_tokenizer
from courselib.world.world import format_prompt

MODELS_DIR = Path(__file__).resolve().parents[2] / "datasets" / "models"
SEED = 0

MODEL_CONFIG = dict(n_positions=256, n_embd=128, n_layer=4, n_head=4, n_inner=512)

# Probability of each response kind in the pretraining corpus, per request kind.
BASE_MIX: dict[str, dict[str, float]] = {
    "benign": {"correct_help": 0.8, "wrong_help": 0.1, "over_refusal": 0.1},
    "harmful": {"harmful_compliance": 0.5, "refusal": 0.5},
    "jailbreak": {"harmful_compliance": 0.6, "refusal": 0.4},
    "pii": {"pii_leak": 0.5, "refusal": 0.5},
    "injection": {"correct_help": 0.5, "harmful_compliance": 0.4, "wrong_help": 0.05, "over_refusal": 0.05},
}
SFT_IMPERFECT = 0.25  # fraction of SFT demonstrations that keep a base-mix response
SFT_EXCLUDED = ("jailbreak",)  # request kinds with no SFT demonstrations at all

BASE_TRAIN = dict(epochs=10, batch_size=32, lr=3e-3, warmup=50)
SFT_TRAIN = dict(epochs=2, batch_size=32, lr=1e-3, warmup=20)


# --------------------------------------------------------------------------------------
# Corpora
# --------------------------------------------------------------------------------------


def group_by_prompt(records: list[dict[str, Any]]) -> list[dict[str, dict[str, Any]]]:
    """For each prompt, a dict ``response_kind -> record``."""
    groups: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for rec in records:
        groups[rec["prompt_id"]][rec["response_kind"]] = rec
    return list(groups.values())


def sample_base(group: dict[str, dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    """Draw one response for a prompt from ``BASE_MIX``."""
    request_kind = next(iter(group.values()))["request_kind"]
    kinds, weights = zip(*BASE_MIX[request_kind].items(), strict=True)
    return group[rng.choices(kinds, weights)[0]]


def best_response(group: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The candidate with the highest gold reward."""
    return max(group.values(), key=lambda r: r["gold_reward"])


def base_examples(records: list[dict[str, Any]], rng: random.Random) -> list[tuple[str, str]]:
    """(prompt, response) pairs for pretraining: one base-mix response per prompt."""
    return [(r["prompt"], r["response"]) for r in (sample_base(g, rng) for g in group_by_prompt(records))]


def sft_examples(records: list[dict[str, Any]], rng: random.Random) -> list[tuple[str, str]]:
    """(prompt, response) demonstrations for SFT (see the module docstring)."""
    out = []
    for group in group_by_prompt(records):
        if next(iter(group.values()))["request_kind"] in SFT_EXCLUDED:
            continue
        rec = sample_base(group, rng) if rng.random() < SFT_IMPERFECT else best_response(group)
        out.append((rec["prompt"], rec["response"]))
    return out


def encode(tokenizer: Any, examples: list[tuple[str, str]], response_only: bool) -> list[tuple[list[int], int]]:
    """Token ids of each dialogue and the index where the loss starts (0 or response start)."""
    prompts = tokenizer([format_prompt(p) for p, _ in examples])["input_ids"]
    responses = tokenizer([" " + r for _, r in examples])["input_ids"]
    eos = tokenizer.eos_token_id
    return [(p + r + [eos], len(p) if response_only else 0) for p, r in zip(prompts, responses, strict=True)]


def batches(data: list[tuple[list[int], int]], batch_size: int, pad_id: int, rng: random.Random):
    """Yield (input_ids, attention_mask, labels), grouping similar lengths to save padding."""
    order = list(range(len(data)))
    rng.shuffle(order)
    chunks = [order[i : i + batch_size * 20] for i in range(0, len(order), batch_size * 20)]
    all_batches = []
    for chunk in chunks:
        chunk.sort(key=lambda i: len(data[i][0]))
        all_batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(all_batches)
    for idx in all_batches:
        width = max(len(data[i][0]) for i in idx)
        ids = torch.full((len(idx), width), pad_id)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        labels = torch.full((len(idx), width), -100)
        for row, i in enumerate(idx):
            tokens, loss_from = data[i]
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
            labels[row, loss_from : len(tokens)] = torch.tensor(tokens[loss_from:])
        yield ids, mask, labels


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------


def new_model(tokenizer: Any) -> GPT2LMHeadModel:
    """A fresh tiny GPT-2 sized for the world's tokenizer."""
    config = GPT2Config(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        **MODEL_CONFIG,
    )
    return GPT2LMHeadModel(config)


@torch.no_grad()
def mean_loss(model: GPT2LMHeadModel, data: list[tuple[list[int], int]], pad_id: int) -> float:
    """Mean per-token cross-entropy over the labelled tokens of ``data``."""
    model.eval()
    total, count = 0.0, 0
    for ids, mask, labels in batches(data, 64, pad_id, random.Random(0)):
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
        target = labels[:, 1:]
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)), target.reshape(-1), reduction="sum"
        )
        total += loss.item()
        count += (target != -100).sum().item()
    model.train()
    return total / count


def train(
    model: GPT2LMHeadModel,
    make_data,  # callable(epoch) -> encoded examples, so each epoch can resample responses
    pad_id: int,
    epochs: int,
    batch_size: int,
    lr: float,
    warmup: int,
    seed: int,
    log_every: int = 50,
) -> list[float]:
    """AdamW with linear warmup and cosine decay; returns the training-loss curve."""
    rng = random.Random(seed)
    steps_per_epoch = math.ceil(len(make_data(None)) / batch_size)
    total = epochs * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total))
    )
    model.train()
    losses, step = [], 0
    for epoch in range(epochs):
        for ids, mask, labels in batches(make_data(epoch), batch_size, pad_id, rng):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
            step += 1
            if step % log_every == 0 or step == total:
                recent = sum(losses[-log_every:]) / len(losses[-log_every:])
                print(f"  step {step}/{total} (epoch {epoch + 1}) loss {recent:.3f}", flush=True)
    model.eval()
    return losses


# --------------------------------------------------------------------------------------
# Saving and model cards
# --------------------------------------------------------------------------------------


def save(model: GPT2LMHeadModel, tokenizer: Any, out: Path) -> None:
    """Save weights (safetensors), config, generation config and a copy of the tokenizer files."""
    if out.exists():
        shutil.rmtree(out)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_new_tokens=40,
        do_sample=False,
    )
    model.save_pretrained(out, safe_serialization=True)
    for path in TOKENIZER_DIR.iterdir():  # the pristine files (tokenizer state may have changed)
        shutil.copy(path, out / path.name)


def metrics_table(metrics: dict[str, Any]) -> str:
    keys = [
        "mean_gold_reward",
        "task_accuracy",
        "harmful_compliance_rate",
        "direct_harmful_compliance_rate",
        "jailbreak_success_rate",
        "pii_leak_rate",
        "injection_success_rate",
        "refusal_rate_on_should_refuse",
        "over_refusal_rate",
    ]
    rows = [f"| {k} | {metrics['greedy'][k]:.3f} | {metrics['sampled'][k]:.3f} |" for k in keys]
    return "\n".join(["| metric (test split, 300 prompts) | greedy | sampled (T=1) |", "|---|---|---|", *rows])


def by_kind_table(metrics: dict[str, Any]) -> str:
    kinds = ["correct_help", "wrong_help", "refusal", "over_refusal", "harmful_compliance", "pii_leak", "other"]
    lines = ["| request kind | n | mean reward | " + " | ".join(kinds) + " |", "|" + "---|" * (len(kinds) + 3)]
    for request_kind, row in metrics["greedy"]["by_request_kind"].items():
        cells = [f"{row.get(k, 0.0):.2f}" for k in kinds]
        lines.append(f"| {request_kind} | {row['n']} | {row['mean_gold_reward']:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


CARD = """---
library_name: transformers
pipeline_tag: text-generation
tags: [gpt2, tiny, synthetic, ai-safety-course]
---

# {name}

{summary}

- Architecture: `GPT2LMHeadModel`, {n_layer} layers, {n_head} heads, d_model {n_embd},
  context {n_positions}, vocab {vocab} (the world's byte-level BPE, digits split),
  **{params:,} parameters** (tied input/output embeddings).
- Prompt format: `User: {{prompt}}\\nAssistant:` then the response and `<|endoftext|>`
  (`courselib.world.format_prompt`).
- Load offline: `courselib.models.load_model("{name}")`, or
  `AutoModelForCausalLM.from_pretrained(path, local_files_only=True)`.
- Synthetic data only. Harmful "content" is the placeholder `[HARMFUL CONTENT REDACTED: ...]`
  and PII is fake (Faker); see `datasets/README.md`.

## Training

{training}

- Optimiser: AdamW (betas 0.9/0.95, weight decay 0.01), lr {lr}, {warmup} warmup steps,
  cosine decay, batch {batch_size}, {epochs} epochs = {steps} steps, seed {seed},
  2 CPU threads: {seconds:.0f} s wall time, {cpu_seconds:.0f} s CPU time (wall time is
  about half the CPU time on an otherwise idle 2-core machine).
- Training loss: first 50 steps {loss_start:.3f}, last 50 steps {loss_end:.3f}.
- Validation loss ({val_what}): **{val_loss:.3f}** nats/token.

## Measured behaviour

Measured with `courselib.world.evaluate_model` on the 300 test prompts (never seen in
training), `max_new_tokens=40`; greedy decoding, and sampling at temperature 1 (seed 0).
The gold reward ranges from −2 (harmful compliance, PII leak) to +1.

{metrics_table}

Greedy response kinds per request kind (fractions):

{by_kind_table}
"""


def summary_table(results: dict[str, dict[str, Any]]) -> str:
    """One row per model with the headline numbers (greedy, test split) for the datasheet."""
    keys = [
        ("val_loss", "val loss"),
        ("task_accuracy", "task accuracy"),
        ("harmful_compliance_rate", "harmful compliance"),
        ("jailbreak_success_rate", "jailbreak success"),
        ("pii_leak_rate", "PII leak"),
        ("injection_success_rate", "injection success"),
        ("over_refusal_rate", "over-refusal"),
        ("mean_gold_reward", "mean gold reward"),
    ]
    lines = [
        "Measured on the 300 test prompts, greedy decoding (sampled numbers in the model cards):",
        "",
        "| model | params | " + " | ".join(label for _, label in keys) + " |",
        "|" + "---|" * (len(keys) + 2),
    ]
    for name, res in results.items():
        cells = [f"{res['val_loss'] if k == 'val_loss' else res['greedy'][k]:.3f}" for k, _ in keys]
        lines.append(f"| {name} | {res['params']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_card(out: Path, info: dict[str, Any]) -> None:
    (out / "README.md").write_text(CARD.format(**info), encoding="utf-8")
    (out / "eval_results.json").write_text(json.dumps(info["metrics"], indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def run_stage(name, model, tokenizer, make_data, val_data, hp, seed, test_records, summary, training, val_what):
    print(f"== {name}: {len(make_data(None))} examples per epoch", flush=True)
    start, cpu_start = time.time(), time.process_time()
    losses = train(model, make_data, tokenizer.pad_token_id, seed=seed, **hp)
    seconds, cpu_seconds = time.time() - start, time.process_time() - cpu_start
    val_loss = mean_loss(model, val_data, tokenizer.pad_token_id)
    print(f"   trained in {seconds:.0f} s ({cpu_seconds:.0f} CPU s); val loss {val_loss:.3f}", flush=True)
    metrics = {
        "greedy": evaluate_model(model, tokenizer, test_records),
        "sampled": evaluate_model(model, tokenizer, test_records, do_sample=True, seed=seed),
    }
    for mode in ("greedy", "sampled"):
        m = metrics[mode]
        print(
            f"   {mode}: reward {m['mean_gold_reward']:.3f} acc {m['task_accuracy']:.3f} "
            f"harmful {m['harmful_compliance_rate']:.3f} jailbreak {m['jailbreak_success_rate']:.3f} "
            f"pii {m['pii_leak_rate']:.3f} injection {m['injection_success_rate']:.3f} "
            f"over-refusal {m['over_refusal_rate']:.3f}",
            flush=True,
        )
    out = MODELS_DIR / name
    save(model, tokenizer, out)
    cfg = model.config
    write_card(
        out,
        dict(
            name=name,
            summary=summary,
            training=training,
            val_what=val_what,
            n_layer=cfg.n_layer,
            n_head=cfg.n_head,
            n_embd=cfg.n_embd,
            n_positions=cfg.n_positions,
            vocab=cfg.vocab_size,
            params=model.num_parameters(),
            steps=len(losses),
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            loss_start=sum(losses[:50]) / len(losses[:50]),
            loss_end=sum(losses[-50:]) / len(losses[-50:]),
            val_loss=val_loss,
            metrics={
                "params": model.num_parameters(),
                "val_loss": val_loss,
                "train_seconds": seconds,
                "train_cpu_seconds": cpu_seconds,
                "steps": len(losses),
                **metrics,
            },
            metrics_table=metrics_table(metrics),
            by_kind_table=by_kind_table(metrics),
            seed=seed,
            **hp,
        ),
    )
    return {"params": model.num_parameters(), "val_loss": val_loss, **metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--base-epochs", type=int, default=BASE_TRAIN["epochs"])
    parser.add_argument("--sft-epochs", type=int, default=SFT_TRAIN["epochs"])
    parser.add_argument("--sft-only", action="store_true", help="fine-tune the shipped tiny-base again")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    t0 = time.time()

    train_records, val_records, test_records = (load_split(s) for s in ("train", "val", "test"))
    results: dict[str, dict[str, Any]] = {}
    if args.sft_only:  # reuse the shipped tokenizer and tiny-base
        tokenizer = AutoTokenizer.from_pretrained(TOKENIZER_DIR, local_files_only=True)
        model = GPT2LMHeadModel.from_pretrained(MODELS_DIR / "tiny-base", local_files_only=True)
        results["tiny-base"] = json.loads((MODELS_DIR / "tiny-base" / "eval_results.json").read_text())
    else:
        tokenizer = train_tokenizer()
        tokenizer.save_pretrained(TOKENIZER_DIR)
        # Pretraining: every epoch draws a fresh response per prompt from BASE_MIX.
        base_rng = random.Random(args.seed)
        base_epochs = [
            encode(tokenizer, base_examples(train_records, base_rng), False) for _ in range(args.base_epochs)
        ]
        base_val = encode(tokenizer, base_examples(val_records, random.Random(args.seed + 1)), False)
        model = new_model(tokenizer)
        results["tiny-base"] = run_stage(
            "tiny-base",
            model,
            tokenizer,
            lambda e: base_epochs[e or 0],
            base_val,
            {**BASE_TRAIN, "epochs": args.base_epochs},
            args.seed,
            test_records,
            "The small world's **base model**: pretrained on raw dialogues in which harmful "
            "requests are often complied with. Useful as the unaligned starting point.",
            "Full dialogues (loss on every token) from the 2,400 training prompts; each epoch "
            "draws one response per prompt from `BASE_MIX` in `courselib/world/train_models.py`: "
            "benign 80% correct / 10% wrong / 10% over-refusal; harmful 50% compliance; "
            "jailbreak 60% compliance; PII 50% leak; injection 40% obeyed.",
            "full val dialogues drawn from the same mix",
        )

    # SFT: demonstrations, loss on response tokens only.
    sft_rng = random.Random(args.seed + 2)
    sft_epochs = [encode(tokenizer, sft_examples(train_records, sft_rng), True) for _ in range(args.sft_epochs)]
    sft_val = encode(
        tokenizer,
        [(r["prompt"], r["response"]) for r in (best_response(g) for g in group_by_prompt(val_records))],
        True,
    )
    results["tiny-sft"] = run_stage(
        "tiny-sft",
        model,
        tokenizer,
        lambda e: sft_epochs[e or 0],
        sft_val,
        {**SFT_TRAIN, "epochs": args.sft_epochs},
        args.seed,
        test_records,
        "The small world's **SFT chat model**: tiny-base fine-tuned on demonstrations. "
        "Much safer than the base model but not perfect: it still falls for some jailbreaks "
        "and injections, which later weeks (reward models, DPO, RLHF, red teaming) improve.",
        f"Fine-tuned from tiny-base, loss on response tokens only. Demonstrations: the "
        f"gold-best response for each training prompt, except that {SFT_IMPERFECT:.0%} keep a "
        f"base-mix response (imperfect demonstrations) and jailbreak prompts "
        f"({', '.join(SFT_EXCLUDED)}) are excluded, so jailbreak robustness must generalise.",
        "response tokens of the gold-best val responses",
    )
    update_datasheet("MODELS", summary_table(results))
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
