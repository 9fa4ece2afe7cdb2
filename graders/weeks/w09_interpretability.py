"""Week 9 exercises: hooks, head scores, direct logit attribution, ablation, patching, AUROC.

The reference implementations live in ``solutions/w09_interpretability/w09_interpretability.py``.
Model-shaped exercises run on a tiny GPT-2 with seeded random weights (``graders/weeks/fixtures.py``),
rebuilt by each exercise's ``call``, which also reports how many hooks the answer left on the model.
The week's tests show that the reference equals TransformerLens 4 on the shipped models.
"""

from __future__ import annotations

import torch

from graders.core import SKLEARN_SCORERS, Case, Exercise, draw_choice, draw_int, seeded
from graders.weeks.fixtures import tiny_gpt2, tiny_gpt2_state

VOCAB = 32
D_HEAD = 8
# Every size different (3 layers, 2 heads, d_head 8, d_model 16), so an answer that reads one size
# for another (n_layer for the head count) fails instead of passing by coincidence.
SIZES = {"n_layer": 3, "n_head": 2, "n_embd": 16}
PROBE = [[3, 17, 9, 25, 4, 30, 11], [8, 2, 21, 14, 6, 19, 27]]  # a fixed input no case uses


def _state(seed: int) -> dict[str, torch.Tensor]:
    return tiny_gpt2_state(seed, VOCAB, lm_head=True, scale=0.5, unit_weight_suffix="ln_1.weight", sizes=SIZES)


def _ids(g: torch.Generator, b: int, t: int) -> torch.Tensor:
    return torch.randint(2, VOCAB, (b, t), generator=g)


def _own_hooks(model: torch.nn.Module) -> int:
    """Forward (pre-)hooks left on ``model``, except transformers' own output-capture hooks."""
    hooks = [h for m in model.modules() for h in (*m._forward_pre_hooks.values(), *m._forward_hooks.values())]
    return sum(not str(getattr(h, "__module__", "")).startswith("transformers.") for h in hooks)


def model_afterwards(model: torch.nn.Module, fresh: torch.nn.Module, was_training: bool) -> str:
    """How the model behaves after the answer ran, judged against a fresh model from the same state.

    The answer may use the model however it likes (hooks, ``output_hidden_states``, a patched
    ``forward``) as long as, afterwards, the model computes what it computed before (the same
    logits on a probe input), is in the same mode, and carries none of the answer's hooks.
    """
    if model.training != was_training:
        return f"left the model in {'train' if model.training else 'eval'} mode: restore the mode it was in"
    replaced = [n or "model" for n, m in model.named_modules() if "forward" in vars(m)]
    if replaced:
        return f"left a replaced forward on {replaced[0]}: restore the original method (in a finally: block)"
    if _own_hooks(model):
        return f"left {_own_hooks(model)} hook(s) on the model: keep each handle and remove it in a finally: block"
    probe = torch.tensor(PROBE, device=next(fresh.parameters()).device)
    try:
        with torch.no_grad():
            same = torch.allclose(model(probe).logits, fresh(probe).logits, rtol=1e-5, atol=1e-6)
    except Exception as exc:  # noqa: BLE001 - a model broken by the answer is feedback too
        return f"the model no longer runs after your function: {type(exc).__name__}"
    if not same:
        return "the model computes something else after your function ran (a patch or an edit was left in place)"
    return "unchanged"


def _on_model(fn, case: Case) -> dict:
    """Build the tiny GPT-2 from ``state``, run the answer on it, then check the model by behaviour."""
    kw = dict(case.kwargs)
    state = kw.pop("state")
    device = next(iter(kw.values())).device
    model = tiny_gpt2(VOCAB, lm_head=True, state=state, sizes=SIZES).to(device)
    was_training = model.training
    out = fn(model, **kw)
    fresh = tiny_gpt2(VOCAB, lm_head=True, state=state, sizes=SIZES).to(device)
    return {"output": out, "model afterwards": model_afterwards(model, fresh, was_training)}


# --------------------------------------------------------------------------------------------
# cache_activations
# --------------------------------------------------------------------------------------------


def _cache_cases() -> list[Case]:
    g = seeded(90)
    return [
        Case(
            "ids [2, 7] on a tiny 3-layer GPT-2 (2 heads, d_head 8)",
            kwargs={"state": _state(0), "input_ids": _ids(g, 2, 7)},
        ),
        Case("a single sequence [1, 16] (full context)", kwargs={"state": _state(1), "input_ids": _ids(g, 1, 16)}),
        Case(
            "ids [3, 5], other weights (hidden)", kwargs={"state": _state(2), "input_ids": _ids(g, 3, 5)}, hidden=True
        ),
    ]


def _cache_random(g: torch.Generator) -> Case:
    """ids [B, T] with T from 1 to the full context of 16, other weights each time."""
    B, T = draw_int(g, 1, 3), draw_choice(g, (1, 16, draw_int(g, 1, 16)))
    return Case(f"ids [{B}, {T}]", kwargs={"state": _state(draw_int(g, 0, 9999)), "input_ids": _ids(g, B, T)})


