"""Keep hidden-test source out of feedback (nbgrader shows it by default)."""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import Unicode


class HideHiddenTests(ClearHiddenTests):
    """Replace each hidden-test region with a one-line note. Outputs are kept.

    The failure messages the hidden tests printed stay visible: they are the feedback.
    Modifies cells in place.
    """

    placeholder = Unicode(
        "# (hidden tests ran here: random inputs compared with PyTorch; their code is not shown)"
        "  # 此处运行了隐藏测试：用随机输入与 PyTorch 比较，代码不显示",
        help="Line that replaces each hidden-test region in feedback.",
    ).tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        cell_index: int) -> tuple[NotebookNode, ResourcesDict]:
        if cell.cell_type == "code" and self.begin_test_delimeter in cell.source:
            lines, out, hidden = cell.source.split("\n"), [], False
            for line in lines:
                if self.begin_test_delimeter in line:
                    hidden = True
                    out.append(self.placeholder)
                elif self.end_test_delimeter in line:
                    hidden = False
                elif not hidden:
                    out.append(line)
            cell.source = "\n".join(out)
        return cell, resources
