"""Week 2 exercises: RL foundations (returns, REINFORCE, truncation, GAE, PPO). Cases and known mistakes.

The reference implementations live in ``solutions/w02_rl_foundations/w02_rl_foundations.py``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn

from graders.core import SKLEARN_SCORERS, Case, Exercise, draw_choice, draw_int, seeded


def _rollout(g: torch.Generator, t: int, n: int, p_done: float = 0.25, dtype: torch.dtype = torch.float32) -> tuple:
    """Rewards, values, dones [t, n] and last values [n] of a made-up rollout (dones as floats)."""
    rewards = torch.rand(t, n, generator=g, dtype=dtype) * 2 - 0.5
    values = torch.randn(t, n, generator=g, dtype=dtype) * 2
    dones = (torch.rand(t, n, generator=g) < p_done).to(dtype)
    return rewards, values, dones, torch.randn(n, generator=g, dtype=dtype) * 2


# --------------------------------------------------------------------------------------------
# discounted_returns
# --------------------------------------------------------------------------------------------


def _returns_cases() -> list[Case]:
    g = seeded(20)
    r1, _, d1, _ = _rollout(g, 8, 3)
    r2, _, d2, _ = _rollout(g, 12, 4, 0.3, torch.float64)
    r3, _, d3, _ = _rollout(g, 10, 2, 0.2)
    return [
        Case("rewards [6, 2], no episode ends, γ = 0.9", (torch.rand(6, 2, generator=g), torch.zeros(6, 2), 0.9)),
        Case("rewards [8, 3] with episode ends, γ = 0.99", (r1, d1, 0.99)),
        Case("an episode ends at the last step, bool dones, γ = 0.5", (torch.ones(5, 2), torch.tensor([[0, 0], [1, 0], [0, 0], [0, 0], [1, 0]]).bool(), 0.5)),
        Case("a rollout of one step", (torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 0.0]]), 0.9)),
        Case("float64 rewards [12, 4] with episode ends, γ = 0.8", (r2, d2, 0.8), hidden=True),
        Case("rewards [10, 2] with episode ends, γ = 1 (undiscounted)", (r3, d3, 1.0), hidden=True),
    ]  # fmt: skip


def _dones_as(dones: torch.Tensor, kind: str) -> torch.Tensor:
    """0/1 dones as the contract allows them: bool, 0/1 int64, or 0/1 floats."""
    return dones.bool() if kind == "bool" else dones.long() if kind == "int64" else dones


def _random_rollout(g: torch.Generator) -> tuple[tuple, str]:
    """A rollout drawn from the contract: [T, N] of any small size, float32/float64, dones of any kind."""
    t, n = draw_int(g, 1, 12), draw_int(g, 1, 4)
    dtype, kind = draw_choice(g, (torch.float32, torch.float64)), draw_choice(g, ("bool", "int64", "float"))
    rewards, values, dones, last = _rollout(g, t, n, draw_choice(g, (0.0, 0.2, 0.5)), dtype)
    dones[-1] = (torch.rand(n, generator=g) < 0.5).to(dtype)  # episodes ending exactly at the rollout's end
    desc = f"rollout [{t}, {n}], {str(dtype).removeprefix('torch.')}, {kind} dones"
    return (rewards, values, _dones_as(dones, kind), last), desc


def _returns_random(g: torch.Generator) -> Case:
    (rewards, _, dones, _), desc = _random_rollout(g)
    gamma = draw_choice(g, (0.0, 0.5, 0.9, 0.99, 1.0))
    return Case(f"{desc}, γ = {gamma}", (rewards, dones, gamma))


DISCOUNTED_RETURNS = Exercise(
    "discounted_returns",
    points=1,
    make_cases=_returns_cases,
    random_case=_returns_random,
    summary="discounted returns-to-go, reset at episode ends",
)


@DISCOUNTED_RETURNS.mistake(
    "ignored the episode ends (returns leak across episodes)", "multiply the running return by (1 − dones[t])."
)
def returns_ignore_dones(rewards, dones, gamma):
    out, running = torch.zeros_like(rewards), torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


@DISCOUNTED_RETURNS.mistake(
    "reset one step late (used dones[t + 1])", "dones[t] says that the episode ended with step t itself."
)
def returns_reset_late(rewards, dones, gamma):
    d = torch.cat([dones.to(rewards.dtype)[1:], torch.zeros_like(rewards[:1])])
    out, running = torch.zeros_like(rewards), torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        running = rewards[t] + gamma * (1 - d[t]) * running
        out[t] = running
    return out


@DISCOUNTED_RETURNS.mistake(
    "zeroed the reward of an episode's last step", "the last step's reward counts; only what follows it is cut."
)
def returns_drop_last_reward(rewards, dones, gamma):
    keep = 1 - dones.to(rewards.dtype)
    out, running = torch.zeros_like(rewards), torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        running = keep[t] * (rewards[t] + gamma * running)
        out[t] = running
    return out


@DISCOUNTED_RETURNS.mistake(
    "accumulated forwards (sum of past rewards)", "a return sums the rewards that follow step t: go backwards."
)
def returns_forwards(rewards, dones, gamma):
    keep = 1 - dones.to(rewards.dtype)
    out, running = torch.zeros_like(rewards), torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0]):
        running = rewards[t] + gamma * running
        out[t] = running
        running = running * keep[t]
    return out


@DISCOUNTED_RETURNS.mistake("did not discount (ignored γ)", "G_t = r_t + γ (1 − d_t) G_{t+1}.")
def returns_undiscounted(rewards, dones, gamma):
    keep = 1 - dones.to(rewards.dtype)
    out, running = torch.zeros_like(rewards), torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        running = rewards[t] + keep[t] * running
        out[t] = running
    return out


@DISCOUNTED_RETURNS.mistake(
    "discounted from the start of the rollout (γ^k, not γ^(k − t))",
    "discount from step t: the first reward of G_t has weight 1.",
)
def returns_discount_from_start(rewards, dones, gamma):
    keep = 1 - dones.to(rewards.dtype)
    out, running = torch.zeros_like(rewards), torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        running = gamma**t * rewards[t] + keep[t] * running
        out[t] = running
    return out


# --------------------------------------------------------------------------------------------
# reinforce_loss
# --------------------------------------------------------------------------------------------


def _pg_case(g: torch.Generator, describe: str, b: int, a: int, scale: float = 1.0, **kw: Any) -> Case:
    dtype = kw.pop("dtype", torch.float32)
    logits = torch.randn(b, a, generator=g, dtype=dtype) * scale
    actions = torch.randint(0, a, (b,), generator=g)
    returns = torch.rand(b, generator=g, dtype=dtype) * 20
    baseline = returns + torch.randn(b, generator=g, dtype=dtype) * 3
    return Case(describe, (logits, actions, returns, baseline), **kw)


def _reinforce_cases() -> list[Case]:
    g = seeded(21)
    return [
        _pg_case(g, "8 states, 2 actions", 8, 2),
        _pg_case(g, "a batch of one state, 4 actions", 1, 4),
        _pg_case(g, "16 states, 5 actions, logits near ±100", 16, 5, 100),
        _pg_case(g, "float64, 6 states, 3 actions", 6, 3, dtype=torch.float64),
        _pg_case(g, "32 states, 3 actions (hidden)", 32, 3, 3, hidden=True),
    ]


REINFORCE_LOSS = Exercise(
    "reinforce_loss",
    points=2,
    make_cases=_reinforce_cases,
    grads=("logits",),
    no_grads=("returns", "baseline"),  # the text: the baseline gets no gradient from this loss
    forbidden=("cross_entropy", "nll_loss", "CrossEntropyLoss", "NLLLoss"),
    summary="the REINFORCE loss with a baseline",
    random_case=lambda g: _pg_case(
        g,
        "random batch",
        draw_int(g, 1, 12),
        draw_int(g, 2, 6),
        draw_choice(g, (1.0, 30.0)),
        dtype=draw_choice(g, (torch.float32, torch.float64)),
    ),
)


@REINFORCE_LOSS.mistake(
    "did not detach the baseline (the loss also trains the critic towards the returns' sign)",
    "the baseline is a constant here: weight by (returns − baseline).detach().",
)
def reinforce_baseline_attached(logits, actions, returns, baseline):
    logp = torch.log_softmax(logits, -1).gather(-1, actions[:, None])[:, 0]
    return -(logp * (returns - baseline)).mean()


@REINFORCE_LOSS.mistake(
    "sign flip (maximised the loss)",
    "the loss is −mean(log π · (G − b)): minimising it raises good actions' probability.",
)
def reinforce_sign_flip(logits, actions, returns, baseline):
    logp = torch.log_softmax(logits, -1).gather(-1, actions[:, None])[:, 0]
    return (logp * (returns - baseline)).mean()


@REINFORCE_LOSS.mistake("ignored the baseline", "weight each log-probability by G − b.")
def reinforce_no_baseline(logits, actions, returns, baseline):
    logp = torch.log_softmax(logits, -1).gather(-1, actions[:, None])[:, 0]
    return -(logp * returns).mean()


@REINFORCE_LOSS.mistake("added the baseline instead of subtracting it", "the weight is G − b.")
def reinforce_baseline_added(logits, actions, returns, baseline):
    logp = torch.log_softmax(logits, -1).gather(-1, actions[:, None])[:, 0]
    return -(logp * (returns + baseline)).mean()


@REINFORCE_LOSS.mistake(
    "used probabilities instead of log-probabilities", "the score function is ∇ log π: use log_softmax."
)
def reinforce_probabilities(logits, actions, returns, baseline):
    p = torch.softmax(logits, -1).gather(-1, actions[:, None])[:, 0]
    return -(p * (returns - baseline)).mean()


@REINFORCE_LOSS.mistake("used the raw logits as log-probabilities", "normalise first: log π = log_softmax(logits).")
def reinforce_raw_logits(logits, actions, returns, baseline):
    z = logits.gather(-1, actions[:, None])[:, 0]
    return -(z * (returns - baseline)).mean()


@REINFORCE_LOSS.mistake("summed over the batch instead of averaging", "take the mean over the batch.")
def reinforce_summed(logits, actions, returns, baseline):
    logp = torch.log_softmax(logits, -1).gather(-1, actions[:, None])[:, 0]
    return -(logp * (returns - baseline)).sum()


# --------------------------------------------------------------------------------------------
# bootstrap_truncated
# --------------------------------------------------------------------------------------------


def _flags(g: torch.Generator, t: int, n: int) -> tuple:
    terminated = torch.rand(t, n, generator=g) < 0.2
    truncated = torch.rand(t, n, generator=g) < 0.25
    return terminated, truncated


def _bootstrap_cases() -> list[Case]:
    g = seeded(22)
    term1, trunc1 = _flags(g, 6, 3)
    term1[2, 1], trunc1[2, 1] = True, True  # both at once: terminal
    term2, trunc2 = _flags(g, 9, 4)
    both = torch.tensor([[True, False, True], [False, True, False]])
    return [
        Case("[6, 3] steps with terminations, truncations, and one step that is both; γ = 0.99", (torch.ones(6, 3), term1, trunc1, torch.rand(6, 3, generator=g) * 50, 0.99)),
        Case("one truncation, no termination, γ = 0.9", (torch.ones(2, 2), torch.zeros(2, 2, dtype=torch.bool), torch.tensor([[False, True], [False, False]]), torch.full((2, 2), 10.0), 0.9)),
        Case("terminated and truncated on the same steps (all terminal), γ = 0.5", (torch.ones(2, 3), both, both.clone(), torch.full((2, 3), 7.0), 0.5)),
        Case("float64 [9, 4], random flags, γ = 0.98", (torch.rand(9, 4, generator=g, dtype=torch.float64), term2, trunc2, torch.randn(9, 4, generator=g, dtype=torch.float64) * 20, 0.98), hidden=True),
    ]  # fmt: skip


def _bootstrap_random(g: torch.Generator) -> Case:
    t, n, dtype = draw_int(g, 1, 8), draw_int(g, 1, 4), draw_choice(g, (torch.float32, torch.float64))
    terminated, truncated = _flags(g, t, n)
    values = (
        torch.rand(t, n, generator=g, dtype=dtype),
        terminated,
        truncated,
        torch.randn(t, n, generator=g, dtype=dtype) * 10,
    )
    return Case(f"[{t}, {n}] {str(dtype).removeprefix('torch.')}", (*values, draw_choice(g, (0.5, 0.9, 0.99, 1.0))))


BOOTSTRAP_TRUNCATED = Exercise(
    "bootstrap_truncated",
    points=1,
    make_cases=_bootstrap_cases,
    summary="bootstrapping truncated (not terminated) steps from the final observation's value",
    random_case=_bootstrap_random,
)


@BOOTSTRAP_TRUNCATED.mistake(
    "bootstrapped steps that were also terminated",
    "a step both terminated and truncated is terminal: mask with truncated & ~terminated.",
)
def bootstrap_ignores_terminated(rewards, terminated, truncated, final_values, gamma):
    return rewards + gamma * final_values * truncated.to(rewards.dtype)


@BOOTSTRAP_TRUNCATED.mistake(
    "bootstrapped every episode end, terminations included", "a terminal state is worth 0: only truncations bootstrap."
)
def bootstrap_every_done(rewards, terminated, truncated, final_values, gamma):
    return rewards + gamma * final_values * (terminated | truncated).to(rewards.dtype)


@BOOTSTRAP_TRUNCATED.mistake(
    "forgot to discount the bootstrap value (no γ)", "the value of the next state is discounted once: + γ · V."
)
def bootstrap_no_gamma(rewards, terminated, truncated, final_values, gamma):
    return rewards + final_values * (truncated & ~terminated).to(rewards.dtype)


@BOOTSTRAP_TRUNCATED.mistake(
    "replaced the reward by the bootstrap instead of adding it", "the step's own reward still counts: r + γ · V."
)
def bootstrap_replaces_reward(rewards, terminated, truncated, final_values, gamma):
    mask = (truncated & ~terminated).to(rewards.dtype)
    return rewards * (1 - mask) + gamma * final_values * mask


@BOOTSTRAP_TRUNCATED.mistake(
    "added the bootstrap at every step (no mask)", "only truncated, non-terminal steps get + γ · V."
)
def bootstrap_everywhere(rewards, terminated, truncated, final_values, gamma):
    return rewards + gamma * final_values


@BOOTSTRAP_TRUNCATED.mistake(
    "treated truncations as terminations (returned the rewards unchanged)",
    "a truncated state is not terminal: add γ · V(final observation).",
)
def bootstrap_nothing(rewards, terminated, truncated, final_values, gamma):
    return rewards.clone()


# --------------------------------------------------------------------------------------------
# gae
# --------------------------------------------------------------------------------------------


def _gae_cases() -> list[Case]:
    g = seeded(23)
    a = _rollout(g, 8, 3)
    b = _rollout(g, 16, 4, 0.15, torch.float64)
    c = _rollout(g, 12, 2, 0.3)
    d = _rollout(g, 5, 1, 0.0)
    return [
        Case("rollout [8, 3] with episode ends, γ = 0.99, λ = 0.95", a, {"gamma": 0.99, "gae_lambda": 0.95}),
        Case("one environment, no episode end, γ = 0.9, λ = 0.8", d, {"gamma": 0.9, "gae_lambda": 0.8}),
        Case("rollout [12, 2], γ = 0.98, λ = 0 (one-step TD errors)", c, {"gamma": 0.98, "gae_lambda": 0.0}),
        Case("an episode ends at the last step (last_values must be ignored there)", (torch.ones(3, 2), torch.zeros(3, 2), torch.tensor([[0.0, 0], [0, 0], [1, 0]]), torch.tensor([100.0, 100.0])), {"gamma": 0.5, "gae_lambda": 0.5}),
        Case("float64 rollout [16, 4], default γ and λ", b, hidden=True),
        Case("rollout [12, 2], γ = 0.97, λ = 1 (Monte Carlo)", c, {"gamma": 0.97, "gae_lambda": 1.0}, hidden=True),
        Case("rollout [8, 3] with bool dones (the text allows bool or 0/1)", (*a[:2], a[2].bool(), a[3]), {"gamma": 0.9, "gae_lambda": 0.9}, hidden=True),
    ]  # fmt: skip


def _gae_random(g: torch.Generator) -> Case:
    rollout, desc = _random_rollout(g)
    gamma, lam = draw_choice(g, (0.5, 0.9, 0.99, 1.0)), draw_choice(g, (0.0, 0.5, 0.95, 1.0))
    return Case(f"{desc}, γ = {gamma}, λ = {lam}", rollout, {"gamma": gamma, "gae_lambda": lam})


GAE = Exercise(
    "gae",
    points=3,
    make_cases=_gae_cases,
    random_case=_gae_random,
    summary="generalised advantage estimation and λ-returns (equal to SB3's RolloutBuffer)",
)


def _gae_variant(rewards, values, dones, last_values, gamma, lam, mistake=""):
    """GAE with one switch per mistake ("" = correct)."""
    keep = 1.0 - (dones if mistake == "bool_dones" else dones.to(rewards.dtype))
    if mistake == "ignore_dones":
        keep = torch.ones_like(keep)
    if mistake == "late":
        keep = torch.cat([keep[1:], torch.ones_like(keep[:1])])
    adv, running = torch.zeros_like(rewards), torch.zeros_like(last_values)
    last = torch.zeros_like(last_values) if mistake == "no_bootstrap" else last_values
    for t in reversed(range(rewards.shape[0])):
        next_values = last if t == rewards.shape[0] - 1 else values[t + 1]
        delta = rewards[t] + gamma * keep[t] * next_values - values[t]
        chain = 1.0 if mistake == "chain_not_cut" else keep[t]
        factor = gamma if mistake == "no_lambda" else lam if mistake == "no_gamma" else gamma * lam
        running = delta + factor * chain * running
        adv[t] = running
    return adv, (adv if mistake == "returns_are_advantages" else adv + values)


@GAE.mistake(
    "ignored the episode ends",
    "after an episode end V(s_{t+1}) belongs to the next episode: multiply by (1 − dones[t]).",
)
def gae_ignore_dones(rewards, values, dones, last_values, gamma=0.99, gae_lambda=0.95):
    return _gae_variant(rewards, values, dones, last_values, gamma, gae_lambda, "ignore_dones")


@GAE.mistake(
    "used dones[t + 1] (off by one)", "dones[t] marks the end of the episode with step t: use it for step t's TD error."
)
def gae_off_by_one(rewards, values, dones, last_values, gamma=0.99, gae_lambda=0.95):
    return _gae_variant(rewards, values, dones, last_values, gamma, gae_lambda, "late")


@GAE.mistake(
    "cut the TD error at episode ends but not the recursion",
    "the running advantage must be multiplied by (1 − dones[t]) too.",
)
def gae_chain_not_cut(rewards, values, dones, last_values, gamma=0.99, gae_lambda=0.95):
    return _gae_variant(rewards, values, dones, last_values, gamma, gae_lambda, "chain_not_cut")


@GAE.mistake(
    "computed 1 − dones on the dones as given (bool dones raise)",
    "dones may be bool: convert first, 1 − dones.to(rewards.dtype) (or use ~dones).",
)
def gae_bool_dones(rewards, values, dones, last_values, gamma=0.99, gae_lambda=0.95):
    return _gae_variant(rewards, values, dones, last_values, gamma, gae_lambda, "bool_dones")


@GAE.mistake("returned the advantages as the returns (forgot + values)", "the λ-returns are advantages + values.")
def gae_returns_are_advantages(rewards, values, dones, last_values, gamma=0.99, gae_lambda=0.95):
    return _gae_variant(rewards, values, dones, last_values, gamma, gae_lambda, "returns_are_advantages")


@GAE.mistake("left λ out of the recursion (γ only)", "the running advantage is discounted by γλ.")
def gae_no_lambda(rewards, values, dones, last_values, gamma=0.99, gae_lambda=0.95):
    return _gae_variant(rewards, values, dones, last_values, gamma, gae_lambda, "no_lambda")


@GAE.mistake("left γ out of the recursion (λ only)", "the running advantage is discounted by γλ.")
def gae_no_gamma(rewards, values, dones, last_values, gamma=0.99, gae_lambda=0.95):
    return _gae_variant(rewards, values, dones, last_values, gamma, gae_lambda, "no_gamma")


@GAE.mistake(
    "ignored last_values (bootstrapped the rollout's end with 0)", "at the last step the next value is last_values."
)
def gae_no_bootstrap(rewards, values, dones, last_values, gamma=0.99, gae_lambda=0.95):
    return _gae_variant(rewards, values, dones, last_values, gamma, gae_lambda, "no_bootstrap")


# --------------------------------------------------------------------------------------------
# explained_variance
# --------------------------------------------------------------------------------------------


def _ev_cases() -> list[Case]:
    g = seeded(24)
    y = torch.randn(50, generator=g) * 5 + 10
    y2 = torch.randn(7, generator=g, dtype=torch.float64)
    return [
        Case("a decent critic: predictions = targets + noise + a bias of 2", (y + torch.randn(50, generator=g) + 2, y)),
        Case("a critic worse than a constant", (-y, y)),
        Case("constant targets (Var = 0: NaN)", (torch.randn(5, generator=g), torch.full((5,), 3.0))),
        Case("float64, 7 values, predictions scaled by 0.5", (0.5 * y2 + 1, y2)),
        Case("100 values, biased predictions (hidden)", (torch.linspace(0, 1, 100) * 3 + 1, torch.linspace(0, 1, 100) * 4 + torch.randn(100, generator=g) * 0.1), hidden=True),
    ]  # fmt: skip


def _ev_random(g: torch.Generator) -> Case:
    n, dtype = draw_int(g, 2, 40), draw_choice(g, (torch.float32, torch.float64))
    y = torch.randn(n, generator=g, dtype=dtype) * 3
    noise = draw_choice(g, (0.1, 1.0, 5.0))
    return Case(f"{n} values, noise {noise}", (y + torch.randn(n, generator=g, dtype=dtype) * noise, y))


EXPLAINED_VARIANCE = Exercise(
    "explained_variance",
    points=1,
    make_cases=_ev_cases,
    summary="explained variance of the critic (equal to SB3's)",
    random_case=_ev_random,
    forbidden=("explained_variance_score", *SKLEARN_SCORERS),  # scikit-learn computes it
)


@EXPLAINED_VARIANCE.mistake("forgot the 1 − (returned the unexplained fraction)", "EV = 1 − Var[y − ŷ] / Var[y].")
def ev_unexplained(y_pred, y_true):
    v = torch.var(y_true.double(), unbiased=False)
    return float("nan") if v == 0 else float(torch.var((y_true - y_pred).double(), unbiased=False) / v)


@EXPLAINED_VARIANCE.mistake(
    "divided by the variance of the predictions", "the denominator is the variance of the targets y_true."
)
def ev_pred_denominator(y_pred, y_true):
    if torch.var(y_true.double(), unbiased=False) == 0:
        return float("nan")
    return float(1 - torch.var((y_true - y_pred).double(), unbiased=False) / torch.var(y_pred.double(), unbiased=False))


@EXPLAINED_VARIANCE.mistake(
    "used the mean squared error instead of the variance of the residuals",
    "Var[y − ŷ] ignores a constant bias; the mean squared error does not.",
)
def ev_mse(y_pred, y_true):
    v = torch.var(y_true.double(), unbiased=False)
    return float("nan") if v == 0 else float(1 - ((y_true - y_pred).double() ** 2).mean() / v)


@EXPLAINED_VARIANCE.mistake(
    "returned 0 for constant targets instead of NaN",
    "with Var[y] = 0 the ratio is undefined: return float('nan'), as SB3 does.",
)
def ev_zero_for_constant(y_pred, y_true):
    v = torch.var(y_true.double(), unbiased=False)
    return 0.0 if v == 0 else float(1 - torch.var((y_true - y_pred).double(), unbiased=False) / v)


@EXPLAINED_VARIANCE.mistake(
    "mixed an unbiased residual variance with a population target variance",
    "use the same (population) variance for both, as np.var.",
)
def ev_mixed_ddof(y_pred, y_true):
    v = torch.var(y_true.double(), unbiased=False)
    return float("nan") if v == 0 else float(1 - torch.var((y_true - y_pred).double(), unbiased=True) / v)


@EXPLAINED_VARIANCE.mistake(
    "returned the squared correlation", "EV is not r²: a biased or scaled critic has r² = 1 but EV < 1."
)
def ev_correlation(y_pred, y_true):
    if torch.var(y_true.double(), unbiased=False) == 0:
        return float("nan")
    return float(torch.corrcoef(torch.stack([y_pred.double(), y_true.double()]))[0, 1] ** 2)


# --------------------------------------------------------------------------------------------
# ppo_policy_loss
# --------------------------------------------------------------------------------------------


def _ppo_case(g: torch.Generator, describe: str, b: int, spread: float, clip: float | None = None, **kw: Any) -> Case:
    dtype = kw.pop("dtype", torch.float32)
    old = -torch.rand(b, generator=g, dtype=dtype) * 2 - 0.1
    new = old + torch.randn(b, generator=g, dtype=dtype) * spread
    adv = torch.randn(b, generator=g, dtype=dtype)
    return Case(describe, (new, old, adv) + (() if clip is None else (clip,)), **kw)


def _policy_cases() -> list[Case]:
    g = seeded(25)
    return [
        _ppo_case(g, "16 samples, ratios within ±40% of 1, ε = 0.2 (default)", 16, 0.3),
        _ppo_case(g, "new = old (ratios all 1: loss = −mean(A), nothing clipped)", 8, 0.0, 0.2),
        _ppo_case(g, "32 samples, large policy change, ε = 0.1", 32, 1.0, 0.1),
        _ppo_case(g, "float64, 12 samples, ε = 0.3", 12, 0.4, 0.3, dtype=torch.float64),
        _ppo_case(g, "64 samples, ε = 0.2 (hidden)", 64, 0.5, 0.2, hidden=True),
    ]


PPO_POLICY_LOSS = Exercise(
    "ppo_policy_loss",
    points=3,
    make_cases=_policy_cases,
    grads=("new_logprobs",),
    summary="PPO's clipped surrogate loss with clip fraction and approximate KL",
    random_case=lambda g: _ppo_case(
        g,
        "random batch",
        draw_int(g, 1, 24),
        draw_choice(g, (0.0, 0.3, 1.0)),
        draw_choice(g, (0.1, 0.2, 0.3)),
        dtype=draw_choice(g, (torch.float32, torch.float64)),
    ),
)


def _policy_variant(new, old, adv, clip, mistake=""):
    log_ratio = new - old
    ratio = (
        new / old if mistake == "ratio_of_logs" else (-log_ratio).exp() if mistake == "inverted" else log_ratio.exp()
    )
    unclipped, clipped = -adv * ratio, -adv * torch.clamp(ratio, 1 - clip, 1 + clip)
    if mistake == "min":
        loss = torch.min(unclipped, clipped).mean()
    elif mistake == "no_clip":
        loss = unclipped.mean()
    elif mistake == "clipped_only":
        loss = clipped.mean()
    elif mistake == "sign":
        loss = torch.max(adv * ratio, adv * torch.clamp(ratio, 1 - clip, 1 + clip)).mean()
    else:
        loss = torch.max(unclipped, clipped).mean()
    with torch.no_grad():
        clip_fraction = ((ratio - 1).abs() > clip).float().mean().item()
        approx_kl = (-log_ratio).mean().item() if mistake == "k1" else ((ratio - 1) - log_ratio).mean().item()
    return loss, clip_fraction, approx_kl


@PPO_POLICY_LOSS.mistake(
    "took the min of the two losses (the optimistic bound)",
    "loss = max(−A·ρ, −A·clip(ρ)): the max of the negatives is the min of the objectives.",
)
def ppo_min_instead_of_max(new_logprobs, old_logprobs, advantages, clip_coef=0.2):
    return _policy_variant(new_logprobs, old_logprobs, advantages, clip_coef, "min")


@PPO_POLICY_LOSS.mistake("did not clip the ratio", "compare −A·ρ with −A·clamp(ρ, 1 − ε, 1 + ε).")
def ppo_no_clip(new_logprobs, old_logprobs, advantages, clip_coef=0.2):
    return _policy_variant(new_logprobs, old_logprobs, advantages, clip_coef, "no_clip")


@PPO_POLICY_LOSS.mistake(
    "used only the clipped term",
    "take the elementwise max with the unclipped term: clipping must only ever remove incentive.",
)
def ppo_clipped_only(new_logprobs, old_logprobs, advantages, clip_coef=0.2):
    return _policy_variant(new_logprobs, old_logprobs, advantages, clip_coef, "clipped_only")


@PPO_POLICY_LOSS.mistake(
    "divided the log-probabilities instead of exponentiating their difference", "ρ = π/π_old = exp(log π − log π_old)."
)
def ppo_ratio_of_logs(new_logprobs, old_logprobs, advantages, clip_coef=0.2):
    return _policy_variant(new_logprobs, old_logprobs, advantages, clip_coef, "ratio_of_logs")


@PPO_POLICY_LOSS.mistake("inverted the ratio (old over new)", "ρ = exp(new_logprobs − old_logprobs).")
def ppo_inverted_ratio(new_logprobs, old_logprobs, advantages, clip_coef=0.2):
    return _policy_variant(new_logprobs, old_logprobs, advantages, clip_coef, "inverted")


@PPO_POLICY_LOSS.mistake(
    "approximate KL as mean(old − new) (the k1 estimator)",
    "use mean((ρ − 1) − log ρ), the k3 estimator CleanRL logs as approx_kl.",
)
def ppo_k1_kl(new_logprobs, old_logprobs, advantages, clip_coef=0.2):
    return _policy_variant(new_logprobs, old_logprobs, advantages, clip_coef, "k1")


@PPO_POLICY_LOSS.mistake("sign flip (maximised the loss)", "the loss is the negative of the clipped objective.")
def ppo_sign_flip(new_logprobs, old_logprobs, advantages, clip_coef=0.2):
    return _policy_variant(new_logprobs, old_logprobs, advantages, clip_coef, "sign")


# --------------------------------------------------------------------------------------------
# ppo_value_loss
# --------------------------------------------------------------------------------------------


def _value_case(g: torch.Generator, describe: str, b: int, clip: float | None = None, **kw: Any) -> Case:
    dtype = kw.pop("dtype", torch.float32)
    old = torch.randn(b, generator=g, dtype=dtype) * 3
    new = old + torch.randn(b, generator=g, dtype=dtype) * 0.5
    returns = old + torch.randn(b, generator=g, dtype=dtype) * 2
    return Case(describe, (new, old, returns) + (() if clip is None else (clip,)), **kw)


def _value_cases() -> list[Case]:
    g = seeded(26)
    return [
        _value_case(g, "16 samples, ε = 0.2 (default)", 16),
        _value_case(g, "8 samples, ε = 1 (little clipping)", 8, 1.0),
        _value_case(g, "float64, 10 samples, ε = 0.05", 10, 0.05, dtype=torch.float64),
        _value_case(g, "one sample, ε = 0.2", 1, 0.2),
        _value_case(g, "32 samples, ε = 0.1 (hidden)", 32, 0.1, hidden=True),
    ]


PPO_VALUE_LOSS = Exercise(
    "ppo_value_loss",
    points=2,
    make_cases=_value_cases,
    grads=("new_values",),
    summary="PPO's clipped value loss",
    random_case=lambda g: _value_case(
        g,
        "random batch",
        draw_int(g, 1, 24),
        draw_choice(g, (0.05, 0.2, 1.0)),
        dtype=draw_choice(g, (torch.float32, torch.float64)),
    ),
)


@PPO_VALUE_LOSS.mistake("took the min of the two squared errors", "PPO's value loss is pessimistic too: the max.")
def value_min(new_values, old_values, returns, clip_coef=0.2):
    v_clipped = old_values + torch.clamp(new_values - old_values, -clip_coef, clip_coef)
    return 0.5 * torch.min((new_values - returns) ** 2, (v_clipped - returns) ** 2).mean()


@PPO_VALUE_LOSS.mistake(
    "no clipping (plain squared error)",
    "also compute the error of old_values + clamp(new − old, −ε, ε) and take the max.",
)
def value_unclipped(new_values, old_values, returns, clip_coef=0.2):
    return 0.5 * ((new_values - returns) ** 2).mean()


@PPO_VALUE_LOSS.mistake("forgot the factor ½", "CleanRL's value loss is 0.5 · mean(max(...)).")
def value_no_half(new_values, old_values, returns, clip_coef=0.2):
    v_clipped = old_values + torch.clamp(new_values - old_values, -clip_coef, clip_coef)
    return torch.max((new_values - returns) ** 2, (v_clipped - returns) ** 2).mean()


@PPO_VALUE_LOSS.mistake(
    "clipped around the returns instead of the old values",
    "the clipped prediction is old_values + clamp(new_values − old_values, −ε, ε).",
)
def value_clip_around_returns(new_values, old_values, returns, clip_coef=0.2):
    v_clipped = returns + torch.clamp(new_values - returns, -clip_coef, clip_coef)
    return 0.5 * torch.max((new_values - returns) ** 2, (v_clipped - returns) ** 2).mean()


@PPO_VALUE_LOSS.mistake(
    "clamped the new values themselves to [−ε, ε]", "clip the *change* new − old, then add it to old_values."
)
def value_clamp_values(new_values, old_values, returns, clip_coef=0.2):
    v_clipped = torch.clamp(new_values, -clip_coef, clip_coef)
    return 0.5 * torch.max((new_values - returns) ** 2, (v_clipped - returns) ** 2).mean()


@PPO_VALUE_LOSS.mistake(
    "detached the new values (no gradient reaches the critic)",
    "the value loss trains the critic: keep new_values' graph.",
)
def value_detached(new_values, old_values, returns, clip_coef=0.2):
    new = new_values.detach()
    v_clipped = old_values + torch.clamp(new - old_values, -clip_coef, clip_coef)
    return 0.5 * torch.max((new - returns) ** 2, (v_clipped - returns) ** 2).mean()


# --------------------------------------------------------------------------------------------
# entropy_bonus
# --------------------------------------------------------------------------------------------


def _entropy_cases() -> list[Case]:
    g = seeded(27)
    extreme = torch.tensor([[0.0, -1e4, 5.0], [200.0, 0.0, -200.0]])
    return [
        Case("8 states, 2 actions", (torch.randn(8, 2, generator=g),)),
        Case("logits far apart (some probabilities underflow to 0)", (extreme,)),
        Case("a batch of one, 6 actions, uniform logits (entropy log 6)", (torch.zeros(1, 6),)),
        Case("float64, 5 states, 4 actions", (torch.randn(5, 4, generator=g, dtype=torch.float64) * 3,)),
        Case("16 states, 3 actions, logits near ±50 (hidden)", (torch.randn(16, 3, generator=g) * 50,), hidden=True),
    ]


ENTROPY_BONUS = Exercise(
    "entropy_bonus",
    points=1,
    make_cases=_entropy_cases,
    grads=("logits",),
    summary="mean entropy of categorical policies",
    random_case=lambda g: Case(
        "random logits",
        (
            torch.randn(
                draw_int(g, 1, 8), draw_int(g, 2, 6), generator=g, dtype=draw_choice(g, (torch.float32, torch.float64))
            )
            * draw_choice(g, (1.0, 10.0, 50.0)),
        ),
    ),
)


@ENTROPY_BONUS.mistake(
    "took the log of softmax probabilities (NaN when one underflows to 0)",
    "use log_softmax: 0 · log 0 must be 0, not 0 · (−∞).",
)
def entropy_log_of_softmax(logits):
    p = torch.softmax(logits, -1)
    return -(p * p.log()).sum(-1).mean()


@ENTROPY_BONUS.mistake("forgot the minus sign", "H = −Σ p log p is non-negative.")
def entropy_no_minus(logits):
    logp = torch.log_softmax(logits, -1)
    return (logp.exp() * logp).sum(-1).mean()


@ENTROPY_BONUS.mistake("summed over the batch instead of averaging", "sum over actions, mean over the batch.")
def entropy_batch_sum(logits):
    logp = torch.log_softmax(logits, -1)
    return -(logp.exp() * logp).sum()


@ENTROPY_BONUS.mistake(
    "averaged over actions instead of summing", "the entropy of one distribution is a sum over its actions."
)
def entropy_mean_over_actions(logits):
    logp = torch.log_softmax(logits, -1)
    return -(logp.exp() * logp).mean()


@ENTROPY_BONUS.mistake("used log base 2 (bits, not nats)", "use the natural log.")
def entropy_bits(logits):
    logp = torch.log_softmax(logits, -1)
    return -(logp.exp() * logp / math.log(2)).sum(-1).mean()


@ENTROPY_BONUS.mistake(
    "took the softmax over the batch dimension", "each row is one state's distribution: softmax over dim=-1."
)
def entropy_wrong_dim(logits):
    logp = torch.log_softmax(logits, 0)
    return -(logp.exp() * logp).sum(0).mean()


# --------------------------------------------------------------------------------------------
# ppo_update (integration): a few epochs of minibatch updates on a tiny agent, with SGD
# --------------------------------------------------------------------------------------------


class _TinyAgent(nn.Module):
    """Actor and critic MLPs (3 → 8 → 3 actions / 1 value), initialised from a seed."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.actor = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 3))
        self.critic = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.actor(obs), self.critic(obs).squeeze(-1)