CACHE = Exercise(
    "cache_activations",
    points=2,
    make_cases=_cache_cases,
    call=_on_model,
    random_case=_cache_random,
    n_random=4,
    summary="cache residuals and head outputs with hooks",
)


@CACHE.mistake(
    "saved each block's output instead of its input (one layer late)", "a forward *pre*-hook sees the block's input."
)
def block_outputs(model, input_ids):
    n_head, resid, z = model.config.n_head, [], []
    hs = [
        b.register_forward_hook(lambda m, a, o: resid.append((o[0] if isinstance(o, tuple) else o).detach()))
        for b in model.transformer.h
    ]
    hs += [
        b.attn.c_proj.register_forward_pre_hook(lambda m, a: z.append(a[0].reshape(*a[0].shape[:-1], n_head, -1)))
        for b in model.transformer.h
    ]
    hs.append(model.transformer.ln_f.register_forward_pre_hook(lambda m, a: resid.append(a[0].detach())))
    with torch.no_grad():
        model(input_ids)
    for h in hs:
        h.remove()
    return {"resid": torch.stack(resid), "z": torch.stack(z).detach()}


@CACHE.mistake(
    "saved the final layer norm's output as the last residual",
    "the last entry is the input of ln_f, before normalising.",
)
def after_ln_f(model, input_ids):
    n_head, resid, z = model.config.n_head, [], []
    hs = [b.register_forward_pre_hook(lambda m, a: resid.append(a[0].detach())) for b in model.transformer.h]
    hs += [
        b.attn.c_proj.register_forward_pre_hook(lambda m, a: z.append(a[0].reshape(*a[0].shape[:-1], n_head, -1)))
        for b in model.transformer.h
    ]
    hs.append(model.transformer.ln_f.register_forward_hook(lambda m, a, o: resid.append(o.detach())))
    with torch.no_grad():
        model(input_ids)
    for h in hs:
        h.remove()
    return {"resid": torch.stack(resid), "z": torch.stack(z).detach()}


@CACHE.mistake(
    "split the heads as [d_head, H] (heads interleaved)",
    "c_proj's input is the heads concatenated: reshape to [..., H, d_head].",
)
def interleaved_heads(model, input_ids):
    n_head, resid, z = model.config.n_head, [], []
    hs = [b.register_forward_pre_hook(lambda m, a: resid.append(a[0].detach())) for b in model.transformer.h]
    hs += [
        b.attn.c_proj.register_forward_pre_hook(
            lambda m, a: z.append(a[0].reshape(*a[0].shape[:-1], -1, n_head).transpose(-1, -2))
        )
        for b in model.transformer.h
    ]
    hs.append(model.transformer.ln_f.register_forward_pre_hook(lambda m, a: resid.append(a[0].detach())))
    with torch.no_grad():
        model(input_ids)
    for h in hs:
        h.remove()
    return {"resid": torch.stack(resid), "z": torch.stack(z).detach()}


@CACHE.mistake("took z after the output projection c_proj", "z is c_proj's *input*: a pre-hook on attn.c_proj.")
def z_after_c_proj(model, input_ids):
    n_head, resid, z = model.config.n_head, [], []
    hs = [b.register_forward_pre_hook(lambda m, a: resid.append(a[0].detach())) for b in model.transformer.h]
    hs += [
        b.attn.c_proj.register_forward_hook(lambda m, a, o: z.append(o.reshape(*o.shape[:-1], n_head, -1)))
        for b in model.transformer.h
    ]
    hs.append(model.transformer.ln_f.register_forward_pre_hook(lambda m, a: resid.append(a[0].detach())))
    with torch.no_grad():
        model(input_ids)
    for h in hs:
        h.remove()
    return {"resid": torch.stack(resid), "z": torch.stack(z).detach()}


@CACHE.mistake(
    "cached the normalised stream (the output of ln_1)", "the residual stream is the block's input, before ln_1."
)
def after_ln_1(model, input_ids):
    n_head, resid, z = model.config.n_head, [], []
    hs = [b.ln_1.register_forward_hook(lambda m, a, o: resid.append(o.detach())) for b in model.transformer.h]
    hs += [
        b.attn.c_proj.register_forward_pre_hook(lambda m, a: z.append(a[0].reshape(*a[0].shape[:-1], n_head, -1)))
        for b in model.transformer.h
    ]
    hs.append(model.transformer.ln_f.register_forward_pre_hook(lambda m, a: resid.append(a[0].detach())))
    with torch.no_grad():
        model(input_ids)
    for h in hs:
        h.remove()
    return {"resid": torch.stack(resid), "z": torch.stack(z).detach()}


@CACHE.mistake("never removed the hooks", "keep every handle and call handle.remove() in a finally: block.")
def hooks_left(model, input_ids):
    n_head, resid, z = model.config.n_head, [], []
    for b in model.transformer.h:
        b.register_forward_pre_hook(lambda m, a: resid.append(a[0].detach()))
        b.attn.c_proj.register_forward_pre_hook(lambda m, a: z.append(a[0].reshape(*a[0].shape[:-1], n_head, -1)))
    model.transformer.ln_f.register_forward_pre_hook(lambda m, a: resid.append(a[0].detach()))
    with torch.no_grad():
        model(input_ids)
    return {"resid": torch.stack(resid), "z": torch.stack(z).detach()}


