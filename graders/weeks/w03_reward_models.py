"""Week 3 exercises: reward models. Cases and known mistakes for each exercise.

The reference implementations live in ``solutions/w03_reward_models/w03_reward_models.py``.
"""

from __future__ import annotations

from typing import Any

import torch

from graders.core import Case, Exercise, Mistake, seeded

WEEK = "w03_reward_models"


# --------------------------------------------------------------------------------------------
# bradley_terry_loss
# --------------------------------------------------------------------------------------------


def _bt_cases() -> list[Case]:
    g = seeded(30)
    big_c = torch.tensor([500.0, -300.0, 2.0, -450.0, 80.0])
    big_r = torch.tensor([-200.0, 250.0, 1.0, 100.0, 90.0])
    return [
        Case("rewards [8] (standard normal), no margin", (torch.randn(8, generator=g), torch.randn(8, generator=g))),
        Case(
            "rewards [6] with a margin tensor [6] (values in [0, 2])",
            (torch.randn(6, generator=g), torch.randn(6, generator=g)),
            {"margin": torch.rand(6, generator=g) * 2},
        ),
        Case("rewards [5] whose differences reach ±750 (stability)", (big_c, big_r)),
        Case(
            "rewards [4] with a float margin 1.5",
            (torch.randn(4, generator=g) * 2, torch.randn(4, generator=g)),
            {"margin": 1.5},
        ),
        Case(
            "float64 rewards [7], no margin",
            (torch.randn(7, generator=g, dtype=torch.float64) * 3, torch.randn(7, generator=g, dtype=torch.float64)),
        ),
        Case("a batch of one pair", (torch.tensor([0.3]), torch.tensor([1.1])), hidden=True),
        Case(
            "rewards [5] near ±400 with a margin tensor",
            (big_r, big_c),
            {"margin": torch.tensor([0.5, 1.0, 0.0, 2.0, 0.1])},
            hidden=True,
        ),
    ]


_BT_HEAD = (
    "import torch\nimport torch.nn.functional as F\n\n"
    "def bradley_terry_loss(chosen_rewards, rejected_rewards, margin=None):\n"
    "    m = 0.0 if margin is None else margin\n"
)
BT_MISTAKES = [
    Mistake(
        "sign flip (rejected minus chosen)",
        "the chosen response should win: the argument of log σ is r_chosen − r_rejected − margin.",
        _BT_HEAD + "    return -F.logsigmoid(rejected_rewards - chosen_rewards - m).mean()\n",
    ),
    Mistake(
        "summed over the batch instead of averaging",
        "return the mean over pairs, so the loss does not grow with the batch size.",
        _BT_HEAD + "    return -F.logsigmoid(chosen_rewards - rejected_rewards - m).sum()\n",
    ),
    Mistake(
        "log(sigmoid(x)) is numerically unstable",
        "σ of a very negative number underflows to 0 and log 0 = −inf: use F.logsigmoid (or −softplus(−x)).",
        _BT_HEAD + "    return -torch.log(torch.sigmoid(chosen_rewards - rejected_rewards - m)).mean()\n",
    ),
    Mistake(
        "added the margin instead of subtracting it",
        "the margin makes the task harder: the chosen reward must beat the rejected one *by* m, so use Δ − m.",
        _BT_HEAD + "    return -F.logsigmoid(chosen_rewards - rejected_rewards + m).mean()\n",
    ),
    Mistake(
        "forgot the minus sign (returned the log-likelihood, not the loss)",
        "the loss is the *negative* log-likelihood: it is ≥ 0 and training minimises it.",
        _BT_HEAD + "    return F.logsigmoid(chosen_rewards - rejected_rewards - m).mean()\n",
    ),
    Mistake(
        "ignored the margin",
        "when `margin` is given, subtract it from r_chosen − r_rejected before log σ.",
        _BT_HEAD + "    return -F.logsigmoid(chosen_rewards - rejected_rewards).mean()\n",
    ),
    Mistake(
        "took the log of the mean probability instead of the mean of the logs",
        "the likelihood of independent pairs is a product: average the per-pair −log σ values.",
        _BT_HEAD + "    return -torch.log(torch.sigmoid(chosen_rewards - rejected_rewards - m).mean())\n",
    ),
    Mistake(
        "minimised 1 − σ(Δ) (forgot the log)",
        "Bradley–Terry is a likelihood: the loss is −log σ(Δ), not a probability.",
        _BT_HEAD + "    return (1 - torch.sigmoid(chosen_rewards - rejected_rewards - m)).mean()\n",
    ),
]


