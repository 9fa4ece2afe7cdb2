"""Week 5: the reference DPO pieces equal TRL 1.16's DPOTrainer on the same model and batch.

A real ``DPOTrainer`` (tiny random GPT-2, a few preference pairs of the small world) computes its
loss and logged metrics with its own code path; the reference computes them on the same tokens.
The IPO and robust variants are compared by switching the trainer's ``loss_types``.
"""

from __future__ import annotations

import copy

import pytest
import torch

from courselib.models import load_tokenizer
from courselib.world import load_preferences
from graders.reference import load_reference

W05 = load_reference("w05_dpo")
BETA = 0.2
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # deprecation notices from inside TRL


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
    with torch.no_grad():  # move the policy away from the reference so that the rewards are not all zero
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
        label_smoothing=0.15,
    )
    dataset = Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs])
    trainer = DPOTrainer(
        model=policy,
        ref_model=copy.deepcopy(reference),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    batch = dict(next(iter(trainer.get_train_dataloader())))
    return trainer, reference, tokenizer, pairs, batch


def _trl(trainer, batch, loss_type: str) -> tuple[float, dict[str, float]]:
    trainer.loss_types, trainer.loss_weights = [loss_type], [1.0]
    trainer.model.train()
    for values in trainer._metrics["train"].values():
        values.clear()
    with torch.no_grad():
        loss = trainer.compute_loss(trainer.model, dict(batch)).item()
    return loss, {k: v[-1] for k, v in trainer._metrics["train"].items()}


def _ours(trainer, reference, batch) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        policy_logits = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        ref_logits = reference(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    policy = W05.sequence_logprobs(policy_logits, batch["input_ids"], batch["completion_mask"])
    ref = W05.sequence_logprobs(ref_logits, batch["input_ids"], batch["completion_mask"])
    return (*policy.chunk(2), *ref.chunk(2))


def test_dpo_loss_and_metrics_equal_dpo_trainer(setup):
    trainer, reference, *_, batch = setup
    trl_loss, trl_metrics = _trl(trainer, batch, "sigmoid")
    pc, pr, rc, rr = _ours(trainer, reference, batch)
    assert W05.dpo_loss(pc, pr, rc, rr, BETA).item() == pytest.approx(trl_loss, abs=1e-5)
    ours = W05.implicit_reward_metrics(pc, pr, rc, rr, BETA)
    for key, value in ours.items():
        assert value == pytest.approx(trl_metrics[key], abs=1e-5), key
    assert pc.mean().item() == pytest.approx(trl_metrics["logps/chosen"], abs=1e-4)
    assert pr.mean().item() == pytest.approx(trl_metrics["logps/rejected"], abs=1e-4)


def test_dpo_batch_loss_equals_dpo_trainer(setup):
    trainer, reference, *_, batch = setup
    trl_loss, trl_metrics = _trl(trainer, batch, "sigmoid")
    _, _, rc, rr = _ours(trainer, reference, batch)
    with torch.no_grad():
        loss, metrics = W05.dpo_batch_loss(
            trainer.model, {**batch, "ref_chosen_logps": rc, "ref_rejected_logps": rr}, BETA
        )
    assert loss.item() == pytest.approx(trl_loss, abs=1e-5)
    for key, value in metrics.items():
        assert value == pytest.approx(trl_metrics[key], abs=1e-5), key


def test_ipo_loss_equals_dpo_trainer(setup):
    trainer, reference, *_, batch = setup
    trl_loss, _ = _trl(trainer, batch, "ipo")
    pc, pr, rc, rr = _ours(trainer, reference, batch)
    lengths_c, lengths_r = batch["completion_mask"].sum(-1).chunk(2)
    ours = W05.ipo_loss(pc, pr, rc, rr, lengths_c, lengths_r, BETA)
    assert ours.item() == pytest.approx(trl_loss, rel=1e-5)


def test_robust_dpo_loss_equals_dpo_trainer(setup):
    trainer, reference, *_, batch = setup
    trl_loss, _ = _trl(trainer, batch, "robust")
    pc, pr, rc, rr = _ours(trainer, reference, batch)
    ours = W05.robust_dpo_loss(pc, pr, rc, rr, BETA, label_smoothing=trainer.label_smoothing)
    assert ours.item() == pytest.approx(trl_loss, abs=1e-5)


def test_our_tokenization_and_batches_match_trl(setup):
    trainer, _, tokenizer, pairs, _ = setup
    rows = trainer.train_dataset
    ours = [W05.encode_preference(tokenizer, p) for p in pairs]
    for row, mine in zip(rows, ours):
        assert {k: list(row[k]) for k in ("prompt_ids", "chosen_ids", "rejected_ids")} == mine
    trl_batch = trainer.data_collator([rows[i] for i in range(4)])
    our_batch = W05.collate_preferences(ours[:4], tokenizer.pad_token_id)
    for key in ("input_ids", "attention_mask", "completion_mask"):
        assert torch.equal(trl_batch[key], our_batch[key]), key


def test_precomputed_reference_logps_match_on_the_fly(setup):
    trainer, reference, tokenizer, pairs, _ = setup
    examples = [W05.encode_preference(tokenizer, p) for p in pairs[:4]]
    W05.add_reference_logps(reference, examples, tokenizer.pad_token_id, batch_size=3)
    batch = W05.collate_preferences(examples, tokenizer.pad_token_id)
    with torch.no_grad():
        logits = reference(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    chosen, rejected = W05.sequence_logprobs(logits, batch["input_ids"], batch["completion_mask"]).chunk(2)
    assert torch.allclose(batch["ref_chosen_logps"], chosen, atol=1e-4)
    assert torch.allclose(batch["ref_rejected_logps"], rejected, atol=1e-4)


def test_training_loop_learns_the_preferences(setup):
    """A few steps of the reference loop raise the implicit-reward accuracy on the training pairs."""
    _, reference, tokenizer, pairs, _ = setup
    examples = [W05.encode_preference(tokenizer, p) for p in pairs]
    W05.add_reference_logps(reference, examples, tokenizer.pad_token_id)
    policy = copy.deepcopy(reference).requires_grad_(True)
    history = W05.train_dpo(policy, examples, tokenizer.pad_token_id, steps=12, beta=0.5, batch_size=4, lr=3e-3)
    assert history["loss"][0] == pytest.approx(0.6931, abs=1e-3)  # the policy starts as the reference
    assert history["loss"][-1] < 0.5
    assert sum(history["rewards/accuracies"][-4:]) / 4 > 0.7


def test_trl_scores_tokens_with_a_tiled_fused_lm_head_not_logits(setup):
    """The notebook's statement about TRL 1.16: a fused LM head, tiles of ≤ 4,096 tokens, no [2B, T, V] logits."""
    from trl.kernels.chunked_logprob import TOKEN_CHUNK_SIZE
    from trl.trainer.utils import FusedCausalLMOutput

    trainer, reference, _, _, batch = setup
    assert TOKEN_CHUNK_SIZE == 4096
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
    with torch.no_grad():
        out = trainer.model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels, fused_lm_head=True
        )
    assert isinstance(out, FusedCausalLMOutput)
    assert not any(isinstance(v, torch.Tensor) and v.dim() == 3 for v in out.values()), "no [2B, T, V] tensor"
    ours = W05.sequence_logprobs(
        trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
        batch["input_ids"],
        batch["completion_mask"],
    )
    assert torch.allclose(out.log_probs.sum(-1), ours, atol=1e-4)


def test_trl_sigmoid_ignores_label_smoothing_and_cdpo_is_smoothed_dpo(setup):
    """The notebook's statements: TRL 1.16's "sigmoid" loss ignores `label_smoothing` (no cDPO in 1.16), and
    cDPO is (1 − ε)·DPO on the labels + ε·DPO on the swapped labels (equal to DPO at ε = 0)."""
    trainer, reference, *_, batch = setup
    eps = trainer.label_smoothing
    assert eps > 0
    trl_loss, _ = _trl(trainer, batch, "sigmoid")
    pc, pr, rc, rr = _ours(trainer, reference, batch)
    assert W05.dpo_loss(pc, pr, rc, rr, BETA).item() == pytest.approx(trl_loss, abs=1e-5)
    assert W05.cdpo_loss(pc, pr, rc, rr, BETA, 0.0).item() == pytest.approx(trl_loss, abs=1e-5)
    smoothed = (1 - eps) * W05.dpo_loss(pc, pr, rc, rr, BETA) + eps * W05.dpo_loss(pr, pc, rr, rc, BETA)
    assert W05.cdpo_loss(pc, pr, rc, rr, BETA, eps).item() == pytest.approx(smoothed.item(), abs=1e-6)
    assert abs(W05.cdpo_loss(pc, pr, rc, rr, BETA, eps).item() - trl_loss) > 1e-3


def test_preference_train_step_with_dpo_equals_dpo_train_step(setup):
    """The variants' training step, with the DPO loss, makes the same update as the graded dpo_train_step."""
    _, reference, tokenizer, pairs, _ = setup
    examples = [W05.encode_preference(tokenizer, p) for p in pairs[:4]]
    W05.add_reference_logps(reference, examples, tokenizer.pad_token_id)
    batch = W05.collate_preferences(examples, tokenizer.pad_token_id)
    updated = []
    for step in ("graded", "variant"):
        policy = copy.deepcopy(reference).requires_grad_(True)
        opt = torch.optim.SGD(policy.parameters(), lr=0.5)
        if step == "graded":
            metrics = W05.dpo_train_step(policy, None, opt, dict(batch), BETA)
        else:
            metrics = W05.preference_train_step(policy, opt, dict(batch), "dpo", BETA)
        updated.append((metrics, [p.detach().clone() for p in policy.parameters()]))
    assert updated[0][0] == pytest.approx(updated[1][0], abs=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(updated[0][1], updated[1][1]))
    for loss in ("cdpo", "robust", "ipo"):
        policy = copy.deepcopy(reference).requires_grad_(True)
        metrics = W05.preference_train_step(policy, torch.optim.SGD(policy.parameters(), lr=0.5), dict(batch), loss)
        assert metrics["loss"] == metrics["loss"]  # finite, runs
    with pytest.raises(ValueError):
        W05.preference_train_step(policy, torch.optim.SGD(policy.parameters(), lr=0.5), dict(batch), "hinge")


def test_reference_logp_cache_reuses_scores(setup):
    """A cached (prompt, completion) is not scored again, and flipped pairs reuse their unflipped scores."""
    _, reference, tokenizer, pairs, _ = setup
    cache: dict = {}
    examples = [W05.encode_preference(tokenizer, p) for p in pairs[:4]]
    W05.add_reference_logps(reference, examples, tokenizer.pad_token_id, cache=cache)
    assert len(cache) == 8
    swapped = [{**p, "chosen": p["rejected"], "rejected": p["chosen"]} for p in pairs[:4]]
    flipped = [W05.encode_preference(tokenizer, p) for p in swapped]

    class Refuse(torch.nn.Module):  # scoring anything again would call it
        def parameters(self):
            return reference.parameters()

        def forward(self, **_):
            raise AssertionError("scored a cached completion again")

    W05.add_reference_logps(Refuse(), flipped, tokenizer.pad_token_id, cache=cache)
    for e, f in zip(examples, flipped):
        assert (f["ref_chosen_logps"], f["ref_rejected_logps"]) == (e["ref_rejected_logps"], e["ref_chosen_logps"])