@CACHE.mistake(
    "read n_layer for the number of heads", "the head count is model.config.n_head (d_head = d_model // n_head)."
)
def heads_from_n_layer(model, input_ids):
    n_head, resid, z = model.config.n_layer, [], []
    hs = [b.register_forward_pre_hook(lambda m, a: resid.append(a[0].detach())) for b in model.transformer.h]
    hs += [
        b.attn.c_proj.register_forward_pre_hook(lambda m, a: z.append(a[0].reshape(*a[0].shape[:-1], n_head, -1)))
        for b in model.transformer.h
    ]
    hs.append(model.transformer.ln_f.register_forward_pre_hook(lambda m, a: resid.append(a[0].detach())))
    with torch.no_grad():
        model(input_ids)
    for h in hs:
        h.remove()
    return {"resid": torch.stack(resid), "z": torch.stack(z).detach()}


# --------------------------------------------------------------------------------------------
# previous_token_score and induction_score
# --------------------------------------------------------------------------------------------


def _patterns(g: torch.Generator, b: int, h: int, t: int, sharp: float = 3.0, dtype=torch.float32) -> torch.Tensor:
    scores = torch.randn(b, h, t, t, generator=g, dtype=dtype) * sharp
    return scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)


def _prev_cases() -> list[Case]:
    g = seeded(91)
    return [
        Case("patterns [2, 3, 6, 6] (causal, rows sum to 1)", (_patterns(g, 2, 3, 6),)),
        Case("a single head and sequence [1, 1, 9, 9], sharp attention", (_patterns(g, 1, 1, 9, sharp=8.0),)),
        Case("patterns [4, 2, 5, 5] in float64", (_patterns(g, 4, 2, 5, dtype=torch.float64),)),
        Case("patterns [3, 4, 12, 12] (hidden)", (_patterns(g, 3, 4, 12),), hidden=True),
    ]


def _dtype(g: torch.Generator) -> torch.dtype:
    return draw_choice(g, (torch.float32, torch.float64))


def _prev_random(g: torch.Generator) -> Case:
    b, h, t = draw_int(g, 1, 3), draw_int(g, 1, 4), draw_int(g, 2, 12)
    return Case(f"patterns [{b}, {h}, {t}, {t}]", (_patterns(g, b, h, t, draw_choice(g, (1.0, 3.0, 8.0)), _dtype(g)),))


PREV_SCORE = Exercise(
    "previous_token_score",
    points=1,
    make_cases=_prev_cases,
    summary="previous-token score per head",
    random_case=_prev_random,
)


@PREV_SCORE.mistake("included query 0, which has no previous token", "average over queries t = 1 … T − 1 only.")
def includes_query_zero(pattern):
    return torch.cat([torch.zeros_like(pattern[..., :1, 0]), pattern.diagonal(-1, -2, -1)], -1).mean(dim=(0, 2))


@PREV_SCORE.mistake(
    "swapped queries and keys (A[t − 1, t] is masked: all zeros)", "rows are queries: A[..., t, t − 1]."
)
def swapped_axes(pattern):
    t = torch.arange(1, pattern.shape[-1])
    return pattern[..., t - 1, t].mean(dim=(0, 2))


@PREV_SCORE.mistake(
    "measured attention to the current token (the diagonal)", "the previous token is one column left of the diagonal."
)
def diagonal(pattern):
    t = torch.arange(1, pattern.shape[-1])
    return pattern[..., t, t].mean(dim=(0, 2))


@PREV_SCORE.mistake("averaged over the heads too", "return one score per head: average over batch and queries only.")
def averaged_heads(pattern):
    t = torch.arange(1, pattern.shape[-1])
    return pattern[..., t, t - 1].mean().expand(pattern.shape[1])


@PREV_SCORE.mistake("summed over the queries instead of averaging", "divide by the T − 1 queries (take the mean).")
def summed(pattern):
    t = torch.arange(1, pattern.shape[-1])
    return pattern[..., t, t - 1].sum(2).mean(0)


def _rep_patterns(g: torch.Generator, b: int, h: int, n: int, sharp: float = 3.0, dtype=torch.float32):
    return (_patterns(g, b, h, 1 + 2 * n, sharp, dtype), n)


def _induction_cases() -> list[Case]:
    g = seeded(92)
    return [
        Case("patterns [2, 3, 9, 9] for [BOS, r, r] with |r| = 4", _rep_patterns(g, 2, 3, 4)),
        Case("|r| = 2: patterns [1, 2, 5, 5]", _rep_patterns(g, 1, 2, 2, sharp=6.0)),
        Case("|r| = 6 in float64, [3, 1, 13, 13]", _rep_patterns(g, 3, 1, 6, dtype=torch.float64)),
        Case("|r| = 7, patterns [2, 4, 15, 15] (hidden)", _rep_patterns(g, 2, 4, 7), hidden=True),
    ]


def _induction_random(g: torch.Generator) -> Case:
    b, h, n = draw_int(g, 1, 3), draw_int(g, 1, 4), draw_int(g, 1, 7)
    return Case(
        f"|r| = {n}, patterns [{b}, {h}, {1 + 2 * n}, {1 + 2 * n}]",
        _rep_patterns(g, b, h, n, draw_choice(g, (1.0, 3.0, 8.0)), _dtype(g)),
    )


