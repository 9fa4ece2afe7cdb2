"""Week 3: the reference Bradley–Terry loss and reward model equal TRL 1.16's RewardTrainer.

The loss is compared through TRL's own ``RewardTrainer.compute_loss`` (called on a stub trainer
with a stub model that returns given rewards, and on a real trainer with a tiny random GPT-2),
never through a re-implementation of it.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn

from courselib.models import load_tokenizer
from courselib.world import load_preferences
from graders.reference import load_reference

W03 = load_reference("w03_reward_models")


class _RewardsModel(nn.Module):
    """Returns the given rewards as TRL expects from a sequence-classification model."""

    def __init__(self, chosen: torch.Tensor, rejected: torch.Tensor) -> None:
        super().__init__()
        self.rewards = torch.cat([chosen, rejected])[:, None]

    def forward(self, **inputs):
        return SimpleNamespace(logits=self.rewards)


def _stub_trainer(center: float | None) -> SimpleNamespace:
    """The attributes RewardTrainer.compute_loss reads from ``self``."""
    model = nn.Linear(1, 1)
    model.train()
    return SimpleNamespace(
        model=model,
        args=SimpleNamespace(center_rewards_coefficient=center),
        accelerator=SimpleNamespace(gather_for_metrics=lambda x: x, gather=lambda x: x),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        _total_train_tokens=0,
        _tp_size=1,
    )


def _trl_loss(chosen, rejected, margin=None, center=None):
    from trl import RewardTrainer

    stub = _stub_trainer(center)
    inputs = {"input_ids": torch.zeros(2 * len(chosen), 3, dtype=torch.long)}
    inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
    if margin is not None:
        inputs["margin"] = margin
    loss = RewardTrainer.compute_loss(stub, _RewardsModel(chosen, rejected), inputs)
    return loss, stub._metrics["train"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bradley_terry_loss_equals_reward_trainer(seed):
    g = torch.Generator().manual_seed(seed)
    chosen, rejected = torch.randn(16, generator=g) * 3, torch.randn(16, generator=g) * 3
    trl_loss, metrics = _trl_loss(chosen, rejected)
    assert torch.allclose(W03.bradley_terry_loss(chosen, rejected), trl_loss, rtol=0, atol=1e-6)
    assert metrics["accuracy"][-1] == pytest.approx((chosen > rejected).float().mean().item())
    assert metrics["margin"][-1] == pytest.approx((chosen - rejected).mean().item(), abs=1e-6)


def test_bradley_terry_loss_with_margin_equals_reward_trainer():
    g = torch.Generator().manual_seed(3)
    chosen, rejected = torch.randn(12, generator=g), torch.randn(12, generator=g)
    margin = torch.rand(12, generator=g) * 2
    trl_loss, _ = _trl_loss(chosen, rejected, margin=margin)
    assert torch.allclose(W03.bradley_terry_loss(chosen, rejected, margin=margin), trl_loss, rtol=0, atol=1e-6)


def test_bradley_terry_loss_is_stable_like_trl():
    chosen, rejected = torch.tensor([500.0, -400.0, 3.0]), torch.tensor([-300.0, 450.0, 2.0])
    trl_loss, _ = _trl_loss(chosen, rejected)
    ours = W03.bradley_terry_loss(chosen, rejected)
    assert torch.isfinite(ours) and torch.allclose(ours, trl_loss, rtol=1e-6)


def test_center_rewards_term_is_the_only_difference():
    g = torch.Generator().manual_seed(4)
    chosen, rejected = torch.randn(10, generator=g) + 2, torch.randn(10, generator=g) - 1
    trl_loss, _ = _trl_loss(chosen, rejected, center=0.01)
    expected = W03.bradley_terry_loss(chosen, rejected) + 0.01 * ((chosen + rejected) ** 2).mean()
    assert torch.allclose(expected, trl_loss, rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("tiny-sft")


@pytest.fixture(scope="module")
def trainer(tokenizer, tmp_path_factory):
    """A real RewardTrainer on a tiny random GPT2ForSequenceClassification and 8 world pairs."""
    from datasets import Dataset
    from transformers import GPT2Config, GPT2ForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=32,
        n_layer=2,
        n_head=2,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2ForSequenceClassification(config)
    pairs = load_preferences("train")[:8]
    args = RewardConfig(
        output_dir=str(tmp_path_factory.mktemp("rm")),
        per_device_train_batch_size=4,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        use_cpu=True,
        max_steps=1,
    )
    dataset = Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs])
    return RewardTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer), pairs


def _our_model(hf_model) -> nn.Module:
    ours = W03.RewardModel(copy.deepcopy(hf_model.transformer))
    with torch.no_grad():
        ours.score.weight.copy_(hf_model.score.weight)
    return ours.eval()


def test_reward_model_and_loss_equal_trl_on_a_real_batch(trainer):
    trainer, _ = trainer
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.model.eval()
    with torch.no_grad():
        hf_rewards = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, 0]
        trl_loss = trainer.compute_loss(trainer.model, dict(batch))
        ours = _our_model(trainer.model)(batch["input_ids"], batch["attention_mask"])
    assert torch.allclose(ours, hf_rewards, atol=1e-5)
    assert torch.allclose(W03.bradley_terry_loss(*ours.chunk(2)), trl_loss, atol=1e-5)


def test_our_tokenization_and_collation_match_trl(trainer, tokenizer):
    trainer, pairs = trainer
    ours = W03.encode_pairs(tokenizer, pairs)
    rows = trainer.train_dataset
    assert [list(r["chosen_ids"]) for r in rows] == [c for c, _ in ours]
    assert [list(r["rejected_ids"]) for r in rows] == [r for _, r in ours]
    trl_batch = trainer.data_collator([rows[i] for i in range(4)])
    our_batch = W03.collate_pairs(ours[:4], tokenizer.pad_token_id)
    assert torch.equal(trl_batch["input_ids"], our_batch["input_ids"])
    assert torch.equal(trl_batch["attention_mask"], our_batch["attention_mask"])


def test_reward_model_handles_left_padding(trainer):
    """Left- and right-padded copies of the same rows get the same rewards."""
    trainer, _ = trainer
    model = _our_model(trainer.model)
    ids = torch.tensor([[5, 6, 7, 8, 1, 1], [9, 10, 11, 12, 13, 14]])
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    left_ids = torch.tensor([[1, 1, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14]])
    left_mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        right = model(ids, mask)
        # GPT-2 numbers positions from 0 regardless of padding; feed position ids for the left-padded rows
        hidden = model.backbone(
            input_ids=left_ids, attention_mask=left_mask, position_ids=(left_mask.cumsum(-1) - 1).clamp(min=0)
        ).last_hidden_state
        left = model.score(hidden[torch.arange(2), W03.last_token_index(left_mask)]).squeeze(-1)
    assert torch.allclose(right, left, atol=1e-5)


def test_length_grouped_batches_cover_every_example_each_epoch():
    lengths = [5, 50, 7, 42, 9, 33, 11, 28, 13, 30, 2, 45]
    batches = W03.length_grouped_batches(lengths, batch_size=3, seed=0, group=2)
    epoch = [next(batches) for _ in range(4)]
    assert sorted(i for b in epoch for i in b) == list(range(12))
    assert all(len(b) == 3 for b in epoch)
