"""Week 2's experiment, sanity-checked on the reference: PPO solves CartPole-v1 within the notebook's budget."""

from __future__ import annotations

import os

import pytest
import torch

from graders.reference import load_reference


@pytest.mark.slow
def test_reference_ppo_reaches_475_within_the_notebook_budget():
    os.environ.setdefault("COURSE_NO_PROGRESS", "1")
    threads = torch.get_num_threads()
    w02 = load_reference("w02_rl_foundations")
    try:
        torch.set_num_threads(1)
        run = w02.train("ppo", seed=0, total_steps=60_000, stop_at_target=True)
    finally:
        torch.set_num_threads(threads)
    assert run["steps_to_target"] is not None, f"PPO (seed 0) did not reach 475 in 60,000 steps: {run['curve'][-3:]}"
    assert run["curve"][-1][1] >= 475


def test_reinforce_and_ppo_share_the_rollout_and_log_the_same_things():
    os.environ.setdefault("COURSE_NO_PROGRESS", "1")
    w02 = load_reference("w02_rl_foundations")
    for algo in ("ppo", "reinforce"):
        run = w02.train(algo, seed=0, total_steps=512, stop_at_target=False)
        assert run["steps"] == 512 and len(run["curve"]) == 2 and len(run["approx_kl"]) == 2
