"""Correct-but-different answers to w01_transformers's exercises: each must earn full points.

They are written differently from the reference on purpose (float64, loops, library pieces where
the exercise allows them, another arrangement of the formula). tests/test_grader_trust.py grades
each one, from its source, like a submission.
"""

import math

import torch
import torch.nn.functional as F

from graders.testing import alternative


@alternative("merge_pair")
def merge_pair_zip(ids, pair, new_id):
    out, skip = [], False
    for a, b in zip(ids, list(ids[1:]) + [None]):
        if skip:
            skip = False
        elif (a, b) == tuple(pair):
            out.append(new_id)
            skip = True
        else:
            out.append(a)
    return out


@alternative("pad_batch")
def pad_batch_lists(sequences, pad_id, padding_side="right"):
    T = max(map(len, sequences))
    rows, masks = [], []
    for s in sequences:
        pad, zeros, ones = [pad_id] * (T - len(s)), [0] * (T - len(s)), [1] * len(s)
        rows.append(list(s) + pad if padding_side == "right" else pad + list(s))
        masks.append(ones + zeros if padding_side == "right" else zeros + ones)
    return torch.tensor(rows), torch.tensor(masks, dtype=torch.bool).long()  # the text asks for int64


@alternative("layer_norm")
def layer_norm_float64(x, weight, bias, eps=1e-5):
    x64 = x.double()
    centred = x64 - x64.mean(-1, keepdim=True)
    out = centred * torch.rsqrt(x64.var(-1, unbiased=False, keepdim=True) + eps)
    return (out * weight.double() + bias.double()).to(x.dtype)


@alternative("gelu_new")
def gelu_new_sigmoid(x):
    # 0.5 * (1 + tanh(a)) == sigmoid(2a)
    return x * torch.sigmoid(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x))


@alternative("attention_pattern")
def attention_pattern_einsum(q, k):
    T, d = q.shape[-2], q.shape[-1]
    s = torch.einsum("bhtd,bhsd->bhts", q, k) * d**-0.5
    allowed = torch.tril(torch.ones(T, T, device=q.device)).bool()
    s = torch.where(allowed, s, torch.finfo(s.dtype).min)
    e = (s - s.amax(-1, keepdim=True)).exp() * allowed
    return e / e.sum(-1, keepdim=True)


@alternative("causal_self_attention")
def causal_self_attention_per_head(x, params, n_head):
    B, T, D = x.shape
    dh = D // n_head
    W, b = params["c_attn.weight"], params["c_attn.bias"]
    mask = torch.full((T, T), float("-inf"), device=x.device).triu(1)
    outs = []
    for h in range(n_head):  # one head at a time
        cols = [slice(part * D + h * dh, part * D + (h + 1) * dh) for part in range(3)]
        q, k, v = (x @ W[:, c] + b[c] for c in cols)
        outs.append(torch.softmax(q @ k.transpose(1, 2) / math.sqrt(dh) + mask, dim=-1) @ v)
    return torch.cat(outs, dim=-1) @ params["c_proj.weight"] + params["c_proj.bias"]


@alternative("gpt_block")
def gpt_block_library_pieces(x, params, n_head):
    p, D = params, x.shape[-1]

    def lin(t, name):
        return F.linear(t, p[name + ".weight"].T, p[name + ".bias"])

    h = F.layer_norm(x, (D,), p["ln_1.weight"], p["ln_1.bias"], 1e-5)
    q, k, v = (t.unflatten(-1, (n_head, -1)).transpose(1, 2) for t in lin(h, "attn.c_attn").chunk(3, dim=-1))
    z = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).flatten(2)
    x = x + lin(z, "attn.c_proj")
    h = F.layer_norm(x, (D,), p["ln_2.weight"], p["ln_2.bias"], 1e-5)
    return x + lin(F.gelu(lin(h, "mlp.c_fc"), approximate="tanh"), "mlp.c_proj")


@alternative("gpt_forward")
def gpt_forward_embedding_lm_head(input_ids, params, n_head):
    p = params

    def block(x, b):
        D = x.shape[-1]
        h = F.layer_norm(x, (D,), b["ln_1.weight"], b["ln_1.bias"])
        q, k, v = (
            t.unflatten(-1, (n_head, -1)).transpose(1, 2)
            for t in (h @ b["attn.c_attn.weight"] + b["attn.c_attn.bias"]).chunk(3, -1)
        )
        z = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).flatten(2)
        x = x + z @ b["attn.c_proj.weight"] + b["attn.c_proj.bias"]
        h = F.gelu(
            F.layer_norm(x, (D,), b["ln_2.weight"], b["ln_2.bias"]) @ b["mlp.c_fc.weight"] + b["mlp.c_fc.bias"],
            approximate="tanh",
        )
        return x + h @ b["mlp.c_proj.weight"] + b["mlp.c_proj.bias"]

    pos = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
    x = F.embedding(input_ids, p["transformer.wte.weight"]) + F.embedding(pos, p["transformer.wpe.weight"])
    i = 0
    while f"transformer.h.{i}.ln_1.weight" in p:
        prefix = f"transformer.h.{i}."
        x = block(x, {k.removeprefix(prefix): v for k, v in p.items() if k.startswith(prefix)})
        i += 1
    x = F.layer_norm(x, (x.shape[-1],), p["transformer.ln_f.weight"], p["transformer.ln_f.bias"])
    return F.linear(x, p.get("lm_head.weight", p["transformer.wte.weight"]))


@alternative("sampling_probs")
def sampling_probs_sorted(logits, temperature=1.0, top_k=None):
    V = logits.shape[-1]
    if temperature == 0:
        return torch.zeros_like(logits).scatter(-1, logits.argmax(-1, keepdim=True), 1.0)
    z = logits.double() / temperature
    if top_k:
        kth = z.sort(-1, descending=True).values[..., min(top_k, V) - 1 : min(top_k, V)]
        z = torch.where(z >= kth, z, torch.tensor(float("-inf"), dtype=z.dtype, device=z.device))
    return (z - z.logsumexp(-1, keepdim=True)).exp().to(logits.dtype)


@alternative("sample_token")
def sample_token_searchsorted(logits, u, temperature=1.0, top_k=None):
    if temperature == 0:
        return logits.argmax(-1)
    z = logits / temperature
    if top_k and top_k < z.shape[-1]:
        z = z.masked_fill(z < z.topk(top_k, -1).values[..., -1:], float("-inf"))
    cdf = torch.softmax(z, -1).cumsum(-1).contiguous()
    i = torch.searchsorted(cdf, u[:, None].contiguous().to(cdf.dtype), right=True)[:, 0]
    return i.clamp(max=z.shape[-1] - 1)


@alternative("train_step")
def train_step_summed_nll(model, optimizer, input_ids, attention_mask, max_grad_norm=1.0):
    for p in model.parameters():
        p.grad = None
    logp = torch.log_softmax(model(input_ids)[:, :-1].double(), dim=-1)
    nll = -logp.gather(-1, input_ids[:, 1:, None])[..., 0]
    keep = attention_mask[:, 1:].bool()
    loss = nll[keep].sum() / keep.sum()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads))
    for g in grads:
        g.mul_(min(1.0, max_grad_norm / (float(norm) + 1e-6)))
    optimizer.step()
    return float(loss)
