"""Week 11 exercises: debate on sparse digits. Cases and known mistakes for each function.

The reference implementations live in ``solutions/w11_debate/w11_debate.py``. Exercises that need a
judge get a :class:`TinyJudge`: a fixed two-layer network whose weights come from a seeded
generator, so the sandbox child rebuilds exactly the same judge; the strategies passed to
``play_debate`` are simple deterministic fixtures defined here (not the reference's debaters).
"""

from __future__ import annotations

import torch

from graders.core import Case, Exercise, Mistake, seeded

WEEK = "w11_debate"


class TinyJudge:
    """A fixed random judge: [..., 2, 8, 8] -> [..., 10] logits, ReLU hidden layer of ``hidden`` units.

    Its weights live on the CPU and follow the input to its device and dtype on every call.
    """

    def __init__(self, seed: int, hidden: int = 8) -> None:
        g = seeded(seed)
        self.seed = seed
        self.w1 = torch.randn(hidden, 128, generator=g)
        self.b1 = torch.randn(hidden, generator=g) * 0.5
        self.w2 = torch.randn(10, hidden, generator=g)
        self.b2 = torch.randn(10, generator=g) * 0.1

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(*x.shape[:-3], 128)
        w1, b1, w2, b2 = (t.to(device=x.device, dtype=x.dtype) for t in (self.w1, self.b1, self.w2, self.b2))
        return torch.relu(flat @ w1.T + b1) @ w2.T + b2

    def __repr__(self) -> str:
        return f"TinyJudge(seed={self.seed})"


class FlatJudge:
    """A judge that cannot tell anything apart: every logit is 0 (so every verdict is a tie)."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(*x.shape[:-3], 10, dtype=x.dtype, device=x.device)

    def __repr__(self) -> str:
        return "FlatJudge()"


def _sparse_images(g: torch.Generator, batch: int, nonzero: int | list[int]) -> torch.Tensor:
    """[batch, 8, 8] images with ``nonzero`` ink pixels each (values in [0.2, 1]) at random places."""
    counts = nonzero if isinstance(nonzero, list) else [nonzero] * batch
    out = torch.zeros(batch, 64)
    for b, n in enumerate(counts):
        where = torch.randperm(64, generator=g)[:n]
        out[b, where] = 0.2 + 0.8 * torch.rand(n, generator=g)
    return out.view(batch, 8, 8)


def _legal(images: torch.Tensor, revealed: torch.Tensor) -> torch.Tensor:
    return (images.reshape(images.shape[0], 64) > 0) & ~revealed.reshape(images.shape[0], 64).bool()


def lowest_free(judge, images, revealed, my_claims, other_claims, moves_left):
    """Fixture strategy: the legal pixel with the lowest index (-1 if none)."""
    legal = _legal(images, revealed)
    idx = torch.arange(64, device=images.device).expand_as(legal)
    first = torch.where(legal, idx, torch.full_like(idx, 64)).amin(-1)
    return torch.where(first < 64, first, torch.full_like(first, -1))


def claim_keyed(judge, images, revealed, my_claims, other_claims, moves_left):
    """Fixture strategy: the first legal pixel at or after (7*my + 3*other + 5*moves_left) mod 64, cyclically."""
    legal = _legal(images, revealed)
    key = (7 * my_claims + 3 * other_claims + 5 * moves_left) % 64
    idx = torch.arange(64, device=images.device).expand_as(legal)
    dist = torch.where(legal, (idx - key[:, None]) % 64, torch.full_like(idx, 99))
    best = dist.argmin(-1)
    return torch.where(legal.any(-1), best, torch.full_like(best, -1))


def own_logit_greedy(judge, images, revealed, my_claims, other_claims, moves_left):
    """Fixture strategy: the legal pixel that most raises the judge's logit for my claim (-1 if none)."""
    B = images.shape[0]
    legal = _legal(images, revealed)
    cand = revealed.reshape(B, 1, 64).bool() | torch.eye(64, dtype=torch.bool, device=images.device)
    m = cand.to(images.dtype).view(B, 64, 8, 8)
    logits = judge(torch.stack([m, images[:, None] * m], dim=-3))  # [B, 64, 10]
    scores = logits.gather(-1, my_claims.view(B, 1, 1).expand(B, 64, 1)).squeeze(-1)
    scores = scores.masked_fill(~legal, -float("inf"))
    best = scores.argmax(-1)
    return torch.where(legal.any(-1), best, torch.full_like(best, -1))


