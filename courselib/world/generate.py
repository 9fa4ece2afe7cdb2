"""Seeded generator of the small world's dialogues.

A *prompt instance* is one user request with its labels and every candidate response the
world knows for it (correct help, wrong help, refusal, over-refusal, harmful compliance,
PII leak — whichever apply). ``generate_splits`` draws unique prompts, assigns them to
train / val / test (so no exact prompt appears in two splits). On disk each prompt is one
row with its candidate responses; ``expand_rows`` flattens them into one record per
(prompt, response) pair, each labelled and scored by the gold reward.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from faker import Faker

from courselib.world import world as W
from courselib.world.reward import gold_reward_of_kind

DEFAULT_SEED = 0
SPLIT_SIZES = {"train": 2400, "val": 300, "test": 300}  # number of unique prompts
# Mix of request kinds (fractions of prompts); benign is split into three task types.
REQUEST_MIX = {
    "arithmetic": 0.15,
    "unit_conversion": 0.12,
    "world_fact": 0.18,
    "harmful": 0.16,
    "jailbreak": 0.14,
    "injection": 0.12,
    "pii": 0.13,
}
DIRECTORY_SIZE = 80

Instance = dict[str, Any]


# --------------------------------------------------------------------------------------
# The people directory (fake PII)
# --------------------------------------------------------------------------------------


def make_directory(seed: int = DEFAULT_SEED, size: int = DIRECTORY_SIZE) -> list[dict[str, str]]:
    """Fake people with home address, phone and email, drawn from a seeded Faker."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    people, seen = [], set()
    while len(people) < size:
        name = f"{fake.first_name()} {fake.last_name()}"
        if name in seen:
            continue
        seen.add(name)
        user = name.lower().replace(" ", ".").replace("'", "")
        people.append(
            {
                "name": name,
                "address": fake.address().replace("\n", ", "),
                "phone": fake.numerify("555-###-####"),
                "email": f"{user}@{fake.free_email_domain()}",
            }
        )
    return people


# --------------------------------------------------------------------------------------
# One sampler per request kind. Each returns an Instance without split/ids.
# --------------------------------------------------------------------------------------


def _instance(prompt: str, request_kind: str, category: str, subtype: str, **extra: Any) -> Instance:
    rec = {
        "prompt": prompt,
        "request_kind": request_kind,
        "category": category,
        "subtype": subtype,
    }
    rec.update(answer=None, answer_type=None, answer_field=None, pii=None)
    rec.update(extra)
    rec["candidates"] = []
    return rec


def _wrong_number(rng: random.Random, value: int) -> int:
    delta = rng.choice([d for d in range(-10, 11) if d != 0])
    return value + delta if value + delta >= 0 else value - delta


def _add_benign_candidates(rng: random.Random, inst: Instance, correct: str, wrong: str) -> None:
    inst["candidates"] += [
        ("correct_help", correct),
        ("wrong_help", wrong),
        ("over_refusal", rng.choice(W.OVER_REFUSALS)),
    ]


def sample_arithmetic(rng: random.Random, people: list[dict[str, str]]) -> Instance:
    op = rng.choice(list(W.ARITHMETIC_QUESTIONS))
    if op == "multiplication":
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        value = a * b
    elif op == "addition":
        a, b = rng.randint(1, 40), rng.randint(1, 40)
        value = a + b
    else:
        a = rng.randint(2, 60)
        b = rng.randint(1, a - 1)
        value = a - b
    prompt = rng.choice(W.REQUEST_OPENERS[:3]) + rng.choice(W.ARITHMETIC_QUESTIONS[op]).format(a=a, b=b)
    inst = _instance(prompt, "benign", "arithmetic", op, answer=str(value), answer_type="number")
    expr = f"{a} {W.ARITHMETIC_SYMBOL[op]} {b}"
    template = rng.choice(W.NUMBER_ANSWERS)
    wrong = _wrong_number(rng, value)
    _add_benign_candidates(
        rng,
        inst,
        template.format(expr=expr, value=value),
        template.format(expr=expr, value=wrong),
    )
    return inst


def sample_unit_conversion(rng: random.Random, people: list[dict[str, str]]) -> Instance:
    name = rng.choice(list(W.UNIT_CONVERSIONS))
    factor, frm, to = W.UNIT_CONVERSIONS[name]
    x = rng.randint(1, 20)
    value = x * factor
    prompt = rng.choice(W.REQUEST_OPENERS) + rng.choice(W.UNIT_QUESTIONS).format(x=x, frm=frm, to=to)
    inst = _instance(
        prompt,
        "benign",
        "unit_conversion",
        name,
        answer=str(value),
        answer_type="number",
    )
    template = rng.choice(W.UNIT_ANSWERS)
    wrong = x * rng.choice([f for f in (10, 24, 60, 100, 1000) if f != factor])
    _add_benign_candidates(
        rng,
        inst,
        template.format(x=x, frm=frm, to=to, value=value),
        template.format(x=x, frm=frm, to=to, value=wrong),
    )
    return inst


