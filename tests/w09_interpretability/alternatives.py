"""Correct answers to week 9's exercises, written differently from the reference."""

from __future__ import annotations

import torch

from graders.testing import alternative


@alternative("cache_activations")
def cache_with_forward_hooks(model, input_ids):
    """Embeddings from the wte/wpe outputs, then each block's output; z from a context manager of handles."""
    n_head = model.config.n_head
    streams, heads = {}, {}
    handles = [model.transformer.drop.register_forward_hook(lambda m, a, o: streams.__setitem__(0, o))]
    for i, block in enumerate(model.transformer.h):
        handles.append(
            block.register_forward_hook(
                lambda m, a, o, i=i: streams.__setitem__(i + 1, o[0] if isinstance(o, tuple) else o)
            )
        )
        handles.append(block.attn.c_proj.register_forward_pre_hook(lambda m, a, i=i: heads.__setitem__(i, a[0])))
    try:
        with torch.inference_mode():
            model(input_ids)
    finally:
        for h in handles:
            h.remove()
    resid = torch.stack([streams[i].clone() for i in range(len(streams))])
    z = torch.stack([heads[i].clone() for i in range(len(heads))])
    return {"resid": resid, "z": z.unflatten(-1, (n_head, -1))}


@alternative("cache_activations")
def cache_with_hidden_states_and_a_context_manager(model, input_ids):
    """The residuals from transformers' output_hidden_states; the heads' outputs from hooks that a
    context manager removes (transformers installs output-capture hooks of its own: they stay)."""
    import contextlib

    n_head, z = model.config.n_head, []

    @contextlib.contextmanager
    def hooked(modules, hook):
        handles = [m.register_forward_pre_hook(hook) for m in modules]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def save_z(module, args):
        z.append(args[0].detach().unflatten(-1, (n_head, -1)))

    resid = []
    with hooked([model.transformer.ln_f], lambda m, a: resid.append(a[0].detach())):
        with hooked([b.attn.c_proj for b in model.transformer.h], save_z), torch.no_grad():
            hidden = model(input_ids, output_hidden_states=True).hidden_states
    # hidden_states[-1] is after ln_f; the stream entering ln_f comes from the hook
    return {"resid": torch.stack([*hidden[:-1], resid[0]]), "z": torch.stack(z)}


@alternative("set_head_output")
def set_head_by_patching_forward_and_restoring(model, input_ids, layer, head, value):
    proj = model.transformer.h[layer].attn.c_proj
    n_head = model.config.n_head

    def patched(x):
        z = x.unflatten(-1, (n_head, -1)).clone()
        z[..., head, :] = value
        return type(proj).forward(proj, z.flatten(-2))

    proj.forward = patched
    try:
        with torch.no_grad():
            return model(input_ids).logits
    finally:
        del proj.forward  # back to the class's method


@alternative("previous_token_score")
def previous_by_diagonal(pattern):
    return pattern.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=-1).mean(dim=0)


@alternative("induction_score")
def induction_by_diagonal(pattern, rep_len):
    return pattern.diagonal(offset=-(rep_len - 1), dim1=-2, dim2=-1)[..., -rep_len:].mean(dim=(0, 2))


@alternative("head_logit_attribution")
def dla_centred_unembedding(z, W_O, ln_scale, ln_weight, W_U, answer_ids):
    """Centring the direction instead of the output gives the same dot product."""
    direction = ln_weight[:, None] * W_U[:, answer_ids]  # [d, B]
    direction = direction - direction.mean(0, keepdim=True)
    out = (z.unsqueeze(-1) * W_O.unsqueeze(0)).sum(-2)  # [B, H, d]
    return (out * direction.T.unsqueeze(1)).sum(-1) / ln_scale


@alternative("set_head_output")
def set_head_by_slice(model, input_ids, layer, head, value):
    d_head = model.config.n_embd // model.config.n_head

    def hook(module, args):
        x = args[0].clone()
        x[..., head * d_head : (head + 1) * d_head] = value
        return (x,)

    handle = model.transformer.h[layer].attn.c_proj.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            return model(input_ids).logits
    finally:
        handle.remove()


@alternative("patch_residual")
def patch_with_kwargs_hook(model, input_ids, layer, pos, value):
    site = model.transformer.ln_f if layer == model.config.n_layer else model.transformer.h[layer]
    T = input_ids.shape[1]
    mask = torch.zeros(T, dtype=torch.bool, device=input_ids.device)
    mask[pos] = True

    def hook(module, args, kwargs):
        x = torch.where(mask[None, :, None], value[:, None, :], args[0])
        return (x, *args[1:]), kwargs

    handle = site.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.no_grad():
            return model(input_ids).logits
    finally:
        handle.remove()


@alternative("auroc")
def auroc_by_ranks(scores, labels):
    """Mann-Whitney U with average ranks for ties."""
    labels = labels.bool()
    order = scores.argsort()
    sorted_scores = scores[order]
    ranks = torch.empty(len(scores), dtype=torch.float64)
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2
    return (u / (n_pos * n_neg)).float()


@alternative("patching_sweep")
def sweep_caching_each_layer(model, clean_ids, corrupted_ids, answer_ids, wrong_ids):
    blocks = model.transformer.h
    saved = {}
    handles = [
        b.register_forward_pre_hook(lambda m, a, i=i: saved.__setitem__(i, a[0].clone())) for i, b in enumerate(blocks)
    ]
    try:
        with torch.no_grad():
            clean_logits = model(clean_ids).logits
    finally:
        for h in handles:
            h.remove()

    def metric(logits):
        rows = torch.arange(len(answer_ids))
        return (logits[rows, -1, answer_ids] - logits[rows, -1, wrong_ids]).mean()

    with torch.no_grad():
        m_corr = metric(model(corrupted_ids).logits)
    m_clean = metric(clean_logits)
    rows = []
    for layer, block in enumerate(blocks):
        row = []
        for t in range(clean_ids.shape[1]):

            def hook(m, a, layer=layer, t=t):
                x = a[0].clone()
                x[:, t] = saved[layer][:, t]
                return (x,) + a[1:]

            handle = block.register_forward_pre_hook(hook)
            try:
                with torch.no_grad():
                    row.append((metric(model(corrupted_ids).logits) - m_corr) / (m_clean - m_corr))
            finally:
                handle.remove()
        rows.append(torch.stack(row))
    return torch.stack(rows)
