"""Week 11 exercises: debate on sparse digits. Cases and known mistakes for each function.

The reference implementations live in ``solutions/w11_debate/w11_debate.py``; judges, images and
the fixture strategies in :mod:`graders.weeks.debate_fixtures`. Every exercise of this week is
discrete (masks, moves, verdicts, counts) or a statistic of counts: nothing is trained through
them, so none declares ``grads``. The judge's training loss is the library's cross-entropy.
"""

from __future__ import annotations

import math

import torch

from graders.core import Case, Exercise, draw_choice, draw_int, draw_leading, seeded
from graders.weeks.debate_fixtures import (
    CountingJudge,
    FlatJudge,
    TinyJudge,
    claim_keyed,
    lowest_free,
    own_logit_greedy,
    positions,
    sparse_images,
)

# --------------------------------------------------------------------------------------------
# reveal_input
# --------------------------------------------------------------------------------------------


def _reveal_cases() -> list[Case]:
    g = seeded(0)
    img1 = sparse_images(g, 1, 30)[0]
    return [
        Case("one image [8, 8] (float32) with a bool mask of 6 pixels", (img1, torch.rand(8, 8, generator=g) < 0.1)),
        Case(
            "a batch of 3 images [3, 8, 8] with bool masks",
            (sparse_images(g, 3, [20, 35, 50]), torch.rand(3, 8, 8, generator=g) < 0.3),
        ),
        Case(
            "a float64 batch [2, 8, 8] with an integer 0/1 mask",
            (sparse_images(g, 2, 40).double(), (torch.rand(2, 8, 8, generator=g) < 0.5).long()),
        ),
        Case("one image with every pixel revealed", (img1, torch.ones(8, 8, dtype=torch.bool))),
        Case(
            "a [2, 3, 8, 8] batch (two batch dimensions)",
            (sparse_images(g, 6, 25).view(2, 3, 8, 8), torch.rand(2, 3, 8, 8, generator=g) < 0.4),
            hidden=True,
        ),
    ]


def _ink(g: torch.Generator, lead: tuple[int, ...], low: int = 0) -> torch.Tensor:
    """Images [*lead, 8, 8], each with its own number of ink pixels (blank and full ones included)."""
    n = math.prod(lead)
    counts = [draw_choice(g, (low, 1, 64, draw_int(g, low, 64))) for _ in range(n)]
    return sparse_images(g, n, counts).view(*lead, 8, 8)


def _reveal_random(g: torch.Generator) -> Case:
    """Any leading dimensions (none included), float32 or float64 images, bool or 0/1 integer masks."""
    lead, dtype = draw_leading(g), draw_choice(g, (torch.float32, torch.float64))
    images = _ink(g, lead).to(dtype)
    mask = torch.rand(images.shape, generator=g) < draw_choice(g, (0.0, 0.3, 1.0))
    mask = mask if draw_int(g, 0, 1) else mask.long()
    return Case(f"images {list(images.shape)} ({str(dtype).removeprefix('torch.')}), {mask.dtype} mask", (images, mask))


REVEAL_INPUT = Exercise(
    "reveal_input",
    points=1,
    make_cases=_reveal_cases,
    summary="the judge's two-channel view of revealed pixels",
    random_case=_reveal_random,
)


@REVEAL_INPUT.mistake(
    "swapped the channels (values first, mask second)", "channel 0 is the 0/1 mask, channel 1 the values."
)
def swapped_channels(image, revealed_mask):
    m = revealed_mask.to(image.dtype)
    return torch.stack([image * m, m], dim=-3)


@REVEAL_INPUT.mistake(
    "did not hide the unrevealed pixels in the value channel (the judge sees the whole digit)",
    "multiply the image by the mask: unrevealed pixels must be 0 in channel 1.",
)
def whole_digit_visible(image, revealed_mask):
    return torch.stack([revealed_mask.to(image.dtype), image], dim=-3)


@REVEAL_INPUT.mistake(
    "stacked the channels on dim 0 instead of just before the pixel dimensions",
    "a batch [B, 8, 8] must give [B, 2, 8, 8]: stack on dim=-3.",
)
def stacked_on_dim_0(image, revealed_mask):
    m = revealed_mask.to(image.dtype)
    return torch.stack([m, image * m], dim=0)


@REVEAL_INPUT.mistake("inverted the mask (showed the hidden pixels)", "revealed pixels are where the mask is 1/True.")
def inverted_mask(image, revealed_mask):
    m = 1 - revealed_mask.to(image.dtype)
    return torch.stack([m, image * m], dim=-3)


@REVEAL_INPUT.mistake(
    "used the image's nonzero pixels as the mask instead of revealed_mask",
    "the judge sees only the pixels in revealed_mask, not every pixel with ink.",
)
def ink_as_mask(image, revealed_mask):
    m = (image > 0).to(image.dtype)
    return torch.stack([m, image * m], dim=-3)


@REVEAL_INPUT.mistake(
    "concatenated the channels instead of stacking them", "torch.stack creates the new channel dimension; cat does not."
)
def concatenated(image, revealed_mask):
    m = revealed_mask.to(image.dtype)
    return torch.cat([m, image * m], dim=-3)


@REVEAL_INPUT.mistake(
    "hid the pixels by editing the caller's image in place",
    "image.mul_(mask) zeroes the caller's digit too: use image * mask.",
)
def masked_image_in_place(image, revealed_mask):
    m = revealed_mask.to(image.dtype)
    return torch.stack([m.expand_as(image), image.mul_(m)], dim=-3)


# --------------------------------------------------------------------------------------------
# random_reveal_mask
# --------------------------------------------------------------------------------------------


def _random_mask_cases() -> list[Case]:
    g = seeded(1)
    return [
        Case(
            "4 images [4, 8, 8] with 20–40 nonzero pixels, k = 6",
            (sparse_images(g, 4, [20, 25, 33, 40]), 6, torch.rand(4, 8, 8, generator=g)),
        ),
        Case("one image [8, 8], k = 3", (sparse_images(g, 1, 28)[0], 3, torch.rand(8, 8, generator=g))),
        Case(
            "3 images where one has only 2 nonzero pixels, k = 5",
            (sparse_images(g, 3, [30, 2, 12]), 5, torch.rand(3, 8, 8, generator=g)),
        ),
        Case("k = 0 (nothing revealed)", (sparse_images(g, 2, 30), 0, torch.rand(2, 8, 8, generator=g))),
        Case("2 images, k = 12", (sparse_images(g, 2, 40), 12, torch.rand(2, 8, 8, generator=g))),
        Case(
            "a [2, 3, 8, 8] batch, k = 10",
            (sparse_images(g, 6, [15, 30, 45, 9, 22, 60]).view(2, 3, 8, 8), 10, torch.rand(2, 3, 8, 8, generator=g)),
            hidden=True,
        ),
    ]


