"""Loading the committed world data, and drawing preference pairs from the gold reward."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from courselib.world import world as W
from courselib.world.generate import expand_rows

DATA_DIR = Path(__file__).resolve().parents[2] / "datasets" / "world"
SPLITS = ("train", "val", "test")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file into a list of dicts."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write rows as JSON lines (ASCII, fixed key order: byte-identical for identical rows)."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(json.dumps(row, ensure_ascii=True) + "\n" for row in rows)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def load_split(split: str, data_dir: Path | None = None) -> list[dict[str, Any]]:
    """All labelled (prompt, response) records of a split: ``"train"``, ``"val"`` or ``"test"``.

    The file stores one line per prompt with its candidate responses; this returns one
    flat record per (prompt, response) with ``id``, ``prompt_id``, ``prompt``, ``response``,
    ``text`` (the full dialogue, ending with ``<|endoftext|>``), ``request_kind``,
    ``response_kind``, ``category``, ``subtype``, ``gold_reward`` and the fields the gold
    reward needs to re-score any text: ``answer``/``answer_type``/``answer_field``, ``pii``.

    Every prompt appears once per candidate response, so group by ``prompt_id`` (or use
    ``unique_prompts``) when you want each prompt once.
    """
    _check_split(split)
    return expand_rows(read_jsonl((data_dir or DATA_DIR) / f"{split}.jsonl"))


def load_directory(data_dir: Path | None = None) -> list[dict[str, str]]:
    """The world's directory of fake people (name, address, phone, email)."""
    return read_jsonl((data_dir or DATA_DIR) / "directory.jsonl")


def unique_prompts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per ``prompt_id`` (the first seen), keeping order: use for evaluation."""
    seen: set[str] = set()
    out = []
    for rec in records:
        if rec["prompt_id"] not in seen:
            seen.add(rec["prompt_id"])
            out.append(rec)
    return out


def make_preference_pairs(records: list[dict[str, Any]], noise: float = 0.0, seed: int = 0) -> list[dict[str, Any]]:
    """One preference pair per prompt, ranked by the gold reward, with label noise.

    For each prompt, one pair of its candidate responses with *different* gold rewards is
    drawn uniformly; the better one is ``chosen``. Then, independently for each pair, the
    labels are swapped with probability ``noise`` (``flipped=True``; a flipped pair has
    ``chosen_reward < rejected_reward``). The pair draw and the flips use separate random
    streams, so for a given ``seed`` raising ``noise`` only flips more of the same pairs.

    The fields are ready for ``trl.DPOTrainer`` / ``RewardTrainer``: ``prompt`` is the
    formatted prompt (``"User: ...\\nAssistant:"``), ``chosen``/``rejected`` are the
    responses with a leading space and no end-of-text token.
    """
    if not 0.0 <= noise <= 1.0:
        raise ValueError("noise must be in [0, 1]")
    pick, flip = random.Random(f"pairs-{seed}"), random.Random(f"flips-{seed}")
    by_prompt: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        by_prompt[rec["prompt_id"]].append(rec)
    pairs = []
    for prompt_id, group in by_prompt.items():
        options = [(a, b) for i, a in enumerate(group) for b in group[i + 1 :] if a["gold_reward"] != b["gold_reward"]]
        if not options:
            continue
        a, b = pick.choice(options)
        chosen, rejected = (a, b) if a["gold_reward"] > b["gold_reward"] else (b, a)
        flipped = flip.random() < noise
        if flipped:
            chosen, rejected = rejected, chosen
        pairs.append(
            {
                "prompt_id": prompt_id,
                "prompt": W.format_prompt(chosen["prompt"]),
                "chosen": " " + chosen["response"],
                "rejected": " " + rejected["response"],
                "chosen_kind": chosen["response_kind"],
                "rejected_kind": rejected["response_kind"],
                "chosen_reward": chosen["gold_reward"],
                "rejected_reward": rejected["gold_reward"],
                "request_kind": chosen["request_kind"],
                "category": chosen["category"],
                "flipped": flipped,
            }
        )
    return pairs


def load_preferences(
    split: str, noise: float = 0.0, seed: int = 0, data_dir: Path | None = None
) -> list[dict[str, Any]]:
    """Preference pairs of a split (see ``make_preference_pairs``).

    ``noise=0, seed=0`` reads the committed ``preferences_{split}.jsonl``; other settings
    are drawn on the fly from the split's records (deterministic for a given seed).
    """
    _check_split(split)
    path = (data_dir or DATA_DIR) / f"preferences_{split}.jsonl"
    if noise == 0.0 and seed == 0 and path.exists():
        return read_jsonl(path)
    return make_preference_pairs(load_split(split, data_dir), noise=noise, seed=seed)


DATASHEET = DATA_DIR.parent / "README.md"


def update_datasheet(section: str, markdown: str, path: Path = DATASHEET) -> None:
    """Replace the text between ``<!-- {section}:BEGIN ... -->`` and ``<!-- {section}:END -->``."""
    if not path.exists():
        return
    text = path.read_text(encoding="utf-8")
    begin = text.index(f"<!-- {section}:BEGIN")
    begin = text.index("-->", begin) + len("-->")
    end = text.index(f"<!-- {section}:END -->")
    path.write_text(text[:begin] + "\n" + markdown.strip() + "\n" + text[end:], encoding="utf-8")
