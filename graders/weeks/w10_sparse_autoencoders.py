"""Week 10 exercises: superposition and sparse autoencoders. Cases and known mistakes.

The reference implementations live in ``solutions/w10_sparse_autoencoders/w10_sparse_autoencoders.py``.
Shapes follow SAELens: W_enc [d_in, d_sae], W_dec [d_sae, d_in].
"""

from __future__ import annotations

import torch
import torch.nn as nn

from graders.core import Case, Exercise, draw_choice, draw_int, draw_leading, seeded


def _r(g: torch.Generator, *shape: int, s: float = 1.0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=dtype) * s


def _dtype(g: torch.Generator) -> torch.dtype:
    return draw_choice(g, (torch.float32, torch.float64))


def _encode_random(g: torch.Generator) -> Case:
    lead, d_in, d_sae, dtype = (
        (*draw_leading(g, 2, 4), draw_int(g, 1, 4)),
        draw_int(g, 1, 8),
        draw_int(g, 1, 12),
        _dtype(g),
    )
    W_enc, b_enc, _, b_dec = _sae(g, d_in, d_sae, dtype)
    return Case(
        f"x {[*lead, d_in]}, d_sae {d_sae}, {str(dtype).removeprefix('torch.')}",
        (_r(g, *lead, d_in, dtype=dtype), W_enc, b_enc, b_dec),
    )


def _decode_random(g: torch.Generator) -> Case:
    lead, d_in, d_sae, dtype = (
        (*draw_leading(g, 2, 4), draw_int(g, 1, 4)),
        draw_int(g, 1, 8),
        draw_int(g, 1, 12),
        _dtype(g),
    )
    _, _, W_dec, b_dec = _sae(g, d_in, d_sae, dtype)
    return Case(
        f"latents {[*lead, d_sae]}, d_in {d_in}, {str(dtype).removeprefix('torch.')}",
        (torch.relu(_r(g, *lead, d_sae, dtype=dtype)), W_dec, b_dec),
    )


def _topk_random(g: torch.Generator) -> Case:
    lead, d, dtype = (*draw_leading(g, 2, 3), draw_int(g, 1, 4)), draw_int(g, 1, 12), _dtype(g)
    k = draw_int(g, 1, d)
    return Case(
        f"hidden_pre {[*lead, d]}, k = {k}, {str(dtype).removeprefix('torch.')}",
        (_r(g, *lead, d, dtype=dtype) - draw_choice(g, (0.0, 1.0)), k),
    )


def _loss_random(g: torch.Generator) -> Case:
    b, d_in, d_sae, dtype = draw_int(g, 1, 12), draw_int(g, 1, 8), draw_int(g, 1, 16), _dtype(g)
    x, f = _r(g, b, d_in, dtype=dtype), torch.relu(_r(g, b, d_sae, dtype=dtype))
    args = (
        x,
        x + _r(g, b, d_in, s=0.3, dtype=dtype),
        f,
        _r(g, d_sae, d_in, s=0.4, dtype=dtype),
        draw_choice(g, (0.0, 0.1, 3.0)),
    )
    return Case(f"batch {b}, d_in {d_in}, d_sae {d_sae}, {str(dtype).removeprefix('torch.')}", args)


def _sae(g: torch.Generator, d_in: int, d_sae: int, dtype: torch.dtype = torch.float32) -> tuple:
    """W_enc, b_enc, W_dec, b_dec of a random SAE (biases small so that about half the latents fire)."""
    return (_r(g, d_in, d_sae, s=0.5, dtype=dtype), _r(g, d_sae, s=0.2, dtype=dtype),
            _r(g, d_sae, d_in, s=0.5, dtype=dtype), _r(g, d_in, s=0.2, dtype=dtype))  # fmt: skip


# --------------------------------------------------------------------------------------------
# sparse_features: the case carries a seed; the call turns it into a generator
# --------------------------------------------------------------------------------------------


def _sparse_cases() -> list[Case]:
    return [Case("batch 6, 5 features, p = 0.3 (seed 0)", (6, 5, 0.3, 0)),
            Case("batch 1, 20 features, p = 0.9 (seed 1)", (1, 20, 0.9, 1)),
            Case("batch 50, 8 features, p = 0.05 (seed 2)", (50, 8, 0.05, 2)),
            Case("p = 1: every feature on (seed 3)", (4, 6, 1.0, 3), hidden=True)]  # fmt: skip


def _sparse_random(g: torch.Generator) -> Case:
    """Any small shape (batch 1 included), p from 0 to 1 inclusive, any seed."""
    batch, n, p, seed = (
        draw_int(g, 1, 8),
        draw_int(g, 1, 10),
        draw_choice(g, (0.0, 0.05, 0.3, 0.9, 1.0)),
        draw_int(g, 0, 9999),
    )
    return Case(f"batch {batch}, {n} features, p = {p} (seed {seed})", (batch, n, p, seed))


SPARSE_FEATURES = Exercise(
    "sparse_features", points=1, make_cases=_sparse_cases, random_case=_sparse_random,
    call=lambda fn, case: fn(*case.args[:3], torch.Generator().manual_seed(case.args[3])),
    summary="sparse synthetic features",
)  # fmt: skip


@SPARSE_FEATURES.mistake("drew the on/off uniforms before the magnitudes", "magnitudes first, then the on/off draw.")
def mask_first(batch, n_features, feature_probability, generator):
    on = torch.rand(batch, n_features, generator=generator) < feature_probability
    return torch.rand(batch, n_features, generator=generator) * on


@SPARSE_FEATURES.mistake("kept a feature with probability 1 − p", "a feature is on where its uniform is *below* p.")
def on_above_p(batch, n_features, feature_probability, generator):
    values = torch.rand(batch, n_features, generator=generator)
    return values * (torch.rand(batch, n_features, generator=generator) > feature_probability)


@SPARSE_FEATURES.mistake("binary features (forgot the magnitudes)", "an active feature is U[0, 1], not 1.")
def binary(batch, n_features, feature_probability, generator):
    torch.rand(batch, n_features, generator=generator)
    return (torch.rand(batch, n_features, generator=generator) < feature_probability).float()


@SPARSE_FEATURES.mistake("Gaussian magnitudes (randn)", "magnitudes are uniform on [0, 1]: torch.rand.")
def gaussian(batch, n_features, feature_probability, generator):
    values = torch.randn(batch, n_features, generator=generator)
    return values * (torch.rand(batch, n_features, generator=generator) < feature_probability)


@SPARSE_FEATURES.mistake(
    "one draw for both (on where the magnitude is below p)", "draw the on/off uniforms separately."
)
def one_draw(batch, n_features, feature_probability, generator):
    values = torch.rand(batch, n_features, generator=generator)
    return values * (values < feature_probability)


# --------------------------------------------------------------------------------------------
# toy_forward
# --------------------------------------------------------------------------------------------


