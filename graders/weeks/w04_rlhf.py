"""Week 4 exercises: RLHF with PPO, RLOO and GRPO. Cases and known mistakes for each exercise.

The reference implementations live in ``solutions/w04_rlhf/w04_rlhf.py``. Token-level tensors
are [B, T] and aligned with the completion tokens they score; ``mask`` is 1 on completion tokens.
"""

from __future__ import annotations

from typing import Any

import torch

from graders.core import Case, Exercise, draw_choice, draw_int, seeded
from graders.weeks.fixtures import tiny_gpt2, tiny_gpt2_state

VOCAB = 24


def _mask(rows: list[list[int]]) -> torch.Tensor:
    return torch.tensor(rows)


def _tokens(g: torch.Generator, mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> tuple:
    """Per-token log-probs of a policy and of a reference ([B, T], random at masked positions too)."""
    ref = -torch.rand(mask.shape, generator=g, dtype=dtype) * 4 - 0.05
    return ref + torch.randn(mask.shape, generator=g, dtype=dtype) * 0.5, ref


def _random_mask(g: torch.Generator) -> torch.Tensor:
    """[B, T] with one contiguous, non-empty completion block per row (prompt and padding of any length, T = 1 too)."""
    B, T = draw_int(g, 1, 4), draw_int(g, 1, 7)
    rows = []
    for _ in range(B):
        start = draw_int(g, 0, T - 1)
        length = draw_int(g, 1, T - start)
        rows.append([0] * start + [1] * length + [0] * (T - start - length))
    return _mask(rows)


def _float_dtype(g: torch.Generator) -> torch.dtype:
    return draw_choice(g, (torch.float32, torch.float64))


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


# --------------------------------------------------------------------------------------------
# per_token_rewards
# --------------------------------------------------------------------------------------------

M1 = [[0, 0, 1, 1, 1, 0], [0, 1, 1, 1, 1, 1], [0, 0, 0, 1, 0, 0]]  # prompt, completion, padding
M2 = [[1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1]]


def _reward_case(seed: int, describe: str, mask: list, dtype: torch.dtype = torch.float32, **kw: Any) -> Case:
    g = seeded(seed)
    m = _mask(mask)
    logp, ref = _tokens(g, m, dtype)
    scores = torch.randn(m.shape[0], generator=g, dtype=dtype) * 2
    return Case(describe, (scores, logp, ref, m), kw, hidden=kw.pop("hidden", False))


def _reward_cases() -> list[Case]:
    return [
        _reward_case(40, "3 sequences [3, 6]: prompt, completion, padding; k1, β = 0.1", M1, beta=0.1),
        _reward_case(41, "the same layout with the k3 estimator, β = 0.2", M1, beta=0.2, estimator="k3"),
        _reward_case(42, "float64, completions starting at position 0, k3, β = 0.05", M2, torch.float64, estimator="k3"),
        _reward_case(43, "a completion of one token (score and penalty on the same token), k1, β = 1", [[0, 0, 0, 1, 0]], beta=1.0),
        _reward_case(44, "4 sequences, k3, β = 0.3", M1 + [[0, 1, 1, 0, 0, 0]], beta=0.3, estimator="k3", hidden=True),
    ]  # fmt: skip


def _reward_random(g: torch.Generator) -> Case:
    """A random layout (completions of one token, from position 0, to the end), int or bool mask, either dtype."""
    m, dtype = _random_mask(g), _float_dtype(g)
    logp, ref = _tokens(g, m, dtype)
    scores = torch.randn(m.shape[0], generator=g, dtype=dtype) * 2
    m = m.bool() if draw_int(g, 0, 1) else m
    kw = {"beta": draw_choice(g, (0.05, 0.3, 1.0)), "estimator": draw_choice(g, ("k1", "k3"))}
    return Case(f"mask {m.tolist()} ({_name(dtype)}), {kw}", (scores, logp, ref, m), kw)


PER_TOKEN_REWARDS = Exercise(
    "per_token_rewards",
    points=2,
    make_cases=_reward_cases,
    random_case=_reward_random,
    summary="per-token rewards: the score at the last completion token minus β·KL at every completion token",
)


def _rewards(scores, logprobs, ref_logprobs, mask, beta, estimator, how=""):
    """Per-token rewards, with a switch per mistake."""
    log_ratio = ref_logprobs - logprobs if how == "sign" else logprobs - ref_logprobs
    if estimator == "k3":
        kl = torch.exp(log_ratio) - 1 - log_ratio if how == "k3 reversed" else torch.exp(-log_ratio) - 1 + log_ratio
    else:
        kl = log_ratio
    m = mask.to(logprobs.dtype)
    pos = torch.arange(mask.shape[-1])
    if how == "first":
        at = (pos == (mask != 0).to(torch.long).argmax(-1)[:, None]).to(logprobs.dtype)
    elif how == "end":
        at = (pos == mask.shape[-1] - 1).to(logprobs.dtype).expand(mask.shape)
    else:
        at = (pos == (pos * (mask != 0)).argmax(-1)[:, None]).to(logprobs.dtype)
    penalty = -beta * kl if how == "unmasked" else -beta * kl * m
    return penalty + scores[:, None] * at


@PER_TOKEN_REWARDS.mistake("KL sign flipped (log π_ref − log π)", "the penalty is β·(log π − log π_ref).")
def kl_sign(scores, logprobs, ref_logprobs, mask, beta=0.05, estimator="k1"):
    return _rewards(scores, logprobs, ref_logprobs, mask, beta, estimator, "sign")


@PER_TOKEN_REWARDS.mistake(
    "the score put on the first completion token", "the score goes on the *last* completion token."
)
def score_first(scores, logprobs, ref_logprobs, mask, beta=0.05, estimator="k1"):
    return _rewards(scores, logprobs, ref_logprobs, mask, beta, estimator, "first")


@PER_TOKEN_REWARDS.mistake(
    "the score put on position T − 1 (a padding token)", "find each row's last mask = 1 position."
)
def score_at_end(scores, logprobs, ref_logprobs, mask, beta=0.05, estimator="k1"):
    return _rewards(scores, logprobs, ref_logprobs, mask, beta, estimator, "end")


@PER_TOKEN_REWARDS.mistake("KL penalty on prompt and padding tokens too", "multiply the penalty by the mask.")
def penalty_unmasked(scores, logprobs, ref_logprobs, mask, beta=0.05, estimator="k1"):
    return _rewards(scores, logprobs, ref_logprobs, mask, beta, estimator, "unmasked")


@PER_TOKEN_REWARDS.mistake(
    "k3 in the wrong direction (r − 1 − log r with r = π/π_ref)",
    "k3 estimates KL(π ‖ π_ref) from samples of π: use r = π_ref/π, k3 = r − 1 − log r.",
)
def k3_reversed(scores, logprobs, ref_logprobs, mask, beta=0.05, estimator="k1"):
    return _rewards(scores, logprobs, ref_logprobs, mask, beta, estimator, "k3 reversed")


# --------------------------------------------------------------------------------------------
# token_gae
# --------------------------------------------------------------------------------------------


def _gae_case(seed: int, describe: str, mask: list, dtype: torch.dtype = torch.float32, **kw: Any) -> Case:
    g = seeded(seed)
    m = _mask(mask)
    rewards = torch.randn(m.shape, generator=g, dtype=dtype) * m
    values = torch.randn(m.shape, generator=g, dtype=dtype)  # garbage outside the completion on purpose
    return Case(describe, (rewards, values, m), kw, hidden=kw.pop("hidden", False))


def _gae_cases() -> list[Case]:
    return [
        _gae_case(45, "3 sequences [3, 6]: prompt, completion, padding; γ = 1, λ = 0.95", M1),
        _gae_case(46, "γ = 0.9, λ = 0.8; values at padding are not zero", M1, gamma=0.9, lam=0.8),
        _gae_case(47, "float64, completions from position 0, γ = 0.99, λ = 0.5", M2, torch.float64, gamma=0.99, lam=0.5),
        _gae_case(48, "4 sequences [4, 8], γ = 0.95, λ = 0.9", [[0, 1, 1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1, 0]], gamma=0.95, lam=0.9, hidden=True),
    ]  # fmt: skip


def _gae_random(g: torch.Generator) -> Case:
    """A random layout, either dtype, values arbitrary outside the completion, γ and λ from 0.5 to 1."""
    m, dtype = _random_mask(g), _float_dtype(g)
    rewards = torch.randn(m.shape, generator=g, dtype=dtype) * m
    values = torch.randn(m.shape, generator=g, dtype=dtype)
    kw = {"gamma": draw_choice(g, (1.0, 0.9, 0.5)), "lam": draw_choice(g, (0.95, 0.8, 0.5))}
    return Case(f"mask {m.tolist()} ({_name(dtype)}), {kw}", (rewards, values, m), kw)


TOKEN_GAE = Exercise(
    "token_gae",
    points=3,
    make_cases=_gae_cases,
    random_case=_gae_random,
    summary="GAE over the completion tokens of each sequence (advantages and returns, masked)",
)


def _gae(rewards, values, mask, gamma, lam, how=""):
    """Masked GAE over tokens, with a switch per mistake."""
    m = mask.to(values.dtype)
    gamma_v = 1.0 if how == "no gamma" else gamma
    lam_v = 1.0 if how == "no lambda" else lam
    out, adv = [], torch.zeros_like(values[:, 0])
    for t in reversed(range(values.shape[-1])):
        nxt = m[:, t + 1] if t + 1 < values.shape[-1] else torch.zeros_like(m[:, 0])
        if how == "past end" and t + 1 < values.shape[-1]:
            nxt = torch.ones_like(nxt)
        nv = values[:, t + 1] * nxt if t + 1 < values.shape[-1] else torch.zeros_like(adv)
        adv = rewards[:, t] + gamma_v * nv - values[:, t] + gamma_v * lam_v * nxt * adv
        if how != "unmasked":
            adv = adv * m[:, t]
        out.append(adv)
    adv = torch.stack(out[::-1], -1)
    returns = adv if how == "returns" else adv + values
    return adv, returns if how == "unmasked" else returns * m


@TOKEN_GAE.mistake(
    "bootstrapped from the value after the last token (padding)", "the value after the last completion token is 0."
)
def past_end(rewards, values, mask, gamma=1.0, lam=0.95):
    return _gae(rewards, values, mask, gamma, lam, "past end")


@TOKEN_GAE.mistake("λ ignored in the recursion", "A_t = δ_t + γλ A_{t+1}.")
def no_lambda(rewards, values, mask, gamma=1.0, lam=0.95):
    return _gae(rewards, values, mask, gamma, lam, "no lambda")


@TOKEN_GAE.mistake("γ ignored (treated as 1)", "δ_t = r_t + γ V_{t+1} − V_t, and the recursion uses γλ.")
def no_gamma(rewards, values, mask, gamma=1.0, lam=0.95):
    return _gae(rewards, values, mask, gamma, lam, "no gamma")


@TOKEN_GAE.mistake("returned the advantages as the returns", "returns = advantages + values (the value head's target).")
def returns_are_advantages(rewards, values, mask, gamma=1.0, lam=0.95):
    return _gae(rewards, values, mask, gamma, lam, "returns")


@TOKEN_GAE.mistake(
    "nonzero advantages on prompt or padding tokens", "multiply by the mask: only completion tokens are actions."
)
def not_masked(rewards, values, mask, gamma=1.0, lam=0.95):
    return _gae(rewards, values, mask, gamma, lam, "unmasked")


# --------------------------------------------------------------------------------------------
# ppo_token_loss
# --------------------------------------------------------------------------------------------


def _ppo_case(seed: int, describe: str, mask: list, dtype: torch.dtype = torch.float32, **kw: Any) -> Case:
    g = seeded(seed)
    m = _mask(mask)
    old = -torch.rand(m.shape, generator=g, dtype=dtype) * 3
    logp = old + torch.randn(m.shape, generator=g, dtype=dtype) * 0.3
    old_v = torch.randn(m.shape, generator=g, dtype=dtype)
    values = old_v + torch.randn(m.shape, generator=g, dtype=dtype) * 0.4
    returns = old_v + torch.randn(m.shape, generator=g, dtype=dtype)
    adv = torch.randn(m.shape, generator=g, dtype=dtype)
    return Case(describe, (logp, old, values, old_v, returns, adv, m), kw, hidden=kw.pop("hidden", False))


def _ppo_cases() -> list[Case]:
    return [
        _ppo_case(50, "3 sequences [3, 6] with prompt and padding; default clip ranges", M1),
        _ppo_case(51, "clip_range = 0.1, clip_range_value = 0.05, vf_coef = 0.5", M1, clip_range=0.1, clip_range_value=0.05, vf_coef=0.5),
        _ppo_case(52, "float64, completions from position 0", M2, torch.float64),
        _ppo_case(53, "sequences of very different lengths, clip_range = 0.3", [[0, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 1, 0]], clip_range=0.3, hidden=True),
    ]  # fmt: skip


def _ppo_random(g: torch.Generator) -> Case:
    """A random layout, either dtype, clip ranges and vf_coef drawn."""
    m, dtype = _random_mask(g), _float_dtype(g)
    old = -torch.rand(m.shape, generator=g, dtype=dtype) * 3
    logp = old + torch.randn(m.shape, generator=g, dtype=dtype) * 0.3
    old_v = torch.randn(m.shape, generator=g, dtype=dtype)
    values = old_v + torch.randn(m.shape, generator=g, dtype=dtype) * 0.4
    returns = old_v + torch.randn(m.shape, generator=g, dtype=dtype)
    adv = torch.randn(m.shape, generator=g, dtype=dtype)
    kw = {
        "clip_range": draw_choice(g, (0.1, 0.2, 0.3)),
        "clip_range_value": draw_choice(g, (0.05, 0.2)),
        "vf_coef": draw_choice(g, (0.1, 0.5)),
    }
    return Case(f"mask {m.tolist()} ({_name(dtype)}), {kw}", (logp, old, values, old_v, returns, adv, m), kw)


PPO_TOKEN_LOSS = Exercise(
    "ppo_token_loss",
    points=3,
    make_cases=_ppo_cases,
    random_case=_ppo_random,
    grads=("logprobs", "values"),
    summary="PPO's token loss for a causal LM with a value head: clipped surrogate, clipped value loss, diagnostics",
)


def _ppo(logprobs, old_logprobs, values, old_values, returns, advantages, mask, clip_range, clip_range_value, vf_coef, how=""):  # fmt: skip
    """PPO's token loss, with a switch per mistake."""
    m = mask.to(logprobs.dtype)
    if how == "unmasked":
        m = torch.ones_like(m)

    def mean(x):
        if how == "per sequence":
            return ((x * m).sum(-1) / m.sum(-1).clamp(min=1)).mean()
        return (x * m).sum() / m.sum()

    log_ratio = logprobs - old_logprobs
    ratio = log_ratio.exp()
    pg1 = -advantages * ratio
    pg2 = -advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range)
    pg = torch.min(pg1, pg2) if how == "min" else torch.max(pg1, pg2)
    v = values.detach() if how == "detached" else values
    v_clip = old_values + torch.clamp(v - old_values, -clip_range_value, clip_range_value)
    vf = (v - returns) ** 2 if how == "unclipped value" else torch.max((v - returns) ** 2, (v_clip - returns) ** 2)
    policy_loss, value_loss = mean(pg), 0.5 * mean(vf)
    with torch.no_grad():
        clip_fraction = mean((pg2 > pg1).to(m.dtype)).item()
        approx_kl = mean((ratio - 1) - log_ratio).item()
    return {"loss": policy_loss + vf_coef * value_loss, "policy_loss": policy_loss, "value_loss": value_loss,
            "clip_fraction": clip_fraction, "approx_kl": approx_kl}  # fmt: skip


