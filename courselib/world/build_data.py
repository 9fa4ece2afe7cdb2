"""Regenerate every data file of the small world: ``python -m courselib.world.build_data``.

Writes into ``datasets/world/`` (or ``--out DIR``): ``{train,val,test}.jsonl``,
``preferences_{split}.jsonl`` (noise 0), ``directory.jsonl``, ``towns.jsonl`` and
``STATS.md`` (label tables, also pasted into ``datasets/README.md``). Same seed, same bytes.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from courselib.world import world as W
from courselib.world.data import DATA_DIR, make_preference_pairs, update_datasheet, write_jsonl
from courselib.world.generate import DEFAULT_SEED, expand_rows, generate_splits
from courselib.world.reward import REQUEST_KINDS, RESPONSE_KINDS, REWARDS


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def stats_markdown(
    splits: dict[str, list[dict[str, Any]]],
    prefs: dict[str, list[dict[str, Any]]],
    out: Path,
) -> str:
    """Label distributions and file sizes as Markdown tables."""
    names = list(splits)
    parts = ["## Files\n"]
    files = sorted(p for p in out.iterdir() if p.suffix == ".jsonl")
    parts.append(
        _table(
            ["file", "lines", "bytes"],
            [[p.name, len(p.read_text().splitlines()), p.stat().st_size] for p in files],
        )
    )

    parts.append("\n\n## Prompts per request kind (unique prompts)\n")
    counts = {
        s: Counter(r["request_kind"] for r in {r["prompt_id"]: r for r in recs}.values()) for s, recs in splits.items()
    }
    parts.append(
        _table(
            ["request kind", *names],
            [[k, *(counts[s][k] for s in names)] for k in REQUEST_KINDS],
        )
    )

    parts.append("\n\n## Prompts per category (unique prompts)\n")
    cats = {
        s: Counter(f"{r['request_kind']}/{r['category']}" for r in {r["prompt_id"]: r for r in recs}.values())
        for s, recs in splits.items()
    }
    keys = sorted(set().union(*cats.values()))
    parts.append(
        _table(
            ["request kind / category", *names],
            [[k, *(cats[s][k] for s in names)] for k in keys],
        )
    )

    parts.append("\n\n## Records per response kind (one record per candidate response)\n")
    kinds = {s: Counter(r["response_kind"] for r in recs) for s, recs in splits.items()}
    rows = [[k, REWARDS[k], *(kinds[s][k] for s in names)] for k in RESPONSE_KINDS if any(kinds[s][k] for s in names)]
    parts.append(_table(["response kind", "gold reward", *names], rows))

    parts.append("\n\n## Preference pairs (noise 0): chosen kind > rejected kind\n")
    pk = {s: Counter(f"{p['chosen_kind']} > {p['rejected_kind']}" for p in ps) for s, ps in prefs.items()}
    keys = sorted(set().union(*pk.values()))
    parts.append(_table(["pair", *names], [[k, *(pk[s][k] for s in names)] for k in keys]))
    return "\n".join(parts) + "\n"


def build(out: Path = DATA_DIR, seed: int = DEFAULT_SEED) -> dict[str, list[dict[str, Any]]]:
    """Generate all files into ``out``; returns the (expanded) records of each split."""
    out.mkdir(parents=True, exist_ok=True)
    rows, people = generate_splits(seed)
    splits, prefs = {}, {}
    for name, split_rows in rows.items():
        write_jsonl(out / f"{name}.jsonl", split_rows)
        splits[name] = records = expand_rows(split_rows)
        prefs[name] = make_preference_pairs(records, noise=0.0, seed=0)
        write_jsonl(out / f"preferences_{name}.jsonl", prefs[name])
    write_jsonl(out / "directory.jsonl", people)
    write_jsonl(out / "towns.jsonl", W.TOWNS)
    stats = stats_markdown(splits, prefs, out)
    (out / "STATS.md").write_text(stats, encoding="utf-8")
    if out.resolve() == DATA_DIR.resolve():
        update_datasheet("STATS", stats.replace("## ", "### "))
    return splits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    splits = build(args.out, args.seed)
    for name, recs in splits.items():
        print(f"{name}: {len(recs)} records")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