def _toy_cases() -> list[Case]:
    g = seeded(100)
    return [Case("W [2, 5], a batch of 8", (_r(g, 2, 5), _r(g, 5, s=0.1), torch.rand(8, 5, generator=g))),
            Case("W [3, 10], a batch of 1", (_r(g, 3, 10), _r(g, 10, s=0.1), torch.rand(1, 10, generator=g))),
            Case("float64, W [4, 6], negative biases", (_r(g, 4, 6, dtype=torch.float64), -torch.rand(6, generator=g, dtype=torch.float64) * 0.3, torch.rand(5, 6, generator=g, dtype=torch.float64))),
            Case("W [5, 20], a batch of 16", (_r(g, 5, 20), _r(g, 20, s=0.1), torch.rand(16, 20, generator=g)), hidden=True)]  # fmt: skip


def _toy_random(g: torch.Generator) -> Case:
    m, n, b, dtype = draw_int(g, 1, 5), draw_int(g, 1, 12), draw_int(g, 1, 9), _dtype(g)
    return Case(
        f"W [{m}, {n}], a batch of {b}",
        (_r(g, m, n, dtype=dtype), _r(g, n, s=0.1, dtype=dtype), torch.rand(b, n, generator=g, dtype=dtype)),
    )


TOY_FORWARD = Exercise(
    "toy_forward",
    points=1,
    make_cases=_toy_cases,
    grads=("W", "b"),
    summary="the ReLU toy model",
    random_case=_toy_random,
)


@TOY_FORWARD.mistake("forgot the ReLU", "the output is ReLU(x Wᵀ W + b).")
def no_relu(W, b, x):
    return x @ W.T @ W + b


@TOY_FORWARD.mistake("forgot the bias", "add b before the ReLU.")
def no_bias(W, b, x):
    return torch.relu(x @ W.T @ W)


@TOY_FORWARD.mistake("added the bias after the ReLU", "the bias goes inside: ReLU(x Wᵀ W + b).")
def bias_outside(W, b, x):
    return torch.relu(x @ W.T @ W) + b


@TOY_FORWARD.mistake("multiplied by W Wᵀ (the [m, m] product)", "x is [batch, n]: x @ W.T is [batch, m], then @ W.")
def wrong_product(W, b, x):
    return torch.relu(x @ (W @ W.T) + b)


@TOY_FORWARD.mistake(
    "detached the decoding copy of W (tied weights train through both uses)",
    "W appears twice; gradients must flow through both: no .detach().",
)
def detached_decoder(W, b, x):
    return torch.relu(x @ W.T @ W.detach() + b)


# --------------------------------------------------------------------------------------------
# importance_weighted_mse
# --------------------------------------------------------------------------------------------


def _mse_cases() -> list[Case]:
    g = seeded(101)

    def case(describe, b, n, dtype=torch.float32, **kw):
        x = torch.rand(b, n, generator=g, dtype=dtype)
        return Case(describe, (x, x + _r(g, b, n, s=0.3, dtype=dtype), 0.9 ** torch.arange(n, dtype=dtype)), **kw)

    return [case("a batch of 8, 5 features, importance 0.9^i", 8, 5), case("a batch of 1, 3 features", 1, 3),
            case("float64, a batch of 4, 7 features", 4, 7, torch.float64),
            case("a batch of 32, 20 features", 32, 20, hidden=True)]  # fmt: skip


def _mse_random(g: torch.Generator) -> Case:
    b, n, dtype = draw_int(g, 1, 16), draw_int(g, 1, 10), _dtype(g)
    x = torch.rand(b, n, generator=g, dtype=dtype)
    return Case(
        f"batch {b}, {n} features", (x, x + _r(g, b, n, s=0.3, dtype=dtype), torch.rand(n, generator=g, dtype=dtype))
    )


IMPORTANCE_WEIGHTED_MSE = Exercise(
    "importance_weighted_mse",
    points=1,
    make_cases=_mse_cases,
    grads=("x_hat",),
    summary="the toy model's loss",
    random_case=_mse_random,
)


@IMPORTANCE_WEIGHTED_MSE.mistake("averaged over features too", "sum over features, mean over the batch only.")
def mean_all(x, x_hat, importance):
    return (importance * (x - x_hat) ** 2).mean()


@IMPORTANCE_WEIGHTED_MSE.mistake("forgot the importance", "weight each feature's squared error by Iᵢ.")
def no_importance(x, x_hat, importance):
    return ((x - x_hat) ** 2).sum(-1).mean()


@IMPORTANCE_WEIGHTED_MSE.mistake("squared the importance too ((I·(x − x̂))²)", "Iᵢ multiplies the squared error.")
def importance_inside(x, x_hat, importance):
    return ((importance * (x - x_hat)) ** 2).sum(-1).mean()


@IMPORTANCE_WEIGHTED_MSE.mistake("summed over the batch", "mean over the batch, so the loss does not grow with it.")
def summed(x, x_hat, importance):
    return (importance * (x - x_hat) ** 2).sum()


@IMPORTANCE_WEIGHTED_MSE.mistake("absolute error instead of squared", "(xᵢ − x̂ᵢ)², not |xᵢ − x̂ᵢ|.")
def absolute(x, x_hat, importance):
    return (importance * (x - x_hat).abs()).sum(-1).mean()


# --------------------------------------------------------------------------------------------
# feature_dimensionality
# --------------------------------------------------------------------------------------------


def _dim_cases() -> list[Case]:
    g = seeded(102)
    angles = torch.arange(5) * 2 * torch.pi / 5
    pentagon = torch.stack([angles.cos(), angles.sin()])
    with_zero = _r(g, 3, 6)
    with_zero[:, 2] = 0
    return [Case("random W [3, 8]", (_r(g, 3, 8),)), Case("a regular pentagon in 2 dimensions (D = 2/5)", (pentagon,)),
            Case("an antipodal pair and an orthogonal feature", (torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 2.0]]),)),
            Case("a zero column (unrepresented: D = 0)", (with_zero,)),
            Case("float64 W [5, 20]", (_r(g, 5, 20, dtype=torch.float64),), hidden=True)]  # fmt: skip


def _dim_random(g: torch.Generator) -> Case:
    """W [m, n] in either dtype (n = 1 and m > n included), sometimes a zero column or an antipodal pair."""
    m, n, dtype = draw_int(g, 1, 5), draw_int(g, 1, 9), draw_choice(g, (torch.float32, torch.float64))
    W = _r(g, m, n, dtype=dtype)
    special = draw_choice(g, ("", "zero column", "antipodal pair")) if n > 1 else ""
    if special == "zero column":
        W[:, draw_int(g, 0, n - 1)] = 0
    elif special == "antipodal pair":
        W[:, 1] = -W[:, 0]
    return Case(f"W [{m}, {n}] ({str(dtype).removeprefix('torch.')}) {special}".rstrip(), (W,))


FEATURE_DIMENSIONALITY = Exercise(
    "feature_dimensionality",
    points=2,
    make_cases=_dim_cases,
    summary="Elhage et al.'s feature dimensionality",
    random_case=_dim_random,
)


@FEATURE_DIMENSIONALITY.mistake("did not normalise Ŵᵢ in the denominator", "Ŵᵢ = Wᵢ / ‖Wᵢ‖ in (Ŵᵢ · Wⱼ)².")
def unnormalised(W):
    n = W.norm(dim=0)
    return torch.where(n > 0, n**2 / ((W.T @ W) ** 2).sum(-1).clamp(min=1e-24), torch.zeros_like(n))


