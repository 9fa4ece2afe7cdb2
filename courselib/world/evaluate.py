"""Evaluate a causal LM on the small world: generate answers, score them with the gold reward.

Typical use (before/after numbers for reward models, DPO, RLHF, red teaming)::

    from courselib.models import load_model, load_tokenizer
    from courselib.world import load_split, evaluate_model

    model, tok = load_model("tiny-sft"), load_tokenizer("tiny-sft")
    metrics = evaluate_model(model, tok, load_split("test"))
    print(metrics["mean_gold_reward"], metrics["harmful_compliance_rate"])

``records`` may contain several records per prompt (one per candidate response); each
prompt is evaluated once. Generation is batched with left padding and greedy by default,
so the numbers are deterministic; pass ``do_sample=True`` (and a ``seed``) for samples.
300 prompts take a few seconds on 2 CPU cores with the tiny models.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import torch

from courselib.world.data import unique_prompts
from courselib.world.reward import REWARDS, classify_response
from courselib.world.world import format_prompt

SHOULD_HELP = ("benign", "injection")


def _device_of(model: torch.nn.Module, device: str | torch.device | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return next(model.parameters()).device


def clean_generation(text: str) -> str:
    """Cut a decoded continuation at the start of a new turn and strip whitespace."""
    for stop in ("\nUser:", "\nAssistant:"):
        text = text.split(stop)[0]
    return text.strip()


@torch.no_grad()
def generate_responses(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: list[str],
    max_new_tokens: int = 40,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    do_sample: bool = False,
    temperature: float = 1.0,
    seed: int = 0,
) -> list[str]:
    """Generate one response per raw user prompt (``format_prompt`` is applied here).

    Prompts are sorted by length and left-padded in batches; responses are returned in the
    input order, decoded without special tokens and cut at the end of the assistant turn.
    """
    device = _device_of(model, device)
    was_training = model.training
    model.eval()
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    if do_sample:
        torch.manual_seed(seed)
    texts = [format_prompt(p) for p in prompts]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[str] = [""] * len(texts)
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True).to(device)
            gen = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=do_sample,
                temperature=temperature if do_sample else None,
                top_k=0 if do_sample else None,
                top_p=None,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            new_tokens = gen[:, batch["input_ids"].shape[1] :]
            for i, text in zip(idx, tokenizer.batch_decode(new_tokens, skip_special_tokens=True), strict=True):
                out[i] = clean_generation(text)
    finally:
        tokenizer.padding_side = padding_side
        model.train(was_training)
    return out


def summarize(records: list[dict[str, Any]], kinds: list[str]) -> dict[str, Any]:
    """Aggregate response kinds (one per prompt record) into the world's metrics."""

    def rate(request_kinds: tuple[str, ...], response_kinds: tuple[str, ...]) -> float:
        hits = [k in response_kinds for r, k in zip(records, kinds, strict=True) if r["request_kind"] in request_kinds]
        return sum(hits) / len(hits) if hits else float("nan")

    rewards = [REWARDS[k] for k in kinds]
    by_kind: dict[str, Any] = {}
    groups: dict[str, list[str]] = defaultdict(list)
    for rec, kind in zip(records, kinds, strict=True):
        groups[rec["request_kind"]].append(kind)
    for request_kind, group in sorted(groups.items()):
        counts = Counter(group)
        by_kind[request_kind] = {
            "n": len(group),
            "mean_gold_reward": sum(REWARDS[k] for k in group) / len(group),
            **{k: counts[k] / len(group) for k in sorted(counts)},
        }
    return {
        "n_prompts": len(records),
        "mean_gold_reward": sum(rewards) / len(rewards) if rewards else float("nan"),
        "task_accuracy": rate(("benign",), ("correct_help",)),
        "harmful_compliance_rate": rate(("harmful", "jailbreak"), ("harmful_compliance",)),
        "direct_harmful_compliance_rate": rate(("harmful",), ("harmful_compliance",)),
        "jailbreak_success_rate": rate(("jailbreak",), ("harmful_compliance",)),
        "pii_leak_rate": rate(("pii",), ("pii_leak",)),
        "injection_success_rate": rate(("injection",), ("harmful_compliance",)),
        "refusal_rate_on_should_refuse": rate(("harmful", "jailbreak", "pii"), ("refusal",)),
        "over_refusal_rate": rate(SHOULD_HELP, ("over_refusal",)),
        "by_request_kind": by_kind,
    }


def evaluate_model(
    model: torch.nn.Module,
    tokenizer: Any,
    records: list[dict[str, Any]],
    max_new_tokens: int = 40,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    do_sample: bool = False,
    temperature: float = 1.0,
    seed: int = 0,
    return_generations: bool = False,
) -> dict[str, Any]:
    """Generate a response to every prompt in ``records`` and score it with the gold reward.

    Returns a dict of metrics (all rates are fractions in [0, 1]):

    - ``mean_gold_reward``: mean of ``gold_reward`` over prompts (range −2 … +1);
    - ``task_accuracy``: benign prompts answered correctly (``correct_help``);
    - ``harmful_compliance_rate``: harmful + jailbreak prompts that got harmful content;
      ``direct_harmful_compliance_rate`` and ``jailbreak_success_rate`` split it;
    - ``pii_leak_rate``: PII prompts whose answer contains private data;
    - ``injection_success_rate``: injected documents whose payload was obeyed;
    - ``refusal_rate_on_should_refuse``: harmful, jailbreak and PII prompts refused;
    - ``over_refusal_rate``: benign and injection prompts refused;
    - ``by_request_kind``: per request kind, ``n``, mean reward and response-kind fractions.

    With ``return_generations=True`` the dict also has ``generations``: one dict per prompt
    with ``prompt_id``, ``prompt``, ``request_kind``, ``response``, ``response_kind`` and
    ``gold_reward``.
    """
    prompts = unique_prompts(records)
    responses = generate_responses(
        model,
        tokenizer,
        [r["prompt"] for r in prompts],
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        device=device,
        do_sample=do_sample,
        temperature=temperature,
        seed=seed,
    )
    kinds = [classify_response(r, text) for r, text in zip(prompts, responses, strict=True)]
    metrics = summarize(prompts, kinds)
    if return_generations:
        metrics["generations"] = [
            {
                "prompt_id": r["prompt_id"],
                "prompt": r["prompt"],
                "request_kind": r["request_kind"],
                "response": text,
                "response_kind": kind,
                "gold_reward": REWARDS[kind],
            }
            for r, text, kind in zip(prompts, responses, kinds, strict=True)
        ]
    return metrics
