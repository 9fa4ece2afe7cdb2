"""The tokenizer and tiny models load offline with transformers, TRL and TransformerLens."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from courselib.models import MODEL_NAMES, load_model, load_tokenizer, model_dir
from courselib.world import (
    EOS_TOKEN,
    PAD_TOKEN,
    evaluate_model,
    format_prompt,
    generate_responses,
    load_preferences,
    load_split,
    unique_prompts,
)
from courselib.world.tokenizer import TOKENIZER_DIR

SAMPLE = "User: What is 17 + 5?\nAssistant: 17 + 5 = 22.<|endoftext|>"


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("tiny-sft")


@pytest.fixture(scope="module")
def sft_model():
    return load_model("tiny-sft")


def test_tokenizer_loads_with_autotokenizer_and_round_trips() -> None:
    tok = AutoTokenizer.from_pretrained(TOKENIZER_DIR, local_files_only=True)
    assert tok.eos_token == EOS_TOKEN and tok.pad_token == PAD_TOKEN
    assert tok.eos_token_id != tok.pad_token_id
    assert 500 <= len(tok) <= 4096
    ids = tok(SAMPLE)["input_ids"]
    assert ids[-1] == tok.eos_token_id  # the end-of-text marker is one special token
    assert tok.decode(ids) == SAMPLE
    for rec in load_split("val")[:200]:
        assert tok.decode(tok(rec["text"])["input_ids"]) == rec["text"]
    assert tok.tokenize(" 1642") == ["Ġ", "1", "6", "4", "2"]  # digits are single tokens


def test_model_folders_ship_the_same_tokenizer() -> None:
    reference = (TOKENIZER_DIR / "tokenizer.json").read_bytes()
    for name in MODEL_NAMES:
        assert (model_dir(name) / "tokenizer.json").read_bytes() == reference


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_models_load_with_automodel(name: str) -> None:
    path = model_dir(name)
    assert {"config.json", "model.safetensors", "generation_config.json", "README.md"} <= {
        p.name for p in path.iterdir()
    }
    assert sum(p.stat().st_size for p in path.iterdir()) < 10_000_000
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    assert type(model).__name__ == "GPT2LMHeadModel"
    assert 500_000 < model.num_parameters() < 2_000_000
    tok = load_tokenizer(name)
    ids = tok(SAMPLE, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model(ids, labels=ids)
    assert torch.isfinite(out.loss) and out.loss.item() < 3.0


def test_model_dir_rejects_unknown_names() -> None:
    with pytest.raises(ValueError):
        model_dir("gpt-5")


def test_batched_generation_matches_one_by_one(sft_model, tokenizer) -> None:
    prompts = [r["prompt"] for r in unique_prompts(load_split("test"))[:6]]
    batched = generate_responses(sft_model, tokenizer, prompts, max_new_tokens=20)
    single = [generate_responses(sft_model, tokenizer, [p], max_new_tokens=20)[0] for p in prompts]
    assert batched == single


def test_evaluate_model_returns_the_documented_metrics(sft_model, tokenizer) -> None:
    records = unique_prompts(load_split("val"))[:30]
    metrics = evaluate_model(sft_model, tokenizer, records, max_new_tokens=24, return_generations=True)
    for key in (
        "mean_gold_reward",
        "task_accuracy",
        "harmful_compliance_rate",
        "jailbreak_success_rate",
        "pii_leak_rate",
        "injection_success_rate",
        "over_refusal_rate",
    ):
        value = metrics[key]
        assert value != value or 0.0 <= value <= 1.0 or key == "mean_gold_reward"  # NaN allowed if absent
    assert -2.0 <= metrics["mean_gold_reward"] <= 1.0
    assert metrics["n_prompts"] == len(metrics["generations"]) == 30


def test_trl_dpo_trainer_one_step(tmp_path: Path) -> None:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    model = load_model("tiny-sft")
    tok = load_tokenizer("tiny-sft")
    pairs = load_preferences("train")[:8]
    dataset = Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs])
    config = DPOConfig(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=4,
        report_to=[],
        save_strategy="no",
        logging_steps=1,
        use_cpu=True,
        learning_rate=1e-4,
    )
    before = model.transformer.wte.weight.detach().clone()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = DPOTrainer(model=model, args=config, train_dataset=dataset, processing_class=tok)
        result = trainer.train()
    assert result.global_step == 1
    assert torch.isfinite(torch.tensor(result.training_loss))
    assert not torch.equal(before, model.transformer.wte.weight.detach())


def test_transformer_lens_bridge_matches_transformers() -> None:
    from transformer_lens.model_bridge import TransformerBridge

    path = model_dir("tiny-sft")
    tok = load_tokenizer("tiny-sft")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bridge = TransformerBridge.boot_transformers(str(path), device="cpu", tokenizer=tok)
    hf = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, attn_implementation="eager").eval()
    ids = tok(format_prompt("What is 3 + 4?"), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = hf(ids).logits
        got = bridge(ids)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    _, cache = bridge.run_with_cache(ids)
    assert len(cache) > 0
