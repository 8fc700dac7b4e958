"""Edit course notebooks as text: convert between .ipynb and a compact percent format.

The .ipynb files in ``solutions/`` stay the single source of truth; this is an editing
view. Cell headers carry the nbgrader role:

    # %% [markdown]                         a text cell
    # %%                                    a plain code cell
    # %% [setup] id=setup                   locked code cell (runs first, restored at grading)
    # %% [solution] id=conv_output_size     the student's answer cell
    # %% [tests] id=test_conv_output_size points=2    a locked, graded test cell
    # %% [answer] id=think_two_3x3 points=2           a written answer, graded by hand (markdown:
                                                      the model answer and rubric; students get a blank)

Usage:
    python tools/nbtext.py to-ipynb notebook.py  [-o out.ipynb]
    python tools/nbtext.py to-py    notebook.ipynb [-o out.py]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

KERNELSPEC = {"name": "cnn-course", "display_name": "Python 3 (cnn-course)", "language": "python"}
LANGUAGE_INFO = {"name": "python", "version": "3.11"}
HEADER = re.compile(r"^# %%(?: \[(?P<role>[a-z]+)\])?(?P<attrs>(?: [a-z_]+=[^ ]+)*)\s*$")


def _nbgrader(role: str, attrs: dict[str, str]) -> dict:
    meta = {"grade": False, "locked": False, "schema_version": 3, "solution": False, "task": False}
    if role in ("setup", "locked"):
        meta["locked"] = True
    elif role == "solution":
        meta["solution"] = True
    elif role == "tests":
        meta.update(grade=True, locked=True, points=float(attrs.get("points", 1)))
    elif role == "answer":
        meta.update(grade=True, solution=True, points=float(attrs.get("points", 1)))
    meta["grade_id"] = attrs["id"]
    return meta


def py_to_notebook(text: str) -> nbformat.NotebookNode:
    """Parse the percent format into a notebook with nbgrader metadata."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    chunks: list[tuple[str | None, dict[str, str], list[str]]] = []
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            attrs = dict(a.split("=", 1) for a in m.group("attrs").split())
            chunks.append((m.group("role"), attrs, []))
        elif chunks:
            chunks[-1][2].append(line)
    for index, (role, attrs, lines) in enumerate(chunks):
        while lines and not lines[-1].strip():
            lines.pop()
        if role in ("markdown", "answer"):
            body = "\n".join(re.sub(r"^# ?", "", ln) for ln in lines)
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
        if role not in (None, "markdown"):
            if "id" not in attrs:
                raise SystemExit(f"nbtext: a [{role}] cell needs id=...")
            cell.metadata["nbgrader"] = _nbgrader(role, attrs)
            if role in ("setup", "locked", "tests"):
                cell.metadata["editable"] = False
                cell.metadata["deletable"] = False
        cell.id = attrs["id"].replace("_", "-") if "id" in attrs else f"cell-{index:03d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def notebook_to_py(nb: nbformat.NotebookNode) -> str:
    """Write a notebook back in the percent format."""
    out: list[str] = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown" and meta.get("grade"):
            points = meta.get("points", 1)
            points = int(points) if float(points).is_integer() else points
            out.append(f"# %% [answer] id={meta['grade_id']} points={points}")
            out += [("# " + ln).rstrip() for ln in cell.source.splitlines()]
        elif cell.cell_type == "markdown":
            out.append("# %% [markdown]")
            out += [("# " + ln).rstrip() for ln in cell.source.splitlines()]
        else:
            if meta.get("grade"):
                points = meta.get("points", 1)
                points = int(points) if float(points).is_integer() else points
                out.append(f"# %% [tests] id={meta['grade_id']} points={points}")
            elif meta.get("solution"):
                out.append(f"# %% [solution] id={meta['grade_id']}")
            elif meta.get("locked"):
                role = "setup" if meta["grade_id"] == "setup" else "locked"
                out.append(f"# %% [{role}] id={meta['grade_id']}")
            else:
                out.append("# %%")
            out += cell.source.splitlines()
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("direction", choices=["to-ipynb", "to-py"])
    parser.add_argument("path", type=Path)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)
    if args.direction == "to-ipynb":
        nb = py_to_notebook(args.path.read_text())
        out = args.output or args.path.with_suffix(".ipynb")
        nbformat.write(nb, out)
    else:
        text = notebook_to_py(nbformat.read(args.path, as_version=4))
        out = args.output or args.path.with_suffix(".py")
        out.write_text(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