class CountingJudge:
    """A judge that votes for the number of pixels it was shown: logit[c] = -|count - c|."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        count = x[..., 0, :, :].sum((-1, -2))
        classes = torch.arange(10, dtype=x.dtype, device=x.device)
        return -(count[..., None] - classes).abs()

    def __repr__(self) -> str:
        return "CountingJudge()"


# --------------------------------------------------------------------------------------------
# reveal_input
# --------------------------------------------------------------------------------------------


def _reveal_cases() -> list[Case]:
    g = seeded(0)
    img1 = _sparse_images(g, 1, 30)[0]
    batch = _sparse_images(g, 3, [20, 35, 50])
    img64 = _sparse_images(g, 2, 40).double()
    return [
        Case("one image [8, 8] (float32) with a bool mask of 6 pixels", (img1, torch.rand(8, 8, generator=g) < 0.1)),
        Case("a batch of 3 images [3, 8, 8] with bool masks", (batch, torch.rand(3, 8, 8, generator=g) < 0.3)),
        Case(
            "a float64 batch [2, 8, 8] with an integer 0/1 mask",
            (img64, (torch.rand(2, 8, 8, generator=g) < 0.5).long()),
        ),
        Case("one image with every pixel revealed", (img1, torch.ones(8, 8, dtype=torch.bool))),
        Case(
            "a [2, 3, 8, 8] batch (two batch dimensions)",
            (_sparse_images(g, 6, 25).view(2, 3, 8, 8), torch.rand(2, 3, 8, 8, generator=g) < 0.4),
            hidden=True,
        ),
    ]


_RV = "import torch\n\ndef reveal_input(image, revealed_mask):\n    m = revealed_mask.to(image.dtype)\n"
REVEAL_MISTAKES = [
    Mistake(
        "swapped the channels (values first, mask second)",
        "channel 0 is the 0/1 mask, channel 1 the revealed values.",
        _RV + "    return torch.stack([image * m, m], dim=-3)\n",
    ),
    Mistake(
        "did not hide the unrevealed pixels in the value channel (the judge sees the whole digit)",
        "multiply the image by the mask: unrevealed pixels must be 0 in channel 1.",
        _RV + "    return torch.stack([m, image], dim=-3)\n",
    ),
    Mistake(
        "stacked the channels on dim 0 instead of just before the pixel dimensions",
        "a batch [B, 8, 8] must give [B, 2, 8, 8]: stack on dim=-3.",
        _RV + "    return torch.stack([m, image * m], dim=0)\n",
    ),
    Mistake(
        "inverted the mask (showed the hidden pixels)",
        "revealed pixels are where the mask is 1/True: use the mask, not 1 − mask.",
        _RV + "    m = 1 - m\n    return torch.stack([m, image * m], dim=-3)\n",
    ),
    Mistake(
        "used the image's nonzero pixels as the mask instead of revealed_mask",
        "the judge sees only the pixels in revealed_mask, not every pixel with ink.",
        _RV + "    m = (image > 0).to(image.dtype)\n    return torch.stack([m, image * m], dim=-3)\n",
    ),
    Mistake(
        "divided the values by 16 again (the image is already in [0, 1])",
        "the image is already scaled to [0, 1]: channel 1 is image * mask.",
        _RV + "    return torch.stack([m, image * m / 16], dim=-3)\n",
    ),
    Mistake(
        "concatenated the channels instead of stacking them",
        "torch.cat joins along an existing dimension; torch.stack creates the new channel dimension.",
        _RV + "    return torch.cat([m, image * m], dim=-3)\n",
    ),
]


# --------------------------------------------------------------------------------------------
# random_reveal_mask
# --------------------------------------------------------------------------------------------


def _random_mask_cases() -> list[Case]:
    g = seeded(1)
    few = _sparse_images(g, 3, [30, 2, 12])
    return [
        Case(
            "4 images [4, 8, 8] with 20–40 nonzero pixels, k = 6",
            (_sparse_images(g, 4, [20, 25, 33, 40]), 6, torch.rand(4, 8, 8, generator=g)),
        ),
        Case("one image [8, 8], k = 3", (_sparse_images(g, 1, 28)[0], 3, torch.rand(8, 8, generator=g))),
        Case("3 images where one has only 2 nonzero pixels, k = 5", (few, 5, torch.rand(3, 8, 8, generator=g))),
        Case("k = 0 (nothing revealed)", (_sparse_images(g, 2, 30), 0, torch.rand(2, 8, 8, generator=g))),
        Case(
            "2 images, k = 12 (more than one row's worth)",
            (_sparse_images(g, 2, 40), 12, torch.rand(2, 8, 8, generator=g)),
        ),
        Case(
            "a [2, 3, 8, 8] batch, k = 10",
            (_sparse_images(g, 6, [15, 30, 45, 9, 22, 60]).view(2, 3, 8, 8), 10, torch.rand(2, 3, 8, 8, generator=g)),
            hidden=True,
        ),
    ]


_RM = (
    "import math\nimport torch\n\ndef random_reveal_mask(images, k, scores):\n"
    "    cand = images.flatten(-2) > 0\n"
    "    s = scores.flatten(-2)\n"
)
RANDOM_MASK_MISTAKES = [
    Mistake(
        "revealed zero pixels too (did not restrict the choice to nonzero pixels)",
        "only pixels with ink are candidates: give zero pixels a score of -inf before topk.",
        _RM + "    top = s.topk(k, dim=-1).indices\n"
        "    return torch.zeros_like(cand).scatter(-1, top, True).view(images.shape)\n",
    ),
    Mistake(
        "took the k lowest scores",
        "keep the k candidates with the *highest* scores (topk, largest=True).",
        _RM + "    keyed = torch.where(cand, s, torch.full_like(s, math.inf))\n"
        "    top = keyed.topk(k, dim=-1, largest=False).indices\n"
        "    return (torch.zeros_like(cand).scatter(-1, top, True) & cand).view(images.shape)\n",
    ),
    Mistake(
        "filled up with zero pixels when an image has fewer than k nonzero pixels",
        "topk always returns k indices: AND the result with the nonzero mask.",
        _RM + "    keyed = torch.where(cand, s, torch.full_like(s, -math.inf))\n"
        "    top = keyed.topk(k, dim=-1).indices\n"
        "    return torch.zeros_like(cand).scatter(-1, top, True).view(images.shape)\n",
    ),
    Mistake(
        "took the top k of every row instead of the top k of the whole image",
        "flatten the two pixel dimensions first, so that topk runs over all 64 pixels.",
        "import math\nimport torch\n\ndef random_reveal_mask(images, k, scores):\n"
        "    cand = images > 0\n"
        "    keyed = torch.where(cand, scores, torch.full_like(scores, -math.inf))\n"
        "    top = keyed.topk(k, dim=-1).indices\n"
        "    return torch.zeros_like(cand).scatter(-1, top, True) & cand\n",
    ),
    Mistake(
        "returned the flattened [..., 64] mask instead of [..., 8, 8]",
        "reshape the mask back to the images' shape.",
        _RM + "    keyed = torch.where(cand, s, torch.full_like(s, -math.inf))\n"
        "    top = keyed.topk(k, dim=-1).indices\n"
        "    return torch.zeros_like(cand).scatter(-1, top, True) & cand\n",
    ),
    Mistake(
        "only treated bright pixels (> 0.5) as candidates",
        "every nonzero pixel is a candidate, however faint: use images > 0.",
        "import math\nimport torch\n\ndef random_reveal_mask(images, k, scores):\n"
        "    cand = images.flatten(-2) > 0.5\n"
        "    s = scores.flatten(-2)\n"
        "    keyed = torch.where(cand, s, torch.full_like(s, -math.inf))\n"
        "    top = keyed.topk(k, dim=-1).indices\n"
        "    return (torch.zeros_like(cand).scatter(-1, top, True) & cand).view(images.shape)\n",
    ),
]


# --------------------------------------------------------------------------------------------
# judge_verdict
# --------------------------------------------------------------------------------------------


def _verdict_cases() -> list[Case]:
    def logits(values: dict[int, float], fill: float = -1.0) -> torch.Tensor:
        out = torch.full((10,), fill)
        for i, v in values.items():
            out[i] = v
        return out

    return [
        Case("claim_a = 3 has the higher logit, class 0 beats both", (logits({0: 5.0, 3: 1.0, 7: -0.5}), 3, 7)),
        Case("claim_b = 8 has the higher logit (both near the top)", (logits({2: 0.5, 8: 2.0, 5: 0.7}), 2, 8)),
        Case("an exact tie between claims 4 and 6", (logits({4: 1.5, 6: 1.5, 9: 3.0, 1: 0.5}), 4, 6)),
        Case("negative logits: claim_a = 9 is less negative", (logits({9: -2.0, 1: -4.0}, fill=-8.0), 9, 1)),
        Case(
            "claim_a = 5 wins the pair but has probability < 0.5 (class 2 dominates)",
            (logits({5: 2.0, 7: 1.0, 2: 4.0}), 5, 7),
        ),
        Case("claim_b = 0 wins and claim_a = 1", (logits({0: 3.0, 1: 1.0}), 1, 0), hidden=True),
        Case("a tie at very large logits (1e4)", (logits({3: 1e4, 8: 1e4}), 8, 3), hidden=True),
    ]


_JV = "import torch\n\ndef judge_verdict(judge_logits, claim_a, claim_b):\n"
VERDICT_MISTAKES = [
    Mistake(
        "a tie went to claim_b (used > instead of >=)",
        "on a tie the verdict is claim_a: compare with >=.",
        _JV + "    return claim_a if judge_logits[claim_a] > judge_logits[claim_b] else claim_b\n",
    ),
    Mistake(
        "took the argmax over all ten classes instead of choosing between the two claims",
        "the judge must pick one of the two claims, even when another class scores higher.",
        _JV + "    return int(judge_logits.argmax())\n",
    ),
    Mistake(
        "returned which side won (0 or 1) instead of the claimed class",
        "return the class itself (claim_a or claim_b), not its position.",
        _JV + "    return 0 if judge_logits[claim_a] >= judge_logits[claim_b] else 1\n",
    ),
    Mistake(
        "picked the claim with the lower logit",
        "the judge prefers the claim with the *higher* logit.",
        _JV + "    return claim_a if judge_logits[claim_a] <= judge_logits[claim_b] else claim_b\n",
    ),
    Mistake(
        "compared the logits of classes 0 and 1 instead of the two claims' logits",
        "index the logits by the claims themselves: judge_logits[claim_a] vs judge_logits[claim_b].",
        _JV + "    return claim_a if judge_logits[0] >= judge_logits[1] else claim_b\n",
    ),
]


# --------------------------------------------------------------------------------------------
# move_margins
# --------------------------------------------------------------------------------------------


def _move_margin_cases() -> list[Case]:
    g = seeded(3)
    imgs3 = _sparse_images(g, 3, [20, 30, 12])
    imgs4 = _sparse_images(g, 4, [25, 18, 40, 10])
    rev4 = (torch.rand(4, 8, 8, generator=g) < 0.15) & (imgs4 > 0)
    imgs5 = _sparse_images(g, 5, [30, 30, 22, 15, 50])
    rev5 = (torch.rand(5, 8, 8, generator=g) < 0.5) & (imgs5 > 0)
    return [
        Case(
            "3 games, nothing revealed yet, TinyJudge(seed=11)",
            (
                TinyJudge(11),
                imgs3,
                torch.zeros(3, 8, 8, dtype=torch.bool),
                torch.tensor([1, 4, 9]),
                torch.tensor([7, 2, 0]),
            ),
        ),
        Case(
            "4 games with a few pixels already revealed, TinyJudge(seed=12)",
            (TinyJudge(12), imgs4, rev4, torch.tensor([0, 3, 5, 8]), torch.tensor([6, 3 + 1, 2, 1])),
        ),
        Case(
            "one game (B = 1) in float64, TinyJudge(seed=13)",
            (
                TinyJudge(13),
                imgs3[:1].double(),
                torch.zeros(1, 8, 8, dtype=torch.bool),
                torch.tensor([2]),
                torch.tensor([5]),
            ),
        ),
        Case(
            "5 games with about half the ink revealed, TinyJudge(seed=14)",
            (TinyJudge(14), imgs5, rev5, torch.tensor([9, 8, 7, 6, 5]), torch.tensor([0, 1, 2, 3, 4])),
            hidden=True,
        ),
    ]


_MM_HEAD = (
    "import math\nimport torch\n\n"
    "def _view(image, revealed_mask):\n"
    "    m = revealed_mask.to(image.dtype)\n"
    "    return torch.stack([m, image * m], dim=-3)\n\n"
    "def move_margins(judge, images, revealed, my_claims, other_claims):\n"
    "    B = images.shape[0]\n"
    "    flat = revealed.reshape(B, 1, 64).bool()\n"
    "    eye = torch.eye(64, dtype=torch.bool, device=images.device)\n"
)
_MM_CAND = "    cand = flat | eye\n"
_MM_LOGITS = (
    "    x = _view(images.reshape(B, 1, 8, 8), cand.view(B, 64, 8, 8))\n"
    "    logits = judge(x.reshape(B * 64, 2, 8, 8)).view(B, 64, -1)\n"
)
_MM_GATHER = (
    "    mine = logits.gather(-1, my_claims.view(B, 1, 1).expand(B, 64, 1)).squeeze(-1)\n"
    "    theirs = logits.gather(-1, other_claims.view(B, 1, 1).expand(B, 64, 1)).squeeze(-1)\n"
)
_MM_LEGAL = "    legal = (images.reshape(B, 64) > 0) & ~flat.squeeze(1)\n"
MOVE_MARGIN_MISTAKES = [
    Mistake(
        "scored moves by my claim's logit alone, not the margin over the other claim",
        "the verdict depends on logit[my] − logit[other]: subtract the opponent's logit.",
        _MM_HEAD + _MM_CAND + _MM_LOGITS + _MM_GATHER + _MM_LEGAL + "    return mine.masked_fill(~legal, -math.inf)\n",
    ),
    Mistake(
        "sign flip (computed the opponent's margin)",
        "the margin is logit[my] − logit[other], positive when my claim is ahead.",
        _MM_HEAD
        + _MM_CAND
        + _MM_LOGITS
        + _MM_GATHER
        + _MM_LEGAL
        + "    return (theirs - mine).masked_fill(~legal, -math.inf)\n",
    ),
    Mistake(
        "did not rule out zero pixels",
        "a pixel without ink is not a legal move: mask images == 0 with -inf.",
        _MM_HEAD
        + _MM_CAND
        + _MM_LOGITS
        + _MM_GATHER
        + "    return (mine - theirs).masked_fill(flat.squeeze(1), -math.inf)\n",
    ),
    Mistake(
        "did not rule out pixels that were already revealed",
        "revealing a pixel twice is not a move: mask the revealed pixels with -inf.",
        _MM_HEAD
        + _MM_CAND
        + _MM_LOGITS
        + _MM_GATHER
        + "    return (mine - theirs).masked_fill(images.reshape(B, 64) <= 0, -math.inf)\n",
    ),
    Mistake(
        "filled illegal moves with 0 instead of -inf",
        "an illegal move must never be chosen: use -inf, which no real margin can lose to.",
        _MM_HEAD
        + _MM_CAND
        + _MM_LOGITS
        + _MM_GATHER
        + _MM_LEGAL
        + "    return (mine - theirs).masked_fill(~legal, 0.0)\n",
    ),
    Mistake(
        "compared softmax probabilities instead of logits",
        "the margin is defined on logits: logit[my] − logit[other].",
        _MM_HEAD
        + _MM_CAND
        + _MM_LOGITS
        + "    logits = logits.softmax(-1)\n"
        + _MM_GATHER
        + _MM_LEGAL
        + "    return (mine - theirs).masked_fill(~legal, -math.inf)\n",
    ),
    Mistake(
        "evaluated each candidate pixel alone, forgetting the pixels already revealed",
        "a candidate view is revealed | one_hot(p): the earlier pixels stay visible.",
        _MM_HEAD
        + "    cand = eye.expand(B, 64, 64)\n"
        + _MM_LOGITS
        + _MM_GATHER
        + _MM_LEGAL
        + "    return (mine - theirs).masked_fill(~legal, -math.inf)\n",
    ),
    Mistake(
        "numbered pixels column by column instead of row by row",
        "pixel p is row p // 8, column p % 8: p = 8 * row + col, the order of image.flatten().",
        _MM_HEAD
        + _MM_CAND
        + _MM_LOGITS
        + _MM_GATHER
        + _MM_LEGAL
        + "    out = (mine - theirs).masked_fill(~legal, -math.inf)\n"
        "    return out.view(B, 8, 8).transpose(1, 2).reshape(B, 64)\n",
    ),
]


# --------------------------------------------------------------------------------------------
# play_debate
# --------------------------------------------------------------------------------------------


def _debate_cases() -> list[Case]:
    g = seeded(4)
    imgs = _sparse_images(g, 4, [20, 30, 25, 40])
    few = _sparse_images(g, 2, [3, 20])
    few.view(2, 64)[:, 63] = 0.0  # a pass that wrongly reveals pixel 63 changes what the judge counts
    return [
        Case(
            "4 games, k = 4, claim_keyed (first) vs lowest_free (second), TinyJudge(seed=21)",
            (TinyJudge(21), imgs, torch.tensor([3, 1, 7, 0]), torch.tensor([5, 8, 2, 9]), 4, claim_keyed, lowest_free),
        ),
        Case(
            "4 games, k = 5 (odd), own_logit_greedy (first) vs claim_keyed (second), TinyJudge(seed=22)",
            (
                TinyJudge(22),
                imgs,
                torch.tensor([2, 6, 4, 9]),
                torch.tensor([7, 0, 1, 3]),
                5,
                own_logit_greedy,
                claim_keyed,
            ),
        ),
        Case(
            "2 games, k = 6, both claim_keyed, TinyJudge(seed=23)",
            (TinyJudge(23), imgs[:2], torch.tensor([4, 8]), torch.tensor([9, 1]), 6, claim_keyed, claim_keyed),
        ),
        Case(
            "a judge whose logits all tie (the first player's claim must win), k = 3",
            (FlatJudge(), imgs[:3], torch.tensor([1, 2, 3]), torch.tensor([6, 7, 8]), 3, lowest_free, claim_keyed),
        ),
        Case(
            "2 games where the first image has only 3 ink pixels (players must pass), k = 6, a judge that "
            "votes for the number of pixels it was shown",
            (CountingJudge(), few, torch.tensor([3, 6]), torch.tensor([4, 2]), 6, lowest_free, claim_keyed),
        ),
        Case(
            "k = 1: a single move, 3 games, own_logit_greedy vs lowest_free, TinyJudge(seed=25)",
            (
                TinyJudge(25),
                imgs[1:],
                torch.tensor([0, 5, 9]),
                torch.tensor([1, 6, 2]),
                1,
                own_logit_greedy,
                lowest_free,
            ),
            hidden=True,
        ),
        Case(
            "4 games, k = 7, claim_keyed vs own_logit_greedy, TinyJudge(seed=26)",
            (
                TinyJudge(26),
                imgs,
                torch.tensor([8, 3, 5, 1]),
                torch.tensor([0, 9, 6, 4]),
                7,
                claim_keyed,
                own_logit_greedy,
            ),
            hidden=True,
        ),
    ]


_PD_HEAD = (
    "import torch\n\n"
    "def _view(image, revealed_mask):\n"
    "    m = revealed_mask.to(image.dtype)\n"
    "    return torch.stack([m, image * m], dim=-3)\n\n"
    "def play_debate(judge, images, first_claims, second_claims, k, first_strategy, second_strategy):\n"
    "    B = images.shape[0]\n"
    "    revealed = torch.zeros(B, 64, dtype=torch.bool, device=images.device)\n"
    "    moves = torch.full((B, k), -1, dtype=torch.long, device=images.device)\n"
)
_PD_MOVE = (
    "        ok = move >= 0\n        revealed[ok.nonzero().squeeze(-1), move[ok]] = True\n        moves[:, t] = move\n"
)
_PD_VERDICT = (
    "    logits = judge(_view(images, revealed.view(B, 8, 8)))\n"
    "    a = logits.gather(-1, first_claims.view(B, 1)).squeeze(-1)\n"
    "    b = logits.gather(-1, second_claims.view(B, 1)).squeeze(-1)\n"
    "    return torch.where(a >= b, first_claims, second_claims), moves\n"
)


def _pd_loop(first_call: str, second_call: str, steps: str = "range(k)", move: str = _PD_MOVE) -> str:
    return (
        f"    for t in {steps}:\n"
        "        if t % 2 == 0:\n"
        f"            move = {first_call}\n"
        "        else:\n"
        f"            move = {second_call}\n" + move
    )


_FIRST = "first_strategy(judge, images, revealed.view(B, 8, 8), first_claims, second_claims, k - t)"
_SECOND = "second_strategy(judge, images, revealed.view(B, 8, 8), second_claims, first_claims, k - t)"
DEBATE_MISTAKES = [
    Mistake(
        "gave the second player the first player's claim as its own",
        "each mover's strategy gets its own claim as my_claims and the opponent's as other_claims.",
        _PD_HEAD
        + _pd_loop(_FIRST, "second_strategy(judge, images, revealed.view(B, 8, 8), first_claims, second_claims, k - t)")
        + _PD_VERDICT,
    ),
    Mistake(
        "passed moves_left off by one (k − t − 1)",
        "moves_left counts the current move too: at move t it is k − t.",
        _PD_HEAD + _pd_loop(_FIRST.replace("k - t", "k - t - 1"), _SECOND.replace("k - t", "k - t - 1")) + _PD_VERDICT,
    ),
    Mistake(
        "let the second player move first",
        "the first player moves at even t (t = 0, 2, ...), the second at odd t.",
        _PD_HEAD + _pd_loop(_SECOND, _FIRST) + _PD_VERDICT,
    ),
    Mistake(
        "did not alternate: the first player made every move",
        "the players take turns: the first player at even t, the second at odd t.",
        _PD_HEAD + _pd_loop(_FIRST, _FIRST) + _PD_VERDICT,
    ),
    Mistake(
        "never marked the chosen pixels as revealed",
        "after each move set revealed[b, move] = True, so that the judge sees it and nobody reveals it twice.",
        _PD_HEAD + _pd_loop(_FIRST, _SECOND, move="        moves[:, t] = move\n") + _PD_VERDICT,
    ),
    Mistake(
        "showed the judge the whole image at the end instead of the revealed pixels",
        "the verdict uses reveal_input(images, revealed): the judge sees only what was revealed.",
        _PD_HEAD + _pd_loop(_FIRST, _SECOND) + _PD_VERDICT.replace("revealed.view(B, 8, 8)))", "images > 0))"),
    ),
    Mistake(
        "took the judge's argmax over all ten classes as the verdict",
        "the verdict is one of the two claims: compare their logits only.",
        _PD_HEAD
        + _pd_loop(_FIRST, _SECOND)
        + "    logits = judge(_view(images, revealed.view(B, 8, 8)))\n    return logits.argmax(-1), moves\n",
    ),
    Mistake(
        "a tie went to the second player's claim",
        "on a tie the verdict is the first player's claim (as in judge_verdict(logits, first, second)).",
        _PD_HEAD + _pd_loop(_FIRST, _SECOND) + _PD_VERDICT.replace("a >= b", "a > b"),
    ),
    Mistake(
        "a pass (−1) revealed the last pixel",
        "skip games whose move is −1: indexing with −1 means pixel 63.",
        _PD_HEAD
        + _pd_loop(
            _FIRST,
            _SECOND,
            move="        revealed[torch.arange(B, device=images.device), move] = True\n        moves[:, t] = move\n",
        )
        + _PD_VERDICT,
    ),
]


# --------------------------------------------------------------------------------------------
# negamax
# --------------------------------------------------------------------------------------------


def _position(g: torch.Generator, ink: int, shown: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An [8, 8] image with ``ink`` ink pixels of which ``shown`` are already revealed."""
    image = _sparse_images(g, 1, ink)[0]
    where = image.view(64).nonzero().squeeze(-1)
    revealed = torch.zeros(64, dtype=torch.bool)
    revealed[where[torch.randperm(len(where), generator=g)[:shown]]] = True
    return image, revealed.view(8, 8)