def _random_mask_random(g: torch.Generator) -> Case:
    """Any leading dimensions, images with 0 to 64 ink pixels, k from 0 to 64."""
    lead = draw_leading(g)
    images = _ink(g, lead)
    k = draw_choice(g, (0, 1, 64, draw_int(g, 0, 64)))
    return Case(f"images {list(images.shape)}, k = {k}", (images, k, torch.rand(images.shape, generator=g)))


RANDOM_REVEAL_MASK = Exercise(
    "random_reveal_mask",
    points=2,
    make_cases=_random_mask_cases,
    random_case=_random_mask_random,
    summary="a random k-subset of nonzero pixels via random keys",
)


@RANDOM_REVEAL_MASK.mistake(
    "revealed zero pixels too (did not restrict the choice to nonzero pixels)",
    "only pixels with ink are candidates: give zero pixels a score of -inf before topk.",
)
def zero_pixels_allowed(images, k, scores):
    top = scores.flatten(-2).topk(k, dim=-1).indices
    return torch.zeros_like(images.flatten(-2), dtype=torch.bool).scatter(-1, top, True).view(images.shape)


@RANDOM_REVEAL_MASK.mistake("took the k lowest scores", "keep the k candidates with the *highest* scores.")
def lowest_scores(images, k, scores):
    cand = images.flatten(-2) > 0
    keyed = scores.flatten(-2).masked_fill(~cand, math.inf)
    top = keyed.topk(k, dim=-1, largest=False).indices
    return (torch.zeros_like(cand).scatter(-1, top, True) & cand).view(images.shape)


@RANDOM_REVEAL_MASK.mistake(
    "filled up with zero pixels when an image has fewer than k nonzero pixels",
    "topk always returns k indices: AND the result with the nonzero mask.",
)
def filled_up_with_blanks(images, k, scores):
    cand = images.flatten(-2) > 0
    top = scores.flatten(-2).masked_fill(~cand, -math.inf).topk(k, dim=-1).indices
    return torch.zeros_like(cand).scatter(-1, top, True).view(images.shape)


@RANDOM_REVEAL_MASK.mistake(
    "took the top k of every row instead of the top k of the whole image",
    "flatten the two pixel dimensions first, so that topk runs over all 64 pixels.",
)
def top_k_per_row(images, k, scores):
    cand = images > 0
    top = scores.masked_fill(~cand, -math.inf).topk(min(k, 8), dim=-1).indices
    return torch.zeros_like(cand).scatter(-1, top, True) & cand


@RANDOM_REVEAL_MASK.mistake("returned the flattened [..., 64] mask instead of [..., 8, 8]", "reshape to images.shape.")
def flat_mask(images, k, scores):
    cand = images.flatten(-2) > 0
    top = scores.flatten(-2).masked_fill(~cand, -math.inf).topk(k, dim=-1).indices
    return torch.zeros_like(cand).scatter(-1, top, True) & cand


@RANDOM_REVEAL_MASK.mistake(
    "wrote -inf into the caller's scores in place",
    "scores.masked_fill_ changes the caller's random keys: use the out-of-place masked_fill.",
)
def scores_edited_in_place(images, k, scores):
    cand = images.flatten(-2) > 0
    top = scores.view(cand.shape).masked_fill_(~cand, -math.inf).topk(k, dim=-1).indices
    return (torch.zeros_like(cand).scatter(-1, top, True) & cand).view(images.shape)


# --------------------------------------------------------------------------------------------
# judge_verdict
# --------------------------------------------------------------------------------------------


def _logits(values: dict[int, float], fill: float = -1.0) -> torch.Tensor:
    out = torch.full((10,), fill)
    out[list(values)] = torch.tensor(list(values.values()))
    return out


def _verdict_cases() -> list[Case]:
    return [
        Case("claim_a = 3 has the higher logit, class 0 beats both", (_logits({0: 5.0, 3: 1.0, 7: -0.5}), 3, 7)),
        Case("claim_b = 8 has the higher logit (both near the top)", (_logits({2: 0.5, 8: 2.0, 5: 0.7}), 2, 8)),
        Case("an exact tie between claims 4 and 6", (_logits({4: 1.5, 6: 1.5, 9: 3.0, 1: 0.5}), 4, 6)),
        Case("negative logits: claim_a = 9 is less negative", (_logits({9: -2.0, 1: -4.0}, fill=-8.0), 9, 1)),
        Case("claim_a = 5 wins the pair, class 2 dominates", (_logits({5: 2.0, 7: 1.0, 2: 4.0}), 5, 7)),
        Case("claim_b = 0 wins and claim_a = 1", (_logits({0: 3.0, 1: 1.0}), 1, 0), hidden=True),
        Case("a tie at very large logits (1e4)", (_logits({3: 1e4, 8: 1e4}), 8, 3), hidden=True),
    ]


def _verdict_random(g: torch.Generator) -> Case:
    """Integer-valued logits (ties are frequent) at any scale, two different claims."""
    logits = torch.randint(-3, 4, (10,), generator=g).float() * draw_choice(g, (1.0, 1e4))
    a = draw_int(g, 0, 9)
    b = (a + draw_int(g, 1, 9)) % 10
    return Case(f"logits {logits.tolist()}, claims {a} and {b}", (logits, a, b))


JUDGE_VERDICT = Exercise(
    "judge_verdict",
    points=1,
    make_cases=_verdict_cases,
    summary="the judge's choice between two claims",
    random_case=_verdict_random,
)


@JUDGE_VERDICT.mistake("a tie went to claim_b (used > instead of >=)", "on a tie the verdict is claim_a.")
def tie_to_claim_b(judge_logits, claim_a, claim_b):
    return claim_a if judge_logits[claim_a] > judge_logits[claim_b] else claim_b


@JUDGE_VERDICT.mistake(
    "took the argmax over all ten classes instead of choosing between the two claims",
    "the judge must pick one of the two claims, even when another class scores higher.",
)
def argmax_of_ten(judge_logits, claim_a, claim_b):
    return int(judge_logits.argmax())


@JUDGE_VERDICT.mistake(
    "returned which side won (0 or 1) instead of the claimed class", "return claim_a or claim_b itself."
)
def returned_side(judge_logits, claim_a, claim_b):
    return 0 if judge_logits[claim_a] >= judge_logits[claim_b] else 1


@JUDGE_VERDICT.mistake("picked the claim with the lower logit", "the judge prefers the claim with the *higher* logit.")
def lower_logit(judge_logits, claim_a, claim_b):
    return claim_a if judge_logits[claim_a] <= judge_logits[claim_b] else claim_b


@JUDGE_VERDICT.mistake(
    "compared the logits of classes 0 and 1 instead of the two claims' logits",
    "index the logits by the claims: judge_logits[claim_a] vs judge_logits[claim_b].",
)
def classes_0_and_1(judge_logits, claim_a, claim_b):
    return claim_a if judge_logits[0] >= judge_logits[1] else claim_b


# --------------------------------------------------------------------------------------------
# move_margins
# --------------------------------------------------------------------------------------------


