"""Correct-but-different answers to w11_debate's exercises: each must earn full points.

They are written differently from the reference on purpose (float64, loops, another arrangement
of the formula). tests/test_grader_trust.py grades each one, from its source, like a submission.
"""

import math

import torch

from graders.testing import alternative


@alternative("reveal_input")
def reveal_input_alternative_1(image, revealed_mask):
    keep = revealed_mask.bool()
    values = torch.where(keep, image, torch.zeros_like(image))
    return torch.cat([keep.to(image.dtype).unsqueeze(-3), values.unsqueeze(-3)], dim=-3)


@alternative("random_reveal_mask")
def random_reveal_mask_alternative_1(images, k, scores):
    cand = images.flatten(-2) > 0
    keyed = scores.flatten(-2).masked_fill(~cand, float("-inf"))
    rank = keyed.argsort(-1, descending=True).argsort(-1)
    return ((rank < k) & cand).reshape(images.shape)


@alternative("judge_verdict")
def judge_verdict_alternative_1(judge_logits, claim_a, claim_b):
    pair = torch.log_softmax(judge_logits.double(), -1)[[claim_a, claim_b]]
    return [claim_a, claim_b][int(pair[1] > pair[0])]


@alternative("move_margins")
def move_margins_alternative_1(judge, images, revealed, my_claims, other_claims):
    B = images.shape[0]
    out = torch.full((B, 64), float("-inf"), dtype=images.dtype, device=images.device)
    rows = torch.arange(B, device=images.device)
    for p in range(64):
        m = revealed.reshape(B, 64).bool().clone()
        legal = ~m[:, p] & (images.reshape(B, 64)[:, p] > 0)
        m[:, p] = True
        mf = m.view(B, 8, 8).to(images.dtype)
        logits = judge(torch.stack([mf, images * mf], dim=1))
        margin = logits[rows, my_claims] - logits[rows, other_claims]
        out[:, p] = torch.where(legal, margin, out[:, p])
    return out


@alternative("play_debate")
def play_debate_alternative_1(judge, images, first_claims, second_claims, k, first_strategy, second_strategy):

    def judge_verdict(judge_logits, claim_a, claim_b):
        return claim_a if judge_logits[claim_a] >= judge_logits[claim_b] else claim_b

    B = images.shape[0]
    revealed = torch.zeros(B, 8, 8, dtype=torch.bool, device=images.device)
    history = []
    players = [(first_strategy, first_claims, second_claims), (second_strategy, second_claims, first_claims)]
    for t in range(k):
        strategy, mine, theirs = players[t % 2]
        move = strategy(judge, images, revealed.clone(), mine, theirs, k - t)
        for b, p in enumerate(move.tolist()):
            if p >= 0:
                revealed[b, p // 8, p % 8] = True
        history.append(move)
    m = revealed.to(images.dtype)
    logits = judge(torch.stack([m, images * m], dim=1))
    winners = [judge_verdict(logits[b], int(first_claims[b]), int(second_claims[b])) for b in range(B)]
    moves = torch.stack(history, dim=1) if history else torch.zeros(B, 0, dtype=torch.long)
    return (torch.tensor(winners, device=images.device), moves)


@alternative("negamax")
def negamax_alternative_1(judge, images, revealed, my_claims, other_claims, depth):

    def _margin(judge, image, shown, mine, theirs):
        m = shown.view(8, 8).to(image.dtype)
        logits = judge(torch.stack([m, image * m])[None])[0]
        return logits[mine] - logits[theirs]

    def _value(judge, image, shown, mine, theirs, depth):
        legal = [p for p in range(64) if image.view(64)[p] > 0 and (not shown[p])]
        if depth == 0 or not legal:
            return (-1, _margin(judge, image, shown, mine, theirs))
        best, best_value = (-1, None)
        for p in legal:
            child = shown.clone()
            child[p] = True
            v = -_value(judge, image, child, theirs, mine, depth - 1)[1]
            if best_value is None or v > best_value:
                best, best_value = (p, v)
        return (best, best_value)

    moves, values = ([], [])
    for b in range(images.shape[0]):
        shown = revealed[b].reshape(64).bool().clone()
        mv, v = _value(judge, images[b], shown, int(my_claims[b]), int(other_claims[b]), depth)
        moves.append(mv)
        values.append(v)
    return (torch.tensor(moves, device=images.device), torch.stack(values))


@alternative("wilson_interval")
def wilson_interval_alternative_1(successes, n, z=1.96):
    q = n - successes
    z2 = z * z
    centre = (successes + z2 / 2) / (n + z2)
    half = z * math.sqrt(n) / (n + z2) * math.sqrt(successes * q / n / n + z2 / (4 * n))
    return (centre - half, centre + half)


@alternative("mcnemar")
def mcnemar_alternative_1(correct_a, correct_b, exact=True):
    pairs = list(zip(correct_a.tolist(), correct_b.tolist()))
    b = sum(1 for x, y in pairs if x and not y)
    c = sum(1 for x, y in pairs if y and not x)
    if b == c:
        return b, c, 1.0  # a symmetric table: both tests give p = 1
    if not exact:
        return b, c, math.erfc(math.sqrt(max(0, abs(b - c) - 1) ** 2 / (b + c) / 2))
    log_half = (b + c) * math.log(0.5)
    tail = sum(
        math.exp(math.lgamma(b + c + 1) - math.lgamma(i + 1) - math.lgamma(b + c - i + 1) + log_half)
        for i in range(min(b, c) + 1)
    )
    return b, c, min(1.0, 2 * tail)


@alternative("evaluate_debate")
def evaluate_debate_alternative_1(
    judge, images, truth, lies, k, honest_strategy, liar_strategy, honest_first=True, chunk=256
):
    # one game at a time (chunk size does not change any game), a Python list for the revealed pixels
    results, all_moves = [], []
    for i in range(len(images)):
        x, t, lie = images[i : i + 1], truth[i : i + 1], lies[i : i + 1]
        order = [(honest_strategy, t, lie), (liar_strategy, lie, t)]
        if not honest_first:
            order.reverse()
        shown, moves = [], []
        for step in range(k):
            strategy, mine, theirs = order[step % 2]
            mask = torch.zeros(64, dtype=torch.bool, device=x.device)
            mask[shown] = True
            p = int(strategy(judge, x, mask.view(1, 8, 8), mine, theirs, k - step)[0])
            if p >= 0:
                shown.append(p)
            moves.append(p)
        mask = torch.zeros(64, dtype=x.dtype, device=x.device)
        mask[shown] = 1.0
        logits = judge(torch.stack([mask.view(8, 8), x[0] * mask.view(8, 8)])[None])[0]
        results.append(bool(logits[int(t)] > logits[int(lie)]))
        all_moves.append(moves)
    correct = torch.tensor(results, device=images.device)
    return sum(results) / len(results), correct, torch.tensor(all_moves, dtype=torch.long, device=images.device)
