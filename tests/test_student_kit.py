"""`make student-kit`: what students get holds no answer, and works on its own."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest
from helpers import COURSE

from autograder.student_kit import build_kit

# Exercises whose visible check needs a trained network (minutes of training): left out of the run.
NEEDS_TRAINING = {"model"}


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_kit(COURSE, tmp_path_factory.mktemp("kit") / "student-kit")


def _solution_cells(assignment: str) -> dict[str, str]:
    nb = nbformat.read(COURSE.source_notebook(assignment), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def _answer_lines(source: str) -> set[str]:
    """Distinctive lines of a solution block: long enough that sharing one is no coincidence."""
    inside, lines = False, set()
    for line in source.splitlines():
        text = line.strip()
        if "BEGIN SOLUTION" in text:
            inside = True
        elif "END SOLUTION" in text:
            inside = False
        elif inside and len(text) >= 40 and not text.startswith("#"):
            lines.add(text)
    return lines


def _kit_texts(kit: Path) -> dict[str, str]:
    texts = {}
    for path in kit.rglob("*"):
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    if name.endswith((".py", ".txt", ".json", ".md", ".toml")) or "METADATA" in name:
                        texts[f"{path.name}:{name}"] = zf.read(name).decode("utf-8", "replace")
        elif path.is_file() and path.suffix in {".ipynb", ".txt", ".yml", ".md", ".py"}:
            texts[str(path.relative_to(kit))] = path.read_text(errors="replace")
    return texts


def test_the_kit_holds_no_solution_no_hidden_test_and_no_grader_module(kit: Path) -> None:
    with zipfile.ZipFile(next((kit / "wheels").glob("cnnlab-*.whl"))) as zf:
        names = zf.namelist()
    assert any(n.startswith("cnnlab/expected/") for n in names), "the recorded visible results are missing"
    assert not [n for n in names if not n.startswith(("cnnlab/", "cnnlab-"))], names
    texts = _kit_texts(kit)
    assert any(n.endswith("LC_MESSAGES/cnnlab.mo") for n in names), "the Chinese messages are missing"
    notebooks = [t for t in texts if t.endswith(".ipynb")]
    for folder in ("course/", "course-zh/"):  # both languages: every assignment and the glossary
        assert len([t for t in notebooks if t.startswith(folder)]) == len(COURSE.assignments()) + 1, folder
    leaks = []
    for name, text in texts.items():
        for marker in ("BEGIN HIDDEN TESTS", "hidden_tests(", "BEGIN SOLUTION", "import autograder",
                       "from autograder"):
            if marker in text:
                leaks.append(f"{name}: {marker}")
        for needle in (r"\b\w+_reference\(", r"\b\w+_case\(t\)"):
            leaks += [f"{name}: {m}" for m in set(re.findall(needle, text))]
    for assignment in COURSE.assignments():
        for grade_id, source in _solution_cells(assignment).items():
            for line in _answer_lines(source):
                leaks += [f"{name}: {assignment}/{grade_id}: {line}" for name, text in texts.items() if line in text]
    assert not leaks, "\n".join(sorted(leaks)[:30])


def _kit_python(kit: Path, venv: Path) -> Path:
    """A fresh venv holding only the kit's wheel; its third-party packages are this venv's (same pins).

    The dev venv's site-packages is added as a plain path, so its ``.pth`` files (the editable
    install of this project, which would expose ``autograder``) are not processed.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "course-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    with zipfile.ZipFile(next((kit / "wheels").glob("cnnlab-*.whl"))) as zf:
        zf.extractall(site)
    return python


_RUNNER = r'''
import json, sys, traceback
import matplotlib
matplotlib.use("Agg")
cells = json.load(open(sys.argv[1]))
ns = {"__name__": "__main__"}
import __main__
failures = []
for label, source in cells:
    code = "\n".join(l for l in source.splitlines() if not l.lstrip().startswith(("%", "!")))
    try:
        exec(compile(code, label, "exec"), __main__.__dict__)
    except BaseException as exc:
        failures.append(f"{label}: {type(exc).__name__}: {str(exc)[:300]}")
try:
    import autograder  # noqa: F401
    failures.append("the grader package is importable from the kit")
except ImportError:
    pass
import cnnlab
print(json.dumps({"failures": failures, "cnnlab": cnnlab.__file__}))
'''


def test_a_fresh_venv_with_only_the_kit_runs_every_visible_check(kit: Path, tmp_path: Path) -> None:
    python = _kit_python(kit, tmp_path / "venv")
    work = tmp_path / "work"
    work.mkdir()
    (work / "runner.py").write_text(_RUNNER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env |= {"MPLBACKEND": "Agg", "COURSE_DEVICE": "cpu"}
    checks = 0
    for assignment in COURSE.assignments():
        answers = _solution_cells(assignment)
        released = nbformat.read(kit / "course" / assignment / f"{assignment}.ipynb", as_version=4)
        cells = []
        for cell in released.cells:
            meta = cell.metadata.get("nbgrader", {})
            gid = meta.get("grade_id", "")
            if cell.cell_type != "code" or gid.removeprefix("test_") in NEEDS_TRAINING:
                continue
            if gid == "setup" or (meta.get("grade") and not meta.get("solution")):
                cells.append((f"<{assignment}:{gid}>", cell.source))  # the setup and visible-check cells
                checks += cell.source.count("check(")
            elif meta.get("solution"):
                cells.append((f"<{assignment}:{gid}>", answers[gid]))  # a correct answer, as a student writes it
        (work / f"{assignment}.json").write_text(json.dumps(cells))
        run = subprocess.run([str(python), "runner.py", f"{assignment}.json"], cwd=work, env=env,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-2000:]
        report = json.loads(run.stdout.strip().splitlines()[-1])
        assert report["cnnlab"].startswith(str(tmp_path / "venv")), report["cnnlab"]
        assert not report["failures"], "\n".join(report["failures"])
    assert checks >= 30
