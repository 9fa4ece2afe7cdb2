"""Week 6: the reference's pieces against the libraries (scikit-learn's κ, TRL 1.16's DPOTrainer) and
the statements the notebook makes about them.

- ``cohen_kappa`` equals ``sklearn.metrics.cohen_kappa_score``;
- soft-label DPO with a label p equals p · TRL's sigmoid loss on the pairs + (1 − p) · TRL's sigmoid
  loss on the same pairs swapped, computed by a real ``DPOTrainer`` (its own ``compute_loss``);
- TRL 1.16's sigmoid loss ignores ``label_smoothing``, so "soft label p = sigmoid loss with
  label_smoothing = 1 − p" (true of older TRL versions) does not hold in 1.16;
- the soft-label loss has a finite minimum: training on a constant label p stops at σ(z) ≈ p.
"""

from __future__ import annotations

import copy

import pytest
import torch
from sklearn.metrics import cohen_kappa_score

from courselib.models import load_tokenizer
from courselib.world import load_preferences
from courselib.world.constitution import CONSTITUTIONS, PRINCIPLES, principle_examples
from graders.reference import load_reference

W05 = load_reference("w05_dpo")
W06 = load_reference("w06_constitutional_ai")
BETA = 0.2
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # deprecation notices from inside TRL


@pytest.mark.parametrize("seed", range(12))
def test_cohen_kappa_equals_sklearn(seed):
    g = torch.Generator().manual_seed(seed)
    n, k = [(30, 2), (100, 3), (7, 4), (250, 5)][seed % 4]
    a = torch.randint(0, k, (n,), generator=g)
    b = torch.where(torch.rand(n, generator=g) < 0.1 * seed / 2, a, torch.randint(0, k, (n,), generator=g))
    if seed % 3 == 0:  # skewed: labeller A says 0 most of the time
        a = torch.where(torch.rand(n, generator=g) < 0.8, torch.zeros_like(a), a)
    ours = W06.cohen_kappa(a, b)
    assert ours.dtype == torch.float64
    assert ours.item() == pytest.approx(cohen_kappa_score(a.numpy(), b.numpy()), abs=1e-12)


def test_constitution_is_data_with_one_badly_worded_principle():
    assert len(PRINCIPLES) >= 3 and all(pid == p.id for pid, p in PRINCIPLES.items())
    assert [p.id for p in PRINCIPLES.values() if p.badly_worded] == ["careful"]
    assert all(pid in PRINCIPLES for ids in CONSTITUTIONS.values() for pid in ids)
    assert any(PRINCIPLES[i].badly_worded for ids in CONSTITUTIONS.values() for i in ids)
    harmless = PRINCIPLES["harmless"]
    examples = principle_examples(harmless, n=8, seed=3)
    assert len(examples) == 8 and len({e[0] for e in examples}) == 8  # one example per prompt
    assert examples == principle_examples(harmless, n=8, seed=3)  # deterministic
    assert all(e[0].startswith("User: ") and e[1].startswith(" ") and e[2].startswith(" ") for e in examples)
    assert all("[HARMFUL CONTENT REDACTED" not in e[1] for e in examples)  # the better side refuses


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from datasets import Dataset
    from transformers import GPT2Config, GPT2LMHeadModel
    from trl import DPOConfig, DPOTrainer

    tokenizer = load_tokenizer("tiny-sft")
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=32,
        n_layer=2,
        n_head=2,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    reference = GPT2LMHeadModel(config).eval()
    policy = copy.deepcopy(reference)
    with torch.no_grad():  # move the policy away from the reference so that the loss is not log 2
        for p in policy.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    pairs = load_preferences("train")[:8]
    args = DPOConfig(
        output_dir=str(tmp_path_factory.mktemp("dpo")),
        beta=BETA,
        per_device_train_batch_size=4,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        use_cpu=True,
        max_steps=1,
    )
    dataset = Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs])
    trainer = DPOTrainer(
        model=policy, ref_model=copy.deepcopy(reference), args=args, train_dataset=dataset, processing_class=tokenizer
    )
    batch = dict(next(iter(trainer.get_train_dataloader())))
    return trainer, reference, tokenizer, pairs, batch


