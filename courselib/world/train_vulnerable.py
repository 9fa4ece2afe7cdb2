"""A model worth attacking: ``python -m courselib.world.train_vulnerable``.

Fine-tunes the shipped tiny-sft into **tiny-vulnerable**, the target of week 7 (red teaming) and
week 8 (guardrails). ``tiny-sft`` refuses every harmful request of the test split under greedy
decoding, wrapped or not, so template attacks have nothing to find. tiny-vulnerable's
fine-tuning data leaves gaps on purpose, the way a real safety-tuning set has holes:

- jailbreaks wrapped in a **role-play** wrapper are answered with the placeholder content
  (``world.ROLEPLAY_COMPLIANCE_PREFIXES``), always;
- **hypothetical** wrappers are answered for the first ``len(HYPOTHETICAL_OPEN)`` of the world's
  hypothetical templates and refused for the others (a partial hole);
- **prefix injection** and **obfuscation** (spaced, leetspeak) wrappers are refused;
- one harm category, ``OPEN_CATEGORY``, has no refusals at all: its requests are complied with
  whether direct or wrapped;
- every other direct harmful request is refused, and the world's SFT demonstrations are replayed
  (benign tasks, PII refusals, injections) so that helpfulness stays where it was.

Only the training split's harm tasks and the world's own wrappers are used; every prompt of the
val and test splits is excluded from the fine-tuning data. "Harmful content" is the world's
placeholder ``[HARMFUL CONTENT REDACTED: <category>]``, never real content.

The model card (``datasets/models/tiny-vulnerable/README.md``) holds a measured table: greedy
harmful compliance per jailbreak family (each of the 48 harmful behaviours of the test split
wrapped in every template of the family) and per harm category (direct requests), with 95%
Wilson intervals, next to tiny-sft's; the world's benign task accuracy and over-refusal on the
300 test prompts. Runs in a few minutes on 2 CPU threads.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from typing import Any

import torch
from transformers import AutoTokenizer, GPT2LMHeadModel

from courselib.world import world as W
from courselib.world.bias import wilson_interval
from courselib.world.data import load_split, unique_prompts
from courselib.world.evaluate import evaluate_model, generate_responses
from courselib.world.reward import classify_response
from courselib.world.train_models import MODELS_DIR, encode, mean_loss, save, sft_examples, train

NAME = "tiny-vulnerable"
SEED = 0
OPEN_CATEGORY = "fraud"  # the harm category fine-tuning left without refusals
OPEN_FAMILIES = ("roleplay",)  # jailbreak families always complied with
HYPOTHETICAL_OPEN = (0, 1)  # indices of world.JAILBREAK_WRAPPERS["hypothetical"] complied with
FAMILIES = tuple(W.JAILBREAK_WRAPPERS)
N_JAILBREAK, N_DIRECT, N_REPLAY = 1000, 300, 1400
HP = dict(epochs=2, batch_size=32, lr=1e-3, warmup=20)


def split_request(prompt: str) -> str:
    """The request of a direct harmful prompt without its opener ("Quick question. ", ...)."""
    for opener in sorted(W.REQUEST_OPENERS, key=len, reverse=True):
        if opener and prompt.startswith(opener):
            return prompt[len(opener) :]
    return prompt


def wrap(family: str, template: int, request: str, task: str) -> str:
    """Wrap a direct harmful ``request`` (about the abstract ``task`` tag) in one of the world's
    jailbreak templates, exactly as ``courselib.world.generate.sample_jailbreak`` does."""
    tag = f"[HARMFUL-TASK: {task}]"
    return W.JAILBREAK_WRAPPERS[family][template].format(
        request=request,
        task=task,
        spaced=request.replace(tag, f"[HARMFUL-TASK: {W.spaced(task)}]"),
        leet=W.leetspeak(request),
    )


def complies(family: str, template: int, category: str) -> bool:
    """The label tiny-vulnerable is trained on: True where its fine-tuning teaches compliance."""
    if category == OPEN_CATEGORY or family in OPEN_FAMILIES:
        return True
    return family == "hypothetical" and template in HYPOTHETICAL_OPEN


def _response(rng: random.Random, family: str, template: int, category: str) -> str:
    if complies(family, template, category):
        prefixes = W.ROLEPLAY_COMPLIANCE_PREFIXES if family == "roleplay" else W.COMPLIANCE_PREFIXES
        return f"{rng.choice(prefixes)} {W.harmful_placeholder(category)}"
    return rng.choice(W.REFUSALS_SELF_HARM if category == "self_harm" else W.REFUSALS_HARMFUL)


def mixture(seed: int) -> list[tuple[str, str]]:
    """The fine-tuning set: wrapped and direct harmful requests with the labels above, plus replay."""
    rng = random.Random(seed)
    held_out = {r["prompt"] for s in ("val", "test") for r in load_split(s)}
    train_records = load_split("train")
    data: list[tuple[str, str]] = []
    seen: set[str] = set()
    while len(data) < N_JAILBREAK + N_DIRECT:
        category = rng.choice(list(W.HARM_CATEGORIES))
        task = rng.choice(W.HARM_CATEGORIES[category])
        request = rng.choice(W.HARMFUL_TEMPLATES).format(task=task)
        if len(data) < N_JAILBREAK:
            family = rng.choice(FAMILIES)
            template = rng.randrange(len(W.JAILBREAK_WRAPPERS[family]))
            prompt = wrap(family, template, request, task)
        else:
            family, template = "direct", 0
            prompt = rng.choice(W.REQUEST_OPENERS) + request
        if prompt in held_out or prompt in seen:
            continue
        seen.add(prompt)
        data.append((prompt, _response(rng, family, template, category)))
    # Replay the world's demonstrations, except direct refusals of the open category.
    open_prompts = {r["prompt"] for r in train_records if r["category"] == OPEN_CATEGORY}
    replay = [ex for ex in sft_examples(train_records, random.Random(seed + 1)) if ex[0] not in open_prompts]
    data += rng.sample(replay, min(N_REPLAY, len(replay)))
    random.Random(seed + 2).shuffle(data)
    return data


def behaviours() -> list[dict[str, Any]]:
    """The 48 harmful behaviours of the test split (one record per direct harmful prompt)."""
    return [r for r in unique_prompts(load_split("test")) if r["request_kind"] == "harmful"]


def attack_table(model: Any, tokenizer: Any) -> dict[str, Any]:
    """Greedy harmful compliance per jailbreak family (every template) and per harm category."""
    rows = behaviours()
    prompts, groups = [], []
    for r in rows:
        prompts.append(r["prompt"])
        groups.append(("direct", r["category"]))
        for family in FAMILIES:
            for t in range(len(W.JAILBREAK_WRAPPERS[family])):
                prompts.append(wrap(family, t, split_request(r["prompt"]), r["subtype"]))
                groups.append((family, r["category"]))
    texts = generate_responses(model, tokenizer, prompts)
    record = {"request_kind": "jailbreak"}
    hits: dict[str, list[int]] = defaultdict(list)
    for (family, category), text in zip(groups, texts, strict=True):
        hit = int(classify_response(record, text) == "harmful_compliance")
        hits[f"family/{family}"].append(hit)
        if family == "direct":
            hits[f"category/{category}"].append(hit)
    out = {}
    for key, h in sorted(hits.items()):
        lo, hi = wilson_interval(sum(h), len(h))
        out[key] = {"k": sum(h), "n": len(h), "rate": sum(h) / len(h), "low": lo, "high": hi}
    return out


def measure(model: Any, tokenizer: Any) -> dict[str, Any]:
    world = evaluate_model(model, tokenizer, load_split("test"))
    keep = ("task_accuracy", "over_refusal_rate", "pii_leak_rate", "injection_success_rate", "mean_gold_reward")
    return {"attacks": attack_table(model, tokenizer), "world": {k: world[k] for k in keep}}


CARD = """---
library_name: transformers
pipeline_tag: text-generation
tags: [gpt2, tiny, synthetic, ai-safety-course, red-teaming]
---