# --------------------------------------------------------------------------------------------
# last_token_index
# --------------------------------------------------------------------------------------------


def _lti_cases() -> list[Case]:
    right = torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]])
    left = torch.tensor([[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1], [1, 1, 1, 1, 1, 1]])
    return [
        Case("a right-padded int mask [3, 6] (lengths 5, 3, 1)", (right,)),
        Case("a left-padded int mask [3, 6] (lengths 4, 2, 6)", (left,)),
        Case("no padding, mask [2, 5]", (torch.ones(2, 5, dtype=torch.long),)),
        Case(
            "a bool mask [2, 4], right-padded", (torch.tensor([[True, True, False, False], [True, True, True, False]]),)
        ),
        Case("a float mask [2, 7], left-padded", (torch.tensor([[0.0, 0, 0, 1, 1, 1, 1], [0.0, 1, 1, 1, 1, 1, 1]]),)),
        Case(
            "right- and left-padded rows in one [4, 7] batch",
            (
                torch.tensor(
                    [[1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 1]]
                ),
            ),
            hidden=True,
        ),
    ]


_LTI_HEAD = "import torch\n\ndef last_token_index(attention_mask):\n"
LTI_MISTAKES = [
    Mistake(
        "used mask.sum() − 1, which only works for right padding",
        "with left padding the real tokens end at T − 1 whatever their number: take the largest position where "
        "the mask is 1.",
        _LTI_HEAD + "    return attention_mask.long().sum(-1) - 1\n",
    ),
    Mistake(
        "off by one: mask.sum() is the first padding position",
        "positions start at 0, so the last of n real tokens (right padding) is at n − 1; better, take the largest "
        "position where the mask is 1.",
        _LTI_HEAD + "    return attention_mask.long().sum(-1)\n",
    ),
    Mistake(
        "returned the first real token instead of the last",
        "argmax of the mask finds the *first* 1; weight the mask by the positions (or search from the end).",
        _LTI_HEAD + "    return attention_mask.long().argmax(-1)\n",
    ),
    Mistake(
        "always returned the final position T − 1",
        "that is right for left padding only; right-padded rows end earlier.",
        _LTI_HEAD
        + "    T = attention_mask.shape[-1]\n    return torch.full(attention_mask.shape[:-1], T - 1, dtype=torch.long)\n",
    ),
    Mistake(
        "searched the flipped mask but forgot to convert the index back",
        "argmax on mask.flip(-1) counts from the end: the position is T − 1 − that index.",
        _LTI_HEAD + "    return attention_mask.long().flip(-1).argmax(-1)\n",
    ),
    Mistake(
        "reduced over the batch dimension instead of the positions",
        "each row has its own last token: reduce over the last dimension (T), keeping B.",
        _LTI_HEAD + "    return attention_mask.long().sum(0) - 1\n",
    ),
]


# --------------------------------------------------------------------------------------------
# RewardModel
# --------------------------------------------------------------------------------------------

_RM_CONFIG = {"vocab_size": 40, "n_positions": 16, "n_embd": 16, "n_layer": 2, "n_head": 2}


def _gpt2_config() -> Any:
    from transformers import GPT2Config

    return GPT2Config(
        **_RM_CONFIG,
        n_inner=32,
        attn_pdrop=0.0,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=1,
    )