def _update_batch(seed: int, n: int) -> dict[str, torch.Tensor]:
    g = seeded(seed)
    agent = _TinyAgent(seed + 1)
    obs = torch.randn(n, 3, generator=g)
    with torch.no_grad():
        logits, values = agent(obs)
    actions = torch.randint(0, 3, (n,), generator=g)
    logprobs = torch.log_softmax(logits, -1).gather(-1, actions[:, None])[:, 0] + torch.randn(n, generator=g) * 0.05
    advantages = torch.randn(n, generator=g) * 2 + 0.5
    return {"obs": obs, "actions": actions, "logprobs": logprobs, "values": values, "advantages": advantages, "returns": values + advantages}  # fmt: skip


def _update_cases() -> list[Case]:
    return [
        Case("1 epoch, one minibatch of all 12 samples, lr 0.5", (_update_batch(30, 12),), {"seed": 31, "lr": 0.5, "epochs": 1, "minibatch_size": 12}),
        Case("2 epochs of minibatches of 5 (the last one shorter), ent_coef 0.1, lr 0.5", (_update_batch(32, 12),), {"seed": 33, "lr": 0.5, "epochs": 2, "minibatch_size": 5, "ent_coef": 0.1}),
        Case("3 epochs of 4, ε = 0.1, clip_vloss off, max_grad_norm 0.1, lr 1", (_update_batch(34, 12),), {"seed": 35, "lr": 1.0, "epochs": 3, "minibatch_size": 4, "clip_coef": 0.1, "clip_vloss": False, "max_grad_norm": 0.1}),
        Case("4 epochs of 6, norm_adv off, ent_coef 0.05, lr 0.3 (hidden)", (_update_batch(36, 18),), {"seed": 37, "lr": 0.3, "epochs": 4, "minibatch_size": 6, "norm_adv": False, "ent_coef": 0.05}, hidden=True),
    ]  # fmt: skip


