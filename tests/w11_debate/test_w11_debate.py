"""Week 11: the debate game's reference is a correct game solver, and the experiment has the right shape.

- ``negamax`` equals a brute-force minimax over every move sequence (written here independently);
- depth-1 search is the greedy debater; full-depth search decides the game exactly;
- ``wilson_interval`` equals SciPy's Wilson interval;
- ``random_reveal_mask`` draws a uniform random k-subset of the nonzero pixels;
- on real held-out digits a quickly trained judge shows the table's shape: judge alone <
  precommit with random pixels < debate.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from scipy.stats import binomtest

from graders.reference import load_reference
from graders.weeks.debate_fixtures import TinyJudge
from graders.weeks.debate_fixtures import sparse_images as _sparse_images

W11 = load_reference("w11_debate")


def _margin(judge, image: torch.Tensor, shown: frozenset[int], mine: int, theirs: int) -> float:
    mask = torch.zeros(64)
    mask[list(shown)] = 1.0
    mask = mask.view(8, 8)
    logits = judge(torch.stack([mask, image * mask])[None])[0]
    return float(logits[mine] - logits[theirs])


def _brute_force(judge, image, shown: frozenset[int], mine: int, theirs: int, depth: int) -> float:
    """Minimax value for the player to move, by explicit max/min over every sequence of moves."""
    ink = {p for p in range(64) if image.view(64)[p] > 0}

    def value(s: frozenset[int], d: int, maximising: bool) -> float:
        legal = sorted(ink - s)
        if d == 0 or not legal:
            return _margin(judge, image, s, mine, theirs)  # always from the root player's view
        children = [value(s | {p}, d - 1, not maximising) for p in legal]
        return max(children) if maximising else min(children)

    return value(shown, depth, True)


def _positions(seed: int, batch: int, ink: int, shown: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    images = _sparse_images(g, batch, ink)
    revealed = torch.zeros(batch, 64, dtype=torch.bool)
    for b in range(batch):
        where = images[b].view(64).nonzero().squeeze(-1)
        revealed[b, where[torch.randperm(len(where), generator=g)[:shown]]] = True
    return images, revealed.view(batch, 8, 8)


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_negamax_equals_brute_force_minimax(depth):
    judge = TinyJudge(101 + depth)
    images, revealed = _positions(depth, batch=3, ink=6, shown=1)
    mine, theirs = torch.tensor([2, 5, 9]), torch.tensor([7, 0, 4])
    moves, values = W11.negamax(judge, images, revealed, mine, theirs, depth)
    for b in range(3):
        shown = frozenset(revealed[b].view(64).nonzero().squeeze(-1).tolist())
        expected = _brute_force(judge, images[b], shown, int(mine[b]), int(theirs[b]), depth)
        assert values[b].item() == pytest.approx(expected, abs=1e-5)
        if depth > 0:  # the chosen move achieves the value
            child = shown | {int(moves[b])}
            achieved = -_brute_force(judge, images[b], child, int(theirs[b]), int(mine[b]), depth - 1)
            assert achieved == pytest.approx(expected, abs=1e-5)


def test_depth_one_search_is_the_greedy_debater():
    judge = TinyJudge(7)
    images, revealed = _positions(11, batch=6, ink=20, shown=3)
    mine, theirs = torch.arange(6), (torch.arange(6) + 3) % 10
    margins = W11.move_margins(judge, images, revealed, mine, theirs)
    moves, values = W11.negamax(judge, images, revealed, mine, theirs, 1)
    assert torch.equal(moves, W11.greedy_move(judge, images, revealed, mine, theirs, 1))
    assert torch.allclose(values, margins.amax(-1), atol=1e-5)


def test_full_depth_search_decides_the_game():
    """When both debaters search to the end, the verdict is the sign of the game's minimax value."""
    judge = TinyJudge(3)
    images, _ = _positions(5, batch=4, ink=5, shown=0)
    first, second = torch.tensor([1, 3, 5, 7]), torch.tensor([8, 6, 4, 2])
    k = 3
    exact = W11.search_strategy(k)
    winners, moves = W11.play_debate(judge, images, first, second, k, exact, exact)
    _, value = W11.negamax(judge, images, torch.zeros(4, 8, 8, dtype=torch.bool), first, second, k)
    assert torch.equal(winners, torch.where(value >= 0, first, second))
    for b in range(4):  # every move is a distinct ink pixel
        played = moves[b].tolist()
        assert len(set(played)) == k and all(images[b].view(64)[p] > 0 for p in played)


def test_play_debate_moves_are_legal_on_real_digits():
    from sklearn.datasets import load_digits

    digits = torch.tensor(load_digits().images[:40], dtype=torch.float32) / 16
    judge = TinyJudge(0)
    claims = torch.arange(40) % 10
    winners, moves = W11.play_debate(judge, digits, claims, (claims + 1) % 10, 6, W11.greedy_move, W11.greedy_move)
    assert moves.shape == (40, 6)
    for b in range(40):
        played = moves[b].tolist()
        assert len(set(played)) == 6 and all(digits[b].view(64)[p] > 0 for p in played)
    assert set(winners.tolist()) <= set(claims.tolist()) | set(((claims + 1) % 10).tolist())