def _backbone_state(seed: int) -> dict[str, torch.Tensor]:
    from transformers import GPT2Model

    g = seeded(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        shapes = {k: v for k, v in GPT2Model(_gpt2_config()).state_dict().items()}
    return {
        k: (torch.randn(v.shape, generator=g) * 0.4 + (1.0 if k.endswith("ln_1.weight") else 0.0))
        if v.is_floating_point()
        else v
        for k, v in shapes.items()
    }


def _rm_case(describe: str, seed: int, ids: list[list[int]], mask: list[list[int]], hidden: bool = False) -> Case:
    g = seeded(seed + 1)
    return Case(
        describe,
        (torch.tensor(ids), torch.tensor(mask)),
        {"backbone_state": _backbone_state(seed), "score_weight": torch.randn(1, _RM_CONFIG["n_embd"], generator=g)},
        hidden=hidden,
    )


def _rm_cases() -> list[Case]:
    return [
        _rm_case(
            "a right-padded batch of 3 rows (lengths 6, 4, 2; pad id 1)",
            31,
            [[5, 9, 12, 7, 3, 0], [8, 8, 20, 0, 1, 1], [33, 0, 1, 1, 1, 1]],
            [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]],
        ),
        _rm_case(
            "a left-padded batch of 3 rows (lengths 5, 3, 6)",
            32,
            [[1, 4, 17, 22, 9, 0], [1, 1, 1, 30, 2, 0], [6, 7, 8, 9, 10, 0]],
            [[0, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]],
        ),
        _rm_case("no padding, batch of 2 rows of length 5", 33, [[3, 4, 5, 6, 0], [11, 12, 13, 14, 0]], [[1] * 5] * 2),
        _rm_case("a batch of one row (length 4, right-padded to 6)", 34, [[9, 18, 27, 0, 1, 1]], [[1, 1, 1, 1, 0, 0]]),
        _rm_case(
            "a right-padded batch of 4 rows of length 8 (other weights)",
            35,
            [
                [2, 3, 4, 5, 6, 7, 8, 0],
                [21, 22, 0, 1, 1, 1, 1, 1],
                [39, 38, 37, 36, 35, 0, 1, 1],
                [10, 0, 1, 1, 1, 1, 1, 1],
            ],
            [[1] * 8, [1, 1, 1, 0, 0, 0, 0, 0], [1] * 6 + [0, 0], [1, 1, 0, 0, 0, 0, 0, 0]],
            hidden=True,
        ),
        _rm_case(
            "a left-padded batch of 2 rows (other weights)",
            36,
            [[1, 1, 1, 15, 16, 0], [1, 25, 26, 27, 28, 0]],
            [[0, 0, 0, 1, 1, 1], [0, 1, 1, 1, 1, 1]],
            hidden=True,
        ),
    ]


