"""Correct-but-different answers to w03_reward_models's exercises: each must earn full points.

They are written differently from the reference on purpose (float64, loops, another arrangement
of the formula). tests/test_grader_trust.py grades each one, from its source, like a submission.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from graders.testing import alternative


@alternative("bradley_terry_loss")
def bradley_terry_loss_alternative_1(chosen_rewards, rejected_rewards, margin=None):
    x = (chosen_rewards - rejected_rewards).double()
    if margin is not None:
        x = x - torch.as_tensor(margin, dtype=torch.float64, device=x.device)
    return F.softplus(-x).mean().to(chosen_rewards.dtype)


@alternative("bradley_terry_loss")
def bradley_terry_loss_alternative_2(chosen_rewards, rejected_rewards, margin=None):
    x = chosen_rewards - rejected_rewards - (0 if margin is None else margin)
    per_pair = torch.clamp(-x, min=0) + torch.log1p(torch.exp(-x.abs()))
    return per_pair.sum() / len(per_pair)


@alternative("last_token_index")
def last_token_index_alternative_1(attention_mask):
    T = attention_mask.shape[-1]
    return T - 1 - (attention_mask != 0).long().flip(-1).argmax(-1)


@alternative("last_token_index")
def last_token_index_alternative_2(attention_mask):
    out = []
    for row in attention_mask.tolist():
        out.append(max((i for i, v in enumerate(row) if v)))
    return torch.tensor(out)


@alternative("RewardModel")
class rewardmodel_alternative_1(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.score = nn.Linear(backbone.config.n_embd, 1, bias=False)

    def forward(self, input_ids, attention_mask):
        out = self.backbone(input_ids, attention_mask=attention_mask, output_hidden_states=True)
        h = out.hidden_states[-1]
        rewards = []
        for b in range(h.shape[0]):
            last = attention_mask[b].nonzero()[-1, 0]
            rewards.append(h[b, last] @ self.score.weight[0])
        return torch.stack(rewards)


@alternative("expected_calibration_error")
def expected_calibration_error_alternative_1(probs, labels, n_bins=10):
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)[1:-1].to(probs.device)
    b = torch.bucketize(probs.double(), edges, right=True)
    y = labels.double()
    counts = torch.zeros(n_bins, dtype=torch.float64, device=probs.device).index_add_(0, b, torch.ones_like(y))
    conf = torch.zeros_like(counts).index_add_(0, b, probs.double())
    acc = torch.zeros_like(counts).index_add_(0, b, y)
    return ((acc - conf).abs() / len(y)).sum().to(probs.dtype)  # the text asks for probs' dtype


@alternative("reward_model_train_step")
def reward_model_train_step_alternative_1(rm, optimizer, batch, max_grad_norm=1.0):
    for p in rm.parameters():
        p.grad = None
    rewards = rm(batch["input_ids"], batch["attention_mask"])
    half = rewards.shape[0] // 2
    diff = rewards[:half] - rewards[half:]
    loss = torch.nn.functional.softplus(-diff).sum() / half
    loss.backward()
    grads = [p.grad for p in rm.parameters() if p.grad is not None]
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads))
    scale = min(1.0, max_grad_norm / (norm.item() + 1e-6))
    for g in grads:
        g.mul_(scale)
    optimizer.step()
    return {"loss": loss.item(), "accuracy": (diff > 0).double().mean().item(), "margin": diff.mean().item()}
