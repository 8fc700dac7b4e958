"""Give every cell an id (nbgrader restores deleted test cells without one)."""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode
from nbformat.v4.nbbase import random_cell_id
from traitlets import Bool


class AssignMissingIds(Preprocessor):
    """Set a fresh, unique ``id`` on each cell that has none (nbformat 4.5 requires one).

    Without it, writing the notebook warns ``MissingIDFieldWarning``. Modifies cells in place.
    """

    enabled = Bool(True, help="nbconvert preprocessors are off unless enabled.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        if (nb.nbformat, nb.nbformat_minor) < (4, 5):
            return nb, resources
        for cell in nb.cells:
            if not cell.get("id"):
                cell["id"] = random_cell_id()
        return nb, resources