def _rm_call(cls: Any, case: Case) -> Any:
    """Build the answer's RewardModel on a GPT2Model with the case's weights and run it."""
    from transformers import GPT2Model

    input_ids, attention_mask = case.args
    kwargs = dict(case.kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # anything the answer initialises randomly is at least deterministic
        backbone = GPT2Model(_gpt2_config())
        backbone.load_state_dict({k: v.cpu() for k, v in kwargs["backbone_state"].items()})
        model = cls(backbone)
    model.score.weight.copy_(kwargs["score_weight"])
    model.to(input_ids.device).eval()
    return model(input_ids, attention_mask)


_RM_HEAD = (
    "import torch\nimport torch.nn as nn\n\n"
    "class RewardModel(nn.Module):\n"
    "    def __init__(self, backbone):\n"
    "        super().__init__()\n"
    "        self.backbone = backbone\n"
    "        self.score = nn.Linear(backbone.config.hidden_size, 1, bias=False)\n\n"
    "    def forward(self, input_ids, attention_mask):\n"
)
_RM_HIDDEN = "        h = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state\n"
_RM_ROWS = "        rows = torch.arange(h.shape[0], device=h.device)\n"
RM_MISTAKES = [
    Mistake(
        "read the reward at the final position, which is padding in right-padded rows",
        "the last real token of a right-padded row is not at −1: use last_token_index(attention_mask).",
        _RM_HEAD + _RM_HIDDEN + "        return self.score(h[:, -1]).squeeze(-1)\n",
    ),
    Mistake(
        "indexed the last token with mask.sum() − 1, which is wrong for left-padded rows",
        "with left padding the last real token is at T − 1: take the largest position where the mask is 1.",
        _RM_HEAD + _RM_HIDDEN + _RM_ROWS + "        idx = attention_mask.long().sum(-1) - 1\n"
        "        return self.score(h[rows, idx]).squeeze(-1)\n",
    ),
    Mistake(
        "mean-pooled the hidden states instead of reading the last real token",
        "a causal model's last real position is the only one that has seen the whole response: read it there.",
        _RM_HEAD + _RM_HIDDEN + "        m = attention_mask.unsqueeze(-1).to(h.dtype)\n"
        "        return self.score((h * m).sum(1) / m.sum(1)).squeeze(-1)\n",
    ),
    Mistake(
        "read the first token (as in BERT's [CLS]) instead of the last",
        "in a causal transformer position 0 has seen only the first token; read the last real one.",
        _RM_HEAD + _RM_HIDDEN + "        return self.score(h[:, 0]).squeeze(-1)\n",
    ),
    Mistake(
        "did not pass the attention mask to the backbone (padding was attended to)",
        "call self.backbone(input_ids=..., attention_mask=attention_mask): with left padding the real tokens "
        "otherwise attend to the pad tokens.",
        _RM_HEAD
        + "        h = self.backbone(input_ids=input_ids).last_hidden_state\n"
        + _RM_ROWS
        + "        pos = torch.arange(h.shape[1], device=h.device)\n"
        "        idx = (pos * (attention_mask != 0)).argmax(-1)\n"
        "        return self.score(h[rows, idx]).squeeze(-1)\n",
    ),
    Mistake(
        "returned shape [B, 1] instead of [B]",
        "the head outputs one number per row in a [B, 1] tensor: squeeze(-1) it to [B].",
        _RM_HEAD + _RM_HIDDEN + _RM_ROWS + "        pos = torch.arange(h.shape[1], device=h.device)\n"
        "        idx = (pos * (attention_mask != 0)).argmax(-1)\n"
        "        return self.score(h[rows, idx])\n",
    ),
    Mistake(
        "squashed the reward through a sigmoid",
        "a Bradley–Terry reward is an unbounded real number (a logit), not a probability: return the head's output.",
        _RM_HEAD + _RM_HIDDEN + _RM_ROWS + "        pos = torch.arange(h.shape[1], device=h.device)\n"
        "        idx = (pos * (attention_mask != 0)).argmax(-1)\n"
        "        return torch.sigmoid(self.score(h[rows, idx]).squeeze(-1))\n",
    ),
]


# --------------------------------------------------------------------------------------------
# expected_calibration_error
# --------------------------------------------------------------------------------------------


def _ece_cases() -> list[Case]:
    g = seeded(33)
    p1 = torch.rand(24, generator=g) * 0.98 + 0.01
    y1 = (torch.rand(24, generator=g) < p1 * 0.7).float()
    p2 = torch.rand(16, generator=g) * 0.9 + 0.05
    y2 = torch.rand(16, generator=g) < 0.6
    p4 = torch.tensor([0.0, 1.0, 1.0, 0.93, 0.07, 0.55, 0.42, 1.0, 0.0, 0.81])
    y4 = torch.tensor([0, 1, 0, 1, 0, 1, 1, 1, 1, 0])
    p6 = torch.rand(60, generator=g, dtype=torch.float64) * 0.96 + 0.02
    y6 = (torch.rand(60, generator=g, dtype=torch.float64) < p6**2).double()
    return [
        Case("probs [24] with float 0/1 labels, 10 bins", (p1, y1)),
        Case("probs [16] with bool labels, 5 bins", (p2, y2), {"n_bins": 5}),
        Case(
            "a calibrated toy set: eight predictions of 0.25 and 0.75, right 1/4 and 3/4 of the time",
            (
                torch.tensor([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75]),
                torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]),
            ),
        ),
        Case("probs exactly 0.0 and 1.0 with int labels, 10 bins", (p4, y4)),
        Case(
            "an overconfident set: probs near 0.95 right only 60% of the time",
            (
                torch.tensor([0.96, 0.94, 0.97, 0.95, 0.93, 0.98, 0.96, 0.94, 0.97, 0.95]),
                torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]),
            ),
        ),
        Case("float64 probs [60], 15 bins", (p6, y6), {"n_bins": 15}, hidden=True),
        Case("probs [10] incl. 1.0, 4 bins", (p4.flip(0), y4), {"n_bins": 4}, hidden=True),
    ]