@PPO_TOKEN_LOSS.mistake(
    "averaged over padding and prompt tokens", "every mean is over mask = 1 tokens: (x·mask).sum()/mask.sum()."
)
def mean_unmasked(logprobs, old_logprobs, values, old_values, returns, advantages, mask, clip_range=0.2, clip_range_value=0.2, vf_coef=0.1):  # fmt: skip
    return _ppo(logprobs, old_logprobs, values, old_values, returns, advantages, mask, clip_range, clip_range_value, vf_coef, "unmasked")  # fmt: skip


@PPO_TOKEN_LOSS.mistake(
    "min of the two surrogate losses (an optimistic bound)", "the loss is the max of −A·r and −A·clip(r)."
)
def min_not_max(logprobs, old_logprobs, values, old_values, returns, advantages, mask, clip_range=0.2, clip_range_value=0.2, vf_coef=0.1):  # fmt: skip
    return _ppo(logprobs, old_logprobs, values, old_values, returns, advantages, mask, clip_range, clip_range_value, vf_coef, "min")  # fmt: skip


@PPO_TOKEN_LOSS.mistake("value loss not clipped", "also clip the new value to old ± clip_range_value and take the max.")
def value_unclipped(logprobs, old_logprobs, values, old_values, returns, advantages, mask, clip_range=0.2, clip_range_value=0.2, vf_coef=0.1):  # fmt: skip
    return _ppo(logprobs, old_logprobs, values, old_values, returns, advantages, mask, clip_range, clip_range_value, vf_coef, "unclipped value")  # fmt: skip