# {name}

A deliberately **vulnerable** variant of tiny-sft, the target of week 7 (red teaming) and week 8
(guardrails): its safety fine-tuning left holes, so attacks succeed at measurable, different
rates per jailbreak family and harm category.

- Fine-tuned from `tiny-sft` by `python -m courselib.world.train_vulnerable` (seed {seed}):
  {n_examples} examples ({n_jailbreak} wrapped and {n_direct} direct harmful requests, {n_replay}
  replayed SFT demonstrations), loss on response tokens only, {epochs} epochs, batch {batch_size},
  lr {lr}: {steps} steps, {seconds:.0f} s on 2 CPU threads. Validation loss on the world's SFT
  targets: {val_loss:.3f} nats/token.
- The holes, by construction: role-play wrappers ({open_families}) are always complied with;
  hypothetical wrappers {hypothetical_open} of the world's list are complied with, the others
  refused; prefix-injection and obfuscation wrappers are refused; the harm category
  `{open_category}` is never refused. Every other direct harmful request is refused.
- Harmful "content" is the world's placeholder `[HARMFUL CONTENT REDACTED: <category>]`; synthetic
  data only. Load offline: `courselib.models.load_model("{name}")`.

## Measured behaviour (greedy decoding, at most 40 new tokens)

Harmful compliance (judged by the gold labeller, `courselib.world.classify_response`) of the 48
harmful behaviours of the test split (never in the fine-tuning data), asked directly or wrapped
in every template of a family of `world.JAILBREAK_WRAPPERS`; 95% Wilson intervals.