@FEATURE_DIMENSIONALITY.mistake("left j = i out of the sum", "the sum runs over every j, i included.")
def without_self(W):
    n = W.norm(dim=0)
    dots = ((W / n.clamp(min=1e-12)).T @ W) ** 2
    return torch.where(n > 0, n**2 / (dots.sum(-1) - dots.diagonal()).clamp(min=1e-24), torch.zeros_like(n))


@FEATURE_DIMENSIONALITY.mistake("forgot to square the dot products", "Σⱼ (Ŵᵢ · Wⱼ)², squared.")
def not_squared(W):
    n = W.norm(dim=0)
    return torch.where(
        n > 0, n**2 / ((W / n.clamp(min=1e-12)).T @ W).abs().sum(-1).clamp(min=1e-24), torch.zeros_like(n)
    )


@FEATURE_DIMENSIONALITY.mistake("NaN for an unrepresented feature (0/0)", "return 0 where ‖Wᵢ‖ = 0.")
def nan_for_zero(W):
    n = W.norm(dim=0)
    return n**2 / (((W / n).T @ W) ** 2).sum(-1)


@FEATURE_DIMENSIONALITY.mistake(
    "used rows of W instead of columns", "feature i is column W[:, i]; the norms are over dim 0."
)
def rows(W):
    n = W.norm(dim=1)
    return torch.where(n > 0, n**2 / (((W / n.clamp(min=1e-12)[:, None]) @ W.T) ** 2).sum(-1), torch.zeros_like(n))


# --------------------------------------------------------------------------------------------
# sae_encode, sae_decode
# --------------------------------------------------------------------------------------------


def _encode_cases() -> list[Case]:
    g = seeded(103)

    def case(describe, lead, d_in, d_sae, dtype=torch.float32, **kw):
        W_enc, b_enc, _, b_dec = _sae(g, d_in, d_sae, dtype)
        return Case(describe, (_r(g, *lead, d_in, dtype=dtype), W_enc, b_enc, b_dec), **kw)

    return [case("x [8, 6], d_sae 16", (8,), 6, 16), case("a batch of one, d_sae 4 < d_in 5", (1,), 5, 4),
            case("float64, x [3, 7, 4] (a batch of sequences), d_sae 9", (3, 7), 4, 9, torch.float64),
            case("x [32, 12], d_sae 48", (32,), 12, 48, hidden=True)]  # fmt: skip


SAE_ENCODE = Exercise(
    "sae_encode",
    points=1,
    make_cases=_encode_cases,
    grads=("x", "W_enc", "b_enc", "b_dec"),
    summary="the SAE encoder",
    random_case=_encode_random,
)


@SAE_ENCODE.mistake("forgot to subtract b_dec from the input", "encode x − b_dec.")
def no_b_dec(x, W_enc, b_enc, b_dec):
    return torch.relu(x @ W_enc + b_enc)


@SAE_ENCODE.mistake("added b_dec instead of subtracting it", "the decoder adds b_dec back, so the encoder removes it.")
def plus_b_dec(x, W_enc, b_enc, b_dec):
    return torch.relu((x + b_dec) @ W_enc + b_enc)


@SAE_ENCODE.mistake("forgot the ReLU", "latents are non-negative: ReLU(...).")
def enc_no_relu(x, W_enc, b_enc, b_dec):
    return (x - b_dec) @ W_enc + b_enc


@SAE_ENCODE.mistake("applied the ReLU before adding b_enc", "ReLU((x − b_dec) W_enc + b_enc): the bias is inside.")
def relu_before_bias(x, W_enc, b_enc, b_dec):
    return torch.relu((x - b_dec) @ W_enc) + b_enc


@SAE_ENCODE.mistake(
    "used b_dec under torch.no_grad() (it trains through the encoder too)", "b_dec needs the gradient from both uses."
)
def b_dec_detached(x, W_enc, b_enc, b_dec):
    return torch.relu((x - b_dec.detach()) @ W_enc + b_enc)


def _decode_cases() -> list[Case]:
    g = seeded(104)

    def case(describe, lead, d_in, d_sae, dtype=torch.float32, **kw):
        _, _, W_dec, b_dec = _sae(g, d_in, d_sae, dtype)
        return Case(describe, (torch.relu(_r(g, *lead, d_sae, dtype=dtype)), W_dec, b_dec), **kw)

    return [case("latents [8, 16], d_in 6", (8,), 6, 16), case("a batch of one, d_sae 4 < d_in 5", (1,), 5, 4),
            case("float64 latents [3, 7, 9], d_in 4", (3, 7), 4, 9, torch.float64),
            case("latents [32, 48], d_in 12", (32,), 12, 48, hidden=True)]  # fmt: skip


SAE_DECODE = Exercise(
    "sae_decode",
    points=1,
    make_cases=_decode_cases,
    grads=("feature_acts", "W_dec", "b_dec"),
    summary="the SAE decoder",
    random_case=_decode_random,
)


@SAE_DECODE.mistake("forgot b_dec", "x̂ = f W_dec + b_dec.")
def dec_no_bias(feature_acts, W_dec, b_dec):
    return feature_acts @ W_dec


@SAE_DECODE.mistake("subtracted b_dec", "the decoder adds the bias the encoder removed.")
def dec_minus_bias(feature_acts, W_dec, b_dec):
    return feature_acts @ W_dec - b_dec


@SAE_DECODE.mistake("applied a ReLU to the reconstruction", "activations can be negative: the decoder is linear.")
def dec_relu(feature_acts, W_dec, b_dec):
    return torch.relu(feature_acts @ W_dec + b_dec)


@SAE_DECODE.mistake(
    "normalised the decoder rows inside decode", "decode with W_dec as it is; the loss handles its norms."
)
def dec_normalised(feature_acts, W_dec, b_dec):
    return feature_acts @ (W_dec / W_dec.norm(dim=-1, keepdim=True)) + b_dec


@SAE_DECODE.mistake("decoded with a detached W_dec", "the decoder must learn: no .detach() on W_dec.")
def dec_detached(feature_acts, W_dec, b_dec):
    return feature_acts @ W_dec.detach() + b_dec


# --------------------------------------------------------------------------------------------
# sae_loss
# --------------------------------------------------------------------------------------------


def _loss_cases() -> list[Case]:
    g = seeded(105)

    def case(describe, b, d_in, d_sae, l1, dtype=torch.float32, **kw):
        x = _r(g, b, d_in, dtype=dtype)
        f = torch.relu(_r(g, b, d_sae, dtype=dtype))
        return Case(
            describe, (x, x + _r(g, b, d_in, s=0.3, dtype=dtype), f, _r(g, d_sae, d_in, s=0.4, dtype=dtype), l1), **kw
        )

    return [case("batch 8, d_in 6, d_sae 16, λ = 0.1", 8, 6, 16, 0.1), case("a batch of one, λ = 1", 1, 5, 12, 1.0),
            case("float64, batch 5, d_sae 4 < d_in 7, λ = 0.5", 5, 7, 4, 0.5, torch.float64),
            case("λ = 0: the reconstruction term alone", 6, 4, 10, 0.0),
            case("batch 64, d_in 16, d_sae 64, λ = 3", 64, 16, 64, 3.0, hidden=True)]  # fmt: skip


