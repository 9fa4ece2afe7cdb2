"""Our PPO (week 2's reference) against stable-baselines3's PPO with its defaults on CartPole-v1.

    python -m benchmarks.ppo_cartpole            # prints the result dict
    python -m benchmarks.ppo_cartpole --seed 1 --max-steps 150000

One run each, same seed, both on the CPU with one torch thread. Both count a run as solved when
the mean return of the last 20 finished training episodes reaches 475 (CartPole-v1's threshold),
checked after every environment step for SB3 and after every rollout for ours (whose rollouts
are 8 × 32 steps, so ours may be credited up to 255 steps late, never early), and stop there.

- ours: ``train("ppo", ...)`` from ``solutions/w02_rl_foundations`` (loaded with
  ``load_reference``, never copied): 8 ``SyncVectorEnv`` environments (SAME_STEP autoreset),
  RL Baselines3 Zoo's CartPole hyperparameters, no value clipping;
- SB3: ``PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=1))`` with every default
  (n_steps 2048, batch 64, 10 epochs, γ 0.99, λ 0.95, lr 3e-4).

Reported: environment steps to 475, wall seconds, steps per second (all steps taken, training
included, over the run's wall time), and ``steps_ratio`` = SB3's steps to 475 / ours (above 1: ours
needs fewer steps).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
import torch

os.environ.setdefault("COURSE_NO_PROGRESS", "1")

TARGET = 475
WINDOW = 20


def _ours(seed: int, max_steps: int) -> dict[str, Any]:
    from graders.reference import load_reference

    w02 = load_reference("w02_rl_foundations")
    run = w02.train("ppo", seed, max_steps, stop_at_target=True)
    return {"steps_to_475": run["steps_to_target"], "steps": run["steps"], "seconds": run["seconds"]}


def _sb3(seed: int, max_steps: int) -> dict[str, Any]:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    class StopAtTarget(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.returns: list[float] = []
            self.reached: int | None = None

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:  # Monitor's episode statistics
                    self.returns.append(float(info["episode"]["r"]))
            if len(self.returns) >= WINDOW and np.mean(self.returns[-WINDOW:]) >= TARGET:
                self.reached = self.num_timesteps
                return False
            return True

    env = make_vec_env("CartPole-v1", n_envs=1, seed=seed)
    model = PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0)
    callback = StopAtTarget()
    started = time.perf_counter()
    model.learn(total_timesteps=max_steps, callback=callback)
    seconds = time.perf_counter() - started
    env.close()
    return {"steps_to_475": callback.reached, "steps": model.num_timesteps, "seconds": seconds}


def run(seed: int = 0, max_steps: int = 100_000) -> dict[str, Any]:
    """Steps to a mean return of 475 and steps per second, ours and SB3's (defaults), one run each."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    ours, sb3 = _ours(seed, max_steps), _sb3(seed, max_steps)
    torch.set_num_threads(threads)
    result: dict[str, Any] = {"seed": seed, "torch_threads": 1}
    for name, r in (("ours", ours), ("sb3", sb3)):
        result[f"{name}_steps_to_475"] = r["steps_to_475"]
        result[f"{name}_seconds"] = round(r["seconds"], 1)
        result[f"{name}_steps_per_s"] = round(r["steps"] / r["seconds"])
    if ours["steps_to_475"] and sb3["steps_to_475"]:
        result["steps_ratio"] = round(sb3["steps_to_475"] / ours["steps_to_475"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=100_000)
    args = parser.parse_args()
    print(run(seed=args.seed, max_steps=args.max_steps))


if __name__ == "__main__":
    main()