_ECE_HEAD = "import torch\n\ndef expected_calibration_error(probs, labels, n_bins=10):\n"
_ECE_BINS = (
    "    p = probs.double()\n    y = labels.double()\n"
    "    b = torch.clamp((p * n_bins).floor().long(), max=n_bins - 1)\n"
    "    gaps, counts = [], []\n"
    "    for k in range(n_bins):\n"
    "        sel = b == k\n"
    "        if sel.any():\n"
    "            gaps.append(y[sel].mean() - p[sel].mean())\n"
    "            counts.append(sel.sum())\n"
    "    gaps, counts = torch.stack(gaps), torch.stack(counts).double()\n"
)
ECE_MISTAKES = [
    Mistake(
        "averaged the bins' gaps without weighting by how many predictions each holds",
        "ECE weights each bin by its share of the predictions: Σ_b (n_b / N) |acc_b − conf_b|.",
        _ECE_HEAD + _ECE_BINS + "    return gaps.abs().mean()\n",
    ),
    Mistake(
        "divided by the number of bins (empty bins counted as zero gaps)",
        "weight each bin by n_b / N, the fraction of predictions that fall in it.",
        _ECE_HEAD + _ECE_BINS + "    return gaps.abs().sum() / n_bins\n",
    ),
    Mistake(
        "forgot the absolute value (gaps of opposite sign cancel)",
        "an over-confident bin and an under-confident bin do not make a calibrated model: take |acc_b − conf_b|.",
        _ECE_HEAD + _ECE_BINS + "    return (counts / counts.sum() * gaps).sum()\n",
    ),
    Mistake(
        "squared the gaps",
        "ECE uses the absolute gap |acc_b − conf_b| (the squared version is a different score).",
        _ECE_HEAD + _ECE_BINS + "    return (counts / counts.sum() * gaps**2).sum()\n",
    ),
    Mistake(
        "compared each prediction with its own label (no binning)",
        "calibration compares the *average* confidence with the *frequency* of the label inside each bin.",
        _ECE_HEAD + "    return (probs.double() - labels.double()).abs().mean()\n",
    ),
    Mistake(
        "binned with round() instead of floor()",
        "bin b covers [b/n_bins, (b+1)/n_bins): its index is floor(p · n_bins), clamped so that p = 1 is in the last bin.",
        _ECE_HEAD + "    p = probs.double()\n    y = labels.double()\n"
        "    b = torch.clamp((p * n_bins).round().long(), max=n_bins - 1)\n"
        "    total = 0.0\n"
        "    for k in range(n_bins):\n"
        "        sel = b == k\n"
        "        if sel.any():\n"
        "            total = total + sel.sum() / len(p) * (y[sel].mean() - p[sel].mean()).abs()\n"
        "    return total\n",
    ),
    Mistake(
        "left predictions of exactly 1.0 out of every bin",
        "with half-open bins [b/n, (b+1)/n) the value 1.0 falls outside: the last bin must include it.",
        _ECE_HEAD + "    p = probs.double()\n    y = labels.double()\n"
        "    total = 0.0\n"
        "    for k in range(n_bins):\n"
        "        sel = (p >= k / n_bins) & (p < (k + 1) / n_bins)\n"
        "        if sel.any():\n"
        "            total = total + sel.sum() / len(p) * (y[sel].mean() - p[sel].mean()).abs()\n"
        "    return total\n",
    ),
]


