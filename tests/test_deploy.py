"""deploy/z2jh: the Zero to JupyterHub values and the single-user image built from binder/.

- the values, merged over the chart's defaults as Helm merges them, validate against the chart's
  own values schema (vendored from one release, deploy/z2jh/chart/SOURCE.md), and a typo does not;
- the exchange is one ReadWriteMany claim mounted where every pod's nbgrader looks for it, the
  instructors named for the hub are the ones whose pods get the course directory, and the nbgrader
  config grades through the sandbox;
- the image definition (repo2docker reads binder/): the project's pins, JupyterHub for
  ``jupyterhub-singleuser``, bubblewrap, nbgrader's extensions, the course outside the home volume.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from typing import Any

import pytest
import yaml

from graders.reference import REPO_ROOT

Z2JH = REPO_ROOT / "deploy" / "z2jh"
BINDER = REPO_ROOT / "binder"


def _merge(defaults: Any, values: Any) -> Any:
    """Helm's merge of user values over a chart's values.yaml: maps recursively, anything else replaced."""
    if isinstance(defaults, dict) and isinstance(values, dict):
        out = copy.deepcopy(defaults)
        for key, value in values.items():
            if value is None:
                out.pop(key, None)  # null deletes a default in Helm
            else:
                out[key] = _merge(out.get(key), value)
        return out
    return copy.deepcopy(values)


def _values() -> dict[str, Any]:
    return yaml.safe_load((Z2JH / "values.yaml").read_text())


def _errors(values: dict[str, Any]) -> list[str]:
    import jsonschema

    schema = json.loads((Z2JH / "chart" / "values.schema.json").read_text())
    defaults = yaml.safe_load((Z2JH / "chart" / "values.yaml").read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(_merge(defaults, values))
    ]


def test_values_validate_against_the_chart_schema():
    assert _errors(_values()) == []


def test_the_schema_catches_a_typo():
    values = _values()
    values["singleuser"]["storage"]["extraVolumeMount"] = values["singleuser"]["storage"].pop("extraVolumeMounts")
    assert any("extraVolumeMount" in e for e in _errors(values))


def _nbgrader_config(user: str, values: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    from traitlets.config import Config

    source = values["singleuser"]["extraFiles"]["nbgrader-config"]["stringData"]
    monkeypatch.setenv("JUPYTERHUB_USER", user)
    monkeypatch.setenv("COURSE_INSTRUCTORS", values["singleuser"]["extraEnv"]["COURSE_INSTRUCTORS"])
    config = Config()
    exec(compile(source, "nbgrader_config.py", "exec"), {"get_config": lambda: config})
    return config


def test_exchange_instructors_and_grading(monkeypatch: pytest.MonkeyPatch):
    values = _values()
    single = values["singleuser"]
    pvc = yaml.safe_load((Z2JH / "exchange-pvc.yaml").read_text())
    assert pvc["kind"] == "PersistentVolumeClaim" and pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    (volume,) = [v for v in single["storage"]["extraVolumes"] if v["name"] == "nbgrader-exchange"]
    assert volume["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    (mount,) = [m for m in single["storage"]["extraVolumeMounts"] if m["name"] == "nbgrader-exchange"]
    assert single["extraFiles"]["nbgrader-config"]["mountPath"] == "/etc/jupyter/nbgrader_config.py"

    instructors = values["hub"]["config"]["Authenticator"]["admin_users"]
    assert single["extraEnv"]["COURSE_INSTRUCTORS"].split(",") == instructors
    teacher = _nbgrader_config(instructors[0], values, monkeypatch)
    student = _nbgrader_config("some-student", values, monkeypatch)
    for config in (teacher, student):
        assert config.Exchange.root == mount["mountPath"]
        assert config.CourseDirectory.course_id
        names = [p.__name__ for p in config.Autograde.autograde_preprocessors]
        assert "TrustedGrades" in names  # grades come from the sandbox
    assert teacher.CourseDirectory.root.startswith(single["storage"].get("homeMountPath", "/home/jovyan"))
    assert "root" not in student.CourseDirectory  # students have no course directory


def _project_pins() -> dict[str, str]:
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    return dict(d.split("==") for d in deps)


def test_the_image_definition():
    env = yaml.safe_load((BINDER / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = dict(p.split("==") for p in pip if "==" in p and not p.startswith("torch"))
    assert pins == _project_pins()  # tests/test_pins.py checks the same for every file
    assert "jupyterhub" in pins, "the image runs jupyterhub-singleuser"
    assert "bubblewrap" in (BINDER / "apt.txt").read_text().split(), "the grading sandbox"
    post = (BINDER / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post
    for extension in ("formgrader", "assignment_list", "course_list", "validate_assignment"):
        assert f"nbgrader.server_extensions.{extension}" in post
    assert "labextension enable" in post and "@jupyter/nbgrader" in post

    script = (Z2JH / "build-image.sh").read_text()
    image = re.search(r"^IMAGE=(\S+)$", script, re.M)
    assert image and image.group(1) == _values()["singleuser"]["image"]["name"]
    target = re.search(r"--target-repo-dir (\S+)", script)
    assert target and not target.group(1).startswith("/home/jovyan"), "the home volume would hide the course"
    assert "--user-id 1000" in script and _values()["singleuser"]["cmd"] == "jupyterhub-singleuser"