IND_SCORE = Exercise(
    "induction_score",
    points=1,
    make_cases=_induction_cases,
    summary="Olsson et al.'s induction score per head",
    random_case=_induction_random,
)


@IND_SCORE.mistake(
    "attended to the earlier occurrence itself (a duplicate-token score)",
    "the induction target is the token *after* the earlier occurrence: q − n + 1.",
)
def duplicate_token(pattern, rep_len):
    q = torch.arange(rep_len + 1, 2 * rep_len + 1)
    return pattern[..., q, q - rep_len].mean(dim=(0, 2))


@IND_SCORE.mistake(
    "averaged the whole diagonal, including queries n − 1 and n of the first copy",
    "only queries of the second copy (n + 1 … 2n) have an earlier occurrence.",
)
def whole_diagonal(pattern, rep_len):
    return pattern.diagonal(-(rep_len - 1), -2, -1).mean(dim=(0, 2))


@IND_SCORE.mistake(
    "forgot BOS at position 0 (second copy taken as n … 2n − 1)",
    "with BOS first, the second copy is positions n + 1 … 2n.",
)
def forgot_bos(pattern, rep_len):
    q = torch.arange(rep_len, 2 * rep_len)
    return pattern[..., q, q - rep_len + 1].mean(dim=(0, 2))


@IND_SCORE.mistake("swapped queries and keys", "rows are queries: A[..., q, q − n + 1].")
def swapped(pattern, rep_len):
    q = torch.arange(rep_len + 1, 2 * rep_len + 1)
    return pattern[..., q - rep_len + 1, q].mean(dim=(0, 2))


@IND_SCORE.mistake("averaged over the heads too", "return one score per head.")
def over_heads(pattern, rep_len):
    q = torch.arange(rep_len + 1, 2 * rep_len + 1)
    return pattern[..., q, q - rep_len + 1].mean().expand(pattern.shape[1])


# --------------------------------------------------------------------------------------------
# head_logit_attribution
# --------------------------------------------------------------------------------------------


def _dla_args(g: torch.Generator, b: int, h: int, e: int, d: int, v: int, dtype=torch.float32):
    return (
        torch.randn(b, h, e, generator=g, dtype=dtype),
        torch.randn(h, e, d, generator=g, dtype=dtype) * 0.5,
        torch.rand(b, 1, generator=g, dtype=dtype) * 2 + 0.5,
        1 + torch.randn(d, generator=g, dtype=dtype) * 0.3,
        torch.randn(d, v, generator=g, dtype=dtype),
        torch.randint(0, v, (b,), generator=g),
    )


def _dla_cases() -> list[Case]:
    g = seeded(93)
    return [
        Case("B=3 rows, 2 heads, d_head 4, d 8, V 10", _dla_args(g, 3, 2, 4, 8, 10)),
        Case("a single row, 4 heads, d_head 2, d 8, V 5", _dla_args(g, 1, 4, 2, 8, 5)),
        Case("float64, B=5, 3 heads, d 6, V 7 (repeated answers)", _dla_args(g, 5, 3, 2, 6, 7, torch.float64)),
        Case("B=4, 2 heads, d_head 8, d 16, V 20 (hidden)", _dla_args(g, 4, 2, 8, 16, 20), hidden=True),
    ]


def _dla_random(g: torch.Generator) -> Case:
    b, h, e, d, v = draw_int(g, 1, 5), draw_int(g, 1, 4), draw_int(g, 1, 8), draw_int(g, 2, 16), draw_int(g, 2, 20)
    return Case(f"B={b}, {h} heads, d_head {e}, d {d}, V {v}", _dla_args(g, b, h, e, d, v, _dtype(g)))


DLA = Exercise(
    "head_logit_attribution",
    points=2,
    make_cases=_dla_cases,
    summary="direct logit attribution per head",
    random_case=_dla_random,
)


@DLA.mistake(
    "did not centre the head's output (the layer norm subtracts the mean)",
    "subtract the mean over d_model before dividing by the scale.",
)
def not_centred(z, W_O, ln_scale, ln_weight, W_U, answer_ids):
    out = torch.einsum("bhe,hed->bhd", z, W_O)
    return torch.einsum("bhd,db->bh", out, ln_weight[:, None] * W_U[:, answer_ids]) / ln_scale


@DLA.mistake("forgot to divide by the layer norm's scale", "the frozen scale s divides the centred output.")
def no_scale(z, W_O, ln_scale, ln_weight, W_U, answer_ids):
    out = torch.einsum("bhe,hed->bhd", z, W_O)
    out = out - out.mean(-1, keepdim=True)
    return torch.einsum("bhd,db->bh", out, ln_weight[:, None] * W_U[:, answer_ids])


@DLA.mistake("forgot the layer norm's gain γ", "multiply the unembedding direction by ln_weight.")
def no_gain(z, W_O, ln_scale, ln_weight, W_U, answer_ids):
    out = torch.einsum("bhe,hed->bhd", z, W_O)
    out = out - out.mean(-1, keepdim=True)
    return torch.einsum("bhd,db->bh", out, W_U[:, answer_ids]) / ln_scale