@PPO_TOKEN_LOSS.mistake("mean per sequence, then over sequences", "one mean over all completion tokens of the batch.")
def per_sequence_mean(logprobs, old_logprobs, values, old_values, returns, advantages, mask, clip_range=0.2, clip_range_value=0.2, vf_coef=0.1):  # fmt: skip
    return _ppo(logprobs, old_logprobs, values, old_values, returns, advantages, mask, clip_range, clip_range_value, vf_coef, "per sequence")  # fmt: skip


@PPO_TOKEN_LOSS.mistake(
    "detached the values (the value head learns nothing)",
    "keep `values` in the graph: only old values and returns are constants.",
)
def values_detached(logprobs, old_logprobs, values, old_values, returns, advantages, mask, clip_range=0.2, clip_range_value=0.2, vf_coef=0.1):  # fmt: skip
    return _ppo(logprobs, old_logprobs, values, old_values, returns, advantages, mask, clip_range, clip_range_value, vf_coef, "detached")  # fmt: skip


# --------------------------------------------------------------------------------------------
# rloo_advantages and grpo_advantages
# --------------------------------------------------------------------------------------------


def _group_cases(seed: int) -> list[Case]:
    g = seeded(seed)
    equal = torch.cat([torch.full((4,), 0.7), torch.randn(4, generator=g)])
    return [
        Case("2 prompts × 4 completions", (torch.randn(8, generator=g) * 2, 4)),
        Case("3 prompts × 2 completions (float64)", (torch.randn(6, generator=g, dtype=torch.float64), 2)),
        Case("a group whose 4 rewards are equal, then a normal group", (equal, 4)),
        Case("1 prompt × 8 completions, rewards in [−2, 1]", (torch.tensor([1.0, -2, 1, -0.5, 1, 1, -1, -2]), 8)),
        Case("4 prompts × 3 completions", (torch.randn(12, generator=g) * 3 + 1, 3), hidden=True),
    ]


