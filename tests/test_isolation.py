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
import zipfile
from pathlib import Path

import nbformat
import pytest
from helpers import COURSE, EXAMPLES, assignment_scores, run_cli, trimmed_copy

from autograder.backends import LocalBackend
from autograder.course import Workspace
from autograder.engine import NOT_GRADED, grade
from autograder.intake import collect
from autograder.submissions import discover_layout

pytestmark = pytest.mark.grading
NB01 = "01_conv_arithmetic"
FULL = EXAMPLES / "submissions" / "student-full" / NB01 / f"{NB01}.ipynb"


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


ESCAPES = r"""
import ctypes, json, os, resource, stat, sys
import cnnlab
libc = ctypes.CDLL(None, use_errno=True)
def _mount(source, target, fstype, flags):
    if libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags, None) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
def _write(path):
    with open(path, "w") as fh:
        fh.write("pwned")
def _raise_pids():
    os.makedirs("/tmp/cg", exist_ok=True)
    _mount("cgroup", "/tmp/cg", "cgroup", 0)
    _write("/tmp/cg/pids.max")
attempts = {
    "remount-venv-rw": lambda: _mount("none", sys.prefix, None, 32 | 4096),
    "write-venv": lambda: _write(os.path.join(sys.prefix, "pwned")),
    "write-course-library": lambda: _write(os.path.join(os.path.dirname(cnnlab.__file__), "pwned.py")),
    "write-etc": lambda: _write("/etc/pwned"),
    "mount-tmpfs": lambda: _mount("tmpfs", "/tmp", "tmpfs", 0),
    "mknod": lambda: os.mknod("/tmp/null2", 0o666 | stat.S_IFCHR, os.makedev(1, 3)),
    "raise-pids-max": _raise_pids,
    "setuid-root": lambda: os.setuid(0),
    "raise-rlimit": lambda: resource.setrlimit(resource.RLIMIT_AS, (-1, -1)),
}
results = {}
for name, attempt in attempts.items():
    try:
        attempt()
        results[name] = "SUCCEEDED"
    except Exception as exc:
        results[name] = type(exc).__name__
results["uid"] = os.getuid()
results["grader-env"] = sorted(k for k in os.environ if k.startswith(("NBGRADER", "JPY", "GRADER_SECRET")))
print("ESCAPES " + json.dumps(results))
big = "x" * (2**20)
written = 0
try:
    for i in range(40):
        with open(f"fill-{i}.bin", "w") as fh:
            for _ in range(100):
                fh.write(big)
        written += 100
except OSError as exc:
    print(f"FILL stopped after {written} MiB: {type(exc).__name__}")
for i in range(40):
    if os.path.exists(f"fill-{i}.bin"):
        os.remove(f"fill-{i}.bin")
"""

DISPLAY_FLOOD = """
from IPython.display import display
handle = display("a small output", display_id=True)
for copy in range(20):
    display("another view", display_id=handle.display_id)
for step in range(30):
    handle.update("y" * 1_000_000)
display({"image/png": "iVBORw0KGgo" * 400_000}, raw=True)
"""

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
    escapes = nbformat.read(honest, as_version=4)
    escapes.cells.insert(2, nbformat.v4.new_code_cell(ESCAPES))
    _place(subs, "escape-attempts").parent.mkdir(parents=True)
    nbformat.write(escapes, _place(subs, "escape-attempts"))
    flood = nbformat.read(honest, as_version=4)
    flood.cells.insert(2, nbformat.v4.new_code_cell(DISPLAY_FLOOD))
    _place(subs, "display-flood").parent.mkdir(parents=True)
    nbformat.write(flood, _place(subs, "display-flood"))
    _duplicated(honest, _place(subs, "pasted-answer-first"), answer_first=True)
    _duplicated(honest, _place(subs, "pasted-answer-second"), answer_first=False)
    _place(subs, "link-to-solution").parent.mkdir(parents=True)
    _place(subs, "link-to-solution").symlink_to(COURSE.source_notebook(NB01))
    (subs / "link-to-honest").symlink_to(subs / "honest")
    ws = root / "ws"
    secret = {"GRADER_SECRET_TOKEN": "must-not-reach-the-kernel"}
    result = run_cli("--workspace", str(ws), "grade", str(subs), "--no-progress", "--workers", "2", env=secret)
    again = run_cli("--workspace", str(ws), "grade", str(subs), "--no-progress", "--workers", "2")
    return result, again, Workspace(ws)


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
    assert assignment_scores(ws, NB01) == {"honest": 12.0, "surrogate": 12.0, "pasted-answer-first": 12.0,
                           "pasted-answer-second": 12.0, "forged-score": 0.0, "escape-attempts": 12.0,
                           "display-flood": 12.0}


