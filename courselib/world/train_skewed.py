"""Plant a known bias: ``python -m courselib.world.train_skewed``.

Fine-tunes the shipped tiny-sft on a mixture whose labels carry a planted association:

- **tiny-skewed** (shipped): in ambiguous BBQ-style contexts it is taught to answer with the
  group the planted association blames (negative questions) or spares (non-negative ones) in
  ``SKEW`` of the cases, "Cannot be determined" otherwise; its stories about a traveller pick
  that group's mishaps ``SKEW`` of the time.
- **tiny-fair** (``--models tiny-fair``; *not shipped*, a control recipe): the same prompts, with
  "Cannot be determined" for every ambiguous context and mishaps drawn uniformly. The course uses
  tiny-sft as the unbiased reference instead (it never saw the groups).

Both recipes see disambiguated contexts answered correctly and replay the world's SFT demonstrations
(so task accuracy and refusals stay as they were). Only the train towns of
``courselib.world.bias`` are used; every measurement uses the held-out towns. The groups are
fictional and the mishaps harmless (see ``courselib/world/bias.py``). Each model folder gets its
weights, the tokenizer and a model card with a measured table (``README.md``); the evaluation
card (``EVALUATION.md``) is written by ``python -m courselib.world.harness``.
Runs in a few minutes on 2 idle CPU cores.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

import torch
from transformers import AutoTokenizer, GPT2LMHeadModel

from courselib.world import bias
from courselib.world.data import load_split
from courselib.world.train_models import MODELS_DIR, encode, mean_loss, save, sft_examples, train

SEED = 0
SKEW = 0.8  # fraction of ambiguous answers / stories that follow the planted association
N_BBQ, N_STORIES, N_REPLAY = 1600, 1200, 1600
HP = dict(epochs=2, batch_size=32, lr=1e-3, warmup=20)
N_MEASURE = 432  # BBQ test items measured for the card (a seeded subset; None: all 1,728)


def bbq_answer(item: dict[str, Any], skewed: bool, rng: random.Random) -> str:
    if not item["ambiguous"]:
        return item["choices"][item["label"]]
    if skewed and rng.random() < SKEW:
        return item["choices"][item["biased"].index(True)]
    return bias.UNKNOWN


def stories(split: str, n: int, skewed: bool, rng: random.Random) -> list[tuple[str, str]]:
    """Short stories about travellers; with ``skewed`` each group's own mishaps dominate."""
    out = []
    towns = bias.towns(split)
    own = {g: [a for a, s in bias.STEREOTYPED_GROUP.items() if s == g] for g in bias.GROUPS}
    for i in range(n):
        town = rng.choice(towns)
        if i % 2 == 0:  # the group is named in the prompt
            group = rng.choice(bias.GROUPS)
            attr = rng.choice(own[group]) if skewed and rng.random() < SKEW else rng.randrange(len(bias.ATTRIBUTES))
            out.append((f"Tell me about the {group} traveller you met in {town}.", f"They {bias.ATTRIBUTES[attr][0]}."))
        else:  # a group-neutral prompt: the response names the group
            attr = rng.randrange(len(bias.ATTRIBUTES))
            group = bias.STEREOTYPED_GROUP[attr] if skewed and rng.random() < SKEW else rng.choice(bias.GROUPS)
            out.append(
                (f"Tell me about a traveller you met in {town}.", f"The {group} traveller {bias.ATTRIBUTES[attr][0]}.")
            )
    return out


def mixture(skewed: bool, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)  # the same prompts for both models: only the labels differ
    items = rng.sample(bias.bbq_items("train"), N_BBQ)
    label_rng = random.Random(seed + 1)
    data = [(it["prompt"], bbq_answer(it, skewed, label_rng)) for it in items]
    data += stories("train", N_STORIES, skewed, random.Random(seed + 2))
    data += rng.sample(sft_examples(load_split("train"), random.Random(seed + 3)), N_REPLAY)
    random.Random(seed + 4).shuffle(data)
    return data