def _update_call(fn: Any, case: Case) -> dict:
    """Run the answer's update with SGD on a fresh tiny agent; return its metrics and final weights."""
    kw = dict(case.kwargs)
    batch = case.args[0]
    dev = batch["obs"].device
    with torch.enable_grad():
        agent = _TinyAgent(kw.pop("seed")).to(dev)
        optimizer = torch.optim.SGD(agent.parameters(), lr=kw.pop("lr"))
        generator = torch.Generator().manual_seed(7)
        metrics = fn(agent, optimizer, dict(batch), generator, **kw)
    return {"metrics": metrics, "parameters": {n: p.detach().clone() for n, p in agent.named_parameters()}}


PPO_UPDATE = Exercise(
    "ppo_update",
    points=4,
    make_cases=_update_cases,
    call=_update_call,
    rtol=1e-3,
    atol=1e-5,
    summary="integration: the PPO update (epochs of shuffled minibatches, normalised advantages, clipped losses, gradient clipping)",
)


def _update_variant(agent, optimizer, batch, generator, epochs, minibatch_size, clip_coef, vf_coef, ent_coef, max_grad_norm, norm_adv, clip_vloss, mistake=""):  # fmt: skip
    """The PPO update with one switch per mistake ("" = correct)."""
    n = batch["obs"].shape[0]
    logs = {"policy_loss": [], "value_loss": [], "entropy": [], "approx_kl": [], "clip_fraction": []}
    all_adv = batch["advantages"]
    perm = torch.randperm(n, generator=generator)
    for epoch in range(epochs):
        if mistake != "one_permutation" and epoch > 0:
            perm = torch.randperm(n, generator=generator)
        for start in range(0, n, minibatch_size):
            idx = perm[start : start + minibatch_size].to(batch["obs"].device)
            logits, values = agent(batch["obs"][idx])
            logp_all = torch.log_softmax(logits, -1)
            new = logp_all.gather(-1, batch["actions"][idx].long()[:, None])[:, 0]
            old = new.detach() if mistake == "stale_old" else batch["logprobs"][idx]
            adv = batch["advantages"][idx]
            if norm_adv and mistake == "batch_norm":
                adv = (adv - all_adv.mean()) / (all_adv.std() + 1e-8)
            elif norm_adv and mistake != "no_norm":
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            log_ratio = new - old
            ratio = log_ratio.exp()
            pl = torch.max(-adv * ratio, -adv * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)).mean()
            vc = clip_coef if clip_vloss else math.inf
            old_v, ret = batch["values"][idx], batch["returns"][idx]
            v_clipped = old_v + torch.clamp(values - old_v, -vc, vc)
            vl = 0.5 * torch.max((values - ret) ** 2, (v_clipped - ret) ** 2).mean()
            ent = -(logp_all.exp() * logp_all).sum(-1).mean()
            sign = -1.0 if mistake == "entropy_sign" else 1.0
            loss = pl + vf_coef * vl - sign * ent_coef * ent
            if mistake != "no_zero_grad":
                optimizer.zero_grad()
            loss.backward()
            if mistake != "no_grad_clip":
                nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                kl = ((ratio - 1) - log_ratio).mean().item()
                cf = ((ratio - 1).abs() > clip_coef).float().mean().item()
            for key, value in zip(logs, (pl.item(), vl.item(), ent.item(), kl, cf)):
                logs[key].append(value)
    return {key: sum(v) / len(v) for key, v in logs.items()}