@DLA.mistake("multiplied by the scale instead of dividing", "LN(x) = (x − mean) / s · γ + β.")
def times_scale(z, W_O, ln_scale, ln_weight, W_U, answer_ids):
    out = torch.einsum("bhe,hed->bhd", z, W_O)
    out = out - out.mean(-1, keepdim=True)
    return torch.einsum("bhd,db->bh", out, ln_weight[:, None] * W_U[:, answer_ids]) * ln_scale


@DLA.mistake("used row 0's answer for every row", "row b's attribution uses answer_ids[b].")
def first_answer(z, W_O, ln_scale, ln_weight, W_U, answer_ids):
    out = torch.einsum("bhe,hed->bhd", z, W_O)
    out = out - out.mean(-1, keepdim=True)
    return torch.einsum("bhd,d->bh", out, ln_weight * W_U[:, answer_ids[0]]) / ln_scale


# --------------------------------------------------------------------------------------------
# set_head_output
# --------------------------------------------------------------------------------------------


def _head_cases() -> list[Case]:
    g = seeded(94)

    def case(describe, seed, b, t, layer, head, value, hidden=False):
        kw = {"state": _state(seed), "input_ids": _ids(g, b, t), "layer": layer, "head": head, "value": value}
        return Case(describe, kwargs=kw, hidden=hidden)

    return [
        case("zero ablation of head 0.1 on ids [2, 6]", 10, 2, 6, 0, 1, torch.zeros(D_HEAD)),
        case("mean ablation of head 1.0 (a [d_head] vector)", 11, 3, 5, 1, 0, torch.randn(D_HEAD, generator=g)),
        case(
            "patching head 0.0 with a whole [2, 7, d_head] tensor",
            12,
            2,
            7,
            0,
            0,
            torch.randn(2, 7, D_HEAD, generator=g),
        ),
        case(
            "head 1.1 set to a [1, 9, d_head] tensor (hidden)",
            13,
            1,
            9,
            1,
            1,
            torch.randn(1, 9, D_HEAD, generator=g),
            True,
        ),
    ]


def _head_random(g: torch.Generator) -> Case:
    """ids [B, T] (T = 1 included), any head of any layer, a value of each shape broadcastable to [B, T, d_head]."""
    B, T = draw_int(g, 1, 3), draw_int(g, 1, 8)
    layer, head = draw_int(g, 0, SIZES["n_layer"] - 1), draw_int(g, 0, SIZES["n_head"] - 1)
    shape = draw_choice(g, ((D_HEAD,), (T, D_HEAD), (B, 1, D_HEAD), (1, T, D_HEAD), (B, T, D_HEAD)))
    value = torch.randn(shape, generator=g) * draw_choice(g, (0.0, 1.0, 3.0))
    kw = {
        "state": _state(draw_int(g, 0, 9999)),
        "input_ids": _ids(g, B, T),
        "layer": layer,
        "head": head,
        "value": value,
    }
    return Case(f"head {layer}.{head} on ids [{B}, {T}] set to a {list(shape)} value", kwargs=kw)


HEAD = Exercise(
    "set_head_output",
    points=2,
    make_cases=_head_cases,
    call=_on_model,
    summary="ablate or patch one head's output",
    random_case=_head_random,
    n_random=4,
)


def _set_head(model, input_ids, layer, head, value, mistake=""):
    """Set one head's slice of c_proj's input with a pre-hook, with a switch per mistake."""
    H = model.config.n_head

    def hook(m, args):
        x = args[0]
        if mistake == "interleaved":
            z = x.reshape(*x.shape[:-1], -1, H).clone()
            z[..., head] = value
            return (z.reshape(x.shape),)
        z = x.reshape(*x.shape[:-1], H, -1).clone()
        if mistake == "all_heads":
            z[...] = value.unsqueeze(-2) if value.dim() == 3 else value
        elif mistake == "added":
            z[..., head, :] += value
        else:
            z[..., head, :] = value
        return (z.reshape(x.shape),)

    h = model.transformer.h[layer].attn.c_proj.register_forward_pre_hook(hook)
    with torch.no_grad():
        out = model(input_ids).logits
    if mistake != "hook_left":
        h.remove()
    return out


@HEAD.mistake(
    "split the heads as [d_head, H] (heads interleaved)", "c_proj's input is the heads concatenated: [..., H, d_head]."
)
def interleaved(model, input_ids, layer, head, value):
    return _set_head(model, input_ids, layer, head, value, "interleaved")


@HEAD.mistake(
    "overwrote a slice of c_proj's *output* (after the heads are mixed)",
    "replace the head's slice of c_proj's input (a pre-hook).",
)
def output_slice(model, input_ids, layer, head, value):
    def hook(m, args, out):
        out = out.clone()
        out[..., head * value.shape[-1] : (head + 1) * value.shape[-1]] = value
        return out

    h = model.transformer.h[layer].attn.c_proj.register_forward_hook(hook)
    with torch.no_grad():
        out = model(input_ids).logits
    h.remove()
    return out