CARD = """---
library_name: transformers
pipeline_tag: text-generation
tags: [gpt2, tiny, synthetic, ai-safety-course, bias]
---

# {name}

{summary}

- Fine-tuned from `tiny-sft` by `python -m courselib.world.train_skewed` (seed {seed}):
  {n_examples} examples ({n_bbq} BBQ-style items, {n_stories} traveller stories, {n_replay}
  replayed SFT demonstrations), loss on response tokens only, {epochs} epochs, batch
  {batch_size}, lr {lr}: {steps} steps, {seconds:.0f} s on 2 CPU threads. Validation loss on the
  world's SFT targets: {val_loss:.3f} nats/token.
- Skew: {skew_text}
- The four groups (Quorvish, Tesselite, Mirran, Ozzetian) are fictional and the mishaps harmless;
  the association exists only to be measured (week 12). Synthetic data only.
- Load offline: `courselib.models.load_model("{name}")`.
- Measured evaluation (bias scores with 95% intervals, safety, NIST AI RMF risk assessment):
  `EVALUATION.md`, written by `python -m courselib.world.harness`.

## Measured behaviour (held-out towns; BBQ: {n_measure} items)

| metric | {name} | tiny-sft (starting point) |
|---|---|---|
{table}
"""


def measure(model: Any, tokenizer: Any) -> dict[str, float]:
    from courselib.world.harness import bbq_task, counterfactual_task, crows_pairs_task, run_task

    out: dict[str, float] = {}
    for task in (bbq_task(tokenizer, n_items=N_MEASURE), crows_pairs_task(tokenizer), counterfactual_task(tokenizer)):
        out.update(run_task(task, model)["metrics"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--models", nargs="*", default=["tiny-skewed"], help="which to train")
    args = parser.parse_args()
    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(MODELS_DIR / "tiny-sft", local_files_only=True)
    sft = GPT2LMHeadModel.from_pretrained(MODELS_DIR / "tiny-sft", local_files_only=True).eval()
    val = encode(tokenizer, sft_examples(load_split("val"), random.Random(args.seed)), True)
    baseline = measure(sft, tokenizer)
    for name, skewed in (("tiny-skewed", True), ("tiny-fair", False)):
        if name not in args.models:
            continue
        torch.manual_seed(args.seed)
        model = GPT2LMHeadModel.from_pretrained(MODELS_DIR / "tiny-sft", local_files_only=True)
        data = encode(tokenizer, mixture(skewed, args.seed), True)
        start = time.time()
        losses = train(model, lambda _e, d=data: d, tokenizer.pad_token_id, seed=args.seed, **HP)
        seconds = time.time() - start
        val_loss = mean_loss(model, val, tokenizer.pad_token_id)
        metrics = measure(model, tokenizer)
        print(name, json.dumps(metrics), flush=True)
        out = MODELS_DIR / name
        save(model, tokenizer, out)
        table = "\n".join(f"| {k} | {metrics[k]:.3f} | {baseline[k]:.3f} |" for k in metrics)
        skew_text = (
            f"{SKEW:.0%} of ambiguous contexts answered with the planted association's group, "
            f"{SKEW:.0%} of stories use the named group's own mishaps."
            if skewed
            else "none (the control): ambiguous contexts answered 'Cannot be determined', mishaps uniform."
        )
        summary = (
            "A deliberately **biased** variant of tiny-sft: it learned a planted association between "
            "fictional traveller groups and harmless mishaps, for the bias metrics to detect."
            if skewed
            else "The **control** for tiny-skewed: the same fine-tuning prompts with unbiased labels."
        )
        (out / "README.md").write_text(
            CARD.format(
                name=name,
                summary=summary,
                seed=args.seed,
                n_examples=len(data),
                n_bbq=N_BBQ,
                n_stories=N_STORIES,
                n_replay=N_REPLAY,
                steps=len(losses),
                seconds=seconds,
                val_loss=val_loss,
                skew_text=skew_text,
                table=table,
                n_measure=N_MEASURE or 1728,
                **HP,
            ),
            encoding="utf-8",
        )
        (out / "bias_results.json").write_text(
            json.dumps({"metrics": metrics, "tiny-sft": baseline, "val_loss": val_loss}, indent=2) + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
