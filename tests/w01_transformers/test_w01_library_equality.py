"""Week 1: the reference pieces reproduce transformers' GPT-2, tokenizer and sampling exactly.

These tests are what makes the week's grading meaningful: the graded cases compare an answer with
the reference on pure-torch weight dicts (``graders.weeks.w01_transformers.gpt2_params``), and
here the reference is shown to equal ``transformers.GPT2LMHeadModel`` on those very dicts, and
on the shipped tiny-base checkpoint.
"""

from __future__ import annotations

import json

import pytest
import torch

from courselib.models import load_model, load_tokenizer
from courselib.world import format_prompt, load_split
from graders.reference import load_reference
from graders.weeks.w01_transformers import gpt2_params

W01 = load_reference("w01_transformers")


def _hf_model(params: dict[str, torch.Tensor], n_head: int, attn: str = "eager"):
    from transformers import GPT2Config, GPT2LMHeadModel

    d = params["transformer.wte.weight"].shape[1]
    config = GPT2Config(
        vocab_size=params["transformer.wte.weight"].shape[0],
        n_positions=params["transformer.wpe.weight"].shape[0],
        n_embd=d,
        n_layer=1 + max(int(k.split(".")[2]) for k in params if k.startswith("transformer.h.")),
        n_head=n_head,
        bos_token_id=0,
        eos_token_id=0,
        attn_implementation=attn,
    )
    model = GPT2LMHeadModel(config).eval()
    missing, unexpected = model.load_state_dict(params, strict=False)
    assert not unexpected and not [k for k in missing if "attn.bias" not in k and "masked_bias" not in k]
    return model


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny-base")


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("tiny-base")


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize(("seed", "n_layer", "d", "n_head"), [(100, 2, 32, 4), (104, 3, 16, 4), (103, 1, 32, 2)])
def test_grader_weights_give_transformers_logits(seed, n_layer, d, n_head, attn):
    params = gpt2_params(seed, n_layer=n_layer, d=d)
    model = _hf_model(params, n_head, attn)
    ids = torch.randint(0, 50, (2, 16), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        theirs = model(ids).logits
        ours = W01.gpt_forward(ids, params, n_head)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


def test_reference_reproduces_tiny_base_logits(tiny, tokenizer):
    texts = [r["text"] for r in load_split("val")[:4]]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    ids = batch["input_ids"][:, : int(batch["attention_mask"].sum(1).min())]
    with torch.no_grad():
        theirs = tiny(ids).logits
        ours = W01.gpt_forward(ids, tiny.state_dict(), tiny.config.n_head)
    assert (ours - theirs).abs().max().item() < 1e-4


def test_reference_block_matches_every_tiny_base_block(tiny):
    x = torch.randn(2, 9, tiny.config.n_embd, generator=torch.Generator().manual_seed(0)) * 2
    for block in tiny.transformer.h:
        with torch.no_grad():
            theirs = block(x)
            theirs = theirs[0] if isinstance(theirs, tuple) else theirs
            ours = W01.gpt_block(x, block.state_dict(), tiny.config.n_head)
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


def test_reference_pieces_match_torch_and_transformers():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 5, 16, generator=g) * 3
    w, b = torch.randn(16, generator=g), torch.randn(16, generator=g)
    torch.testing.assert_close(W01.layer_norm(x, w, b), torch.nn.functional.layer_norm(x, (16,), w, b, 1e-5))
    torch.testing.assert_close(W01.gelu_new(x), torch.nn.functional.gelu(x, approximate="tanh"))
    from transformers.activations import ACT2FN

    torch.testing.assert_close(W01.gelu_new(x), ACT2FN["gelu_new"](x))
    q, k, v = (torch.randn(2, 4, 7, 8, generator=g) for _ in range(3))
    torch.testing.assert_close(
        W01.attention_pattern(q, k) @ v, torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    )


@pytest.mark.parametrize(("temperature", "top_k"), [(1.0, None), (0.7, 5), (1.5, 1), (0.3, 50), (2.0, 3)])
def test_sampling_probs_equal_transformers_warpers(temperature, top_k):
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper

    logits = torch.randn(4, 50, generator=torch.Generator().manual_seed(3)) * 3
    logits[0, :5] = 4.0  # ties at the top
    warped = TemperatureLogitsWarper(temperature)(None, logits.clone())
    if top_k:
        warped = TopKLogitsWarper(top_k)(None, warped)
    torch.testing.assert_close(W01.sampling_probs(logits, temperature, top_k), torch.softmax(warped, -1))


def test_sample_token_frequencies_follow_the_probabilities():
    row = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, 3.0])
    u = torch.rand(40000, generator=torch.Generator().manual_seed(0))
    draws = W01.sample_token(row.expand(40000, -1), u, temperature=0.8, top_k=4)
    freq = torch.bincount(draws, minlength=6).float() / 40000
    torch.testing.assert_close(freq, W01.sampling_probs(row, 0.8, 4), atol=0.01, rtol=0)


def test_greedy_generation_equals_transformers_generate(tiny, tokenizer):
    prompt = tokenizer(format_prompt(load_split("test")[0]["prompt"]), return_tensors="pt")["input_ids"]
    params = tiny.state_dict()
    ids = prompt
    with torch.no_grad():
        for _ in range(12):
            logits = W01.gpt_forward(ids, params, tiny.config.n_head)[:, -1]
            ids = torch.cat([ids, W01.sample_token(logits, torch.zeros(1), temperature=0)[:, None]], dim=1)
            if ids[0, -1].item() == tokenizer.eos_token_id:
                break
        theirs = tiny.generate(prompt, max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert torch.equal(ids, theirs)


@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_batch_equals_tokenizer_padding(tokenizer, side):
    texts = [format_prompt(r["prompt"]) for r in load_split("val")[:5]]
    tokenizer.padding_side = side
    try:
        library = tokenizer(texts, padding=True, return_tensors="pt")
    finally:
        tokenizer.padding_side = "right"
    ids, mask = W01.pad_batch([tokenizer(t)["input_ids"] for t in texts], tokenizer.pad_token_id, side)
    assert torch.equal(ids, library["input_ids"]) and torch.equal(mask, library["attention_mask"])


def test_replaying_the_merges_with_merge_pair_equals_the_tokenizer(tokenizer):
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    vocab = tokenizer.get_vocab()
    pre_tokenize = tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str
    for record in load_split("val")[:10]:
        text = record["text"].replace("<|endoftext|>", "")
        ours = []
        for word, _ in pre_tokenize(text):
            word_ids = [vocab[ch] for ch in word]
            for a, b in merges:
                word_ids = W01.merge_pair(word_ids, (vocab[a], vocab[b]), vocab[a + b])
            ours += word_ids
        assert ours == tokenizer(text)["input_ids"]


def test_released_notebook_loads_no_transformers_when_graded():
    """The definitions the autograder keeps must not import transformers (slow in the sandbox)."""
    from graders.reference import solution_source
    from graders.source import definitions_from_file

    code, _ = definitions_from_file(solution_source("w01_transformers"))
    top_level_imports = [line for line in code.splitlines() if line.startswith(("import ", "from "))]
    heavy = ("transformers", "transformer_lens", "courselib.models")
    assert not [line for line in top_level_imports if any(name in line for name in heavy)]