SAE_LOSS = Exercise(
    "sae_loss",
    points=3,
    make_cases=_loss_cases,
    grads=("x_hat", "feature_acts", "W_dec"),
    summary="SAELens's standard SAE loss",
    random_case=_loss_random,
)


@SAE_LOSS.mistake(
    "F.mse_loss-style mean over the model dimension too", "sum the squared error over d_in, then mean over the batch."
)
def mse_mean(x, x_hat, feature_acts, W_dec, l1_coefficient):
    return ((x_hat - x) ** 2).mean() + l1_coefficient * (feature_acts.abs() * W_dec.norm(dim=-1)).sum(-1).mean()


@SAE_LOSS.mistake(
    "L1 without the decoder-norm weighting", "weight |fᵢ| by ‖W_dec[i]‖, or the SAE can shrink f and grow W_dec."
)
def unweighted_l1(x, x_hat, feature_acts, W_dec, l1_coefficient):
    return ((x_hat - x) ** 2).sum(-1).mean() + l1_coefficient * feature_acts.abs().sum(-1).mean()


@SAE_LOSS.mistake("summed the penalty over the batch", "the penalty is a batch *mean*, like the reconstruction term.")
def l1_summed(x, x_hat, feature_acts, W_dec, l1_coefficient):
    return ((x_hat - x) ** 2).sum(-1).mean() + l1_coefficient * (feature_acts.abs() * W_dec.norm(dim=-1)).sum()


@SAE_LOSS.mistake("the norm of the reconstruction error, not its square", "‖x̂ − x‖², squared.")
def not_squared_error(x, x_hat, feature_acts, W_dec, l1_coefficient):
    return (x_hat - x).norm(dim=-1).mean() + l1_coefficient * (feature_acts.abs() * W_dec.norm(dim=-1)).sum(-1).mean()


@SAE_LOSS.mistake(
    "computed the decoder norms from W_dec.detach()",
    "the norms are part of the loss: gradients must reach W_dec through them too.",
)
def norms_detached(x, x_hat, feature_acts, W_dec, l1_coefficient):
    return ((x_hat - x) ** 2).sum(-1).mean() + l1_coefficient * (feature_acts.abs() * W_dec.detach().norm(dim=-1)).sum(
        -1
    ).mean()


@SAE_LOSS.mistake("squared decoder norms", "‖W_dec[i]‖₂, not its square.")
def squared_norms(x, x_hat, feature_acts, W_dec, l1_coefficient):
    return ((x_hat - x) ** 2).sum(-1).mean() + l1_coefficient * (feature_acts.abs() * (W_dec**2).sum(-1)).sum(-1).mean()


# --------------------------------------------------------------------------------------------
# fold_decoder_norm
# --------------------------------------------------------------------------------------------


def _fold_cases() -> list[Case]:
    g = seeded(106)
    return [Case(f"d_in {i}, d_sae {s}", _sae(g, i, s)[:3], hidden=h)
            for i, s, h in [(6, 16, False), (5, 3, False), (4, 4, False), (12, 40, True)]]  # fmt: skip


def _fold_random(g: torch.Generator) -> Case:
    d_in, d_sae = draw_int(g, 1, 10), draw_int(g, 1, 20)
    return Case(f"d_in {d_in}, d_sae {d_sae}", _sae(g, d_in, d_sae, _dtype(g))[:3])


FOLD_DECODER_NORM = Exercise(
    "fold_decoder_norm",
    points=1,
    make_cases=_fold_cases,
    summary="folding decoder norms",
    random_case=_fold_random,
)


@FOLD_DECODER_NORM.mistake("forgot to scale b_enc", "b_enc must be scaled with its encoder column.")
def fold_no_bias(W_enc, b_enc, W_dec):
    n = W_dec.norm(dim=-1)
    return W_enc * n, b_enc, W_dec / n[:, None]


@FOLD_DECODER_NORM.mistake(
    "divided the encoder instead of multiplying", "the decoder shrinks by n, the encoder grows by n."
)
def fold_divided(W_enc, b_enc, W_dec):
    n = W_dec.norm(dim=-1)
    return W_enc / n, b_enc / n, W_dec / n[:, None]


@FOLD_DECODER_NORM.mistake("normalised the decoder only", "scale the encoder too, or the SAE computes something else.")
def fold_decoder_only(W_enc, b_enc, W_dec):
    return W_enc, b_enc, W_dec / W_dec.norm(dim=-1, keepdim=True)


@FOLD_DECODER_NORM.mistake("squared norms", "n is the Euclidean norm of each decoder row.")
def fold_squared(W_enc, b_enc, W_dec):
    n = (W_dec**2).sum(-1)
    return W_enc * n, b_enc * n, W_dec / n[:, None]


@FOLD_DECODER_NORM.mistake("divided W_dec in place (the caller's tensor changed)", "return new tensors: W_dec / n.")
def fold_inplace(W_enc, b_enc, W_dec):
    n = W_dec.norm(dim=-1)
    W_dec /= n[:, None]
    return W_enc * n, b_enc * n, W_dec


# --------------------------------------------------------------------------------------------
# topk_activation
# --------------------------------------------------------------------------------------------


def _topk_cases() -> list[Case]:
    g = seeded(107)
    return [Case("hidden_pre [4, 10], k = 3", (_r(g, 4, 10), 3)), Case("a batch of one, k = 1", (_r(g, 1, 8), 1)),
            Case("rows with fewer than k positive entries, k = 5", (_r(g, 3, 8) - 1.5, 5)),
            Case("float64 [2, 5, 12], k = 4", (_r(g, 2, 5, 12, dtype=torch.float64), 4)),
            Case("[16, 64], k = 8", (_r(g, 16, 64), 8), hidden=True)]  # fmt: skip


TOPK_ACTIVATION = Exercise(
    "topk_activation",
    points=2,
    make_cases=_topk_cases,
    grads=("hidden_pre",),
    summary="the TopK activation",
    random_case=_topk_random,
)


@TOPK_ACTIVATION.mistake("kept negative values (no ReLU on the top k)", "ReLU the selected values, as SAELens does.")
def no_relu_topk(hidden_pre, k):
    top = hidden_pre.topk(k, dim=-1)
    return torch.zeros_like(hidden_pre).scatter(-1, top.indices, top.values)


@TOPK_ACTIVATION.mistake("selected by absolute value", "the k *largest* pre-activations, not the largest in |·|.")
def by_abs(hidden_pre, k):
    idx = hidden_pre.abs().topk(k, dim=-1).indices
    return torch.zeros_like(hidden_pre).scatter(-1, idx, torch.relu(hidden_pre.gather(-1, idx)))


@TOPK_ACTIVATION.mistake("returned a 0/1 mask", "put the (ReLU'd) values back, not ones.")
def mask_only(hidden_pre, k):
    top = hidden_pre.topk(k, dim=-1)
    return torch.zeros_like(hidden_pre).scatter(-1, top.indices, (top.values > 0).to(hidden_pre.dtype))


