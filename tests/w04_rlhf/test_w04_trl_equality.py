"""Week 4: the reference GRPO pieces equal TRL 1.16's GRPOTrainer on the same model and batch.

A real ``GRPOTrainer`` (tiny random GPT-2, the small world's tokenizer) computes its loss with its
own ``_compute_loss`` on a hand-built batch in its layout; the reference ``grpo_loss`` computes it
from the per-token log-probabilities of the same tokens. Values and the gradients on every model
parameter must agree, for TRL's default loss (``loss_type="dapo"``, β = 0) and with the k3
penalty, asymmetric clipping and an old policy different from the current one.
"""

from __future__ import annotations

import copy

import pytest
import torch

from courselib.models import load_tokenizer
from graders.reference import load_reference

W04 = load_reference("w04_rlhf")
GROUP = 8
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from datasets import Dataset
    from transformers import GPT2Config, GPT2LMHeadModel
    from trl import GRPOConfig, GRPOTrainer

    tokenizer = load_tokenizer("tiny-sft")
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2, attn_pdrop=0.0, resid_pdrop=0.0, embd_pdrop=0.0,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    reference = GPT2LMHeadModel(config).eval()
    policy = copy.deepcopy(reference)
    with torch.no_grad():  # the policy away from the reference, so the KL term is not zero
        for p in policy.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    args = GRPOConfig(
        output_dir=str(tmp_path_factory.mktemp("grpo")),
        num_generations=GROUP,
        per_device_train_batch_size=GROUP,
        use_cpu=True,
        bf16=False,
        report_to="none",
        max_steps=1,
    )
    trainer = GRPOTrainer(
        model=policy,
        reward_funcs=lambda completions, **kw: [0.0] * len(completions),
        args=args,
        train_dataset=Dataset.from_list([{"prompt": f"User: question {i}\nAssistant:"} for i in range(GROUP)]),
        processing_class=tokenizer,
    )
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop, which we do not run
    assert trainer.loss_type == "dapo" and trainer.beta == 0.0  # TRL 1.16's defaults, tested below as such
    g = torch.Generator().manual_seed(1)
    prompt_ids = torch.randint(2, len(tokenizer), (GROUP, 5), generator=g)
    completion_ids = torch.randint(2, len(tokenizer), (GROUP, 11), generator=g)
    lengths = torch.tensor([11, 1, 4, 7, 11, 2, 9, 5])  # very different lengths: token vs answer averaging
    completion_mask = (torch.arange(11)[None] < lengths[:, None]).long()
    ids = torch.cat([prompt_ids, completion_ids], 1)
    attention = torch.cat([torch.ones_like(prompt_ids), completion_mask], 1)
    with torch.no_grad():
        ref = _logps(reference, ids, attention, 11)
    rewards = torch.randn(2 * GROUP, generator=g)[:GROUP]
    batch = {
        "prompt_ids": prompt_ids,
        "prompt_mask": torch.ones_like(prompt_ids),
        "completion_ids": completion_ids,
        "completion_mask": completion_mask,
        "advantages": W04.grpo_advantages(rewards, GROUP),
        "ref_per_token_logps": ref,
        "num_items_in_batch": completion_mask.sum(),
    }
    return trainer, ids, attention, batch


def _logps(model, ids, attention, n):
    logits = model(input_ids=ids, attention_mask=attention).logits[:, -n - 1 : -1]
    return torch.log_softmax(logits, -1).gather(-1, ids[:, -n:, None])[..., 0]


def _grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(
    "beta, epsilon_high, old_shift",
    [(0.0, None, 0.0), (0.04, None, 0.0), (0.1, 0.28, 0.3), (0.0, 0.28, 0.5)],
    ids=["defaults", "k3 penalty", "penalty, asymmetric clip, old policy differs", "clipping active, no penalty"],
)
def test_grpo_loss_equals_trl(setup, beta, epsilon_high, old_shift):
    trainer, ids, attention, batch = setup
    model = trainer.model
    trainer.beta = beta
    trainer.epsilon_high = epsilon_high if epsilon_high is not None else trainer.epsilon_low
    inputs = dict(batch)
    with torch.no_grad():
        current = _logps(model, ids, attention, ids.shape[1] - 5)
    if old_shift:
        g = torch.Generator().manual_seed(2)
        inputs["old_per_token_logps"] = current + old_shift * torch.randn(current.shape, generator=g)
    old = inputs.get("old_per_token_logps", current)
    model.train()
    model.zero_grad()
    trl_loss = trainer._compute_loss(model, inputs)
    trl_loss.backward()
    trl_grads = _grads(model)
    model.zero_grad()
    ours = W04.grpo_loss(
        _logps(model, ids, attention, ids.shape[1] - 5), old, batch["ref_per_token_logps"], batch["advantages"],
        batch["completion_mask"], beta=beta, epsilon_low=trainer.epsilon_low, epsilon_high=trainer.epsilon_high,
    )  # fmt: skip
    ours.backward()
    our_grads = _grads(model)
    model.zero_grad()
    assert torch.allclose(ours, trl_loss, atol=1e-6), (ours.item(), trl_loss.item())
    assert trl_grads.keys() == our_grads.keys()
    for name, grad in trl_grads.items():
        assert torch.allclose(our_grads[name], grad, atol=1e-6, rtol=1e-4), name
    if old_shift:  # the case is informative: some tokens are clipped
        ratio = torch.exp(current - old)
        assert ((ratio - 1).abs() > trainer.epsilon_low)[batch["completion_mask"].bool()].any()


def test_token_averaging_is_dapo_not_grpo(setup):
    """The per-answer average (loss_type='grpo') gives a different number on this batch: the test can fail."""
    trainer, ids, attention, batch = setup
    trainer.beta, trainer.epsilon_high = 0.04, trainer.epsilon_low
    trainer.loss_type = "grpo"
    try:
        with torch.no_grad():
            grpo_value = trainer._compute_loss(trainer.model, dict(batch)).item()
            lp = _logps(trainer.model, ids, attention, ids.shape[1] - 5)
            ours = W04.grpo_loss(lp, lp, batch["ref_per_token_logps"], batch["advantages"], batch["completion_mask"], beta=0.04)  # fmt: skip
    finally:
        trainer.loss_type = "dapo"
    assert abs(ours.item() - grpo_value) > 1e-4


def test_grpo_advantages_equal_trl_normalisation():
    """TRL's group normalisation (scale_rewards='group'): (r − group mean) / (nanstd + 1e-4)."""
    from trl.trainer.utils import nanstd

    rewards = torch.tensor([1.0, -1, 1, 1, -0.5, 1, -1, 1] + [0.5] * 8 + list(range(8)))
    grouped = rewards.view(-1, GROUP)
    expected = (grouped - grouped.mean(1, keepdim=True)) / (nanstd(grouped, dim=1).unsqueeze(1) + 1e-4)
    assert torch.allclose(W04.grpo_advantages(rewards, GROUP), expected.reshape(-1), atol=1e-6)
    assert torch.all(W04.grpo_advantages(rewards, GROUP)[8:16] == 0)  # equal rewards: no signal