def _move_margin_cases() -> list[Case]:
    g = seeded(3)
    imgs3 = sparse_images(g, 3, [20, 30, 12])
    imgs4 = sparse_images(g, 4, [25, 18, 40, 10])
    imgs5 = sparse_images(g, 5, [30, 30, 22, 15, 50])
    t = torch.tensor
    return [
        Case(
            "3 games, nothing revealed yet, TinyJudge(seed=11)",
            (TinyJudge(11), imgs3, torch.zeros(3, 8, 8, dtype=torch.bool), t([1, 4, 9]), t([7, 2, 0])),
        ),
        Case(
            "4 games with a few pixels already revealed, TinyJudge(seed=12)",
            (
                TinyJudge(12),
                imgs4,
                (torch.rand(4, 8, 8, generator=g) < 0.15) & (imgs4 > 0),
                t([0, 3, 5, 8]),
                t([6, 4, 2, 1]),
            ),
        ),
        Case(
            "one game (B = 1) in float64, TinyJudge(seed=13)",
            (TinyJudge(13), imgs3[:1].double(), torch.zeros(1, 8, 8, dtype=torch.bool), t([2]), t([5])),
        ),
        Case(
            "5 games with about half the ink revealed, TinyJudge(seed=14)",
            (
                TinyJudge(14),
                imgs5,
                (torch.rand(5, 8, 8, generator=g) < 0.5) & (imgs5 > 0),
                t([9, 8, 7, 6, 5]),
                t([0, 1, 2, 3, 4]),
            ),
            hidden=True,
        ),
    ]