@TOPK_ACTIVATION.mistake("kept k − 1 (strictly above the k-th value)", "keep entries ≥ the k-th largest: k of them.")
def off_by_one(hidden_pre, k):
    kth = hidden_pre.topk(k, dim=-1).values[..., -1:]
    return torch.where(hidden_pre > kth, torch.relu(hidden_pre), torch.zeros_like(hidden_pre))


@TOPK_ACTIVATION.mistake("zeroed the input in place", "build a new tensor; hidden_pre belongs to the caller.")
def zeroed_in_place(hidden_pre, k):
    kth = hidden_pre.topk(k, dim=-1).values[..., -1:]
    hidden_pre[hidden_pre < kth] = 0
    return torch.relu(hidden_pre)


# --------------------------------------------------------------------------------------------
# update_dead_latents
# --------------------------------------------------------------------------------------------


def _dead_cases() -> list[Case]:
    g = seeded(108)

    def case(describe, d_sae, b, window, p=0.2, **kw):
        acts = torch.relu(_r(g, b, d_sae)) * (torch.rand(b, d_sae, generator=g) < p)
        return Case(describe, (torch.randint(0, 2 * window, (d_sae,), generator=g), acts, window), **kw)

    return [case("12 latents, batch 4, window 5", 12, 4, 5), case("a batch of one, window 3", 10, 1, 3),
            case("nothing fires, window 2", 6, 3, 2, p=0.0), case("64 latents, batch 16, window 10", 64, 16, 10, hidden=True),
            _dead_case(g, "leading dimensions: counters [2, 3, 8], latents [2, 3, 4, 8] (one tracker per layer and head)", (2, 3), 4, 8, 3)]  # fmt: skip


def _dead_case(
    g: torch.Generator, describe: str, lead: tuple, b: int, d_sae: int, window: int, dtype=torch.int64
) -> Case:
    """Counters [..., d_sae] and latents [..., b, d_sae] (the contract's leading dimensions)."""
    acts = torch.relu(_r(g, *lead, b, d_sae)) * (torch.rand(*lead, b, d_sae, generator=g) < 0.15)
    return Case(describe, (torch.randint(0, 2 * window, (*lead, d_sae), generator=g).to(dtype), acts, window))


def _dead_random(g: torch.Generator) -> Case:
    lead, b, d_sae, window = draw_leading(g), draw_int(g, 1, 6), draw_int(g, 1, 12), draw_int(g, 0, 6)
    dtype = draw_choice(g, (torch.int64, torch.int32))
    desc = (
        f"counters {[*lead, d_sae]} ({str(dtype).removeprefix('torch.')}), latents {[*lead, b, d_sae]}, window {window}"
    )
    return _dead_case(g, desc, lead, b, d_sae, window, dtype)


UPDATE_DEAD_LATENTS = Exercise(
    "update_dead_latents",
    points=1,
    make_cases=_dead_cases,
    random_case=_dead_random,
    summary="dead-latent tracking",
)


@UPDATE_DEAD_LATENTS.mistake(
    "reduced over dim 0 (the batch only when there are no leading dimensions)",
    "the batch is dim −2 of [..., batch, d_sae]: .any(dim=-2).",
)
def batch_dim_zero(steps_since_fired, feature_acts, window):
    new = torch.where((feature_acts != 0).any(0), torch.zeros_like(steps_since_fired), steps_since_fired + 1)
    return new, new > window


@UPDATE_DEAD_LATENTS.mistake("dead at counter ≥ window", "dead means counter > window (SAELens's rule).")
def at_window(steps_since_fired, feature_acts, window):
    new = torch.where((feature_acts != 0).any(-2), 0, steps_since_fired + 1)
    return new, new >= window


@UPDATE_DEAD_LATENTS.mistake(
    "forgot to add one to latents that did not fire", "every counter grows by 1 unless it fired."
)
def no_increment(steps_since_fired, feature_acts, window):
    new = torch.where((feature_acts != 0).any(-2), 0, steps_since_fired)
    return new, new > window


@UPDATE_DEAD_LATENTS.mistake(
    "a latent counted as fired only if it fired on every row", "any row is enough: .any over the batch."
)
def all_rows(steps_since_fired, feature_acts, window):
    new = torch.where((feature_acts != 0).all(-2), 0, steps_since_fired + 1)
    return new, new > window


@UPDATE_DEAD_LATENTS.mistake("reduced over the latent dimension instead of the batch", "reduce over dim −2 (rows).")
def wrong_axis(steps_since_fired, feature_acts, window):
    fired = (feature_acts != 0).any(-1).any()
    new = torch.where(fired, torch.zeros_like(steps_since_fired), steps_since_fired + 1)
    return new, new > window


@UPDATE_DEAD_LATENTS.mistake("updated the counters in place", "return new counters; do not += the caller's tensor.")
def counters_in_place(steps_since_fired, feature_acts, window):
    steps_since_fired += 1
    steps_since_fired[(feature_acts != 0).any(-2)] = 0
    return steps_since_fired.clone(), steps_since_fired > window


# --------------------------------------------------------------------------------------------
# topk_aux_loss
# --------------------------------------------------------------------------------------------


def _aux_cases() -> list[Case]:
    g = seeded(109)

    def case(describe, b, d_in, d_sae, n_dead, coef=1.0, **kw):
        x = _r(g, b, d_in)
        dead = torch.zeros(d_sae, dtype=torch.bool)
        dead[torch.randperm(d_sae, generator=g)[:n_dead]] = True
        return Case(
            describe, (x, x + _r(g, b, d_in, s=0.5), _r(g, b, d_sae), _r(g, d_sae, d_in, s=0.3), dead, coef), **kw
        )

    return [case("d_in 8, d_sae 20, 10 dead (k_aux = 4, scale 1)", 6, 8, 20, 10),
            case("d_in 8, 2 dead (k_aux = 2, scale 1/2)", 5, 8, 16, 2),
            case("no dead latents (loss 0)", 4, 6, 12, 0), case("a batch of one, d_in 7, 5 dead, coefficient 1/32", 1, 7, 14, 5, 1 / 32),
            case("d_in 16, d_sae 64, 20 dead", 32, 16, 64, 20, hidden=True)]  # fmt: skip


def _aux_random(g: torch.Generator) -> Case:
    b, d_in, d_sae = draw_int(g, 1, 8), draw_int(g, 2, 10), draw_int(g, 2, 24)
    dtype, n_dead = draw_choice(g, (torch.float32, torch.float64)), draw_int(g, 0, d_sae)
    x, dead = _r(g, b, d_in, dtype=dtype), torch.zeros(d_sae, dtype=torch.bool)
    dead[torch.randperm(d_sae, generator=g)[:n_dead]] = True
    args = (
        x,
        x + _r(g, b, d_in, s=0.5, dtype=dtype),
        _r(g, b, d_sae, dtype=dtype),
        _r(g, d_sae, d_in, s=0.3, dtype=dtype),
    )
    coef = draw_choice(g, (1.0, 1 / 32))
    return Case(
        f"batch {b}, d_in {d_in}, d_sae {d_sae}, {n_dead} dead, {str(dtype).removeprefix('torch.')}",
        (*args, dead, coef),
    )


TOPK_AUX_LOSS = Exercise(
    "topk_aux_loss",
    points=3,
    make_cases=_aux_cases,
    grads=("hidden_pre", "W_dec"),
    no_grads=("x", "x_hat"),  # the text: dead latents reconstruct the *detached* residual
    random_case=_aux_random,
    summary="the AuxK loss for dead latents",
)