@HEAD.mistake("set every head of the layer", "only the slice [..., head, :] changes.")
def all_heads(model, input_ids, layer, head, value):
    return _set_head(model, input_ids, layer, head, value, "all_heads")


@HEAD.mistake("added the value to the head's output instead of replacing it", "assign: z[..., head, :] = value.")
def added(model, input_ids, layer, head, value):
    return _set_head(model, input_ids, layer, head, value, "added")


@HEAD.mistake("never removed the hook (every later run stays ablated)", "remove the handle in a finally: block.")
def hook_left(model, input_ids, layer, head, value):
    return _set_head(model, input_ids, layer, head, value, "hook_left")


@HEAD.mistake(
    "replaced c_proj.forward to set the head and never restored it (every later run stays patched)",
    "restore the original forward in a finally: block, or use a hook and remove its handle.",
)
def forward_replaced(model, input_ids, layer, head, value):
    proj = model.transformer.h[layer].attn.c_proj
    original, n_head = proj.forward, model.config.n_head

    def patched(x):
        z = x.reshape(*x.shape[:-1], n_head, -1).clone()
        z[..., head, :] = value
        return original(z.reshape(x.shape))

    proj.forward = patched
    with torch.no_grad():
        return model(input_ids).logits


# --------------------------------------------------------------------------------------------
# patch_residual
# --------------------------------------------------------------------------------------------


def _patch_cases() -> list[Case]:
    g = seeded(95)

    def case(describe, seed, b, t, layer, pos, hidden=False):
        kw = {
            "state": _state(seed),
            "input_ids": _ids(g, b, t),
            "layer": layer,
            "pos": pos,
            "value": torch.randn(b, 16, generator=g) * 2,
        }
        return Case(describe, kwargs=kw, hidden=hidden)

    return [
        case("block 1's input at position 2 of ids [2, 6]", 20, 2, 6, 1, 2),
        case("block 0's input at the last position (pos = −1)", 21, 3, 5, 0, -1),
        case("ln_f's input (layer = L = 2) at position 0", 22, 2, 4, 2, 0),
        case("block 0's input at position 3 of ids [1, 8] (hidden)", 23, 1, 8, 0, 3, True),
    ]


def _patch_random(g: torch.Generator) -> Case:
    """ids [B, T] (T = 1 included), layer 0 … L (ln_f's input included), any position, negative ones too."""
    B, T = draw_int(g, 1, 3), draw_int(g, 1, 8)
    layer, pos = draw_int(g, 0, SIZES["n_layer"]), draw_int(g, -T, T - 1)
    kw = {"state": _state(draw_int(g, 0, 9999)), "input_ids": _ids(g, B, T), "layer": layer, "pos": pos}
    kw["value"] = torch.randn(B, SIZES["n_embd"], generator=g) * 2
    return Case(f"layer {layer}, position {pos} of ids [{B}, {T}]", kwargs=kw)


PATCH = Exercise(
    "patch_residual",
    points=2,
    make_cases=_patch_cases,
    call=_on_model,
    random_case=_patch_random,
    n_random=4,
    summary="patch the residual stream at one layer and position",
)


def _patch(model, input_ids, layer, pos, value, mistake=""):
    """Patch the residual stream entering block ``layer`` (ln_f past the last) with a pre-hook, a switch per mistake."""

    def hook(m, a):
        if mistake == "every_position":
            return (value[:, None].expand_as(a[0]).clone(), *a[1:])
        x = a[0].clone()
        if mistake == "adds":
            x[:, pos] += value
        else:
            x[:, (pos + 1) % x.shape[1] if mistake == "off_by_one" else pos] = value
        return (x, *a[1:])

    mod = model.transformer.h[layer] if layer < len(model.transformer.h) else model.transformer.ln_f
    h = mod.register_forward_pre_hook(hook)
    with torch.no_grad():
        out = model(input_ids).logits
    if mistake != "leaves_hook":
        h.remove()
    return out


@PATCH.mistake("patched every position", "overwrite x[:, pos] only.")
def every_position(model, input_ids, layer, pos, value):
    return _patch(model, input_ids, layer, pos, value, "every_position")


@PATCH.mistake(
    "patched the block's output instead of its input (one layer late)",
    "a pre-hook on block ℓ changes the stream *entering* it.",
)
def block_output(model, input_ids, layer, pos, value):
    def hook(m, a, o):
        x = (o[0] if isinstance(o, tuple) else o).clone()
        x[:, pos] = value
        return (x, *o[1:]) if isinstance(o, tuple) else x

    h = (
        model.transformer.h[layer] if layer < len(model.transformer.h) else model.transformer.ln_f
    ).register_forward_hook(hook)
    with torch.no_grad():
        out = model(input_ids).logits
    h.remove()
    return out


@PATCH.mistake("added the value to the residual instead of replacing it", "patching replaces: x[:, pos] = value.")
def adds(model, input_ids, layer, pos, value):
    return _patch(model, input_ids, layer, pos, value, "adds")


@PATCH.mistake("patched position pos + 1 (off by one)", "index the position exactly: x[:, pos].")
def off_by_one(model, input_ids, layer, pos, value):
    return _patch(model, input_ids, layer, pos, value, "off_by_one")


