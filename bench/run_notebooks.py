"""Run every solution notebook top to bottom, hidden tests included, on one device; print seconds per notebook.

The GPU path of the course without Jupyter: each notebook's code cells run in order in an
IPython shell (magics work), with ``COURSE_DEVICE`` choosing the device that ``pick_device``
and the hidden tests use. A cell that raises is reported with its first line and the error.
A benchmark and a smoke check for machines without the full stack (e.g. a lent GPU), not a test::

    COURSE_DEVICE=cuda python bench/run_notebooks.py [--source DIR] [NAME ...]

``--source build/solutions-zh`` with ``COURSE_LANG=zh`` runs the Chinese edition (``make release``
writes that folder); the last column counts the printed lines in Chinese.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    # %matplotlib inline needs a kernel; the Agg backend draws the same figures.
    return ["\n".join(ln for ln in c.splitlines() if not ln.startswith("%matplotlib")) for c in cells]


def run_notebook(path: Path) -> tuple[float, list[str], int]:
    """Seconds to run ``path``'s code cells, one line per cell that raised, and the printed lines in Chinese."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.reset(new_session=True)
    errors: list[str] = []
    printed = io.StringIO()
    start = time.perf_counter()
    for i, source in enumerate(_cells(path)):
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):  # their own output
            result = shell.run_cell(source, silent=True, store_history=False)
        failure = result.error_before_exec or result.error_in_exec
        if failure is not None:
            first = source.strip().splitlines()[0] if source.strip() else ""
            errors.append(f"cell {i} ({first[:60]}): {type(failure).__name__}: {str(failure)[:300]}")
    import matplotlib.pyplot as plt

    plt.close("all")
    chinese = sum(1 for line in printed.getvalue().splitlines() if any("\u4e00" <= c <= "\u9fff" for c in line))
    return time.perf_counter() - start, errors, chinese


def main(argv: list[str]) -> int:
    import torch

    from cnnlab.device import describe, pick_device

    source = ROOT / "solutions"
    if argv[:1] == ["--source"]:
        source, argv = Path(argv[1]).resolve(), argv[2:]
    wanted = set(argv)
    notebooks = sorted(p for p in source.glob("*/*.ipynb") if not wanted or p.stem in wanted)
    print(f"torch {torch.__version__}, device {describe(pick_device())}", flush=True)
    failed = 0
    for path in notebooks:
        seconds, errors, chinese = run_notebook(path)
        status = "ok" if not errors else f"{len(errors)} cell(s) failed"
        print(f"{path.stem:28s} {seconds:7.1f} s  {status:20s} {chinese:4d} lines in Chinese", flush=True)
        for line in errors:
            print("    " + line, flush=True)
        failed += bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