@TOPK_AUX_LOSS.mistake(
    "did not detach the residual (the aux loss also pulls on the live latents' reconstruction)",
    "the target is the constant (x − x_hat).detach(): only the dead latents learn from it.",
)
def aux_residual_attached(x, x_hat, hidden_pre, W_dec, dead_mask, aux_coefficient=1.0):
    n = int(dead_mask.sum())
    if n == 0:
        return x_hat.new_tensor(0.0)
    k = x.shape[-1] // 2
    top = torch.where(dead_mask, hidden_pre, -torch.inf).topk(min(k, n), dim=-1)
    acts = torch.zeros_like(hidden_pre).scatter(-1, top.indices, top.values)
    return aux_coefficient * min(n / k, 1.0) * ((acts @ W_dec - (x - x_hat)) ** 2).sum(-1).mean()


@TOPK_AUX_LOSS.mistake(
    "ReLU'd the dead latents' pre-activations", "SAELens uses the raw top pre-activations of dead latents."
)
def aux_relu(x, x_hat, hidden_pre, W_dec, dead_mask, aux_coefficient=1.0):
    n = int(dead_mask.sum())
    if n == 0:
        return x_hat.new_tensor(0.0)
    k = x.shape[-1] // 2
    top = torch.where(dead_mask, hidden_pre, -torch.inf).topk(min(k, n), dim=-1)
    acts = torch.zeros_like(hidden_pre).scatter(-1, top.indices, torch.relu(top.values))
    return aux_coefficient * min(n / k, 1.0) * ((acts @ W_dec - (x - x_hat).detach()) ** 2).sum(-1).mean()