@PATCH.mistake("never removed the hook", "remove the handle in a finally: block.")
def leaves_hook(model, input_ids, layer, pos, value):
    return _patch(model, input_ids, layer, pos, value, "leaves_hook")


# --------------------------------------------------------------------------------------------
# auroc
# --------------------------------------------------------------------------------------------


def _auroc_cases() -> list[Case]:
    g = seeded(96)
    s = torch.randn(40, generator=g)
    y = (s + torch.randn(40, generator=g) > 0).long()
    tied = torch.tensor([0.0, 1.0, 1.0, 2.0, 1.0, 0.0, 2.0, 2.0])
    return [
        Case("40 noisy scores, int labels", (s, y)),
        Case("scores with ties across the classes", (tied, torch.tensor([0, 1, 0, 1, 1, 0, 0, 1]))),
        Case(
            "bool labels, float64 scores, one positive",
            (torch.tensor([0.3, 0.1, 0.9, 0.5], dtype=torch.float64), torch.tensor([False, False, True, False])),
        ),
        Case("a score that ranks negatives higher (AUROC below 0.5)", (-s[:15], y[:15])),
        Case("all scores equal (hidden)", (torch.ones(6), torch.tensor([1, 0, 1, 0, 0, 1])), hidden=True),
    ]


def _auroc_random(g: torch.Generator) -> Case:
    """Scores with or without ties (rounded), labels of int or bool with both classes present."""
    n = draw_int(g, 2, 40)
    scores = torch.randn(n, generator=g, dtype=_dtype(g))
    if draw_int(g, 0, 1):
        scores = scores.round()  # many ties across the classes
    labels = (scores + torch.randn(n, generator=g, dtype=scores.dtype) > 0).long()
    labels[0], labels[1] = 0, 1
    labels = labels.to(draw_choice(g, (torch.int64, torch.bool)))
    return Case(f"{n} scores, {str(labels.dtype).removeprefix('torch.')} labels", (scores, labels))


AUROC = Exercise(
    "auroc",
    points=1,
    make_cases=_auroc_cases,
    # scikit-learn's roc_auc_score, its curve, scipy's Mann-Whitney U, and the scorers that call it by name
    forbidden=("roc_auc_score", "roc_curve", "auc", "mannwhitneyu", "roc_auc", *SKLEARN_SCORERS),
    summary="AUROC with ties counted one half",
    random_case=_auroc_random,
)


@AUROC.mistake("counted ties as wins (>=)", "a tie counts one half.")
def ties_win(scores, labels):
    d = scores[labels.bool()][:, None] - scores[~labels.bool()][None, :]
    return (d >= 0).float().mean()


@AUROC.mistake("counted ties as losses (>)", "a tie counts one half.")
def ties_lose(scores, labels):
    d = scores[labels.bool()][:, None] - scores[~labels.bool()][None, :]
    return (d > 0).float().mean()


@AUROC.mistake(
    "swapped the classes (returned 1 − AUROC)", "positives are labels == 1; higher scores should mean positive."
)
def swapped_classes(scores, labels):
    d = scores[~labels.bool()][:, None] - scores[labels.bool()][None, :]
    return ((d > 0).float() + 0.5 * (d == 0).float()).mean()


@AUROC.mistake(
    "returned the accuracy at threshold 0", "AUROC uses no threshold: compare every positive with every negative."
)
def accuracy(scores, labels):
    return ((scores > 0) == labels.bool()).float().mean()


@AUROC.mistake(
    "compared every pair of examples, not positives with negatives", "only pairs (positive, negative) count."
)
def all_pairs(scores, labels):
    d = scores[:, None] - scores[None, :]
    return ((d > 0).float() + 0.5 * (d == 0).float()).mean()


# --------------------------------------------------------------------------------------------
# patching_sweep (integration)
# --------------------------------------------------------------------------------------------


def _sweep_cases() -> list[Case]:
    g = seeded(97)

    def case(describe, seed, b, t, hidden=False):
        clean = _ids(g, b, t)
        corrupted = clean.clone()
        corrupted[:, 1] = (clean[:, 1] + 5) % VOCAB
        kw = {
            "state": _state(seed),
            "clean_ids": clean,
            "corrupted_ids": corrupted,
            "answer_ids": torch.randint(0, VOCAB, (b,), generator=g),
            "wrong_ids": torch.randint(0, VOCAB, (b,), generator=g),
        }
        return Case(describe, kwargs=kw, hidden=hidden)

    return [
        case("a batch of 2 sequences of 5 tokens, corrupted at position 1", 30, 2, 5),
        case("one sequence of 6 tokens", 31, 1, 6),
        case("3 sequences of 4 tokens (hidden)", 32, 3, 4, True),
    ]


