# expect: too large
# A return value no tensor can hold: 2**70 (it crashed `graders check` with a traceback).
import torch


def dpo_loss(*args, **kwargs):
    return 2**70


def implicit_reward_metrics(*args, **kwargs):
    return {"reward_accuracy": 2**70, "reward_margin": -(2**80), "chosen_reward": 1.0, "rejected_reward": 0.0}


def ipo_loss(*args, **kwargs):
    return [2**64, torch.zeros(())]
