"""Week 2 against stable-baselines3 and gymnasium: the library equalities the notebook states.

- our GAE equals SB3's ``RolloutBuffer.compute_returns_and_advantage`` on the same rollouts (a
  made-up one with many episode ends, and a real CartPole rollout of the reference agent);
- our ``explained_variance`` equals ``stable_baselines3.common.utils.explained_variance``;
- the rollout loop bootstraps truncations from the *final* observation (SAME_STEP autoreset), as
  SB3's ``collect_rollouts`` does with ``terminal_observation``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graders.reference import load_reference

sb3 = pytest.importorskip("stable_baselines3")
gym = pytest.importorskip("gymnasium")

from stable_baselines3.common.buffers import RolloutBuffer  # noqa: E402
from stable_baselines3.common.utils import explained_variance as sb3_explained_variance  # noqa: E402


@pytest.fixture(scope="module")
def w02():
    return load_reference("w02_rl_foundations")


def _sb3_gae(rewards, values, dones, last_values, gamma, lam, obs=None, actions=None, logprobs=None):
    """SB3's returns and advantages of a [T, N] rollout given in our convention (dones[t]: ended with step t)."""
    T, N = rewards.shape
    space_obs = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
    space_act = gym.spaces.Discrete(2)
    buffer = RolloutBuffer(T, space_obs, space_act, device="cpu", gamma=gamma, gae_lambda=lam, n_envs=N)
    obs = torch.zeros(T, N, 4) if obs is None else obs
    actions = torch.zeros(T, N, dtype=torch.long) if actions is None else actions
    logprobs = torch.zeros(T, N) if logprobs is None else logprobs
    episode_start = np.ones(N, dtype=np.float32)
    for t in range(T):
        buffer.add(
            obs[t].numpy(), actions[t].numpy()[:, None], rewards[t].numpy(), episode_start, values[t], logprobs[t]
        )
        episode_start = dones[t].numpy().astype(np.float32)
    buffer.compute_returns_and_advantage(last_values, dones=dones[-1].numpy())
    return buffer.advantages, buffer.returns


@pytest.mark.parametrize("lam", [0.0, 0.8, 0.95, 1.0])
def test_gae_equals_sb3_on_a_rollout_with_many_episode_ends(w02, lam):
    g = torch.Generator().manual_seed(lam.__hash__() % 1000)
    T, N = 40, 5
    rewards = torch.rand(T, N, generator=g) * 2 - 0.5
    values = torch.randn(T, N, generator=g) * 3
    dones = (torch.rand(T, N, generator=g) < 0.2).float()
    dones[-1, 0] = 1.0  # an episode ending with the rollout's last step
    last_values = torch.randn(N, generator=g)
    adv, ret = w02.gae(rewards, values, dones, last_values, 0.99, lam)
    sb3_adv, sb3_ret = _sb3_gae(rewards, values, dones, last_values, 0.99, lam)
    np.testing.assert_allclose(adv.numpy(), sb3_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret.numpy(), sb3_ret, rtol=1e-5, atol=1e-5)


def test_gae_equals_sb3_on_a_cartpole_rollout(w02):
    torch.manual_seed(0)
    envs = w02.make_envs(4)
    obs, _ = envs.reset(seed=5)
    rollout, _, _, last_values = w02.collect_rollout(
        envs, w02.Agent(), obs, 128, 0.98, torch.Generator().manual_seed(0)
    )
    envs.close()
    assert rollout["dones"].sum() > 0, "the rollout should contain episode ends"
    adv, ret = w02.gae(rollout["rewards"], rollout["values"], rollout["dones"], last_values, 0.98, 0.8)
    sb3_adv, sb3_ret = _sb3_gae(
        rollout["rewards"], rollout["values"], rollout["dones"], last_values, 0.98, 0.8,
        rollout["obs"], rollout["actions"], rollout["logprobs"],
    )  # fmt: skip
    np.testing.assert_allclose(adv.numpy(), sb3_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret.numpy(), sb3_ret, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_explained_variance_equals_sb3(w02, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(64, generator=g, dtype=torch.float64) * 4
    pred = y * (0.5 + seed / 5) + torch.randn(64, generator=g, dtype=torch.float64) + seed - 2
    assert w02.explained_variance(pred, y) == pytest.approx(sb3_explained_variance(pred.numpy(), y.numpy()), rel=1e-9)
    assert np.isnan(w02.explained_variance(pred, torch.ones(64)))
    assert np.isnan(sb3_explained_variance(pred.numpy(), np.ones(64)))


def test_truncation_bootstraps_from_the_final_observation(w02):
    """With a 5-step time limit every episode is truncated: rewards get γ·V(final obs), not V(reset obs)."""
    torch.manual_seed(0)
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make("CartPole-v1", max_episode_steps=5) for _ in range(2)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    agent = w02.Agent()
    obs, _ = envs.reset(seed=0)
    rollout, _, _, _ = w02.collect_rollout(envs, agent, obs, 5, 0.9, torch.Generator().manual_seed(0))
    envs.close()
    assert rollout["dones"][-1].tolist() == [1.0, 1.0] and rollout["dones"][:-1].sum() == 0
    # replay the same episodes to find the final observations
    envs = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1", max_episode_steps=5) for _ in range(2)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)  # fmt: skip
    envs.reset(seed=0)
    for t in range(5):
        _, _, terminated, truncated, info = envs.step(rollout["actions"][t].numpy())
    envs.close()
    assert truncated.all() and not terminated.any()
    with torch.no_grad():
        final_values = agent(torch.as_tensor(np.stack(info["final_obs"]), dtype=torch.float32))[1]
    torch.testing.assert_close(rollout["rewards"][-1], 1.0 + 0.9 * final_values)
    torch.testing.assert_close(rollout["rewards"][:-1], torch.ones(4, 2))
