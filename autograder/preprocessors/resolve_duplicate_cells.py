"""Cells duplicated by copy and paste: keep one graded copy and the student's answers.

JupyterLab's copy and paste duplicates a cell with its nbgrader metadata. nbgrader's own
``DeduplicateIds`` then leaves ``nbgrader: {}`` on the earlier copy, which stops
``OverwriteCells``, and the notebook scored 0 as invalid. Instead, for each ``grade_id`` seen
more than once:

- a locked cell (setup, test): the last copy stays, with its metadata (``OverwriteCells`` then
  restores its source); the others are removed, since they are not the student's work;
- an answer cell: copies that are still the released stub are removed (running one after the
  answer would undo it), and of the rest, in notebook order, the last keeps the metadata and
  the others stay as plain code cells, run where the student put them.

Any other ``nbgrader`` metadata without a ``grade_id`` is dropped. Modifies ``nb`` in place.
"""

from __future__ import annotations

from collections import defaultdict

from nbconvert.exporters.exporter import ResourcesDict
from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode
from traitlets import Bool

STUB_MARK = "raise NotImplementedError()"


def _grade_id(cell: NotebookNode) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _is_stub(cell: NotebookNode) -> bool:
    return STUB_MARK in cell.get("source", "") and "YOUR CODE HERE" in cell.get("source", "")


class ResolveDuplicateCells(Preprocessor):
    """Remove or demote duplicated nbgrader cells so that one copy of each ``grade_id`` remains."""

    enabled = Bool(True, help="nbconvert preprocessors are off unless enabled.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        copies: dict[str, list[int]] = defaultdict(list)
        for i, cell in enumerate(nb.cells):
            meta = cell.get("metadata", {})
            if "nbgrader" in meta and not _grade_id(cell):
                del meta["nbgrader"]
            elif _grade_id(cell):
                copies[_grade_id(cell)].append(i)
        drop: set[int] = set()
        for indices in (ix for ix in copies.values() if len(ix) > 1):
            cells = [nb.cells[i] for i in indices]
            if any(c.metadata.nbgrader.get("locked") and not c.metadata.nbgrader.get("solution") for c in cells):
                keep = indices[-1]
                drop.update(i for i in indices if i != keep)
                continue
            answers = [i for i in indices if not _is_stub(nb.cells[i])] or indices[-1:]
            drop.update(i for i in indices if i not in answers)
            for i in answers[:-1]:
                del nb.cells[i].metadata["nbgrader"]
        if drop:
            nb.cells = [c for i, c in enumerate(nb.cells) if i not in drop]
        return nb, resources