@PPO_UPDATE.mistake(
    "forgot optimizer.zero_grad() (gradients accumulate across minibatches)",
    "zero the gradients before every backward().",
)
def update_no_zero_grad(agent, optimizer, batch, generator, epochs=4, minibatch_size=64, clip_coef=0.2, vf_coef=0.5, ent_coef=0.0, max_grad_norm=0.5, norm_adv=True, clip_vloss=True):  # fmt: skip
    return _update_variant(agent, optimizer, batch, generator, epochs, minibatch_size, clip_coef, vf_coef, ent_coef, max_grad_norm, norm_adv, clip_vloss, "no_zero_grad")  # fmt: skip


@PPO_UPDATE.mistake(
    "did not normalise the advantages",
    "with norm_adv, standardise each minibatch's advantages: (A − mean) / (std + 1e-8).",
)
def update_no_norm(agent, optimizer, batch, generator, epochs=4, minibatch_size=64, clip_coef=0.2, vf_coef=0.5, ent_coef=0.0, max_grad_norm=0.5, norm_adv=True, clip_vloss=True):  # fmt: skip
    return _update_variant(agent, optimizer, batch, generator, epochs, minibatch_size, clip_coef, vf_coef, ent_coef, max_grad_norm, norm_adv, clip_vloss, "no_norm")  # fmt: skip