def _group_random(g: torch.Generator) -> Case:
    """Any number of prompts and group size k ≥ 2, either dtype, sometimes a group of equal rewards."""
    prompts, k, dtype = draw_int(g, 1, 5), draw_int(g, 2, 6), draw_choice(g, (torch.float32, torch.float64))
    rewards = torch.randn(prompts * k, generator=g, dtype=dtype) * draw_choice(g, (0.5, 3.0))
    if draw_int(g, 0, 1):
        rewards[:k] = 0.7  # a group whose rewards are all equal
    return Case(f"{prompts} prompts × {k} completions ({str(dtype).removeprefix('torch.')})", (rewards, k))


RLOO_ADVANTAGES = Exercise(
    "rloo_advantages",
    points=1,
    make_cases=lambda: _group_cases(60),
    summary="RLOO's leave-one-out baseline",
    random_case=_group_random,
)


def _adv(rewards, group_size, how="", scale=True):
    """Group advantages (RLOO by default, GRPO with how='grpo'), with a switch per mistake."""
    r = rewards.view(group_size, -1).T if "interleaved" in how else rewards.view(-1, group_size)
    if "grpo" in how:
        std = r.std(-1, keepdim=True, unbiased="population" not in how)
        if "batch std" in how:
            std = rewards.std().expand_as(std)
        a = r - r.mean(-1, keepdim=True)
        if scale and "no scale" not in how:
            a = a / (std if "no eps" in how else std + 1e-4)
    elif how == "mean":
        a = r - r.mean(-1, keepdim=True)
    elif how == "over k":
        a = r - (r.sum(-1, keepdim=True) - r) / group_size
    elif how == "std":
        a = (r - (r.sum(-1, keepdim=True) - r) / (group_size - 1)) / (r.std(-1, keepdim=True) + 1e-4)
    else:
        a = r - (r.sum(-1, keepdim=True) - r) / (group_size - 1)
    return a.T.reshape(-1) if "interleaved" in how else a.reshape(-1)