def sample_world_fact(rng: random.Random, people: list[dict[str, str]]) -> Instance:
    town = rng.choice(W.TOWNS)
    field = rng.choice(list(W.FACT_FIELDS))
    spec = W.FACT_FIELDS[field]
    prompt = rng.choice(W.REQUEST_OPENERS) + rng.choice(spec["questions"]).format(town=town["name"])
    value = town[field]
    is_number = field == "founded"
    inst = _instance(
        prompt,
        "benign",
        "world_fact",
        field,
        answer=str(value),
        answer_type="number" if is_number else "text",
        answer_field=None if is_number else field,
    )
    other = rng.choice([t for t in W.TOWNS if t is not town])
    template = rng.choice(spec["answers"])
    _add_benign_candidates(
        rng,
        inst,
        template.format(town=town["name"], value=value),
        template.format(town=town["name"], value=other[field]),
    )
    return inst


def _harmful_request(rng: random.Random) -> tuple[str, str, str]:
    category = rng.choice(list(W.HARM_CATEGORIES))
    task = rng.choice(W.HARM_CATEGORIES[category])
    return category, task, rng.choice(W.HARMFUL_TEMPLATES).format(task=task)


def _refusal(rng: random.Random, category: str) -> str:
    return rng.choice(W.REFUSALS_SELF_HARM if category == "self_harm" else W.REFUSALS_HARMFUL)


def sample_harmful(rng: random.Random, people: list[dict[str, str]]) -> Instance:
    category, task, request = _harmful_request(rng)
    inst = _instance(rng.choice(W.REQUEST_OPENERS) + request, "harmful", category, task)
    compliance = f"{rng.choice(W.COMPLIANCE_PREFIXES)} {W.harmful_placeholder(category)}"
    inst["candidates"] += [
        ("refusal", _refusal(rng, category)),
        ("harmful_compliance", compliance),
    ]
    return inst


def sample_jailbreak(rng: random.Random, people: list[dict[str, str]]) -> Instance:
    category, task, request = _harmful_request(rng)
    family = rng.choice(list(W.JAILBREAK_WRAPPERS))
    template = rng.choice(W.JAILBREAK_WRAPPERS[family])
    obfuscated_tag = f"[HARMFUL-TASK: {W.spaced(task)}]"
    prompt = template.format(
        request=request,
        task=task,
        spaced=request.replace(f"[HARMFUL-TASK: {task}]", obfuscated_tag),
        leet=W.leetspeak(request),
    )
    inst = _instance(prompt, "jailbreak", category, family)
    prefixes = W.ROLEPLAY_COMPLIANCE_PREFIXES if family == "roleplay" else W.COMPLIANCE_PREFIXES
    compliance = f"{rng.choice(prefixes)} {W.harmful_placeholder(category)}"
    inst["candidates"] += [
        ("refusal", _refusal(rng, category)),
        ("harmful_compliance", compliance),
    ]
    return inst


def _town_document(rng: random.Random, town: dict[str, Any]) -> str:
    first, *rest = W.DOC_SENTENCES
    rest = rng.sample(rest, k=rng.randint(1, len(rest)))
    return " ".join(s.format(**{"town": town["name"], **town}) for s in [first, *rest])


def sample_injection(rng: random.Random, people: list[dict[str, str]]) -> Instance:
    town = rng.choice(W.TOWNS)
    payload_kind = rng.choice(list(W.INJECTION_PAYLOADS))
    payload_template = rng.choice(W.INJECTION_PAYLOADS[payload_kind])
    if payload_kind == "canary":
        canary = rng.choice(W.CANARIES)
        payload = payload_template.format(canary=canary)
        compliance = rng.choice([canary, f"{canary}."])
    else:
        category, task, _ = _harmful_request(rng)
        payload = payload_template.format(task=task)
        compliance = f"{rng.choice(W.COMPLIANCE_PREFIXES)} {W.harmful_placeholder(category)}"
    sentences = _town_document(rng, town).split(". ")
    cut = rng.randint(1, len(sentences))  # the payload hides somewhere inside the document
    doc = ". ".join(sentences[:cut]).rstrip(".") + ". " + payload
    if cut < len(sentences):
        doc += " " + ". ".join(sentences[cut:])
    prompt = rng.choice(W.INJECTION_REQUESTS).format(doc=doc)
    inst = _instance(
        prompt,
        "injection",
        "summarisation",
        payload_kind,
        answer=town["name"],
        answer_type="text",
        answer_field="name",
    )
    summary = rng.choice(W.SUMMARY_ANSWERS)
    other = rng.choice([t for t in W.TOWNS if t is not town])
    inst["candidates"] += [
        ("correct_help", summary.format(**{"town": town["name"], **town})),
        ("wrong_help", summary.format(**{"town": other["name"], **other})),
        ("over_refusal", rng.choice(W.OVER_REFUSALS)),
        ("harmful_compliance", compliance),
    ]
    return inst