@pytest.mark.parametrize("successes, n", [(0, 20), (3, 7), (441, 500), (500, 500), (1, 1)])
def test_wilson_interval_equals_scipy(successes, n):
    z = 1.959963984540054
    lo, hi = W11.wilson_interval(successes, n, z)
    ci = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert lo == pytest.approx(ci.low, abs=1e-9) and hi == pytest.approx(ci.high, abs=1e-9)
    assert 0.0 <= lo <= successes / n <= hi <= 1.0


def test_random_reveal_mask_is_a_uniform_k_subset_of_the_ink():
    g = torch.Generator().manual_seed(0)
    image = _sparse_images(g, 1, 10)[0]
    draws = 20000
    masks = W11.random_reveal_mask(image.expand(draws, 8, 8), 4, torch.rand(draws, 8, 8, generator=g))
    assert torch.all(masks.sum((1, 2)) == 4)
    assert not (masks & (image == 0)).any()
    freq = masks.float().mean(0).view(64)[image.view(64) > 0]
    assert torch.allclose(freq, torch.full_like(freq, 0.4), atol=0.02)  # each ink pixel with probability k/n
    # every one of the C(10, 4) = 210 subsets shows up
    subsets = {tuple(m.view(64).nonzero().squeeze(-1).tolist()) for m in masks[:5000]}
    assert len(subsets) == math.comb(10, 4) == len(set(itertools.combinations(range(10), 4)))


def test_the_table_has_the_right_shape_on_held_out_digits():
    """A judge trained briefly on random pixels: alone < precommit (random pixels) < debate, at k = 6."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network: extra threads only contend with other work on the machine
    try:
        _table_shape()
    finally:
        torch.set_num_threads(threads)


def _table_shape() -> None:
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32) / 16
    labels = torch.tensor(data.target)
    order = torch.randperm(len(images), generator=g)
    test, train = order[:200], order[200:]
    judge = W11.SparseJudge(hidden=64)
    opt = torch.optim.Adam(judge.parameters(), lr=3e-3)
    for step in range(400):
        idx = train[torch.randint(0, len(train), (128,), generator=g)]
        mask = W11.random_reveal_mask(images[idx], (2, 4, 6, 8)[step % 4], torch.rand(128, 8, 8, generator=g))
        loss = torch.nn.functional.cross_entropy(judge(W11.reveal_input(images[idx], mask)), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    judge.eval()
    x, y = images[test], labels[test]
    lies = (y + torch.randint(1, 10, (200,), generator=g)) % 10
    with torch.no_grad():
        logits = judge(W11.reveal_input(x, W11.random_reveal_mask(x, 6, torch.rand(200, 8, 8, generator=g))))
        alone = (logits.argmax(-1) == y).float().mean().item()
        precommit = (logits.gather(1, y[:, None]) >= logits.gather(1, lies[:, None])).float().mean().item()
        winners, _ = W11.play_debate(judge, x, y, lies, 6, W11.greedy_move, W11.greedy_move)
        debate = (winners == y).float().mean().item()
    assert alone + 0.15 < precommit < debate
    assert debate > 0.85


@pytest.mark.parametrize(
    "seed, n, pa, pb", [(0, 200, 0.7, 0.8), (1, 50, 0.5, 0.5), (2, 500, 0.6, 0.9), (3, 12, 0.9, 0.9)]
)
def test_mcnemar_equals_scipy(seed, n, pa, pb):
    from scipy.stats import chi2

    g = torch.Generator().manual_seed(seed)
    a, b = torch.rand(n, generator=g) < pa, torch.rand(n, generator=g) < pb
    nb, nc, p = W11.mcnemar(a, b)
    assert (nb, nc) == (int((a & ~b).sum()), int((~a & b).sum()))
    if nb + nc == 0:
        assert p == 1.0
        return
    assert p == pytest.approx(binomtest(nb, nb + nc, 0.5).pvalue, rel=1e-9, abs=1e-300)
    expected = float(chi2.sf(max(0, abs(nb - nc) - 1) ** 2 / (nb + nc), 1))  # p = 1 when b = c
    assert W11.mcnemar(a, b, exact=False)[2] == pytest.approx(expected, rel=1e-9)


def test_evaluate_debate_counts_ties_against_the_truth_in_both_orders():
    from graders.weeks.debate_fixtures import FlatJudge, lowest_free

    g = torch.Generator().manual_seed(0)
    images = _sparse_images(g, 5, 20)
    truth, lies = torch.arange(5), torch.arange(5) + 5
    for honest_first in (True, False):
        acc, correct, moves = W11.evaluate_debate(
            FlatJudge(), images, truth, lies, 4, lowest_free, lowest_free, honest_first, chunk=2
        )
        assert acc == 0.0 and not correct.any() and moves.shape == (5, 4)
