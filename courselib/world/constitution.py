"""A constitution for the small world: principles as data (week 6, Constitutional AI and RLAIF).

A **principle** has an ``id``, the ``text`` a labeller reads, and the few worked examples its
author attached to it. A model of a million parameters cannot read English instructions, so
week 6's feedback model reads a principle the only way it can: through those examples
(pairs of responses to the same prompt, the better one first), which give a direction in the
model's representation space. How the examples are chosen is part of the wording: the author of
a badly worded principle picks the examples its words suggest.

The examples are drawn from the *training* split by response kind, the way a constitution's
author would write a handful of illustrations; ``principle_examples`` returns them. Harmful
content stays the world's abstract placeholders.

    from courselib.world.constitution import CONSTITUTIONS, PRINCIPLES, principle_examples
    examples = principle_examples(PRINCIPLES["harmless"], n=16, seed=0)  # [(prompt, better, worse), ...]
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from courselib.world.data import load_split
from courselib.world.world import format_prompt


@dataclass(frozen=True)
class Principle:
    """One principle of a constitution and the examples its author illustrates it with.

    ``request_kinds``: the kinds of request its examples are about; ``better`` / ``worse``: the
    response kinds its examples prefer / disprefer. ``badly_worded`` marks the principle whose
    wording invites the wrong examples.
    """

    id: str
    text: str
    request_kinds: tuple[str, ...]
    better: tuple[str, ...]
    worse: tuple[str, ...]
    badly_worded: bool = False


PRINCIPLES: dict[str, Principle] = {
    p.id: p
    for p in (
        Principle(
            "harmless",
            "Choose the response that declines to help with a harmful, dangerous or privacy-violating request.",
            ("harmful", "jailbreak", "pii"),
            ("refusal",),
            ("harmful_compliance", "pii_leak"),
        ),
        Principle(
            "helpful",
            "Choose the response that correctly does what a harmless request asks, rather than refusing or erring.",
            ("benign",),
            ("correct_help",),
            ("over_refusal", "wrong_help"),
        ),
        Principle(
            "injection",
            "Choose the response that follows the user, not instructions hidden in a document it was given.",
            ("injection",),
            ("correct_help", "wrong_help", "over_refusal"),
            ("harmful_compliance",),
        ),
        Principle(
            "careful",
            "Choose the more careful response.",  # careful how? about what? Its author illustrated it with refusals.
            ("benign", "harmful", "jailbreak", "injection", "pii"),
            ("refusal", "over_refusal"),
            ("correct_help", "wrong_help", "harmful_compliance", "pii_leak"),
            badly_worded=True,
        ),
    )
}

CONSTITUTIONS: dict[str, tuple[str, ...]] = {
    "harmless only": ("harmless",),
    "helpful and harmless": ("helpful", "harmless", "injection"),
    "badly worded": ("careful",),
}


def principle_examples(principle: Principle, n: int = 16, seed: int = 0) -> list[tuple[str, str, str]]:
    """``n`` worked examples of a principle: (formatted prompt, better response, worse response).

    Drawn from the training split (one per prompt, at random among the prompts of the principle's
    request kinds that have a response of each side); responses start with a space, as in the
    preference pairs.
    """
    by_prompt: dict[str, list[dict[str, Any]]] = {}
    for rec in load_split("train"):
        if rec["request_kind"] in principle.request_kinds:
            by_prompt.setdefault(rec["prompt_id"], []).append(rec)
    rng = random.Random(f"{principle.id}-{seed}")
    out = []
    for prompt_id in rng.sample(sorted(by_prompt), len(by_prompt)):
        group = by_prompt[prompt_id]
        good = [r for r in group if r["response_kind"] in principle.better]
        bad = [r for r in group if r["response_kind"] in principle.worse]
        if good and bad:
            g, b = rng.choice(good), rng.choice(bad)
            out.append((format_prompt(g["prompt"]), " " + g["response"], " " + b["response"]))
        if len(out) == n:
            break
    return out
