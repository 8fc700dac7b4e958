"""Issue 15: one student never costs another their grade, and no machine failure becomes a grade.

One class holds an honest student beside submissions that used to stop a whole run (a bad
timestamp, a lone surrogate, JSON nested 100,000 levels deep, a forged score), symlinks to
other notebooks, and copy-pasted cells. Each is its own failure or rejection with a reason;
everyone else is graded. Machine faults (a broken kernelspec, missing data) stop the run
before anything is recorded, and a plain re-run after the fix grades everyone.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from helpers import COURSE, EXAMPLES, trimmed_copy

from autograder.backends import LocalBackend
from autograder.course import Workspace
from autograder.engine import NOT_GRADED, grade
from autograder.intake import collect
from autograder.submissions import discover_layout

pytestmark = pytest.mark.grading
NB01 = "01_conv_arithmetic"
FULL = EXAMPLES / "submissions" / "student-full" / NB01 / f"{NB01}.ipynb"


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          cwd=COURSE.root, timeout=900, env={**os.environ, **(env or {})})


def _place(root: Path, student: str) -> Path:
    return root / student / NB01 / f"{NB01}.ipynb"


def _released_answer(grade_id: str) -> str:
    nb = nbformat.read(COURSE.release_notebook(NB01), as_version=4)
    return next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _duplicated(source: Path, target: Path, *, answer_first: bool) -> None:
    """A full solution in which an answer cell and its test cell were copy-pasted in JupyterLab.

    The stub copy is the released cell; the student wrote the answer in the other copy.
    """
    nb = nbformat.read(source, as_version=4)
    index = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(nb.cells)}
    answer, test = index["conv_output_size"], index["test_conv_output_size"]
    stub = copy.deepcopy(nb.cells[answer])
    stub.source, stub["id"] = _released_answer("conv_output_size"), "pasted-answer"
    test_copy = copy.deepcopy(nb.cells[test])
    test_copy["id"] = "pasted-test"
    nb.cells.insert(test + 1, test_copy)
    nb.cells.insert(answer + (1 if answer_first else 0), stub)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


def _with_raw_json(source: Path, target: Path, edit) -> None:  # noqa: ANN001
    data = json.loads(source.read_text(encoding="utf-8"))
    text = edit(data)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _surrogate(data: dict) -> str:
    data["cells"].insert(1, {"cell_type": "markdown", "id": "lone", "metadata": {}, "source": "SURROGATE"})
    return json.dumps(data).replace('"SURROGATE"', '"a lone \\ud800 surrogate"')


def _nested(data: dict) -> str:
    data["metadata"]["deep"] = "DEEP"
    return json.dumps(data).replace('"DEEP"', '{"a": ' * 100_000 + "1" + "}" * 100_000)


FORGED_SCORE = (
    "from IPython import get_ipython\n"
    "get_ipython().events.register('post_run_cell', lambda result: get_ipython().displayhook(1000))\n"
)


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("isolation")
    subs = root / "subs"
    honest = trimmed_copy(FULL, _place(subs, "honest"))
    trimmed_copy(FULL, _place(subs, "bad-timestamp"))
    (_place(subs, "bad-timestamp").parent / "timestamp.txt").write_text("the day before the deadline\n")
    _with_raw_json(honest, _place(subs, "surrogate"), _surrogate)
    _with_raw_json(honest, _place(subs, "nested"), _nested)
    forged = nbformat.read(honest, as_version=4)
    for cell in forged.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = FORGED_SCORE + _released_answer(cell.metadata.nbgrader.grade_id)
    _place(subs, "forged-score").parent.mkdir(parents=True)
    nbformat.write(forged, _place(subs, "forged-score"))
    _duplicated(honest, _place(subs, "pasted-answer-first"), answer_first=True)
    _duplicated(honest, _place(subs, "pasted-answer-second"), answer_first=False)
    _place(subs, "link-to-solution").parent.mkdir(parents=True)
    _place(subs, "link-to-solution").symlink_to(COURSE.source_notebook(NB01))
    (subs / "link-to-honest").symlink_to(subs / "honest")
    ws = root / "ws"
    result = _cli("--workspace", str(ws), "grade", str(subs), "--no-progress", "--workers", "2")
    again = _cli("--workspace", str(ws), "grade", str(subs), "--no-progress", "--workers", "2")
    return result, again, Workspace(ws)


def _scores(ws: Workspace) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(ws.gradebook_url) as gb:
        return {s.student.id: float(s.score) for s in gb.assignment_submissions(NB01)}


def test_bad_files_are_rejected_one_line_each_and_the_rest_are_graded(hostile_class) -> None:
    result, _, ws = hostile_class
    out = result.stdout
    assert result.returncode == 2, out + result.stderr
    rejected = {line.split(": ", 1)[1].split("/")[-3] if "/" in line else line: line
                for line in out.splitlines() if line.startswith("rejected: ")}
    assert any("bad-timestamp" in line and "timestamp.txt is not a date" in line for line in rejected.values())
    assert any("nested" in line and "nested too deeply" in line for line in rejected.values())
    assert any("link-to-solution" in line and "symbolic link" in line for line in rejected.values())
    assert any("link-to-honest" in line and "symbolic link" in line for line in rejected.values())
    assert len(rejected) == 4, out
    assert _scores(ws) == {"honest": 10.0, "surrogate": 10.0, "pasted-answer-first": 10.0,
                           "pasted-answer-second": 10.0, "forged-score": 0.0}


def test_a_re_run_does_not_stop_on_the_same_files(hostile_class) -> None:
    _, again, ws = hostile_class
    assert again.returncode == 2, again.stdout + again.stderr
    assert "5 already graded, skipped" in again.stdout
    assert not (ws.submitted / "link-to-solution").exists(), "a symlinked solution was copied into submitted/"


def test_a_zip_with_duplicate_names_symlinks_or_lying_sizes_rejects_only_those_entries(tmp_path) -> None:
    good = trimmed_copy(FULL, tmp_path / "good.ipynb").read_bytes()
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"ada_{NB01}.ipynb", good)
        zf.writestr(f"twice_{NB01}.ipynb", good)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr(f"twice_{NB01}.ipynb", good)
        link = zipfile.ZipInfo(f"link_{NB01}.ipynb")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "../../solutions/01_conv_arithmetic/01_conv_arithmetic.ipynb")
        zf.writestr(f"liar_{NB01}.ipynb", good)
    data = bytearray(archive.read_bytes())
    name = f"liar_{NB01}.ipynb".encode()
    central = data.rfind(b"PK\x01\x02")
    while central >= 0 and data[central + 46:central + 46 + len(name)] != name:
        central = data.rfind(b"PK\x01\x02", 0, central)
    data[central + 24:central + 28] = (len(good) // 2).to_bytes(4, "little")  # uncompressed size: a lie
    archive.write_bytes(bytes(data))
    subs, rejected = collect(archive, COURSE)
    assert [s.student for s in subs] == ["ada"]
    reasons = {Path(str(r.path)).name: r.reason for r in rejected}
    assert sum("entries with this name" in r.reason for r in rejected) == 2
    assert "symbolic link" in reasons[f"link_{NB01}.ipynb"]
    assert "damaged zip entry" in reasons[f"liar_{NB01}.ipynb"]


def _broken_kernelspec(root: Path) -> dict:
    spec = root / "jupyter" / "kernels" / "cnn-course"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": ["/bin/false", "{connection_file}"],
                                                  "display_name": "broken", "language": "python"}))
    return {"JUPYTER_PATH": str(root / "jupyter")}


def test_a_broken_kernel_records_nothing_exits_non_zero_and_a_re_run_after_the_fix_grades(tmp_path) -> None:
    subs = tmp_path / "subs"
    trimmed_copy(FULL, _place(subs, "ada"))
    trimmed_copy(FULL, _place(subs, "alan"))
    ws = tmp_path / "ws"
    broken = _cli("--workspace", str(ws), "grade", str(subs), "--no-progress", env=_broken_kernelspec(tmp_path))
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "preflight" in broken.stderr and "kernel-start-failed" in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1
    assert _scores(Workspace(ws)) == {} and not (ws / "autograded").exists()
    fixed = _cli("--workspace", str(ws), "grade", str(subs), "--no-progress")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert _scores(Workspace(ws)) == {"ada": 10.0, "alan": 10.0}


def test_a_kernel_that_cannot_start_is_retried_then_not_graded_never_scored(tmp_path, monkeypatch) -> None:
    for key, value in _broken_kernelspec(tmp_path).items():
        monkeypatch.setenv(key, value)
    subs = tmp_path / "subs"
    trimmed_copy(FULL, _place(subs, "ada"))
    found, _ = discover_layout(subs, COURSE)
    ws = Workspace(tmp_path / "ws")
    run = grade(COURSE, ws, found, backend=LocalBackend(1), progress=False, check_machine=False)
    (outcome,) = run.outcomes
    assert outcome.status == NOT_GRADED and "kernel-start-failed" in outcome.reason and "tried 3x" in outcome.reason
    assert _scores(ws) == {}, "an infrastructure failure was recorded as a grade"
    assert not (ws.autograded / "ada" / NB01 / ".grading.json").exists()


def test_missing_course_data_stops_the_run_before_anything_is_recorded(tmp_path) -> None:
    subs = tmp_path / "subs"
    nb07 = "07_mnist_convnet"
    source = EXAMPLES / "submissions" / "student-untouched" / nb07 / f"{nb07}.ipynb"
    trimmed_copy(source, subs / "ada" / nb07 / f"{nb07}.ipynb")
    (tmp_path / "empty").mkdir()
    result = _cli("--workspace", str(tmp_path / "ws"), "grade", str(subs), "--no-progress",
                  env={"COURSE_DATA_DIR": str(tmp_path / "empty")})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "preflight" in result.stderr and "MNIST was not found" in result.stderr
    assert _scores(Workspace(tmp_path / "ws")) == {}