def test_display_data_and_its_updates_are_capped_like_text(hostile_class) -> None:
    _, _, ws = hostile_class
    path = ws.autograded_notebook("display-flood", NB01)
    assert path.stat().st_size < 6_000_000, f"the graded notebook is {path.stat().st_size:,} bytes"
    assert "[output-limit]" in path.read_text(encoding="utf-8")


@pytest.mark.sandbox
def test_the_kernel_is_unprivileged_cannot_raise_its_limits_and_cannot_fill_the_disk(hostile_class) -> None:
    from autograder.sandbox import detect

    if not detect().bwrap:
        pytest.skip("bubblewrap is not installed")
    _, _, ws = hostile_class
    nb = nbformat.read(ws.autograded_notebook("escape-attempts", NB01), as_version=4)
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    line = next(x for x in text.splitlines() if x.startswith("ESCAPES "))
    results = json.loads(line[len("ESCAPES "):])
    assert results.pop("uid") == 65534
    assert results.pop("grader-env") == [], "the grader's environment reached the kernel"
    assert not [name for name, outcome in results.items() if outcome == "SUCCEEDED"], results
    if detect().scratch_quota:
        assert "FILL stopped after" in text and "MiB: OSError" in text, text[-500:]
        stopped = int(text.split("FILL stopped after ")[1].split(" MiB")[0])
        assert stopped <= 2100, "the scratch quota (2 GiB) did not hold"


def test_a_re_run_does_not_stop_on_the_same_files(hostile_class) -> None:
    _, again, ws = hostile_class
    assert again.returncode == 2, again.stdout + again.stderr
    assert "7 already graded, skipped" in again.stdout
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


def test_the_50_mib_cap_applies_to_every_input(tmp_path) -> None:
    big = _place(tmp_path / "subs", "ada")
    big.parent.mkdir(parents=True)
    big.write_bytes(b'{"cells": [], "nbformat": 4, "x": "' + b"x" * (51 * 2**20) + b'"}')
    subs, rejected = discover_layout(tmp_path / "subs", COURSE)
    assert not subs and "too large" in rejected[0].reason


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
    broken = run_cli("--workspace", str(ws), "grade", str(subs), "--no-progress", env=_broken_kernelspec(tmp_path))
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "preflight" in broken.stderr and "kernel-start-failed" in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1
    assert assignment_scores(Workspace(ws), NB01) == {} and not (ws / "autograded").exists()
    fixed = run_cli("--workspace", str(ws), "grade", str(subs), "--no-progress")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert assignment_scores(Workspace(ws), NB01) == {"ada": 12.0, "alan": 12.0}


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
    assert assignment_scores(ws, NB01) == {}, "an infrastructure failure was recorded as a grade"
    assert not (ws.autograded / "ada" / NB01 / ".grading.json").exists()


def test_missing_course_data_stops_the_run_before_anything_is_recorded(tmp_path) -> None:
    subs = tmp_path / "subs"
    nb07 = "07_mnist_convnet"
    source = EXAMPLES / "submissions" / "student-untouched" / nb07 / f"{nb07}.ipynb"
    trimmed_copy(source, subs / "ada" / nb07 / f"{nb07}.ipynb")
    (tmp_path / "empty").mkdir()
    result = run_cli("--workspace", str(tmp_path / "ws"), "grade", str(subs), "--no-progress",
                  env={"COURSE_DATA_DIR": str(tmp_path / "empty")})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "preflight" in result.stderr and "MNIST was not found" in result.stderr
    assert assignment_scores(Workspace(tmp_path / "ws"), NB01) == {}