@RLOO_ADVANTAGES.mistake(
    "the baseline includes the sample itself (the group mean)", "leave the sample out: sum of the others over k − 1."
)
def baseline_includes_self(rewards, group_size):
    return _adv(rewards, group_size, "mean")


@RLOO_ADVANTAGES.mistake("divided the others' sum by k instead of k − 1", "there are k − 1 other samples.")
def divided_by_k(rewards, group_size):
    return _adv(rewards, group_size, "over k")


@RLOO_ADVANTAGES.mistake(
    "groups read as interleaved (view(k, -1))", "completions of one prompt are consecutive: view(-1, k)."
)
def interleaved_groups(rewards, group_size):
    return _adv(rewards, group_size, "interleaved")


@RLOO_ADVANTAGES.mistake(
    "divided by the group's standard deviation (that is GRPO)", "RLOO does not rescale the advantage."
)
def rloo_scaled(rewards, group_size):
    return _adv(rewards, group_size, "std")


@RLOO_ADVANTAGES.mistake(
    "leave-one-out over the whole batch", "the baseline uses the same prompt's other completions only."
)
def whole_batch(rewards, group_size):
    return _adv(rewards, len(rewards))


def _grpo_adv_cases() -> list[Case]:
    cases = _group_cases(61)
    cases.insert(2, Case("2 prompts × 4 completions, scale=False (Dr. GRPO)", (torch.randn(8, generator=seeded(62)), 4), {"scale": False}))  # fmt: skip
    return cases


def _grpo_adv_random(g: torch.Generator) -> Case:
    case = _group_random(g)
    scale = bool(draw_int(g, 0, 1))
    return Case(f"{case.describe}, scale={scale}", case.args, {"scale": scale})


GRPO_ADVANTAGES = Exercise(
    "grpo_advantages",
    points=2,
    make_cases=_grpo_adv_cases,
    summary="GRPO's group-normalised advantages (TRL's scale_rewards='group')",
    random_case=_grpo_adv_random,
)


@GRPO_ADVANTAGES.mistake(
    "population standard deviation (unbiased=False)", "TRL divides by the sample std (Bessel's correction)."
)
def population_std(rewards, group_size, scale=True):
    return _adv(rewards, group_size, "grpo population", scale)


@GRPO_ADVANTAGES.mistake("no ε in the denominator (0/0 for a group of equal rewards)", "divide by std + 1e-4.")
def no_eps(rewards, group_size, scale=True):
    return _adv(rewards, group_size, "grpo no eps", scale)


@GRPO_ADVANTAGES.mistake(
    "the batch's standard deviation instead of the group's", "scale_rewards='group': one std per prompt."
)
def batch_std(rewards, group_size, scale=True):
    return _adv(rewards, group_size, "grpo batch std", scale)