def _claims(g: torch.Generator, B: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[B] claims and [B] other claims, different in every game."""
    mine = torch.randint(0, 10, (B,), generator=g)
    return mine, (mine + torch.randint(1, 10, (B,), generator=g)) % 10


def _move_margin_random(g: torch.Generator) -> Case:
    """1 to 4 games, from nothing to every ink pixel revealed (a row of −inf), float32 or float64, any judge seed."""
    B = draw_int(g, 1, 4)
    spec = []
    for _ in range(B):
        ink = draw_int(g, 1, 64)
        spec.append((ink, draw_choice(g, (0, ink, draw_int(g, 0, ink)))))
    images, revealed = positions(g, spec)
    images = images.to(draw_choice(g, (torch.float32, torch.float64)))
    judge = TinyJudge(draw_int(g, 0, 9999))
    return Case(f"{B} games (ink, revealed) = {spec} ({images.dtype}), {judge!r}", (judge, images, revealed, *_claims(g, B)))  # fmt: skip


MOVE_MARGINS = Exercise(
    "move_margins",
    points=2,
    make_cases=_move_margin_cases,
    summary="the judge's margin after each candidate reveal",
    random_case=_move_margin_random,
)


@MOVE_MARGINS.mistake(
    "scored moves by my claim's logit alone, not the margin over the other claim",
    "the verdict depends on logit[my] − logit[other]: subtract the opponent's logit.",
)
def my_logit_alone(judge, images, revealed, my_claims, other_claims):
    B = images.shape[0]
    flat = revealed.reshape(B, 1, 64).bool()
    m = (flat | torch.eye(64, dtype=torch.bool, device=images.device)).to(images.dtype)
    logits = judge(torch.stack([m, images.reshape(B, 1, 64) * m], dim=2).view(B, 64, 2, 8, 8))
    rows = torch.arange(B, device=images.device)
    legal = (images.reshape(B, 64) > 0) & ~flat[:, 0]
    return logits[rows, :, my_claims].masked_fill(~legal, -math.inf)


@MOVE_MARGINS.mistake("sign flip (computed the opponent's margin)", "the margin is logit[my] − logit[other].")
def sign_flip(judge, images, revealed, my_claims, other_claims):
    B = images.shape[0]
    flat = revealed.reshape(B, 1, 64).bool()
    m = (flat | torch.eye(64, dtype=torch.bool, device=images.device)).to(images.dtype)
    logits = judge(torch.stack([m, images.reshape(B, 1, 64) * m], dim=2).view(B, 64, 2, 8, 8))
    rows = torch.arange(B, device=images.device)
    legal = (images.reshape(B, 64) > 0) & ~flat[:, 0]
    return (logits[rows, :, other_claims] - logits[rows, :, my_claims]).masked_fill(~legal, -math.inf)


@MOVE_MARGINS.mistake("did not rule out zero pixels", "a pixel without ink is not a legal move: mask it with -inf.")
def zero_pixels_legal(judge, images, revealed, my_claims, other_claims):
    B = images.shape[0]
    flat = revealed.reshape(B, 1, 64).bool()
    m = (flat | torch.eye(64, dtype=torch.bool, device=images.device)).to(images.dtype)
    logits = judge(torch.stack([m, images.reshape(B, 1, 64) * m], dim=2).view(B, 64, 2, 8, 8))
    rows = torch.arange(B, device=images.device)
    return (logits[rows, :, my_claims] - logits[rows, :, other_claims]).masked_fill(flat[:, 0], -math.inf)


@MOVE_MARGINS.mistake(
    "did not rule out pixels that were already revealed", "revealing a pixel twice is not a move: mask it with -inf."
)
def revealed_pixels_legal(judge, images, revealed, my_claims, other_claims):
    B = images.shape[0]
    flat = revealed.reshape(B, 1, 64).bool()
    m = (flat | torch.eye(64, dtype=torch.bool, device=images.device)).to(images.dtype)
    logits = judge(torch.stack([m, images.reshape(B, 1, 64) * m], dim=2).view(B, 64, 2, 8, 8))
    rows = torch.arange(B, device=images.device)
    return (logits[rows, :, my_claims] - logits[rows, :, other_claims]).masked_fill(
        images.reshape(B, 64) <= 0, -math.inf
    )


@MOVE_MARGINS.mistake("filled illegal moves with 0 instead of -inf", "an illegal move must never be chosen: use -inf.")
def illegal_as_zero(judge, images, revealed, my_claims, other_claims):
    B = images.shape[0]
    flat = revealed.reshape(B, 1, 64).bool()
    m = (flat | torch.eye(64, dtype=torch.bool, device=images.device)).to(images.dtype)
    logits = judge(torch.stack([m, images.reshape(B, 1, 64) * m], dim=2).view(B, 64, 2, 8, 8))
    rows = torch.arange(B, device=images.device)
    legal = (images.reshape(B, 64) > 0) & ~flat[:, 0]
    return (logits[rows, :, my_claims] - logits[rows, :, other_claims]).masked_fill(~legal, 0.0)


@MOVE_MARGINS.mistake(
    "evaluated each candidate pixel alone, forgetting the pixels already revealed",
    "a candidate view is revealed | one_hot(p): the earlier pixels stay visible.",
)
def forgot_earlier_pixels(judge, images, revealed, my_claims, other_claims):
    B = images.shape[0]
    flat = revealed.reshape(B, 1, 64).bool()
    m = torch.eye(64, dtype=images.dtype, device=images.device).expand(B, 64, 64)
    logits = judge(torch.stack([m, images.reshape(B, 1, 64) * m], dim=2).view(B, 64, 2, 8, 8))
    rows = torch.arange(B, device=images.device)
    legal = (images.reshape(B, 64) > 0) & ~flat[:, 0]
    return (logits[rows, :, my_claims] - logits[rows, :, other_claims]).masked_fill(~legal, -math.inf)


@MOVE_MARGINS.mistake(
    "numbered pixels column by column instead of row by row", "pixel p is row p // 8, column p % 8 (image.flatten())."
)
def column_major(judge, images, revealed, my_claims, other_claims):
    B = images.shape[0]
    flat = revealed.reshape(B, 1, 64).bool()
    m = (flat | torch.eye(64, dtype=torch.bool, device=images.device)).to(images.dtype)
    logits = judge(torch.stack([m, images.reshape(B, 1, 64) * m], dim=2).view(B, 64, 2, 8, 8))
    rows = torch.arange(B, device=images.device)
    legal = (images.reshape(B, 64) > 0) & ~flat[:, 0]
    out = (logits[rows, :, my_claims] - logits[rows, :, other_claims]).masked_fill(~legal, -math.inf)
    return out.view(B, 8, 8).transpose(1, 2).reshape(B, 64)


# --------------------------------------------------------------------------------------------
# play_debate
# --------------------------------------------------------------------------------------------


def _debate_cases() -> list[Case]:
    g = seeded(4)
    imgs = sparse_images(g, 4, [20, 30, 25, 40])
    few = sparse_images(g, 2, [3, 20])
    few.view(2, 64)[:, 63] = 0.0  # a pass that wrongly reveals pixel 63 changes what the judge counts
    t = torch.tensor
    return [
        Case(
            "4 games, k = 4, claim_keyed (first) vs lowest_free (second), TinyJudge(seed=21)",
            (TinyJudge(21), imgs, t([3, 1, 7, 0]), t([5, 8, 2, 9]), 4, claim_keyed, lowest_free),
        ),
        Case(
            "4 games, k = 5 (odd), own_logit_greedy (first) vs claim_keyed (second), TinyJudge(seed=22)",
            (TinyJudge(22), imgs, t([2, 6, 4, 9]), t([7, 0, 1, 3]), 5, own_logit_greedy, claim_keyed),
        ),
        Case(
            "2 games, k = 6, both claim_keyed, TinyJudge(seed=23)",
            (TinyJudge(23), imgs[:2], t([4, 8]), t([9, 1]), 6, claim_keyed, claim_keyed),
        ),
        Case(
            "a judge whose logits all tie (the first player's claim must win), k = 3",
            (FlatJudge(), imgs[:3], t([1, 2, 3]), t([6, 7, 8]), 3, lowest_free, claim_keyed),
        ),
        Case(
            "2 games where the first image has only 3 ink pixels (players must pass), k = 6, a judge that "
            "votes for the number of pixels it was shown",
            (CountingJudge(), few, t([3, 6]), t([4, 2]), 6, lowest_free, claim_keyed),
        ),
        Case(
            "k = 1: a single move, 3 games, own_logit_greedy vs lowest_free, TinyJudge(seed=25)",
            (TinyJudge(25), imgs[1:], t([0, 5, 9]), t([1, 6, 2]), 1, own_logit_greedy, lowest_free),
            hidden=True,
        ),
        Case(
            "4 games, k = 7, claim_keyed vs own_logit_greedy, TinyJudge(seed=26)",
            (TinyJudge(26), imgs, t([8, 3, 5, 1]), t([0, 9, 6, 4]), 7, claim_keyed, own_logit_greedy),
            hidden=True,
        ),
    ]


def _debate_random(g: torch.Generator) -> Case:
    """1 to 4 games (some with fewer ink pixels than moves: passes), k from 1 to 8, any judge and strategies."""
    B, k = draw_int(g, 1, 4), draw_int(g, 1, 8)
    images = sparse_images(g, B, [draw_choice(g, (1, 3, draw_int(g, 1, 64))) for _ in range(B)])
    judge = draw_choice(g, (TinyJudge(draw_int(g, 0, 9999)), FlatJudge(), CountingJudge()))
    first, second = (draw_choice(g, (lowest_free, claim_keyed, own_logit_greedy)) for _ in range(2))
    describe = f"{B} games, k = {k}, {first.__name__} vs {second.__name__}, {judge!r}"
    return Case(describe, (judge, images, *_claims(g, B), k, first, second))


PLAY_DEBATE = Exercise(
    "play_debate",
    points=3,
    make_cases=_debate_cases,
    summary="alternating reveals and the verdict",
    random_case=_debate_random,
)

# Every mistake below is the reference's loop with one thing wrong, through two shared helpers:
# `_game` plays the moves (`turns` holds (strategy, mine, theirs)), `_play` reads the verdict.


def _game(judge, x, turns, k, off_by_one=0, reveal="skip passes"):
    """Alternating reveals with a switch per mistake; returns the judge's logits and the moves [B, k]."""
    B = x.shape[0]
    revealed, moves = torch.zeros(B, 64, dtype=torch.bool, device=x.device), []
    for step in range(k):
        strategy, mine, theirs = turns[step % 2]
        move = strategy(judge, x, revealed.view(B, 8, 8), mine, theirs, k - step - off_by_one)
        if reveal == "skip passes":
            revealed[move >= 0, move[move >= 0]] = True
        elif reveal == "passes too":  # index −1 is pixel 63
            revealed[torch.arange(B, device=x.device), move] = True
        moves.append(move)
    m = revealed.view(B, 8, 8).to(x.dtype)
    return judge(torch.stack([m, x * m], dim=1)), torch.stack(moves, 1)


def _play(judge, images, first_claims, second_claims, k, first_strategy, second_strategy, turns=None, verdict="claims", tie_to_first=True, **game):  # fmt: skip
    """play_debate with a switch per mistake."""
    turns = turns or [(first_strategy, first_claims, second_claims), (second_strategy, second_claims, first_claims)]
    logits, moves = _game(judge, images, turns, k, **game)
    if verdict == "argmax":
        return logits.argmax(-1), moves
    first, second = logits[torch.arange(len(images), device=images.device), first_claims], logits[torch.arange(len(images), device=images.device), second_claims]  # fmt: skip
    first_wins = first >= second if tie_to_first else first > second
    return torch.where(first_wins, first_claims, second_claims), moves


@PLAY_DEBATE.mistake(
    "gave the second player the first player's claim as its own",
    "each mover's strategy gets its own claim as my_claims and the opponent's as other_claims.",
)
def second_player_wrong_claim(judge, images, first_claims, second_claims, k, first_strategy, second_strategy):
    turns = [(first_strategy, first_claims, second_claims), (second_strategy, first_claims, second_claims)]
    return _play(judge, images, first_claims, second_claims, k, first_strategy, second_strategy, turns=turns)


@PLAY_DEBATE.mistake("passed moves_left off by one (k − t − 1)", "moves_left counts the current move: k − t.")
def moves_left_off_by_one(judge, images, first_claims, second_claims, k, first_strategy, second_strategy):
    return _play(judge, images, first_claims, second_claims, k, first_strategy, second_strategy, off_by_one=1)


@PLAY_DEBATE.mistake("let the second player move first", "the first player moves at even t (0, 2, ...).")
def second_moves_first(judge, images, first_claims, second_claims, k, first_strategy, second_strategy):
    turns = [(second_strategy, second_claims, first_claims), (first_strategy, first_claims, second_claims)]
    return _play(judge, images, first_claims, second_claims, k, first_strategy, second_strategy, turns=turns)


@PLAY_DEBATE.mistake(
    "never marked the chosen pixels as revealed", "after each move set revealed[b, move] = True (skipping −1)."
)
def never_revealed(judge, images, first_claims, second_claims, k, first_strategy, second_strategy):
    return _play(judge, images, first_claims, second_claims, k, first_strategy, second_strategy, reveal=None)


@PLAY_DEBATE.mistake(
    "took the judge's argmax over all ten classes as the verdict", "the verdict is one of the two claims."
)
def argmax_verdict(judge, images, first_claims, second_claims, k, first_strategy, second_strategy):
    return _play(judge, images, first_claims, second_claims, k, first_strategy, second_strategy, verdict="argmax")


@PLAY_DEBATE.mistake("a tie went to the second player's claim", "on a tie the verdict is the first player's claim.")
def tie_to_second(judge, images, first_claims, second_claims, k, first_strategy, second_strategy):
    return _play(judge, images, first_claims, second_claims, k, first_strategy, second_strategy, tie_to_first=False)


@PLAY_DEBATE.mistake("a pass (−1) revealed the last pixel", "skip games whose move is −1: index −1 is pixel 63.")
def pass_reveals_pixel_63(judge, images, first_claims, second_claims, k, first_strategy, second_strategy):
    return _play(judge, images, first_claims, second_claims, k, first_strategy, second_strategy, reveal="passes too")


# --------------------------------------------------------------------------------------------
# negamax
# --------------------------------------------------------------------------------------------


def _negamax_cases() -> list[Case]:
    # Positions of depth ≥ 2 have many pixels already revealed (a few legal moves left), so that even
    # a wrong answer that treats zero or revealed pixels as legal keeps the search tree small.
    g = seeded(5)
    t = torch.tensor
    imgs, rev = positions(g, [(6, 0), (7, 1), (5, 0)])
    mid = positions(g, [(34, 30), (33, 30), (35, 31)])
    short = positions(g, [(32, 30), (34, 30)])  # game 0 runs out of legal pixels after two moves
    done = positions(g, [(4, 4), (5, 1)])  # game 0: every ink pixel already revealed
    return [
        Case(
            "depth 0 (the current margin), 3 games, TinyJudge(seed=31)",
            (TinyJudge(31), imgs, rev, t([1, 4, 7]), t([3, 0, 2]), 0),
        ),
        Case(
            "depth 1 (greedy), 3 games, TinyJudge(seed=31)", (TinyJudge(31), imgs, rev, t([1, 4, 7]), t([3, 0, 2]), 1)
        ),
        Case(
            "depth 2, 3 games with 3–5 legal pixels left, TinyJudge(seed=32)",
            (TinyJudge(32), *mid, t([5, 9, 2]), t([8, 6, 0]), 2),
        ),
        Case(
            "depth 3, one game with 5 legal pixels left, TinyJudge(seed=33)",
            (TinyJudge(33), *positions(g, [(34, 29)]), t([0]), t([9]), 3),
        ),
        Case(
            "depth 3 where game 0 has only 2 legal pixels (the search runs out of moves), TinyJudge(seed=34)",
            (TinyJudge(34), *short, t([2, 7]), t([6, 1]), 3),
        ),
        Case(
            "depth 2 where game 0 has no legal move, TinyJudge(seed=35)",
            (TinyJudge(35), *done, t([4, 0]), t([1, 8]), 2),
        ),
        Case(
            "depth 2, 4 games, TinyJudge(seed=36)",
            (
                TinyJudge(36),
                *positions(g, [(34, 30), (33, 29), (36, 32), (34, 31)]),
                t([3, 1, 8, 6]),
                t([0, 9, 2, 4]),
                2,
            ),
            hidden=True,
        ),
        Case(
            "depth 3, one game, TinyJudge(seed=37)",
            (TinyJudge(37), *positions(g, [(35, 31)]), t([7]), t([5]), 3),
            hidden=True,
        ),
    ]


def _negamax_random(g: torch.Generator) -> Case:
    """Depth 0 to 3. At depth ≤ 1 any position; deeper, about 34 ink pixels with 0 to 4 (depth 3: 0 to 3) left
    to reveal, so that even a wrong answer treating blank or revealed pixels as legal keeps the tree small."""
    depth = draw_int(g, 0, 3)
    B = draw_int(g, 1, 3 if depth < 3 else 2)
    spec = []
    for _ in range(B):
        if depth <= 1:
            ink = draw_int(g, 1, 64)
            spec.append((ink, draw_choice(g, (0, ink, draw_int(g, 0, ink)))))
        else:
            ink = draw_int(g, 32, 36)
            spec.append((ink, ink - draw_int(g, 0, 4 if depth == 2 else 3)))
    judge = TinyJudge(draw_int(g, 0, 9999))
    args = (judge, *positions(g, spec), *_claims(g, B), depth)
    return Case(f"depth {depth}, {B} games (ink, revealed) = {spec}, {judge!r}", args)


NEGAMAX = Exercise(
    "negamax",
    points=3,
    make_cases=_negamax_cases,
    summary="depth-limited minimax (negamax) for a debater",
    random_case=_negamax_random,
)


def _negamax(judge, images, flat, mine, theirs, depth, negate=True, swap=True, leaf=0, margin=True, ink_only=True, no_move="margin"):  # fmt: skip
    """The reference's batched search (``flat``: revealed [B, 64] bool) with a switch per mistake."""
    B = images.shape[0]
    m = flat.view(B, 8, 8).to(images.dtype)
    logits, rows = judge(torch.stack([m, images * m], dim=1)), torch.arange(B, device=images.device)
    now = logits[rows, mine] - logits[rows, theirs] if margin else logits[rows, mine]
    none = torch.full((B,), -1, device=images.device)
    legal = (images.reshape(B, 64) > 0) & ~flat if ink_only else ~flat
    if depth <= leaf or (no_move == "margin" and not legal.any()):
        return none, now
    if not legal.any():
        return none, torch.full_like(now, -math.inf)
    game, pixel = legal.nonzero(as_tuple=True)
    child = flat[game].clone()
    child[torch.arange(len(game), device=images.device), pixel] = True
    values = torch.full((B, 64), -math.inf, dtype=now.dtype, device=images.device)
    switches = dict(negate=negate, swap=swap, leaf=leaf, margin=margin, ink_only=ink_only, no_move=no_move)
    claims = (theirs[game], mine[game]) if swap else (mine[game], theirs[game])
    child_value = _negamax(judge, images[game], child, *claims, depth - 1, **switches)[1]
    values[game, pixel] = -child_value if negate else child_value
    has = legal.any(-1)
    value = torch.where(has, values.amax(-1), now) if no_move == "margin" else values.amax(-1)
    return torch.where(has, values.argmax(-1), none), value


@NEGAMAX.mistake(
    "did not negate the child's value (treated the opponent's margin as yours)",
    "the child's value is from the opponent's point of view: your value is minus it.",
)
def child_value_not_negated(judge, images, revealed, my_claims, other_claims, depth):
    flat = revealed.reshape(images.shape[0], 64).bool()
    return _negamax(judge, images, flat, my_claims, other_claims, depth, negate=False)


@NEGAMAX.mistake(
    "did not swap the claims when recursing (the opponent also plays for your claim)",
    "at the child position the opponent moves: recurse with (other_claims, my_claims).",
)
def claims_not_swapped(judge, images, revealed, my_claims, other_claims, depth):
    flat = revealed.reshape(images.shape[0], 64).bool()
    return _negamax(judge, images, flat, my_claims, other_claims, depth, swap=False)


@NEGAMAX.mistake(
    "stopped one move early (treated depth 1 as a leaf)", "depth 0 is the leaf; depth d looks d moves ahead."
)
def stopped_one_move_early(judge, images, revealed, my_claims, other_claims, depth):
    flat = revealed.reshape(images.shape[0], 64).bool()
    return _negamax(judge, images, flat, my_claims, other_claims, depth, leaf=1)


@NEGAMAX.mistake(
    "evaluated positions by my claim's logit alone, not the margin",
    "the value of a position is logit[my] − logit[other] for the player to move.",
)
def my_logit_as_value(judge, images, revealed, my_claims, other_claims, depth):
    flat = revealed.reshape(images.shape[0], 64).bool()
    return _negamax(judge, images, flat, my_claims, other_claims, depth, margin=False)


@NEGAMAX.mistake(
    "allowed revealing zero pixels", "legal moves are unrevealed pixels with ink: (images > 0) & ~revealed."
)
def zero_pixels_searched(judge, images, revealed, my_claims, other_claims, depth):
    flat = revealed.reshape(images.shape[0], 64).bool()
    return _negamax(judge, images, flat, my_claims, other_claims, depth, ink_only=False)


@NEGAMAX.mistake(
    "gave a position without legal moves the value -inf instead of its current margin",
    "when nobody can move, the game is over: the value is the current margin.",
)
def no_move_is_minus_inf(judge, images, revealed, my_claims, other_claims, depth):
    flat = revealed.reshape(images.shape[0], 64).bool()
    return _negamax(judge, images, flat, my_claims, other_claims, depth, no_move="-inf")


# --------------------------------------------------------------------------------------------
# wilson_interval
# --------------------------------------------------------------------------------------------


def _wilson_cases() -> list[Case]:
    return [
        Case("45 successes of 100", (45, 100)),
        Case("441 of 500", (441, 500)),
        Case("0 of 20 (all failures)", (0, 20)),
        Case("20 of 20 (all successes)", (20, 20)),
        Case("1 of 1", (1, 1)),
        Case("30 of 50 with z = 2.576 (99%)", (30, 50), {"z": 2.576}),
        Case("7 of 13", (7, 13), hidden=True),
        Case("999 of 1000 with z = 1.0", (999, 1000), {"z": 1.0}, hidden=True),
    ]


def _wilson_random(g: torch.Generator) -> Case:
    """n from 1 to 1000, successes from 0 to n (both ends included), z drawn."""
    n = draw_choice(g, (1, 2, draw_int(g, 1, 50), draw_int(g, 1, 1000)))
    successes = draw_choice(g, (0, n, draw_int(g, 0, n)))
    z = draw_choice(g, (1.0, 1.96, 2.576))
    return Case(f"{successes} of {n}, z = {z}", (successes, n), {"z": z})


WILSON_INTERVAL = Exercise(
    "wilson_interval",
    points=1,
    make_cases=_wilson_cases,
    random_case=_wilson_random,
    summary="Wilson score interval for an accuracy",
    forbidden=("binomtest", "proportion_ci", "proportion_confint"),
    forbidden_courselib=("courselib.world.bias.wilson_interval",),
)


@WILSON_INTERVAL.mistake(
    "computed the Wald interval p ± z·sqrt(p(1−p)/n)",
    "the Wald interval collapses at p = 0 or 1; Wilson shifts the centre and widens the half-width.",
)
def wald_interval(successes, n, z=1.96):
    p = successes / n
    h = z * math.sqrt(p * (1 - p) / n)
    return (p - h, p + h)


@WILSON_INTERVAL.mistake(
    "centred the interval on p instead of the shifted centre", "the centre is (p + z²/(2n)) / (1 + z²/n), not p."
)
def centred_on_p(successes, n, z=1.96):
    p, d = successes / n, 1 + z * z / n
    h = z / d * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (p - h, p + h)


@WILSON_INTERVAL.mistake(
    "forgot to divide the half-width by 1 + z²/n", "both the centre and the half-width are divided by 1 + z²/n."
)
def half_width_not_divided(successes, n, z=1.96):
    p, d = successes / n, 1 + z * z / n
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return ((p + z * z / (2 * n)) / d - h, (p + z * z / (2 * n)) / d + h)


@WILSON_INTERVAL.mistake(
    "used z instead of z² in the formula", "every correction term has z²: z²/(2n), z²/n, z²/(4n²)."
)
def z_not_squared(successes, n, z=1.96):
    p, d = successes / n, 1 + z / n
    c, h = (p + z / (2 * n)) / d, z / d * math.sqrt(p * (1 - p) / n + z / (4 * n * n))
    return (c - h, c + h)


@WILSON_INTERVAL.mistake(
    "dropped the z²/(4n²) term under the square root", "without it the half-width is 0 at p = 0 or 1."
)
def dropped_z2_over_4n2(successes, n, z=1.96):
    p, d = successes / n, 1 + z * z / n
    c, h = (p + z * z / (2 * n)) / d, z / d * math.sqrt(p * (1 - p) / n)
    return (c - h, c + h)


@WILSON_INTERVAL.mistake("used n − 1 instead of n in the variance", "the binomial variance estimate here is p(1−p)/n.")
def n_minus_one(successes, n, z=1.96):
    p, d = successes / n, 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z / d * math.sqrt(p * (1 - p) / max(n - 1, 1) + z * z / (4 * n * n))
    return (c - h, c + h)


# --------------------------------------------------------------------------------------------
# evaluate_debate (integration)
# --------------------------------------------------------------------------------------------


def _evaluate_cases() -> list[Case]:
    g = seeded(6)
    imgs = sparse_images(g, 7, [20, 30, 25, 40, 18, 33, 27])
    few = sparse_images(g, 2, [3, 20])
    few.view(2, 64)[:, 63] = 0.0  # a pass that wrongly reveals pixel 63 changes what the judge counts
    t = torch.tensor
    truth, lies = t([3, 1, 7, 0, 5, 9, 2]), t([5, 8, 2, 9, 4, 0, 6])
    return [
        Case(
            "6 games in chunks of 4 (the last one shorter), k = 4, honest claim_keyed first vs lowest_free, TinyJudge(41)",
            (TinyJudge(41), imgs[:6], truth[:6], lies[:6], 4, claim_keyed, lowest_free),
            {"chunk": 4},
        ),
        Case(
            "the liar first, 6 games, k = 5, honest own_logit_greedy vs liar claim_keyed, chunk 4, TinyJudge(42)",
            (TinyJudge(42), imgs[:6], truth[:6], lies[:6], 5, own_logit_greedy, claim_keyed, False, 4),
        ),
        Case(
            "a judge whose logits all tie, honest first, k = 2 (every verdict is a tie)",
            (FlatJudge(), imgs[:4], truth[:4], lies[:4], 2, lowest_free, claim_keyed),
        ),
        Case(
            "a judge whose logits all tie, the liar first, k = 2",
            (FlatJudge(), imgs[:4], truth[:4], lies[:4], 2, lowest_free, claim_keyed, False),
        ),
        Case(
            "2 games where the first image has 3 ink pixels (passes), k = 6, a judge that counts revealed pixels",
            (CountingJudge(), few, t([3, 6]), t([4, 2]), 6, lowest_free, claim_keyed),
        ),
        Case(
            "7 games, the liar first, k = 6, chunk 3, own_logit_greedy vs own_logit_greedy, TinyJudge(43)",
            (TinyJudge(43), imgs, truth, lies, 6, own_logit_greedy, own_logit_greedy, False, 3),
            hidden=True,
        ),
        Case(
            "7 games in one chunk, k = 3, claim_keyed vs own_logit_greedy, TinyJudge(44)",
            (TinyJudge(44), imgs, truth, lies, 3, claim_keyed, own_logit_greedy),
            hidden=True,
        ),
    ]


def _evaluate_random(g: torch.Generator) -> Case:
    """1 to 7 games in chunks of 1 to 8 (a last chunk shorter, or one chunk), k from 1 to 6, either player first."""
    N, k, chunk = draw_int(g, 1, 7), draw_int(g, 1, 6), draw_int(g, 1, 8)
    images = sparse_images(g, N, [draw_choice(g, (3, draw_int(g, 1, 64))) for _ in range(N)])
    judge = draw_choice(g, (TinyJudge(draw_int(g, 0, 9999)), FlatJudge(), CountingJudge()))
    honest, liar = (draw_choice(g, (lowest_free, claim_keyed, own_logit_greedy)) for _ in range(2))
    honest_first = bool(draw_int(g, 0, 1))
    describe = f"{N} games in chunks of {chunk}, k = {k}, honest {honest.__name__} vs liar {liar.__name__}, honest first: {honest_first}, {judge!r}"  # fmt: skip
    return Case(describe, (judge, images, *_claims(g, N), k, honest, liar, honest_first, chunk))


EVALUATE_DEBATE = Exercise(
    "evaluate_debate",
    points=3,
    make_cases=_evaluate_cases,
    random_case=_evaluate_random,
    summary="integration: the debate evaluation loop (all games, chunked, strict tie rule) and the judge's accuracy",
)

# Each mistake plays the games with the same moves as play_debate (`_game`) and gets one thing wrong.


def _evaluate(judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first, chunk, score="truth > lie", kept_strategies=False, drop_last=False, chunk_mean=False, reveal="skip passes"):  # fmt: skip
    """evaluate_debate with a switch per mistake."""
    outcomes, all_moves = [], []
    for s in range(0, len(images) - (chunk - 1 if drop_last else 0), chunk):
        x, t, lie = images[s : s + chunk], truth[s : s + chunk], lies[s : s + chunk]
        rows = torch.arange(len(x), device=x.device)
        if kept_strategies and not honest_first:  # claims swapped, strategies not
            turns = [(honest_strategy, lie, t), (liar_strategy, t, lie)]
        else:
            turns = [(honest_strategy, t, lie), (liar_strategy, lie, t)][:: 1 if honest_first else -1]
        logits, moves = _game(judge, x, turns, k, reveal=reveal)
        if score == "first mover wins ties":
            first, second = turns[0][1], turns[1][1]
            outcomes.append(torch.where(logits[rows, first] >= logits[rows, second], first, second) == t)
        elif score == "truth >= lie":
            outcomes.append(logits[rows, t] >= logits[rows, lie])
        elif score == "argmax":
            outcomes.append(logits.argmax(-1) == t)
        else:
            outcomes.append(logits[rows, t] > logits[rows, lie])
        all_moves.append(moves)
    correct = torch.cat(outcomes)
    accuracy = sum(o.float().mean().item() for o in outcomes) / len(outcomes) if chunk_mean else correct.float().mean().item()  # fmt: skip
    return accuracy, correct, torch.cat(all_moves)


@EVALUATE_DEBATE.mistake(
    "scored the games with play_debate's winners (a tie goes to the first mover)",
    "a tie is not a win for the truth: compare logit[truth] > logit[lie] strictly on the revealed pixels.",
)
def tie_to_first_mover(judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first=True, chunk=256):
    args = (judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first, chunk)
    return _evaluate(*args, score="first mover wins ties")


@EVALUATE_DEBATE.mistake(
    "counted a tie as a correct verdict (>= instead of >)",
    "a judge that cannot separate the truth from the lie has not preferred the truth: use >.",
)
def tie_counts_as_correct(judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first=True, chunk=256):
    args = (judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first, chunk)
    return _evaluate(*args, score="truth >= lie")


@EVALUATE_DEBATE.mistake(
    "when the liar moves first, swapped the claims but not the strategies",
    "the first mover's claim and strategy go together: the liar's strategy argues the lie.",
)
def liar_first_kept_strategies(
    judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first=True, chunk=256
):
    args = (judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first, chunk)
    return _evaluate(*args, kept_strategies=True)


@EVALUATE_DEBATE.mistake(
    "a pass (−1) revealed the last pixel when rebuilding the mask", "skip moves equal to −1: index −1 is pixel 63."
)
def rebuilt_mask_with_passes(
    judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first=True, chunk=256
):
    args = (judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first, chunk)
    return _evaluate(*args, reveal="passes too")


@EVALUATE_DEBATE.mistake(
    "scored the judge's argmax over ten classes instead of the choice between the two claims",
    "after a debate the judge chooses between the truth and the lie only.",
)
def verdict_over_ten_classes(
    judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first=True, chunk=256
):
    args = (judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first, chunk)
    return _evaluate(*args, score="argmax")


@EVALUATE_DEBATE.mistake(
    "dropped the last, shorter chunk of games",
    "range(0, len(images), chunk) visits every game; slicing past the end is fine.",
)
def dropped_last_chunk(judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first=True, chunk=256):
    args = (judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first, chunk)
    return _evaluate(*args, drop_last=True)


@EVALUATE_DEBATE.mistake(
    "averaged the accuracies of the chunks (the last chunk is smaller)",
    "the accuracy is the mean over games: concatenate the outcomes first.",
)
def mean_of_chunk_accuracies(
    judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first=True, chunk=256
):
    args = (judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first, chunk)
    return _evaluate(*args, chunk_mean=True)


# --------------------------------------------------------------------------------------------
# mcnemar
# --------------------------------------------------------------------------------------------


def _mcnemar_cases() -> list[Case]:
    g = seeded(7)
    a, b = torch.rand(200, generator=g) < 0.7, torch.rand(200, generator=g) < 0.8
    big_a, big_b = torch.rand(500, generator=g) < 0.6, torch.rand(500, generator=g) < 0.9
    t = torch.tensor
    return [
        Case("200 paired outcomes (about 70% and 80% right)", (a, b)),
        Case("the same 200 pairs, chi-square version (exact=False)", (a, b), {"exact": False}),
        Case("identical outcomes (no disagreement: p = 1)", (a, a.clone())),
        Case("b = c = 2 (the doubled tail exceeds 1)", (t([1, 0, 1, 0, 1]).bool(), t([0, 1, 0, 1, 1]).bool())),
        Case("0/1 integer outcomes with b = 5, c = 0", (t([1, 1, 1, 1, 1, 0, 1]), t([0, 0, 0, 0, 0, 0, 1]))),
        Case("500 pairs with a large difference", (big_a, big_b), hidden=True),
        Case(
            "b = c + 1, chi-square",
            (t([1, 1, 0, 1, 0, 1, 1]).bool(), t([0, 0, 1, 1, 1, 0, 1]).bool()),
            {"exact": False},
            hidden=True,
        ),
    ]


def _mcnemar_random(g: torch.Generator) -> Case:
    """N from 1 to 60, bool or 0/1 integer outcomes, few or no disagreements, exact or chi-square."""
    n = draw_int(g, 1, 60)
    a = torch.rand(n, generator=g) < draw_choice(g, (0.1, 0.5, 0.9))
    flip = torch.rand(n, generator=g) < draw_choice(g, (0.0, 0.1, 0.5))
    b = a ^ flip
    if draw_int(g, 0, 1):
        a, b = a.long(), b.long()
    exact = bool(draw_int(g, 0, 1))
    return Case(f"{n} pairs ({a.dtype}), exact={exact}", (a, b), {"exact": exact})


MCNEMAR = Exercise(
    "mcnemar",
    points=2,
    make_cases=_mcnemar_cases,
    summary="McNemar's test for paired accuracies",
    random_case=_mcnemar_random,
    # scipy's exact binomial test, binomial tail or chi-square survival function compute the p-value
    forbidden=("binomtest", "binom_test", "binom", "chi2", "chi2_contingency", "mcnemar"),
)


@MCNEMAR.mistake(
    "one-sided p-value (forgot to double the tail)", "the test is two-sided: p = 2 · P(X ≤ min(b, c)), capped at 1."
)
def one_sided(correct_a, correct_b, exact=True):
    a, b_ = correct_a.bool(), correct_b.bool()
    b, c = int((a & ~b_).sum()), int((~a & b_).sum())
    if b + c == 0:
        return b, c, 1.0
    if exact:
        return b, c, sum(math.comb(b + c, i) for i in range(min(b, c) + 1)) / 2 ** (b + c)
    return b, c, math.erfc(math.sqrt(max(0, abs(b - c) - 1) ** 2 / (b + c) / 2)) / 2


@MCNEMAR.mistake(
    "compared the numbers right under each condition (ignored the pairing)",
    "b and c count the disagreements only: A right and B wrong, A wrong and B right.",
)
def unpaired_counts(correct_a, correct_b, exact=True):
    b, c = int(correct_a.bool().sum()), int(correct_b.bool().sum())
    if b + c == 0:
        return b, c, 1.0
    if exact:
        return b, c, min(1.0, 2 * sum(math.comb(b + c, i) for i in range(min(b, c) + 1)) / 2 ** (b + c))
    return b, c, math.erfc(math.sqrt(max(0, abs(b - c) - 1) ** 2 / (b + c) / 2))


@MCNEMAR.mistake("did not cap the exact p-value at 1", "when b = c the doubled tail exceeds 1: take min(1, ...).")
def not_capped(correct_a, correct_b, exact=True):
    a, b_ = correct_a.bool(), correct_b.bool()
    b, c = int((a & ~b_).sum()), int((~a & b_).sum())
    if b + c == 0:
        return b, c, 1.0
    if exact:
        return b, c, 2 * sum(math.comb(b + c, i) for i in range(min(b, c) + 1)) / 2 ** (b + c)
    return b, c, math.erfc(math.sqrt(max(0, abs(b - c) - 1) ** 2 / (b + c) / 2))


@MCNEMAR.mistake(
    "chi-square without the continuity correction", "the corrected statistic is max(0, |b − c| − 1)² / (b + c)."
)
def no_continuity_correction(correct_a, correct_b, exact=True):
    a, b_ = correct_a.bool(), correct_b.bool()
    b, c = int((a & ~b_).sum()), int((~a & b_).sum())
    if b + c == 0:
        return b, c, 1.0
    if exact:
        return b, c, min(1.0, 2 * sum(math.comb(b + c, i) for i in range(min(b, c) + 1)) / 2 ** (b + c))
    return b, c, math.erfc(math.sqrt((b - c) ** 2 / (b + c) / 2))


@MCNEMAR.mistake(
    "summed the tail up to min(b, c) − 1 (P(X < m) instead of P(X ≤ m))", "the tail includes min(b, c) itself."
)
def tail_off_by_one(correct_a, correct_b, exact=True):
    a, b_ = correct_a.bool(), correct_b.bool()
    b, c = int((a & ~b_).sum()), int((~a & b_).sum())
    if b + c == 0:
        return b, c, 1.0
    if exact:
        return b, c, min(1.0, 2 * sum(math.comb(b + c, i) for i in range(min(b, c))) / 2 ** (b + c))
    return b, c, math.erfc(math.sqrt(max(0, abs(b - c) - 1) ** 2 / (b + c) / 2))


@MCNEMAR.mistake("swapped b and c", "b counts the examples A gets right and B gets wrong.")
def swapped_b_and_c(correct_a, correct_b, exact=True):
    a, b_ = correct_a.bool(), correct_b.bool()
    b, c = int((~a & b_).sum()), int((a & ~b_).sum())
    if b + c == 0:
        return b, c, 1.0
    if exact:
        return b, c, min(1.0, 2 * sum(math.comb(b + c, i) for i in range(min(b, c) + 1)) / 2 ** (b + c))
    return b, c, math.erfc(math.sqrt(max(0, abs(b - c) - 1) ** 2 / (b + c) / 2))


EXERCISES = [
    REVEAL_INPUT,
    RANDOM_REVEAL_MASK,
    JUDGE_VERDICT,
    MOVE_MARGINS,
    PLAY_DEBATE,
    NEGAMAX,
    WILSON_INTERVAL,
    MCNEMAR,
    EVALUATE_DEBATE,
]