@TOPK_AUX_LOSS.mistake("forgot the scale min(#dead / k_aux, 1)", "with few dead latents the loss is scaled down.")
def aux_no_scale(x, x_hat, hidden_pre, W_dec, dead_mask, aux_coefficient=1.0):
    n = int(dead_mask.sum())
    if n == 0:
        return x_hat.new_tensor(0.0)
    top = torch.where(dead_mask, hidden_pre, -torch.inf).topk(min(x.shape[-1] // 2, n), dim=-1)
    acts = torch.zeros_like(hidden_pre).scatter(-1, top.indices, top.values)
    return aux_coefficient * ((acts @ W_dec - (x - x_hat).detach()) ** 2).sum(-1).mean()


@TOPK_AUX_LOSS.mistake("let live latents take part", "mask live latents with −inf before topk.")
def aux_all_latents(x, x_hat, hidden_pre, W_dec, dead_mask, aux_coefficient=1.0):
    n = int(dead_mask.sum())
    if n == 0:
        return x_hat.new_tensor(0.0)
    k = x.shape[-1] // 2
    top = hidden_pre.topk(min(k, n), dim=-1)
    acts = torch.zeros_like(hidden_pre).scatter(-1, top.indices, top.values)
    return aux_coefficient * min(n / k, 1.0) * ((acts @ W_dec - (x - x_hat).detach()) ** 2).sum(-1).mean()


@TOPK_AUX_LOSS.mistake(
    "reconstructed x instead of the residual x − x̂", "the dead latents model what the live ones missed."
)
def aux_target_x(x, x_hat, hidden_pre, W_dec, dead_mask, aux_coefficient=1.0):
    n = int(dead_mask.sum())
    if n == 0:
        return x_hat.new_tensor(0.0)
    k = x.shape[-1] // 2
    top = torch.where(dead_mask, hidden_pre, -torch.inf).topk(min(k, n), dim=-1)
    acts = torch.zeros_like(hidden_pre).scatter(-1, top.indices, top.values)
    return aux_coefficient * min(n / k, 1.0) * ((acts @ W_dec - x) ** 2).sum(-1).mean()


@TOPK_AUX_LOSS.mistake("used every dead latent (k_aux = #dead)", "k_aux = min(d_in // 2, #dead).")
def aux_all_dead(x, x_hat, hidden_pre, W_dec, dead_mask, aux_coefficient=1.0):
    n = int(dead_mask.sum())
    if n == 0:
        return x_hat.new_tensor(0.0)
    acts = torch.where(dead_mask, hidden_pre, torch.zeros_like(hidden_pre))
    return (
        aux_coefficient * min(n / (x.shape[-1] // 2), 1.0) * ((acts @ W_dec - (x - x_hat).detach()) ** 2).sum(-1).mean()
    )


# --------------------------------------------------------------------------------------------
# sae_metrics, ce_loss_recovered, mmcs
# --------------------------------------------------------------------------------------------


def _metrics_cases() -> list[Case]:
    g = seeded(110)

    def case(describe, b, d_in, d_sae, p=0.3, **kw):
        x = _r(g, b, d_in) + 2.0
        f = torch.relu(_r(g, b, d_sae)) * (torch.rand(b, d_sae, generator=g) < p)
        return Case(describe, (x, x + _r(g, b, d_in, s=0.5), f), **kw)

    return [case("batch 8, d_in 6, d_sae 16 (inputs with mean 2)", 8, 6, 16), case("batch 3, d_sae 30: many dead", 3, 5, 30),
            case("batch 20, d_in 4, d_sae 10, dense latents", 20, 4, 10, p=1.0),
            case("batch 64, d_in 16, d_sae 64", 64, 16, 64, hidden=True)]  # fmt: skip


def _metrics_random(g: torch.Generator) -> Case:
    b, d_in, d_sae, p = draw_int(g, 2, 16), draw_int(g, 1, 8), draw_int(g, 1, 20), draw_choice(g, (0.0, 0.3, 1.0))
    x = _r(g, b, d_in) + draw_choice(g, (0.0, 2.0))
    f = torch.relu(_r(g, b, d_sae)) * (torch.rand(b, d_sae, generator=g) < p)
    return Case(f"batch {b}, d_in {d_in}, d_sae {d_sae}, firing probability {p}", (x, x + _r(g, b, d_in, s=0.5), f))


SAE_METRICS = Exercise(
    "sae_metrics",
    points=2,
    make_cases=_metrics_cases,
    random_case=_metrics_random,
    summary="L0, explained variance, dead fraction",
)


@SAE_METRICS.mistake(
    "returned tensors instead of Python floats (json.dumps of the log fails)",
    "each metric is a plain float: call .item() on it.",
)
def metrics_as_tensors(x, x_hat, feature_acts):
    a = feature_acts != 0
    ev = 1 - ((x_hat - x) ** 2).sum(-1).mean() / ((x - x.mean(0)) ** 2).sum(-1).mean()
    return {"l0": a.sum(-1).float().mean(), "explained_variance": ev, "dead_fraction": (~a.any(0)).float().mean()}


@SAE_METRICS.mistake(
    "per-row explained variance averaged (SAELens's 'legacy' metric)", "a ratio of means, not a mean of ratios."
)
def legacy_ev(x, x_hat, feature_acts):
    a = feature_acts != 0
    ev = 1 - ((x_hat - x) ** 2).sum(-1) / ((x - x.mean(0)) ** 2).sum(-1)
    return {"l0": a.sum(-1).float().mean().item(), "explained_variance": ev.mean().item(), "dead_fraction": (~a.any(0)).float().mean().item()}  # fmt: skip


@SAE_METRICS.mistake("did not centre x for the variance", "total variance is around the batch mean: x − x.mean(0).")
def uncentred(x, x_hat, feature_acts):
    a = feature_acts != 0
    ev = 1 - ((x_hat - x) ** 2).sum(-1).mean() / (x**2).sum(-1).mean()
    return {"l0": a.sum(-1).float().mean().item(), "explained_variance": ev.item(), "dead_fraction": (~a.any(0)).float().mean().item()}  # fmt: skip


@SAE_METRICS.mistake("L0 as a fraction of latents", "L0 is a count per row: sum over latents, mean over rows.")
def l0_fraction(x, x_hat, feature_acts):
    a = feature_acts != 0
    ev = 1 - ((x_hat - x) ** 2).sum(-1).mean() / ((x - x.mean(0)) ** 2).sum(-1).mean()
    return {"l0": a.float().mean().item(), "explained_variance": ev.item(), "dead_fraction": (~a.any(0)).float().mean().item()}  # fmt: skip


@SAE_METRICS.mistake(
    "dead fraction as the fraction of zero entries", "a latent is dead when it is zero on *every* row."
)
def dead_entries(x, x_hat, feature_acts):
    a = feature_acts != 0
    ev = 1 - ((x_hat - x) ** 2).sum(-1).mean() / ((x - x.mean(0)) ** 2).sum(-1).mean()
    return {"l0": a.sum(-1).float().mean().item(), "explained_variance": ev.item(), "dead_fraction": (~a).float().mean().item()}  # fmt: skip


@SAE_METRICS.mistake("returned the unexplained fraction (forgot 1 −)", "explained variance = 1 − error / variance.")
def unexplained(x, x_hat, feature_acts):
    a = feature_acts != 0
    ev = ((x_hat - x) ** 2).sum(-1).mean() / ((x - x.mean(0)) ** 2).sum(-1).mean()
    return {"l0": a.sum(-1).float().mean().item(), "explained_variance": ev.item(), "dead_fraction": (~a.any(0)).float().mean().item()}  # fmt: skip


def _ce_cases() -> list[Case]:
    t = torch.tensor
    return [Case("scalars: clean 2.0, SAE 2.3, ablated 5.0", (t(2.0), t(2.3), t(5.0))),
            Case("three layers at once", (t([1.5, 1.5, 1.5]), t([1.6, 2.5, 1.5]), t([4.0, 3.0, 9.0]))),
            Case("an SAE worse than ablation (negative score)", (t(2.0), t(6.0), t(5.0))),
            Case("float64 [4]", (t([2.0, 2.1, 3.0, 1.0], dtype=torch.float64), t([2.2, 2.1, 3.5, 1.9], dtype=torch.float64), t([8.0, 4.0, 3.6, 2.0], dtype=torch.float64)), hidden=True)]  # fmt: skip


def _ce_random(g: torch.Generator) -> Case:
    """Any shape (a scalar included, elementwise), either dtype; an SAE worse than ablation or better than clean."""
    shape, dtype = draw_leading(g), draw_choice(g, (torch.float32, torch.float64))
    clean = 1 + 2 * torch.rand(shape, generator=g, dtype=dtype)
    ablated = clean + 0.5 + 4 * torch.rand(shape, generator=g, dtype=dtype)
    sae = clean + (torch.rand(shape, generator=g, dtype=dtype) * 1.4 - 0.2) * (ablated - clean)
    return Case(f"shape {list(shape)} ({str(dtype).removeprefix('torch.')})", (clean, sae, ablated))


CE_LOSS_RECOVERED = Exercise(
    "ce_loss_recovered", points=1, make_cases=_ce_cases, summary="CE-loss recovered", random_case=_ce_random
)


@CE_LOSS_RECOVERED.mistake("returned the fraction lost (1 − recovered)", "1 means as good as the clean model.")
def fraction_lost(ce_clean, ce_sae, ce_ablated):
    return (ce_sae - ce_clean) / (ce_ablated - ce_clean)


@CE_LOSS_RECOVERED.mistake("divided by CE_ablated alone", "the denominator is CE_ablated − CE_clean.")
def over_ablated(ce_clean, ce_sae, ce_ablated):
    return (ce_ablated - ce_sae) / ce_ablated


@CE_LOSS_RECOVERED.mistake("the ratio CE_clean / CE_SAE", "measure against the ablation baseline, not a ratio.")
def plain_ratio(ce_clean, ce_sae, ce_ablated):
    return ce_clean / ce_sae


@CE_LOSS_RECOVERED.mistake("divided by CE_SAE − CE_clean", "the denominator is the whole range, CE_ablated − CE_clean.")
def wrong_denominator(ce_clean, ce_sae, ce_ablated):
    return (ce_ablated - ce_sae) / (ce_sae - ce_clean)


@CE_LOSS_RECOVERED.mistake("absolute differences (never negative)", "a score below 0 is information: keep the sign.")
def absolute_diffs(ce_clean, ce_sae, ce_ablated):
    return (ce_ablated - ce_sae).abs() / (ce_ablated - ce_clean).abs()


def _mmcs_cases() -> list[Case]:
    g = seeded(111)
    truth = _r(g, 6, 5)
    return [Case("learned [10, 4], truth [6, 4]", (_r(g, 10, 4), _r(g, 6, 4))),
            Case("learned = truth rescaled and shuffled (MMCS 1)", (truth[[3, 0, 5, 1, 4, 2]] * 3.0, truth)),
            Case("fewer learned rows than truth: [3, 8] vs [7, 8]", (_r(g, 3, 8), _r(g, 7, 8))),
            Case("learned rows pointing opposite to the true ones", (-truth[:2], truth[:2])),
            Case("float64 learned [40, 16], truth [20, 16]", (_r(g, 40, 16, dtype=torch.float64), _r(g, 20, 16, dtype=torch.float64)), hidden=True)]  # fmt: skip


def _mmcs_random(g: torch.Generator) -> Case:
    d, n_learned, n_true, dtype = draw_int(g, 1, 8), draw_int(g, 1, 12), draw_int(g, 1, 12), _dtype(g)
    return Case(
        f"learned [{n_learned}, {d}], truth [{n_true}, {d}]",
        (_r(g, n_learned, d, dtype=dtype), _r(g, n_true, d, dtype=dtype)),
    )


MMCS = Exercise(
    "mmcs",
    points=2,
    make_cases=_mmcs_cases,
    summary="mean max cosine similarity",
    random_case=_mmcs_random,
)


@MMCS.mistake(
    "max over truth, averaged over learned (the wrong direction)", "for each *true* feature, its best learned match."
)
def wrong_direction(learned, truth):
    c = (truth / truth.norm(dim=-1, keepdim=True)) @ (learned / learned.norm(dim=-1, keepdim=True)).T
    return c.max(dim=0).values.mean()


@MMCS.mistake("raw dot products (forgot to normalise)", "cosine similarity: normalise both sets of rows.")
def raw_dots(learned, truth):
    return (truth @ learned.T).max(dim=-1).values.mean()


@MMCS.mistake("absolute cosine (sign ignored)", "an SAE latent has a sign: −Fᵢ is not Fᵢ.")
def abs_cosine(learned, truth):
    c = (truth / truth.norm(dim=-1, keepdim=True)) @ (learned / learned.norm(dim=-1, keepdim=True)).T
    return c.abs().max(dim=-1).values.mean()


@MMCS.mistake("mean instead of max over learned rows", "take the best match, then average.")
def mean_not_max(learned, truth):
    c = (truth / truth.norm(dim=-1, keepdim=True)) @ (learned / learned.norm(dim=-1, keepdim=True)).T
    return c.mean()


@MMCS.mistake("normalised the columns instead of the rows", "each row is a direction: norm over dim −1.")
def columns_normalised(learned, truth):
    c = (truth / truth.norm(dim=0, keepdim=True)) @ (learned / learned.norm(dim=0, keepdim=True)).T
    return c.max(dim=-1).values.mean()


# --------------------------------------------------------------------------------------------
# sae_train_step (integration)
# --------------------------------------------------------------------------------------------


def _step_cases() -> list[Case]:
    g = seeded(112)

    def case(describe, d_in, d_sae, b, n, l1, lr, **kw):
        state = dict(zip(("W_enc", "b_enc", "W_dec", "b_dec"), _sae(g, d_in, d_sae)))
        return Case(describe, ([_r(g, b, d_in) for _ in range(n)], state, l1, lr), **kw)

    return [case("3 steps, d_in 6, d_sae 16, λ = 0.1, SGD lr 0.05", 6, 16, 8, 3, 0.1, 0.05),
            case("one step on one row, λ = 1 (the gradient norm is clipped)", 5, 12, 1, 1, 1.0, 0.1),
            case("4 steps, d_in 8, d_sae 32, λ = 0.03", 8, 32, 16, 4, 0.03, 0.02, hidden=True)]  # fmt: skip


def _step_call(fn, case: Case) -> dict:
    batches, state, l1, lr = case.args
    with torch.enable_grad():
        sae = nn.ParameterDict({k: nn.Parameter(v.clone()) for k, v in state.items()})
        optimizer = torch.optim.SGD(sae.parameters(), lr=lr)
        metrics = [fn(sae, optimizer, x, l1) for x in batches]
    return {"metrics": metrics, "parameters": {k: p.detach().clone() for k, p in sae.items()}}


def _step_random(g: torch.Generator) -> Case:
    """1 to 3 steps on batches of 1 to 12 rows, d_in ≠ d_sae drawn small, λ and the SGD lr drawn."""
    d_in, d_sae, b, n = draw_int(g, 2, 8), draw_int(g, 9, 24), draw_int(g, 1, 12), draw_int(g, 1, 3)
    l1, lr = draw_choice(g, (0.0, 0.03, 0.1, 1.0)), draw_choice(g, (0.02, 0.05, 0.1))
    state = dict(zip(("W_enc", "b_enc", "W_dec", "b_dec"), _sae(g, d_in, d_sae)))
    describe = f"{n} steps on batches of {b}, d_in {d_in}, d_sae {d_sae}, λ = {l1}, SGD lr {lr}"
    return Case(describe, ([_r(g, b, d_in) for _ in range(n)], state, l1, lr))


SAE_TRAIN_STEP = Exercise(
    "sae_train_step", points=3, make_cases=_step_cases, call=_step_call, random_case=_step_random,
    summary="integration: one SAE training step (encode, decode, loss, backward, clipping, optimizer step)",
)  # fmt: skip


def _sae_step(sae, optimizer, x, l1_coefficient, order="zbcs", detached_penalty=False, mse_only=False, metrics_after=False):  # fmt: skip
    """One SAE step with a switch per mistake: ``order`` spells the calls after the forward pass
    (z: zero_grad, b: backward, c: clip at 1, s: step)."""

    def forward():
        f = torch.relu((x - sae.b_dec) @ sae.W_enc + sae.b_enc)
        mse = ((f @ sae.W_dec + sae.b_dec - x) ** 2).sum(-1).mean()
        penalty = ((f.detach() if detached_penalty else f).abs() * sae.W_dec.norm(dim=-1)).sum(-1).mean()
        return f, mse, mse + l1_coefficient * penalty

    f, mse, loss = forward()
    for call in order:
        {
            "z": optimizer.zero_grad,
            "b": (mse if mse_only else loss).backward,
            "c": lambda: torch.nn.utils.clip_grad_norm_(sae.parameters(), 1.0),
            "s": optimizer.step,
        }[call]()
    if metrics_after:
        with torch.no_grad():
            f, mse, loss = forward()
    return {"loss": loss.item(), "mse_loss": mse.item(), "l1_loss": (loss - mse).item(), "l0": (f != 0).sum(-1).float().mean().item()}  # fmt: skip


@SAE_TRAIN_STEP.mistake("forgot optimizer.zero_grad() (gradients accumulate)", "zero the gradients every step.")
def step_no_zero_grad(sae, optimizer, x, l1_coefficient):
    return _sae_step(sae, optimizer, x, l1_coefficient, order="bcs")


@SAE_TRAIN_STEP.mistake("no gradient clipping", "clip_grad_norm_(sae.parameters(), 1.0) between backward and step.")
def step_no_clip(sae, optimizer, x, l1_coefficient):
    return _sae_step(sae, optimizer, x, l1_coefficient, order="zbs")


@SAE_TRAIN_STEP.mistake(
    "L1 penalty on detached latents (only the reconstruction trains)",
    "the penalty must reach the encoder: no .detach().",
)
def step_detached_penalty(sae, optimizer, x, l1_coefficient):
    return _sae_step(sae, optimizer, x, l1_coefficient, detached_penalty=True)


@SAE_TRAIN_STEP.mistake("trained on the reconstruction only (λ ignored)", "the loss is sae_loss(..., l1_coefficient).")
def step_no_penalty(sae, optimizer, x, l1_coefficient):
    return _sae_step(sae, optimizer, x, l1_coefficient, mse_only=True)


@SAE_TRAIN_STEP.mistake("clipped after optimizer.step() (too late to matter)", "clip between backward() and step().")
def step_clip_late(sae, optimizer, x, l1_coefficient):
    return _sae_step(sae, optimizer, x, l1_coefficient, order="zbsc")


@SAE_TRAIN_STEP.mistake(
    "metrics measured after the update", "record the loss of the batch you trained on, before step()."
)
def step_metrics_after(sae, optimizer, x, l1_coefficient):
    return _sae_step(sae, optimizer, x, l1_coefficient, metrics_after=True)


EXERCISES = [
    SPARSE_FEATURES,
    TOY_FORWARD,
    IMPORTANCE_WEIGHTED_MSE,
    FEATURE_DIMENSIONALITY,
    SAE_ENCODE,
    SAE_DECODE,
    SAE_LOSS,
    FOLD_DECODER_NORM,
    TOPK_ACTIVATION,
    UPDATE_DEAD_LATENTS,
    TOPK_AUX_LOSS,
    SAE_METRICS,
    CE_LOSS_RECOVERED,
    MMCS,
    SAE_TRAIN_STEP,
]
