"""Setup and packaging: one dependency list, an idempotent `make setup`, a pinned kernel."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from autograder.course import KERNEL_NAME, REPO_ROOT


def test_environment_yml_installs_the_project_instead_of_repeating_the_list() -> None:
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-e .[grader,dev]"]
    conda_names = {d.split("=")[0] for d in env["dependencies"] if isinstance(d, str)}
    assert conda_names == {"python", "pip"}


def test_the_one_dependency_list_pins_what_the_course_needs() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]

    def names(deps: list[str]) -> dict[str, str]:
        return {d.split("==")[0].split(">=")[0].split("[")[0]: d for d in deps}

    pinned = names(project["dependencies"])
    assert pinned["torch"] == "torch==2.14.1" and pinned["torchvision"] == "torchvision==0.29.1"
    assert pinned["nbgrader"] == "nbgrader==0.9.6"
    assert pinned["jupyterlab"] == "jupyterlab>=4.4,<5" and pinned["ipywidgets"] == "ipywidgets>=8,<9"
    for name in ("matplotlib", "tqdm"):
        assert name in pinned
    # A student's install carries nothing for grading at scale or for development.
    extras = project["optional-dependencies"]
    assert {"dask", "psycopg2-binary"} <= set(names(extras["grader"])) and not {"dask", "psycopg2-binary"} & set(pinned)
    assert {"pytest", "hypothesis", "ruff", "playwright"} <= set(names(extras["dev"]))
    assert not {"pytest", "hypothesis", "ruff", "playwright"} & set(pinned)


def test_the_course_kernel_runs_this_environment() -> None:
    spec = json.loads((Path(sys.prefix) / "share/jupyter/kernels" / KERNEL_NAME / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable


def test_make_setup_is_idempotent_and_quick_the_second_time() -> None:
    start = time.perf_counter()
    result = subprocess.run(["make", "-s", "setup"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.perf_counter() - start < 30


@pytest.mark.parametrize("target", ["demo", "test", "release", "validate", "lab", "grade", "grade-me", "bench"])
def test_every_documented_target_exists(target: str) -> None:
    result = subprocess.run(["make", "-n", target], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert ".venv/bin" in result.stdout or "setup" in result.stdout


def test_ruff_is_clean() -> None:
    result = subprocess.run([str(Path(sys.executable).parent / "ruff"), "check", "cnnlab", "autograder", "tests",
                             "bench", "tools"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