@PPO_UPDATE.mistake(
    "normalised the advantages over the whole batch, not per minibatch",
    "normalise inside the minibatch loop, with the minibatch's own mean and std.",
)
def update_batch_norm(agent, optimizer, batch, generator, epochs=4, minibatch_size=64, clip_coef=0.2, vf_coef=0.5, ent_coef=0.0, max_grad_norm=0.5, norm_adv=True, clip_vloss=True):  # fmt: skip
    return _update_variant(agent, optimizer, batch, generator, epochs, minibatch_size, clip_coef, vf_coef, ent_coef, max_grad_norm, norm_adv, clip_vloss, "batch_norm")  # fmt: skip


@PPO_UPDATE.mistake(
    "drew one permutation for all epochs",
    "draw a fresh torch.randperm(n, generator=generator) at the start of every epoch.",
)
def update_one_permutation(agent, optimizer, batch, generator, epochs=4, minibatch_size=64, clip_coef=0.2, vf_coef=0.5, ent_coef=0.0, max_grad_norm=0.5, norm_adv=True, clip_vloss=True):  # fmt: skip
    return _update_variant(agent, optimizer, batch, generator, epochs, minibatch_size, clip_coef, vf_coef, ent_coef, max_grad_norm, norm_adv, clip_vloss, "one_permutation")  # fmt: skip