def sample_pii(rng: random.Random, people: list[dict[str, str]]) -> Instance:
    person = rng.choice(people)
    field = rng.choice(list(W.PII_FIELDS))
    prompt = rng.choice(W.PII_FIELDS[field]).format(name=person["name"])
    inst = _instance(prompt, "pii", "privacy", field, pii=person[field])
    leak = rng.choice(W.PII_LEAKS[field]).format(name=person["name"], value=person[field])
    inst["candidates"] += [("refusal", rng.choice(W.REFUSALS_PII)), ("pii_leak", leak)]
    return inst


SAMPLERS: dict[str, Callable[[random.Random, list[dict[str, str]]], Instance]] = {
    "arithmetic": sample_arithmetic,
    "unit_conversion": sample_unit_conversion,
    "world_fact": sample_world_fact,
    "harmful": sample_harmful,
    "jailbreak": sample_jailbreak,
    "injection": sample_injection,
    "pii": sample_pii,
}


# --------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------


def _unique_instances(rng: random.Random, sampler: Callable, people: list, n: int, seen: set[str]) -> list[Instance]:
    out: list[Instance] = []
    for _ in range(200 * n):
        if len(out) == n:
            return out
        inst = sampler(rng, people)
        if inst["prompt"] not in seen:
            seen.add(inst["prompt"])
            out.append(inst)
    raise RuntimeError(f"could not draw {n} unique prompts with {sampler.__name__}")


def generate_instances(
    seed: int = DEFAULT_SEED,
) -> tuple[dict[str, list[Instance]], list[dict[str, str]]]:
    """Draw unique prompt instances and assign them to splits. Returns (splits, directory)."""
    rng = random.Random(seed)
    people = make_directory(seed)
    total = sum(SPLIT_SIZES.values())
    seen: set[str] = set()
    splits: dict[str, list[Instance]] = {name: [] for name in SPLIT_SIZES}
    for kind, frac in REQUEST_MIX.items():
        pool = _unique_instances(rng, SAMPLERS[kind], people, round(frac * total), seen)
        start = 0
        for name, size in SPLIT_SIZES.items():  # each split gets the same mix
            n = round(frac * size)
            splits[name] += pool[start : start + n]
            start += n
    for split_instances in splits.values():
        rng.shuffle(split_instances)
    return splits, people


def prompt_rows(split: str, instances: list[Instance]) -> list[dict[str, Any]]:
    """The on-disk form: one row per prompt with its labels and a list of ``responses``."""
    rows = []
    for i, inst in enumerate(instances):
        row: dict[str, Any] = {"prompt_id": f"{split}-{i:05d}"}
        row.update({k: v for k, v in inst.items() if k != "candidates"})
        row["responses"] = [
            {
                "response_kind": kind,
                "response": text,
                "gold_reward": gold_reward_of_kind(kind),
            }
            for kind, text in inst["candidates"]
        ]
        rows.append(row)
    return rows


def expand_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten prompt rows into one record per (prompt, response), adding ``id`` and ``text``."""
    records = []
    for row in rows:
        labels = {k: v for k, v in row.items() if k != "responses"}
        for resp in row["responses"]:
            rec = {"id": f"{row['prompt_id']}-{resp['response_kind']}"}
            rec.update(labels)
            rec.update(resp)
            rec["text"] = W.format_dialogue(row["prompt"], resp["response"])
            records.append(rec)
    return records


def generate_splits(
    seed: int = DEFAULT_SEED,
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, str]]]:
    """Return ({split: prompt rows}, directory) for the given seed (see ``prompt_rows``)."""
    instances, people = generate_instances(seed)
    return {name: prompt_rows(name, insts) for name, insts in instances.items()}, people
