"""Week 4: the RLHF loop's plumbing on the real tiny-sft model.

``rollout`` must hand the update right-padded rows whose completion mask covers exactly the
sampled answer (up to and including its first end-of-text token), and one update of
``grpo_train_step`` must move each answer's log-probability in the direction of its advantage
(to first order: the sum of change × advantage is positive).
"""

from __future__ import annotations

import copy

import torch

from courselib.models import load_model, load_tokenizer
from courselib.world import format_prompt, load_split, unique_prompts
from graders.reference import load_reference

W04 = load_reference("w04_rlhf")


def test_rollout_masks_cover_exactly_the_answers():
    tokenizer, model = load_tokenizer("tiny-sft"), load_model("tiny-sft")
    records = unique_prompts(load_split("test"))[:3]
    torch.manual_seed(0)
    batch, texts = W04.rollout(model, tokenizer, records, 2, 12)
    assert len(texts) == 6 and batch["input_ids"].shape[0] == 6
    for i in range(6):
        prompt = tokenizer(format_prompt(records[i // 2]["prompt"]))["input_ids"]
        row, attn, comp = batch["input_ids"][i], batch["attention_mask"][i], batch["completion_mask"][i]
        n = int(attn.sum())
        assert attn[:n].all() and not attn[n:].any(), "rows are right-padded"
        assert row[: len(prompt)].tolist() == prompt, "the prompt comes first, unpadded"
        assert not comp[: len(prompt)].any() and comp[len(prompt) : n].all() and not comp[n:].any()
        answer = row[len(prompt) : n].tolist()
        assert 1 <= len(answer) <= 12
        eos = tokenizer.eos_token_id
        assert eos not in answer[:-1], "nothing is kept after the first end-of-text"
        assert tokenizer.decode(answer, skip_special_tokens=True).strip().startswith(texts[i][:5])


def test_one_update_raises_the_rewarded_answers_probability():
    tokenizer, reference = load_tokenizer("tiny-sft"), load_model("tiny-sft").requires_grad_(False)
    policy = copy.deepcopy(reference).requires_grad_(True)
    records = unique_prompts(load_split("train"))[:2]
    torch.manual_seed(1)
    batch, texts = W04.rollout(policy, tokenizer, records, 8, 12)
    batch["rewards"] = torch.randn(16, generator=torch.Generator().manual_seed(2))  # any rewards that differ
    mask = batch["completion_mask"][:, 1:]

    def seq_logps(model):
        with torch.no_grad():
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
            lp = torch.log_softmax(logits, -1).gather(-1, batch["input_ids"][:, 1:, None])[..., 0]
        return (lp * mask).sum(-1)

    before = seq_logps(policy)
    optimizer = torch.optim.SGD(policy.parameters(), lr=0.05)
    metrics = W04.grpo_train_step(policy, reference, optimizer, batch, 8)
    assert abs(metrics["kl"]) < 1e-5  # the policy sampled the batch and equalled the reference
    change = seq_logps(policy) - before
    adv = W04.grpo_advantages(batch["rewards"], 8)
    assert (change * adv).sum() > 0, "the update must move log-probabilities in the direction of the advantages"
