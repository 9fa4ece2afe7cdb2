"""The syllabus: the thirteen weeks, and the README table with Binder and Colab badges per week.

``python -m graders.syllabus`` rewrites the table between the syllabus markers in README.md; a
test fails when README.md is out of date. Badge links read the repository URL from
``[tool.course]`` in pyproject.toml, the one place it is set.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from graders.reference import COURSE, REPO_ROOT
from graders.release import course_settings

SYLLABUS: list[tuple[str, str, str]] = [
    (
        "w00_orientation",
        "Orientation & tensor warm-up",
        "log-softmax, cross-entropy, KL, log-sigmoid, masking, gathering",
    ),
    (
        "w01_transformers",
        "Transformers from scratch & the small world",
        "tokenization, causal attention, a GPT block, sampling",
    ),
    ("w02_rl_foundations", "RL foundations", "returns, REINFORCE, GAE, the PPO clipped objective"),
    ("w03_reward_models", "Reward models", "Bradley-Terry loss, a reward head, accuracy and calibration"),
    ("w04_rlhf", "RLHF with PPO", "per-token KL penalty, GAE on tokens, PPO on a language model"),
    ("w05_dpo", "Direct preference optimisation", "sequence log-probs, the DPO loss, IPO and robust variants"),
    ("w06_constitutional_ai", "Constitutional AI & RLAIF", "critique and revision, AI preference labels"),
    ("w07_red_teaming", "Red teaming", "attack generators, a judge, attack success rate"),
    ("w08_guardrails", "Guardrails", "input and output rails, injection detection"),
    ("w09_interpretability", "Mechanistic interpretability", "hooks, induction heads, activation patching, probes"),
    ("w10_sparse_autoencoders", "Superposition & sparse autoencoders", "toy superposition, SAEs, feature steering"),
    ("w11_debate", "Scalable oversight: debate", "a sparse-pixel judge, debaters, precommitment"),
    ("w12_bias_evaluation", "Bias, evaluation & governance", "bias probes, a BBQ-style score, a model card"),
]

START, END = "<!-- syllabus:start -->", "<!-- syllabus:end -->"


def _badges(week: str) -> str:
    settings = course_settings()
    path = urlparse(settings["repo_url"]).path.strip("/")
    branch = settings["branch"]
    notebook = f"course/{week}/{week}.ipynb"
    binder = f"https://mybinder.org/v2/gh/{path}/{branch}?labpath={notebook}"
    colab = f"https://colab.research.google.com/github/{path}/blob/{branch}/{notebook}"
    return (
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder}) "
        f"[![Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab})"
    )


def released_weeks() -> list[str]:
    """The weeks whose student notebook exists in ``course/``, in course order."""
    return [week for week, _, _ in SYLLABUS if (COURSE / week / f"{week}.ipynb").exists()]


def syllabus_table() -> str:
    """The README's syllabus table: released weeks get badges, the others say they are coming."""
    lines = ["| week | topic | you implement | open |", "|---|---|---|---|"]
    released_now = set(released_weeks())
    for week, title, implement in SYLLABUS:
        released = week in released_now
        link = f"[{title}](course/{week}/{week}.ipynb)" if released else title
        lines.append(f"| {week[:3]} | {link} | {implement} | {_badges(week) if released else 'in preparation'} |")
    return "\n".join(lines)


def render_readme(text: str) -> str:
    """``text`` with the syllabus section replaced by the current table."""
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{syllabus_table()}\n{END}{tail}"


def main() -> None:
    import argparse

    argparse.ArgumentParser(description="Rewrite the syllabus table in README.md.").parse_args()
    readme = REPO_ROOT / "README.md"
    readme.write_text(render_readme(readme.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated {Path(readme).relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
