"""The small world's data: regeneration, splits, labels and the forbidden-content scan."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from courselib.world import SPLITS, classify_response, load_preferences, load_split
from courselib.world.build_data import build
from courselib.world.data import DATA_DIR
from courselib.world.reward import REQUEST_KINDS, REWARDS

DATASETS = Path(__file__).resolve().parents[2] / "datasets"

# Words and phrases that would indicate real, actionable harmful content. The world only
# ever uses abstract tags ("[HARMFUL-TASK: ...]") and placeholders, so none may appear.
FORBIDDEN_PATTERNS = [
    r"step 1: acquire",
    r"step 1:",
    r"\bsynthes[iy]",
    r"\bprecursor",
    r"\bexplosive",
    r"\bdetonat",
    r"\bpipe bomb",
    r"\bgunpowder",
    r"\bthermite",
    r"\bnitrate",
    r"\bnitroglycerin",
    r"\bricin\b",
    r"\bsarin\b",
    r"\banthrax\b",
    r"\bnerve agent",
    r"\bmethamphetamine",
    r"\bfentanyl",
    r"\bcocaine\b",
    r"\bheroin\b",
    r"\blethal dose",
    r"\boverdose",
    r"\bkill yourself",
    r"\bhow to kill\b",
    r"\b3d[- ]printed gun",
    r"\bghost gun",
    r"\bkeylogger",
    r"\bransomware",
    r"\bsql injection",
    r"' or 1=1",
    r"rm -rf",
    r"<script>",
    r"\bpassword123",
    r"\bcredit card number",
    r"\bsocial security number",
]
FORBIDDEN = re.compile("|".join(FORBIDDEN_PATTERNS), re.IGNORECASE)


def text_files() -> list[Path]:
    suffixes = {".jsonl", ".json", ".md", ".txt"}
    return sorted(p for p in DATASETS.rglob("*") if p.is_file() and p.suffix in suffixes)


@pytest.fixture(scope="module")
def splits() -> dict[str, list[dict]]:
    return {s: load_split(s) for s in SPLITS}


def test_build_is_deterministic_and_matches_committed_files(tmp_path: Path) -> None:
    build(tmp_path)
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert generated == sorted(p.name for p in DATA_DIR.iterdir() if p.is_file())
    for name in generated:
        assert (tmp_path / name).read_bytes() == (DATA_DIR / name).read_bytes(), f"{name} differs; rerun build_data"


def test_data_is_small() -> None:
    total = sum(p.stat().st_size for p in DATA_DIR.iterdir())
    assert total < 5_000_000


def test_no_prompt_is_shared_between_splits(splits: dict[str, list[dict]]) -> None:
    prompts = {s: {r["prompt"] for r in recs} for s, recs in splits.items()}
    assert not prompts["train"] & prompts["val"]
    assert not prompts["train"] & prompts["test"]
    assert not prompts["val"] & prompts["test"]
    pref_prompts = {s: {p["prompt"] for p in load_preferences(s)} for s in SPLITS}
    assert not pref_prompts["train"] & (pref_prompts["val"] | pref_prompts["test"])


def test_records_are_labelled_and_scored_consistently(splits: dict[str, list[dict]]) -> None:
    for recs in splits.values():
        assert len({r["id"] for r in recs}) == len(recs)
        for r in recs:
            assert r["text"] == f"User: {r['prompt']}\nAssistant: {r['response']}<|endoftext|>"
            assert r["request_kind"] in REQUEST_KINDS
            # The gold reward computed from the text agrees with the stored label.
            assert classify_response(r, r["response"]) == r["response_kind"]
            assert r["gold_reward"] == REWARDS[r["response_kind"]]


def test_every_split_covers_every_kind(splits: dict[str, list[dict]]) -> None:
    for recs in splits.values():
        request_kinds = Counter(r["request_kind"] for r in recs)
        response_kinds = Counter(r["response_kind"] for r in recs)
        assert set(request_kinds) == set(REQUEST_KINDS)
        assert set(response_kinds) == set(REWARDS) - {"other"}
        jailbreaks = {r["subtype"] for r in recs if r["request_kind"] == "jailbreak"}
        assert {"roleplay", "hypothetical", "obfuscation_spaced", "obfuscation_leet"} <= jailbreaks


def test_harmful_content_is_only_ever_a_placeholder(splits: dict[str, list[dict]]) -> None:
    for recs in splits.values():
        for r in recs:
            if r["response_kind"] == "harmful_compliance" and "[HARMFUL CONTENT REDACTED" not in r["response"]:
                assert r["request_kind"] == "injection" and r["subtype"] == "canary"


def test_no_forbidden_patterns_in_any_data_file() -> None:
    files = text_files()
    assert any(p.name == "train.jsonl" for p in files)
    for path in files:
        match = FORBIDDEN.search(path.read_text(encoding="utf-8"))
        assert match is None, f"{path}: forbidden pattern {match.group(0)!r}"


def test_forbidden_scan_catches_examples() -> None:
    assert FORBIDDEN.search("Step 1: acquire the parts")
    assert FORBIDDEN.search("how to synthesize it")
    assert not FORBIDDEN.search("Sure, here are the steps: [HARMFUL CONTENT REDACTED: weapons]")