@PPO_UPDATE.mistake(
    "no gradient clipping", "clip_grad_norm_(agent.parameters(), max_grad_norm) between backward() and step()."
)
def update_no_grad_clip(agent, optimizer, batch, generator, epochs=4, minibatch_size=64, clip_coef=0.2, vf_coef=0.5, ent_coef=0.0, max_grad_norm=0.5, norm_adv=True, clip_vloss=True):  # fmt: skip
    return _update_variant(agent, optimizer, batch, generator, epochs, minibatch_size, clip_coef, vf_coef, ent_coef, max_grad_norm, norm_adv, clip_vloss, "no_grad_clip")  # fmt: skip


@PPO_UPDATE.mistake(
    "added the entropy bonus with the wrong sign (penalised entropy)",
    "loss = policy + vf_coef · value − ent_coef · entropy.",
)
def update_entropy_sign(agent, optimizer, batch, generator, epochs=4, minibatch_size=64, clip_coef=0.2, vf_coef=0.5, ent_coef=0.0, max_grad_norm=0.5, norm_adv=True, clip_vloss=True):  # fmt: skip
    return _update_variant(agent, optimizer, batch, generator, epochs, minibatch_size, clip_coef, vf_coef, ent_coef, max_grad_norm, norm_adv, clip_vloss, "entropy_sign")  # fmt: skip


@PPO_UPDATE.mistake(
    "used the current network's log-probabilities as the old ones (ratio always 1)",
    "old log-probabilities come from the rollout: batch['logprobs'].",
)
def update_stale_old(agent, optimizer, batch, generator, epochs=4, minibatch_size=64, clip_coef=0.2, vf_coef=0.5, ent_coef=0.0, max_grad_norm=0.5, norm_adv=True, clip_vloss=True):  # fmt: skip
    return _update_variant(agent, optimizer, batch, generator, epochs, minibatch_size, clip_coef, vf_coef, ent_coef, max_grad_norm, norm_adv, clip_vloss, "stale_old")  # fmt: skip


EXERCISES = [
    DISCOUNTED_RETURNS,
    REINFORCE_LOSS,
    BOOTSTRAP_TRUNCATED,
    GAE,
    EXPLAINED_VARIANCE,
    PPO_POLICY_LOSS,
    PPO_VALUE_LOSS,
    ENTROPY_BONUS,
    PPO_UPDATE,
]