def _positions(g: torch.Generator, spec: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    pairs = [_position(g, ink, shown) for ink, shown in spec]
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


def _negamax_cases() -> list[Case]:
    # Cases of depth 2 and more use positions with many pixels already revealed (a few legal moves
    # left), so that even a wrong answer that treats zero or revealed pixels as legal keeps the
    # search tree small.
    g = seeded(5)
    imgs, rev = _positions(g, [(6, 0), (7, 1), (5, 0)])
    mid, mid_rev = _positions(g, [(34, 30), (33, 30), (35, 31)])
    deep, deep_rev = _positions(g, [(34, 29)])
    short, short_rev = _positions(g, [(32, 30), (34, 30)])  # game 0 runs out of legal pixels after two moves
    done, done_rev = _positions(g, [(4, 4), (5, 1)])  # game 0: every ink pixel already revealed
    hid, hid_rev = _positions(g, [(34, 30), (33, 29), (36, 32), (34, 31)])
    hid_deep, hid_deep_rev = _positions(g, [(35, 31)])
    return [
        Case(
            "depth 0 (just the current margin), 3 games, TinyJudge(seed=31)",
            (TinyJudge(31), imgs, rev, torch.tensor([1, 4, 7]), torch.tensor([3, 0, 2]), 0),
        ),
        Case(
            "depth 1 (greedy), 3 games, TinyJudge(seed=31)",
            (TinyJudge(31), imgs, rev, torch.tensor([1, 4, 7]), torch.tensor([3, 0, 2]), 1),
        ),
        Case(
            "depth 2, 3 games with 3–5 legal pixels left, TinyJudge(seed=32)",
            (TinyJudge(32), mid, mid_rev, torch.tensor([5, 9, 2]), torch.tensor([8, 6, 0]), 2),
        ),
        Case(
            "depth 3, one game with 5 legal pixels left, TinyJudge(seed=33)",
            (TinyJudge(33), deep, deep_rev, torch.tensor([0]), torch.tensor([9]), 3),
        ),
        Case(
            "depth 3 where game 0 has only 2 legal pixels (the search runs out of moves), TinyJudge(seed=34)",
            (TinyJudge(34), short, short_rev, torch.tensor([2, 7]), torch.tensor([6, 1]), 3),
        ),
        Case(
            "depth 2 where game 0 has no legal move at all, TinyJudge(seed=35)",
            (TinyJudge(35), done, done_rev, torch.tensor([4, 0]), torch.tensor([1, 8]), 2),
        ),
        Case(
            "depth 2, 4 games, TinyJudge(seed=36)",
            (TinyJudge(36), hid, hid_rev, torch.tensor([3, 1, 8, 6]), torch.tensor([0, 9, 2, 4]), 2),
            hidden=True,
        ),
        Case(
            "depth 3, one game, TinyJudge(seed=37)",
            (TinyJudge(37), hid_deep, hid_deep_rev, torch.tensor([7]), torch.tensor([5]), 3),
            hidden=True,
        ),
    ]


def _nm(
    *,
    leaf: str = "    now = (logits.gather(-1, my_claims.view(B, 1)) - logits.gather(-1, other_claims.view(B, 1))).squeeze(-1)\n",
    base: str = "depth == 0",
    legal: str = "(images.reshape(B, 64) > 0) & ~flat",
    recurse: str = "other_claims[game], my_claims[game], depth - 1",
    store: str = "-child_values",
    fallback: str = "now",
) -> str:
    return (
        "import math\nimport torch\n\n"
        "def _view(image, revealed_mask):\n"
        "    m = revealed_mask.to(image.dtype)\n"
        "    return torch.stack([m, image * m], dim=-3)\n\n"
        "def negamax(judge, images, revealed, my_claims, other_claims, depth):\n"
        "    B = images.shape[0]\n"
        "    logits = judge(_view(images, revealed.bool()))\n"
        + leaf
        + "    none = torch.full((B,), -1, dtype=torch.long, device=images.device)\n"
        "    flat = revealed.reshape(B, 64).bool()\n"
        f"    legal = {legal}\n"
        f"    if {base}:\n"
        "        return none, now\n"
        "    if not legal.any():\n"
        f"        return none, {fallback}\n"
        "    game, pixel = legal.nonzero(as_tuple=True)\n"
        "    children = flat[game].clone()\n"
        "    children[torch.arange(len(game), device=images.device), pixel] = True\n"
        f"    _, child_values = negamax(judge, images[game], children.view(-1, 8, 8), {recurse})\n"
        "    values = torch.full((B, 64), -math.inf, dtype=now.dtype, device=images.device)\n"
        f"    values[game, pixel] = {store}\n"
        "    best = values.argmax(-1)\n"
        "    best_value = values.gather(-1, best.view(B, 1)).squeeze(-1)\n"
        "    has = legal.any(-1)\n"
        f"    return torch.where(has, best, none), torch.where(has, best_value, {fallback})\n"
    )


NEGAMAX_MISTAKES = [
    Mistake(
        "did not negate the child's value (treated the opponent's margin as yours)",
        "the child's value is from the opponent's point of view: your value is minus it.",
        _nm(store="child_values"),
    ),
    Mistake(
        "did not swap the claims when recursing (the opponent also plays for your claim)",
        "at the child position the opponent moves: call negamax with (other_claims, my_claims).",
        _nm(recurse="my_claims[game], other_claims[game], depth - 1"),
    ),
    Mistake(
        "stopped one move early (treated depth 1 as a leaf)",
        "depth 0 is the leaf; depth d looks d moves ahead.",
        _nm(base="depth <= 1"),
    ),
    Mistake(
        "evaluated positions by my claim's logit alone, not the margin",
        "the value of a position is logit[my] − logit[other] for the player to move.",
        _nm(leaf="    now = logits.gather(-1, my_claims.view(B, 1)).squeeze(-1)\n"),
    ),
    Mistake(
        "allowed revealing zero pixels",
        "legal moves are unrevealed pixels with ink: (images > 0) & ~revealed.",
        _nm(legal="~flat"),
    ),
    Mistake(
        "allowed revealing a pixel that is already revealed",
        "legal moves are unrevealed pixels with ink: (images > 0) & ~revealed.",
        _nm(legal="images.reshape(B, 64) > 0"),
    ),
    Mistake(
        "gave a position without legal moves the value -inf instead of its current margin",
        "when nobody can move, the game is over: the value is the current margin.",
        _nm(fallback="torch.full_like(now, -math.inf)"),
    ),
]


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


_WI = "import math\n\ndef wilson_interval(successes, n, z=1.96):\n    p = successes / n\n"
WILSON_MISTAKES = [
    Mistake(
        "computed the Wald interval p ± z·sqrt(p(1−p)/n)",
        "the Wald interval collapses at p = 0 or 1; Wilson shifts the centre and widens the half-width.",
        _WI + "    h = z * math.sqrt(p * (1 - p) / n)\n    return (p - h, p + h)\n",
    ),
    Mistake(
        "centred the interval on p instead of the shifted centre",
        "the centre is (p + z²/(2n)) / (1 + z²/n), not p.",
        _WI + "    d = 1 + z * z / n\n    h = z / d * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))\n"
        "    return (p - h, p + h)\n",
    ),
    Mistake(
        "forgot to divide the half-width by 1 + z²/n",
        "both the centre and the half-width are divided by 1 + z²/n.",
        _WI + "    d = 1 + z * z / n\n    c = (p + z * z / (2 * n)) / d\n"
        "    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))\n    return (c - h, c + h)\n",
    ),
    Mistake(
        "used z instead of z² in the formula",
        "every correction term has z²: z²/(2n), z²/n and z²/(4n²).",
        _WI + "    d = 1 + z / n\n    c = (p + z / (2 * n)) / d\n"
        "    h = z / d * math.sqrt(p * (1 - p) / n + z / (4 * n * n))\n    return (c - h, c + h)\n",
    ),
    Mistake(
        "dropped the z²/(4n²) term under the square root",
        "without it the half-width is 0 at p = 0 or 1: keep p(1−p)/n + z²/(4n²).",
        _WI + "    d = 1 + z * z / n\n    c = (p + z * z / (2 * n)) / d\n"
        "    h = z / d * math.sqrt(p * (1 - p) / n)\n    return (c - h, c + h)\n",
    ),
    Mistake(
        "used n − 1 instead of n in the variance",
        "the binomial variance estimate here is p(1−p)/n.",
        _WI + "    d = 1 + z * z / n\n    c = (p + z * z / (2 * n)) / d\n"
        "    h = z / d * math.sqrt(p * (1 - p) / max(n - 1, 1) + z * z / (4 * n * n))\n    return (c - h, c + h)\n",
    ),
]


EXERCISES = [
    Exercise(
        f"{WEEK}.reveal_input",
        points=1,
        make_cases=_reveal_cases,
        mistakes=REVEAL_MISTAKES,
        alternatives=[
            "import torch\n\ndef reveal_input(image, revealed_mask):\n"
            "    keep = revealed_mask.bool()\n"
            "    values = torch.where(keep, image, torch.zeros_like(image))\n"
            "    return torch.cat([keep.to(image.dtype).unsqueeze(-3), values.unsqueeze(-3)], dim=-3)\n"
        ],
        summary="the judge's two-channel view of revealed pixels",
    ),
    Exercise(
        f"{WEEK}.random_reveal_mask",
        points=2,
        make_cases=_random_mask_cases,
        mistakes=RANDOM_MASK_MISTAKES,
        alternatives=[
            "import torch\n\ndef random_reveal_mask(images, k, scores):\n"
            "    cand = images.flatten(-2) > 0\n"
            "    keyed = scores.flatten(-2).masked_fill(~cand, float('-inf'))\n"
            "    rank = keyed.argsort(-1, descending=True).argsort(-1)\n"
            "    return ((rank < k) & cand).reshape(images.shape)\n"
        ],
        summary="a random k-subset of nonzero pixels via random keys",
    ),
    Exercise(
        f"{WEEK}.judge_verdict",
        points=1,
        make_cases=_verdict_cases,
        mistakes=VERDICT_MISTAKES,
        alternatives=[
            "import torch\n\ndef judge_verdict(judge_logits, claim_a, claim_b):\n"
            "    pair = torch.log_softmax(judge_logits.double(), -1)[[claim_a, claim_b]]\n"
            "    return [claim_a, claim_b][int(pair[1] > pair[0])]\n"
        ],
        summary="the judge's choice between two claims",
    ),
    Exercise(
        f"{WEEK}.move_margins",
        points=2,
        make_cases=_move_margin_cases,
        mistakes=MOVE_MARGIN_MISTAKES,
        alternatives=[
            "import torch\n\n"
            "def move_margins(judge, images, revealed, my_claims, other_claims):\n"
            "    B = images.shape[0]\n"
            "    out = torch.full((B, 64), float('-inf'), dtype=images.dtype, device=images.device)\n"
            "    rows = torch.arange(B, device=images.device)\n"
            "    for p in range(64):\n"
            "        m = revealed.reshape(B, 64).bool().clone()\n"
            "        legal = (~m[:, p]) & (images.reshape(B, 64)[:, p] > 0)\n"
            "        m[:, p] = True\n"
            "        mf = m.view(B, 8, 8).to(images.dtype)\n"
            "        logits = judge(torch.stack([mf, images * mf], dim=1))\n"
            "        margin = logits[rows, my_claims] - logits[rows, other_claims]\n"
            "        out[:, p] = torch.where(legal, margin, out[:, p])\n"
            "    return out\n"
        ],
        summary="the judge's margin after each candidate reveal",
    ),
    Exercise(
        f"{WEEK}.play_debate",
        points=3,
        make_cases=_debate_cases,
        mistakes=DEBATE_MISTAKES,
        alternatives=[
            "import torch\n\n"
            "def judge_verdict(judge_logits, claim_a, claim_b):\n"
            "    return claim_a if judge_logits[claim_a] >= judge_logits[claim_b] else claim_b\n\n"
            "def play_debate(judge, images, first_claims, second_claims, k, first_strategy, second_strategy):\n"
            "    B = images.shape[0]\n"
            "    revealed = torch.zeros(B, 8, 8, dtype=torch.bool, device=images.device)\n"
            "    history = []\n"
            "    players = [(first_strategy, first_claims, second_claims), (second_strategy, second_claims, first_claims)]\n"
            "    for t in range(k):\n"
            "        strategy, mine, theirs = players[t % 2]\n"
            "        move = strategy(judge, images, revealed.clone(), mine, theirs, k - t)\n"
            "        for b, p in enumerate(move.tolist()):\n"
            "            if p >= 0:\n"
            "                revealed[b, p // 8, p % 8] = True\n"
            "        history.append(move)\n"
            "    m = revealed.to(images.dtype)\n"
            "    logits = judge(torch.stack([m, images * m], dim=1))\n"
            "    winners = [judge_verdict(logits[b], int(first_claims[b]), int(second_claims[b])) for b in range(B)]\n"
            "    moves = torch.stack(history, dim=1) if history else torch.zeros(B, 0, dtype=torch.long)\n"
            "    return torch.tensor(winners, device=images.device), moves\n"
        ],
        summary="alternating reveals and the verdict",
    ),
    Exercise(
        f"{WEEK}.negamax",
        points=3,
        make_cases=_negamax_cases,
        mistakes=NEGAMAX_MISTAKES,
        alternatives=[
            "import torch\n\n"
            "def _margin(judge, image, shown, mine, theirs):\n"
            "    m = shown.view(8, 8).to(image.dtype)\n"
            "    logits = judge(torch.stack([m, image * m])[None])[0]\n"
            "    return logits[mine] - logits[theirs]\n\n"
            "def _value(judge, image, shown, mine, theirs, depth):\n"
            "    legal = [p for p in range(64) if image.view(64)[p] > 0 and not shown[p]]\n"
            "    if depth == 0 or not legal:\n"
            "        return -1, _margin(judge, image, shown, mine, theirs)\n"
            "    best, best_value = -1, None\n"
            "    for p in legal:\n"
            "        child = shown.clone()\n"
            "        child[p] = True\n"
            "        v = -_value(judge, image, child, theirs, mine, depth - 1)[1]\n"
            "        if best_value is None or v > best_value:\n"
            "            best, best_value = p, v\n"
            "    return best, best_value\n\n"
            "def negamax(judge, images, revealed, my_claims, other_claims, depth):\n"
            "    moves, values = [], []\n"
            "    for b in range(images.shape[0]):\n"
            "        shown = revealed[b].reshape(64).bool().clone()\n"
            "        mv, v = _value(judge, images[b], shown, int(my_claims[b]), int(other_claims[b]), depth)\n"
            "        moves.append(mv)\n"
            "        values.append(v)\n"
            "    return torch.tensor(moves, device=images.device), torch.stack(values)\n"
        ],
        summary="depth-limited minimax (negamax) for a debater",
    ),
    Exercise(
        f"{WEEK}.wilson_interval",
        points=1,
        make_cases=_wilson_cases,
        mistakes=WILSON_MISTAKES,
        alternatives=[
            "import math\n\ndef wilson_interval(successes, n, z=1.96):\n"
            "    q = n - successes\n"
            "    z2 = z * z\n"
            "    centre = (successes + z2 / 2) / (n + z2)\n"
            "    half = z * math.sqrt(n) / (n + z2) * math.sqrt(successes * q / n / n + z2 / (4 * n))\n"
            "    return centre - half, centre + half\n"
        ],
        summary="Wilson score interval for an accuracy",
    ),
]