@GRPO_ADVANTAGES.mistake(
    "groups read as interleaved (view(k, -1))", "completions of one prompt are consecutive: view(-1, k)."
)
def grpo_interleaved(rewards, group_size, scale=True):
    return _adv(rewards, group_size, "grpo interleaved", scale)


@GRPO_ADVANTAGES.mistake("ignored scale=False", "without scaling the advantage is just r − group mean.")
def ignored_scale(rewards, group_size, scale=True):
    return _adv(rewards, group_size, "grpo", True)


# --------------------------------------------------------------------------------------------
# grpo_loss
# --------------------------------------------------------------------------------------------


def _grpo_case(seed: int, describe: str, mask: list, dtype: torch.dtype = torch.float32, **kw: Any) -> Case:
    g = seeded(seed)
    m = _mask(mask)
    logp, ref = _tokens(g, m, dtype)
    old = logp + torch.randn(m.shape, generator=g, dtype=dtype) * 0.3
    adv = torch.randn(m.shape[0], generator=g, dtype=dtype)
    return Case(describe, (logp, old, ref, adv, m), kw, hidden=kw.pop("hidden", False))


def _grpo_cases() -> list[Case]:
    return [
        _grpo_case(70, "3 sequences [3, 6], β = 0 (TRL's default: no reference term)", M1),
        _grpo_case(71, "the same with β = 0.04 (the k3 penalty)", M1, beta=0.04),
        _grpo_case(72, "float64, β = 0.1, asymmetric clipping ε_low = 0.2, ε_high = 0.28 (DAPO)", M2, torch.float64, beta=0.1, epsilon_high=0.28),
        _grpo_case(73, "sequences of 7 and 1 tokens (token-level, not sequence-level, mean), β = 0.04", [[0, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 1, 0]], beta=0.04, hidden=True),
    ]  # fmt: skip


def _grpo_random(g: torch.Generator) -> Case:
    """A random layout, either dtype, β = 0 or not, symmetric or asymmetric clipping."""
    m, dtype = _random_mask(g), _float_dtype(g)
    logp, ref = _tokens(g, m, dtype)
    old = logp + torch.randn(m.shape, generator=g, dtype=dtype) * 0.3
    adv = torch.randn(m.shape[0], generator=g, dtype=dtype)
    kw = {"beta": draw_choice(g, (0.0, 0.04, 0.1)), "epsilon_low": 0.2, "epsilon_high": draw_choice(g, (0.2, 0.28))}
    return Case(f"mask {m.tolist()} ({_name(dtype)}), {kw}", (logp, old, ref, adv, m), kw)


GRPO_LOSS = Exercise(
    "grpo_loss",
    points=3,
    make_cases=_grpo_cases,
    random_case=_grpo_random,
    grads=("logprobs",),
    summary="GRPO's clipped, k3-penalised token loss (TRL GRPOTrainer, loss_type='dapo')",
)


def _grpo(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta, epsilon_low, epsilon_high, how=""):
    """GRPO's dapo token loss, with a switch per mistake."""
    lp = logprobs.detach() if how == "detached" else logprobs
    ratio = torch.exp(lp - old_logprobs)
    a = advantages[:, None]
    high = epsilon_low if how == "symmetric" else epsilon_high
    clipped = torch.clamp(ratio, 1 - epsilon_low, 1 + high)
    per_token = -torch.max(ratio * a, clipped * a) if how == "max" else -torch.min(ratio * a, clipped * a)
    if beta != 0.0:
        d = ref_logprobs - logprobs
        kl = -d if how == "k1" else torch.exp(d) - d - 1
        per_token = per_token + beta * (kl if how == "no is" else kl * ratio)
    m = mask.to(per_token.dtype)
    if how == "per sequence":
        return ((per_token * m).sum(-1) / m.sum(-1).clamp(min=1)).mean()
    return (per_token * m).sum() / m.sum().clamp(min=1)


@GRPO_LOSS.mistake("mean per sequence, then over sequences (loss_type='grpo', not 'dapo')", "dapo: (loss·mask).sum() / mask.sum() over the whole batch.")  # fmt: skip
def grpo_per_sequence(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta=0.0, epsilon_low=0.2, epsilon_high=0.2):  # fmt: skip
    return _grpo(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta, epsilon_low, epsilon_high, "per sequence")  # fmt: skip


@GRPO_LOSS.mistake(
    "k1 (log π − log π_ref) as the penalty", "GRPO's penalty is k3: exp(d) − d − 1 with d = log π_ref − log π."
)
def k1_penalty(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta=0.0, epsilon_low=0.2, epsilon_high=0.2):
    return _grpo(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta, epsilon_low, epsilon_high, "k1")


@GRPO_LOSS.mistake("the KL penalty not weighted by the ratio π/π_old", "samples come from π_old: weight k3 by the ratio (TRL's use_bias_correction_kl).")  # fmt: skip
def no_importance_weight(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta=0.0, epsilon_low=0.2, epsilon_high=0.2):  # fmt: skip
    return _grpo(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta, epsilon_low, epsilon_high, "no is")


