"""The container image, checked where no Docker daemon answers (as on this project's machines): the
compose file against the Compose Specification's own JSON Schema, and the Dockerfile's recipe followed
step by step — the files it copies, installed as it installs them (not editable), its entry point and its
health check run from that install. Building the image itself needs a Docker daemon and its base image from
Docker Hub, which these machines have neither of: `docker build -t raretrace .` (docs/deploy.md)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "tests" / "vectors" / "compose-spec" / "compose-spec.json"


def _validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    assert schema["$schema"].startswith("https://json-schema.org/draft-07/")
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("name", ["compose.yaml", "compose.consortium.yaml"])
def test_compose_files_follow_the_compose_specification(name: str) -> None:
    document = yaml.safe_load((ROOT / name).read_text())
    errors = _validator().iter_errors(document)
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
    assert not problems, problems


@pytest.mark.parametrize(
    "mutation",
    [
        lambda d: d["services"].setdefault("bad", {"image": 3}),
        lambda d: d["services"][next(iter(d["services"]))].__setitem__("ports", "8000"),
        lambda d: d.__setitem__("servics", {}),
    ],
    ids=["image not a string", "ports not a list", "unknown top-level key"],
)
def test_the_schema_check_refuses_a_broken_compose_file(mutation: Any) -> None:
    document = yaml.safe_load((ROOT / "compose.yaml").read_text())
    mutation(document)
    assert list(_validator().iter_errors(document))


def _recipe() -> tuple[list[tuple[str, str]], list[str], list[str], list[str]]:
    """The Dockerfile's COPY (source, destination) pairs, RUN steps, ENTRYPOINT and HEALTHCHECK CMD."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    copies: list[tuple[str, str]] = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["COPY"]:
            *sources, destination = words[1:]
            copies += [(s, destination) for s in sources]
    run = re.search(r"^RUN (.*)$", text, re.M)
    entry = re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M)
    health = re.search(r"HEALTHCHECK .*?CMD (\[.*\])", text)
    assert run and entry and health, "the Dockerfile has a RUN, an ENTRYPOINT and a HEALTHCHECK"
    return copies, run.group(1).split(" && "), json.loads(entry.group(1)), json.loads(health.group(1))


def test_the_dockerfile_recipe_installs_and_runs(tmp_path: Path) -> None:
    copies, run_steps, entry, health = _recipe()
    app = tmp_path / "app"
    app.mkdir()
    for source, destination in copies:  # exactly the files the image gets, nothing of the checkout else
        # COPY a b ./ puts a and b in the folder; COPY src ./src names the target itself
        target = app / destination / Path(source).name if destination.endswith("/") else app / destination
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / source, target)
    assert run_steps[0] == "pip install .", run_steps
    venv = tmp_path / "venv"
    # the image's environment: nothing on PYTHONPATH, so only the installed copy can answer
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    # the image installs the project with its dependencies; here they come from the test environment, as
    # do the build requirements ([build-system] requires, in the test extras), so nothing is downloaded
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q", "."],
        cwd=app,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert install.returncode == 0, install.stderr
    where = subprocess.run(
        [str(python), "-c", "import raretrace, sys; sys.stdout.write(raretrace.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert str(venv) in where.stdout, "the installed copy, not the checkout, answers"
    command = venv / "bin" / entry[0]
    version = subprocess.run(
        [str(command), "--version"], capture_output=True, text=True, check=False, env=env
    )
    assert version.returncode == 0 and version.stdout.startswith("raretrace "), version.stderr
    # package data travels with a non-editable install: the regimes and the serve config it names
    regimes = subprocess.run(
        [str(command), "regimes", "--json"], capture_output=True, text=True, check=False, env=env
    )
    assert regimes.returncode == 0, regimes.stderr
    assert len(json.loads(regimes.stdout)["regimes"]) >= 5
    config = subprocess.run(
        [
            str(python),
            "-c",
            "from raretrace.server.config import read_config; from pathlib import Path; "
            "read_config(Path('deploy/serve.toml'))",
        ],
        cwd=app,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert config.returncode == 0, config.stderr
    assert health[0] == "python" and health[1] == "-c"
    compile(health[2], "HEALTHCHECK", "exec")  # the health check is valid Python