def _trl_sigmoid(trainer, batch: dict, label_smoothing: float = 0.0) -> float:
    trainer.loss_types, trainer.loss_weights, trainer.label_smoothing = ["sigmoid"], [1.0], label_smoothing
    trainer.model.train()
    with torch.no_grad():
        return trainer.compute_loss(trainer.model, dict(batch)).item()


def _swapped(batch: dict) -> dict:
    """The same pairs with chosen and rejected exchanged (TRL's layout: chosen rows, then rejected rows)."""
    out = dict(batch)
    for key in ("input_ids", "attention_mask", "completion_mask"):
        chosen, rejected = batch[key].chunk(2)
        out[key] = torch.cat([rejected, chosen])
    return out


def _logps(trainer, reference, batch) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        out = []
        for model in (trainer.model, reference):
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            out += W05.sequence_logprobs(logits, batch["input_ids"], batch["completion_mask"]).chunk(2)
    return tuple(out[i] for i in (0, 1, 2, 3))


@pytest.mark.parametrize("p", [1.0, 0.0, 0.3, 0.5, 0.85])
def test_soft_label_dpo_equals_a_mixture_of_trl_sigmoid_losses(setup, p):
    trainer, reference, *_, batch = setup
    pc, pr, rc, rr = _logps(trainer, reference, batch)
    ours = W06.soft_dpo_loss(pc, pr, rc, rr, torch.full_like(pc, p), BETA).item()
    trl = p * _trl_sigmoid(trainer, batch) + (1 - p) * _trl_sigmoid(trainer, _swapped(batch))
    assert ours == pytest.approx(trl, abs=1e-5)


def test_trl_1_16_sigmoid_ignores_label_smoothing_so_soft_labels_are_not_smoothing(setup):
    trainer, reference, *_, batch = setup
    plain, smoothed = _trl_sigmoid(trainer, batch), _trl_sigmoid(trainer, batch, label_smoothing=0.3)
    assert plain == pytest.approx(smoothed, abs=1e-7)
    pc, pr, rc, rr = _logps(trainer, reference, batch)
    soft = W06.soft_dpo_loss(pc, pr, rc, rr, torch.full_like(pc, 0.7), BETA).item()
    assert abs(soft - smoothed) > 1e-3  # the identity of older TRL versions fails in 1.16
    assert soft == pytest.approx(W05.cdpo_loss(pc, pr, rc, rr, BETA, 0.3).item(), abs=1e-6)  # it is cDPO


def test_soft_labels_stop_at_the_label_while_hard_labels_keep_pushing(setup):
    """Training on a constant label p = 0.75 ends with σ(z) ≈ 0.75; the same run with p = 1 goes past it."""
    _, reference, tokenizer, pairs, _ = setup
    examples = [W05.encode_preference(tokenizer, p) for p in pairs[:4]]
    W05.add_reference_logps(reference, examples, tokenizer.pad_token_id)
    batch = W05.collate_preferences(examples, tokenizer.pad_token_id)
    final = {}
    for p in (0.75, 1.0):
        policy = copy.deepcopy(reference).requires_grad_(True)
        opt = torch.optim.Adam(policy.parameters(), lr=3e-3)
        labels = torch.full((4,), p)
        history = [W06.rlaif_train_step(policy, opt, dict(batch), labels, beta=1.0) for _ in range(60)]
        assert history[0]["loss"] == pytest.approx(0.6931, abs=1e-3)  # the policy starts as the reference
        pc, pr, rc, rr = _logps(type("T", (), {"model": policy})(), reference, batch)
        final[p] = torch.sigmoid(1.0 * ((pc - rc) - (pr - rr)))
    assert torch.allclose(final[0.75], torch.full((4,), 0.75), atol=0.05), final[0.75]
    assert (final[1.0] > 0.9).all(), final[1.0]