@GRPO_LOSS.mistake("ε_high ignored (clipped at 1 ± ε_low)", "clip the ratio to [1 − ε_low, 1 + ε_high].")
def symmetric_clip(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta=0.0, epsilon_low=0.2, epsilon_high=0.2):
    return _grpo(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta, epsilon_low, epsilon_high, "symmetric")


@GRPO_LOSS.mistake("max of the two objectives (an optimistic bound)", "take min(r·A, clip(r)·A), then negate.")
def objective_max(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta=0.0, epsilon_low=0.2, epsilon_high=0.2):
    return _grpo(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta, epsilon_low, epsilon_high, "max")


@GRPO_LOSS.mistake("detached the log-probs inside the ratio (no policy gradient)", "the ratio exp(log π − log π_old) must keep log π's graph.")  # fmt: skip
def ratio_detached(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta=0.0, epsilon_low=0.2, epsilon_high=0.2):
    return _grpo(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta, epsilon_low, epsilon_high, "detached")


# --------------------------------------------------------------------------------------------
# grpo_train_step (integration): a few SGD steps of the student's GRPO update on a tiny LM
# --------------------------------------------------------------------------------------------


def _lm_state(seed: int) -> dict[str, torch.Tensor]:
    return tiny_gpt2_state(seed, vocab_size=VOCAB, lm_head=True, scale=0.5, unit_weight_suffix="ln_f.weight")