def _sweep_random(g: torch.Generator) -> Case:
    """1 or 2 sequences of 1 to 5 tokens corrupted at any position, answer ≠ wrong token (kept small: L·T runs)."""
    B, T = draw_int(g, 1, 2), draw_int(g, 1, 5)
    clean = _ids(g, B, T)
    corrupted, at = clean.clone(), draw_int(g, 0, T - 1)
    corrupted[:, at] = (clean[:, at] + draw_int(g, 1, VOCAB - 1)) % VOCAB
    answer = torch.randint(0, VOCAB, (B,), generator=g)
    wrong = (answer + torch.randint(1, VOCAB, (B,), generator=g)) % VOCAB
    kw = {"state": _state(draw_int(g, 0, 9999)), "clean_ids": clean, "corrupted_ids": corrupted}
    return Case(f"{B} sequence(s) of {T} tokens corrupted at position {at}", kwargs={**kw, "answer_ids": answer, "wrong_ids": wrong})  # fmt: skip


SWEEP = Exercise(
    "patching_sweep",
    points=3,
    make_cases=_sweep_cases,
    call=_on_model,
    random_case=_sweep_random,
    n_random=4,
    rtol=1e-3,
    atol=1e-4,
    summary="integration: a residual-stream patching sweep over layers and positions (logit difference recovered)",
)


def _sweep(model, clean_ids, corrupted_ids, answer_ids, wrong_ids, mistake):
    """A residual patching sweep with one mistake switched on (the SWEEP mistakes share it)."""
    blocks, out = model.transformer.h, torch.zeros(len(model.transformer.h), clean_ids.shape[1])
    outputs = mistake == "block outputs"

    def metric(lg):
        x = lg[:, -1].softmax(-1) if mistake == "probabilities" else lg[:, -1]
        return (x.gather(-1, answer_ids[:, None]) - x.gather(-1, wrong_ids[:, None])).mean()

    # the run whose activations are cached, and the run they are written into
    source, target = (corrupted_ids, clean_ids) if mistake == "reversed" else (clean_ids, corrupted_ids)
    resid = []
    if outputs:
        hs = [
            b.register_forward_hook(lambda m, a, o: resid.append((o[0] if isinstance(o, tuple) else o).detach()))
            for b in blocks
        ]
    else:
        hs = [b.register_forward_pre_hook(lambda m, a: resid.append(a[0].detach())) for b in blocks]
    with torch.no_grad():
        m_source = metric(model(source).logits)
    for h in hs:
        h.remove()
    with torch.no_grad():
        m_target = metric(model(target).logits)
    m_clean, m_corr = (m_target, m_source) if mistake == "reversed" else (m_source, m_target)
    for layer in range(len(blocks)):
        for t in range(clean_ids.shape[1]):

            def pre_hook(m, a, layer=layer, t=t):
                x = a[0].clone()
                x[:, t] = resid[layer][:, t]
                return (x, *a[1:])

            def post_hook(m, a, o, layer=layer, t=t):
                x = (o[0] if isinstance(o, tuple) else o).clone()
                x[:, t] = resid[layer][:, t]
                return (x, *o[1:]) if isinstance(o, tuple) else x

            if outputs:
                h = blocks[layer].register_forward_hook(post_hook)
            else:
                h = blocks[layer].register_forward_pre_hook(pre_hook)
            with torch.no_grad():
                patched = metric(model(target).logits)
            h.remove()
            if mistake == "raw":
                out[layer, t] = patched
            elif mistake == "wrong baseline":
                out[layer, t] = (patched - m_clean) / (m_clean - m_corr)
            else:
                out[layer, t] = (patched - m_corr) / (m_clean - m_corr)
    return out


@SWEEP.mistake(
    "returned the raw patched metric (not normalised)", "report (patched − corrupted) / (clean − corrupted)."
)
def raw_metric(model, clean_ids, corrupted_ids, answer_ids, wrong_ids):
    return _sweep(model, clean_ids, corrupted_ids, answer_ids, wrong_ids, "raw")


@SWEEP.mistake(
    "patched the corrupted activations into the clean run",
    "run the *corrupted* input with the *clean* activation written in.",
)
def reversed_direction(model, clean_ids, corrupted_ids, answer_ids, wrong_ids):
    return _sweep(model, clean_ids, corrupted_ids, answer_ids, wrong_ids, "reversed")


@SWEEP.mistake(
    "normalised against the clean run: (patched − clean) / (clean − corrupted)",
    "0 must mean 'as corrupted', 1 'as clean'.",
)
def wrong_baseline(model, clean_ids, corrupted_ids, answer_ids, wrong_ids):
    return _sweep(model, clean_ids, corrupted_ids, answer_ids, wrong_ids, "wrong baseline")


@SWEEP.mistake(
    "patched the block outputs (resid_post) instead of the inputs",
    "row ℓ patches the stream *entering* block ℓ (resid_pre).",
)
def patched_outputs(model, clean_ids, corrupted_ids, answer_ids, wrong_ids):
    return _sweep(model, clean_ids, corrupted_ids, answer_ids, wrong_ids, "block outputs")


@SWEEP.mistake(
    "used probabilities instead of logits in the metric", "the metric is a logit difference, before any softmax."
)
def probabilities(model, clean_ids, corrupted_ids, answer_ids, wrong_ids):
    return _sweep(model, clean_ids, corrupted_ids, answer_ids, wrong_ids, "probabilities")


EXERCISES = [CACHE, PREV_SCORE, IND_SCORE, DLA, HEAD, PATCH, AUROC, SWEEP]