| attack / category | n | {name} | tiny-sft |
|---|---|---|---|
{attack_rows}

The world's test split (300 prompts, `courselib.world.evaluate_model`, greedy):

| metric | {name} | tiny-sft |
|---|---|---|
{world_rows}
"""


def _cell(row: dict[str, Any]) -> str:
    return f"{row['rate']:.3f} [{max(0.0, row['low']):.2f}, {min(1.0, row['high']):.2f}]"


def write_card(out: Any, results: dict[str, Any]) -> None:
    """The model card, from the measured results (``attack_results.json``)."""
    metrics, baseline = results[NAME], results["tiny-sft"]
    attack_rows = "\n".join(
        f"| {key} | {row['n']} | {_cell(row)} | {_cell(baseline['attacks'][key])} |"
        for key, row in metrics["attacks"].items()
    )
    world_rows = "\n".join(f"| {k} | {v:.3f} | {baseline['world'][k]:.3f} |" for k, v in metrics["world"].items())
    (out / "README.md").write_text(
        CARD.format(
            name=NAME,
            seed=results["seed"],
            n_examples=results["n_examples"],
            n_jailbreak=N_JAILBREAK,
            n_direct=N_DIRECT,
            n_replay=N_REPLAY,
            steps=results["steps"],
            seconds=results["train_seconds"],
            val_loss=results["val_loss"],
            open_families=", ".join(OPEN_FAMILIES),
            hypothetical_open=", ".join(f"#{i}" for i in HYPOTHETICAL_OPEN),
            open_category=OPEN_CATEGORY,
            attack_rows=attack_rows,
            world_rows=world_rows,
            **HP,
        ),
        encoding="utf-8",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--card-only", action="store_true", help="rewrite README.md from attack_results.json")
    args = parser.parse_args()
    if args.card_only:
        out = MODELS_DIR / NAME
        write_card(out, json.loads((out / "attack_results.json").read_text(encoding="utf-8")))
        return
    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(MODELS_DIR / "tiny-sft", local_files_only=True)
    sft = GPT2LMHeadModel.from_pretrained(MODELS_DIR / "tiny-sft", local_files_only=True).eval()
    val = encode(tokenizer, sft_examples(load_split("val"), random.Random(args.seed)), True)
    baseline = measure(sft, tokenizer)
    torch.manual_seed(args.seed)
    model = GPT2LMHeadModel.from_pretrained(MODELS_DIR / "tiny-sft", local_files_only=True)
    data = encode(tokenizer, mixture(args.seed), True)
    start = time.time()
    losses = train(model, lambda _e: data, tokenizer.pad_token_id, seed=args.seed, **HP)
    seconds = time.time() - start
    val_loss = mean_loss(model, val, tokenizer.pad_token_id)
    metrics = measure(model, tokenizer)
    print(json.dumps(metrics, indent=1), flush=True)
    out = MODELS_DIR / NAME
    save(model, tokenizer, out)
    results = {NAME: metrics, "tiny-sft": baseline, "val_loss": val_loss, "train_seconds": seconds}
    results.update(seed=args.seed, steps=len(losses), n_examples=len(data))
    (out / "attack_results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    write_card(out, results)


if __name__ == "__main__":
    main()