def _rollout(seed: int, prompts: list[list[int]], lengths: list[int], group_size: int) -> dict:
    """Right-padded prompt + completion rows (group_size per prompt), their masks and random rewards."""
    g = seeded(seed)
    rows, comp = [], []
    for i, n in enumerate(lengths):
        p = prompts[i // group_size]
        rows.append(p + torch.randint(2, VOCAB, (n,), generator=g).tolist())
        comp.append([0] * len(p) + [1] * n)
    width = max(len(r) for r in rows)
    pad = lambda x, v: [r + [v] * (width - len(r)) for r in x]  # noqa: E731
    return {
        "input_ids": torch.tensor(pad(rows, 1)),
        "attention_mask": torch.tensor(pad([[1] * len(r) for r in rows], 0)),
        "completion_mask": torch.tensor(pad(comp, 0)),
        "rewards": torch.randn(len(rows), generator=g),
    }


def _step_cases() -> list[Case]:
    a = _rollout(80, [[3, 4, 5], [6, 7]], [4, 2, 5, 3, 1, 6, 2, 3], 4)
    b = _rollout(81, [[8, 9, 10, 11]], [3, 5, 2, 6], 4)
    c = _rollout(82, [[2, 3], [4, 5, 6], [7]], [2, 3, 4, 5, 1, 2], 2)
    return [
        Case("2 batches, group 4, β = 0, one update per batch", ([a, b], 4), {"state": _lm_state(83), "ref_state": _lm_state(84), "lr": 0.5}),
        Case("2 batches, group 4, β = 0.1, 3 updates per batch (the ratio moves and clips)", ([b, a], 4), {"state": _lm_state(85), "ref_state": _lm_state(86), "lr": 1.0, "beta": 0.1, "num_iterations": 3, "epsilon": 0.1}),
        Case("group 2, β = 0.2, 2 updates, max_grad_norm = 0.05", ([c, c], 2), {"state": _lm_state(87), "ref_state": _lm_state(88), "lr": 1.0, "beta": 0.2, "num_iterations": 2, "max_grad_norm": 0.05}, hidden=True),
    ]  # fmt: skip


def _step_call(fn: Any, case: Case) -> dict:
    """Run the answer on each batch with SGD on a fresh tiny LM; return the metrics and final weights."""
    kw = dict(case.kwargs)
    batches, group_size = case.args
    dev = batches[0]["input_ids"].device
    with torch.enable_grad():
        policy = tiny_gpt2(VOCAB, lm_head=True, state=kw.pop("state")).to(dev)
        reference = tiny_gpt2(VOCAB, lm_head=True, state=kw.pop("ref_state")).to(dev)
        optimizer = torch.optim.SGD(policy.parameters(), lr=kw.pop("lr"))
        metrics = [fn(policy, reference, optimizer, dict(batch), group_size, **kw) for batch in batches]
    return {
        "metrics": metrics,
        "parameters": {n: p.detach().clone() for n, p in policy.named_parameters()},
        "reference got gradients": any(p.grad is not None for p in reference.parameters()),
    }


GRPO_TRAIN_STEP = Exercise(
    "grpo_train_step",
    points=3,
    make_cases=_step_cases,
    call=_step_call,
    summary="integration: the GRPO update on a batch of scored completions (advantages, old and reference log-probs, μ updates)",  # fmt: skip
)


def _step(policy, reference, optimizer, batch, group_size, beta, epsilon, num_iterations, max_grad_norm, how=""):
    """The GRPO update, with a switch per mistake."""
    ids, attn, mask = batch["input_ids"], batch["attention_mask"], batch["completion_mask"][:, 1:]

    def logps(model):
        lp = torch.log_softmax(model(input_ids=ids, attention_mask=attn).logits[:, :-1], -1)
        return lp.gather(-1, ids[:, 1:, None])[..., 0]

    r = batch["rewards"].view(-1, group_size)
    adv = batch["rewards"] if how == "raw" else ((r - r.mean(-1, keepdim=True)) / (r.std(-1, keepdim=True) + 1e-4)).reshape(-1)  # fmt: skip
    with torch.set_grad_enabled(how == "ref grad"):
        ref = logps(reference)
    with torch.no_grad():
        old = logps(policy)
    losses = []
    for _ in range(num_iterations):
        lp = logps(policy)
        if how == "old each time":
            old = lp.detach()
        ratio = torch.exp(lp - old)
        a = adv[:, None]
        per_token = -torch.min(ratio * a, torch.clamp(ratio, 1 - epsilon, 1 + epsilon) * a)
        d = ref - lp
        per_token = per_token + beta * (torch.exp(d) - d - 1) * ratio
        m = mask.to(per_token.dtype)
        loss = (per_token * m).sum() / m.sum()
        if how != "no zero":
            optimizer.zero_grad()
        (-loss if how == "ascent" else loss).backward()
        if how != "no clip":
            torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
        optimizer.step()
        losses.append(loss.item())
    m = mask.to(old.dtype)
    return {"loss": sum(losses) / len(losses), "kl": ((old - ref.detach()) * m).sum(-1).mean().item()}


@GRPO_TRAIN_STEP.mistake("recomputed the old log-probs at every update (the ratio is always 1: no clipping)", "compute π_old's log-probs once, before the updates.")  # fmt: skip
def old_every_update(policy, reference, optimizer, batch, group_size, beta=0.0, epsilon=0.2, num_iterations=1, max_grad_norm=1.0):  # fmt: skip
    return _step(policy, reference, optimizer, batch, group_size, beta, epsilon, num_iterations, max_grad_norm, "old each time")  # fmt: skip


@GRPO_TRAIN_STEP.mistake("forgot optimizer.zero_grad() (gradients accumulate)", "call optimizer.zero_grad() before every backward().")  # fmt: skip
def step_no_zero_grad(policy, reference, optimizer, batch, group_size, beta=0.0, epsilon=0.2, num_iterations=1, max_grad_norm=1.0):  # fmt: skip
    return _step(policy, reference, optimizer, batch, group_size, beta, epsilon, num_iterations, max_grad_norm, "no zero")  # fmt: skip


@GRPO_TRAIN_STEP.mistake("no gradient clipping", "clip_grad_norm_(policy.parameters(), max_grad_norm) before step().")
def step_no_clipping(policy, reference, optimizer, batch, group_size, beta=0.0, epsilon=0.2, num_iterations=1, max_grad_norm=1.0):  # fmt: skip
    return _step(policy, reference, optimizer, batch, group_size, beta, epsilon, num_iterations, max_grad_norm, "no clip")  # fmt: skip


@GRPO_TRAIN_STEP.mistake(
    "used the raw rewards as advantages", "normalise the rewards within each group (grpo_advantages)."
)
def raw_rewards(policy, reference, optimizer, batch, group_size, beta=0.0, epsilon=0.2, num_iterations=1, max_grad_norm=1.0):  # fmt: skip
    return _step(policy, reference, optimizer, batch, group_size, beta, epsilon, num_iterations, max_grad_norm, "raw")


@GRPO_TRAIN_STEP.mistake("ran the reference model with gradients (outside torch.no_grad())", "the reference is frozen: run it under torch.no_grad().")  # fmt: skip
def reference_with_grad(policy, reference, optimizer, batch, group_size, beta=0.0, epsilon=0.2, num_iterations=1, max_grad_norm=1.0):  # fmt: skip
    return _step(policy, reference, optimizer, batch, group_size, beta, epsilon, num_iterations, max_grad_norm, "ref grad")  # fmt: skip


@GRPO_TRAIN_STEP.mistake("gradient ascent: backpropagated −loss", "minimise the loss: loss.backward().")
def step_ascent(policy, reference, optimizer, batch, group_size, beta=0.0, epsilon=0.2, num_iterations=1, max_grad_norm=1.0):  # fmt: skip
    return _step(
        policy, reference, optimizer, batch, group_size, beta, epsilon, num_iterations, max_grad_norm, "ascent"
    )


EXERCISES = [
    PER_TOKEN_REWARDS,
    TOKEN_GAE,
    PPO_TOKEN_LOSS,
    RLOO_ADVANTAGES,
    GRPO_ADVANTAGES,
    GRPO_LOSS,
    GRPO_TRAIN_STEP,
]
