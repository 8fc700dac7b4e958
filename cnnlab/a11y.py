"""Accessibility checks for figures, used when ``COURSE_A11Y_CHECK=1`` (the test suite sets it).

Every figure a notebook shows must say what it is: a title (the figure's or each plot's),
and labelled axes. An image grid without ticks may share one pair of labels. A violation
prints one ``[a11y]`` line on stdout; the tests fail on any such line.
"""

from __future__ import annotations

import os

from matplotlib.axes import Axes
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.figure import Figure

ENV_VAR = "COURSE_A11Y_CHECK"
_installed = False


def _has_ticks(ax: Axes) -> bool:
    return bool(ax.get_xticks().size or ax.get_yticks().size) and ax.xaxis.get_visible()


def problems(fig: Figure) -> list[str]:
    """What this figure is missing (empty when it is fine)."""
    axes = [ax for ax in fig.get_axes() if ax.get_visible() and ax.axison and ax.get_label() != "<colorbar>"]
    if not axes:
        return []
    found = []
    suptitle = fig._suptitle.get_text() if fig._suptitle is not None else ""
    untitled = [ax for ax in axes if not ax.get_title() and not ax.get_title("left") and not ax.get_title("right")]
    if untitled and not suptitle:
        found.append(f"{len(untitled)} plot(s) without a title and no figure title")
    any_x = any(ax.get_xlabel() for ax in axes) or (fig._supxlabel is not None and fig._supxlabel.get_text())
    any_y = any(ax.get_ylabel() for ax in axes) or (fig._supylabel is not None and fig._supylabel.get_text())
    for ax in axes:
        with_ticks = bool(ax.get_xticklabels()) and any(t.get_text() for t in ax.get_xticklabels())
        if with_ticks and not (ax.get_xlabel() and ax.get_ylabel()) and ax.name != "polar":
            name = ax.get_title() or suptitle or "a plot"
            found.append(f"{name!r}: axes without labels (x: {ax.get_xlabel()!r}, y: {ax.get_ylabel()!r})")
    if not (any_x and any_y):
        found.append("no axis labels anywhere in the figure")
    return found


def install() -> None:
    """Check every figure when it is drawn for display (inline backend or savefig)."""
    global _installed
    if _installed:
        return
    original = FigureCanvasBase.print_figure

    def checked_print_figure(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        for problem in problems(self.figure):
            print(f"[a11y] {problem}")
        return original(self, *args, **kwargs)

    FigureCanvasBase.print_figure = checked_print_figure
    _installed = True


def install_if_requested() -> None:
    if os.environ.get(ENV_VAR, "").strip() in ("1", "true", "yes"):
        install()