EXERCISES = [
    Exercise(
        f"{WEEK}.bradley_terry_loss",
        points=2,
        make_cases=_bt_cases,
        mistakes=BT_MISTAKES,
        alternatives=[
            "import torch\nimport torch.nn.functional as F\n\n"
            "def bradley_terry_loss(chosen_rewards, rejected_rewards, margin=None):\n"
            "    x = (chosen_rewards - rejected_rewards).double()\n"
            "    if margin is not None:\n"
            "        x = x - torch.as_tensor(margin, dtype=torch.float64, device=x.device)\n"
            "    return F.softplus(-x).mean().to(chosen_rewards.dtype)\n",
            "import torch\n\n"
            "def bradley_terry_loss(chosen_rewards, rejected_rewards, margin=None):\n"
            "    x = chosen_rewards - rejected_rewards - (0 if margin is None else margin)\n"
            "    per_pair = torch.clamp(-x, min=0) + torch.log1p(torch.exp(-x.abs()))\n"
            "    return per_pair.sum() / len(per_pair)\n",
        ],
        summary="Bradley–Terry preference loss",
    ),
    Exercise(
        f"{WEEK}.last_token_index",
        points=1,
        make_cases=_lti_cases,
        mistakes=LTI_MISTAKES,
        alternatives=[
            "import torch\n\ndef last_token_index(attention_mask):\n"
            "    T = attention_mask.shape[-1]\n"
            "    return T - 1 - (attention_mask != 0).long().flip(-1).argmax(-1)\n",
            "import torch\n\ndef last_token_index(attention_mask):\n"
            "    out = []\n"
            "    for row in attention_mask.tolist():\n"
            "        out.append(max(i for i, v in enumerate(row) if v))\n"
            "    return torch.tensor(out)\n",
        ],
        summary="position of the last real token (left or right padding)",
    ),
    Exercise(
        f"{WEEK}.RewardModel",
        points=3,
        make_cases=_rm_cases,
        mistakes=RM_MISTAKES,
        call=_rm_call,
        alternatives=[
            "import torch\nimport torch.nn as nn\n\n"
            "class RewardModel(nn.Module):\n"
            "    def __init__(self, backbone):\n"
            "        super().__init__()\n"
            "        self.backbone = backbone\n"
            "        self.score = nn.Linear(backbone.config.n_embd, 1, bias=False)\n\n"
            "    def forward(self, input_ids, attention_mask):\n"
            "        out = self.backbone(input_ids, attention_mask=attention_mask, output_hidden_states=True)\n"
            "        h = out.hidden_states[-1]\n"
            "        rewards = []\n"
            "        for b in range(h.shape[0]):\n"
            "            last = attention_mask[b].nonzero()[-1, 0]\n"
            "            rewards.append(h[b, last] @ self.score.weight[0])\n"
            "        return torch.stack(rewards)\n",
        ],
        summary="a scalar reward head on a causal transformer",
    ),
    Exercise(
        f"{WEEK}.expected_calibration_error",
        points=2,
        make_cases=_ece_cases,
        mistakes=ECE_MISTAKES,
        alternatives=[
            "import torch\n\ndef expected_calibration_error(probs, labels, n_bins=10):\n"
            "    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)[1:-1].to(probs.device)\n"
            "    b = torch.bucketize(probs.double(), edges, right=True)\n"
            "    y = labels.double()\n"
            "    counts = torch.zeros(n_bins, dtype=torch.float64, device=probs.device).index_add_(0, b, torch.ones_like(y))\n"
            "    conf = torch.zeros_like(counts).index_add_(0, b, probs.double())\n"
            "    acc = torch.zeros_like(counts).index_add_(0, b, y)\n"
            "    return ((acc - conf).abs() / len(y)).sum()\n",
        ],
        summary="expected calibration error of binary predictions",
    ),
]
