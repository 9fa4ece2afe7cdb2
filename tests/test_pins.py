"""environment.yml and binder/ carry exactly the project's own pins."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from graders.reference import REPO_ROOT


def _project_pins() -> dict[str, str]:
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    specs = project["dependencies"] + [d for group in project["optional-dependencies"].values() for d in group]
    return dict(_parse(s) for s in specs)


def _parse(spec: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s+;]+)(\+\w+)?\s*", spec)
    assert match, f"not an exact pin: {spec!r} (every dependency must be pinned with ==)"
    return match.group(1).lower().replace("_", "-"), match.group(2)


def _yaml_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        item = line.strip()
        if item.startswith("- ") and "==" in item:
            name, version = _parse(item[2:])
            pins[name] = version
    return pins


def test_environment_yml_matches_pyproject():
    assert _yaml_pins(REPO_ROOT / "environment.yml") == _project_pins()


def test_binder_matches_pyproject():
    assert _yaml_pins(REPO_ROOT / "binder" / "environment.yml") == _project_pins()


def test_installed_versions_are_the_pinned_ones():
    from importlib.metadata import version

    for name, pinned in _project_pins().items():
        assert version(name).split("+")[0] == pinned, f"{name}: installed {version(name)}, pinned {pinned}"
