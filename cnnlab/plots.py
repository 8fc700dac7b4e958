"""Plots shared by the notebooks. Every figure has a title and labelled axes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure


def _to_image(t: torch.Tensor):
    t = t.detach().float().cpu()
    if t.ndim == 3 and t.shape[0] in (1, 3):
        t = t.permute(1, 2, 0)
    if t.ndim == 3 and t.shape[-1] == 1:
        t = t[..., 0]
    return t.numpy()


def show_images(images: Sequence[torch.Tensor], titles: Sequence[str] | None = None, *,
                suptitle: str, ncols: int | None = None, cmap: str = "gray",
                size: float = 2.4, normalize: bool = True) -> Figure:
    """Show tensors (H, W), (1, H, W) or (3, H, W) in a grid, each with its title.

    ``normalize`` rescales single-channel images to their own min..max.
    """
    n = len(images)
    ncols = ncols or min(n, 6)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.6), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.set_visible(False)
            continue
        img = _to_image(images[i])
        kwargs = {} if img.ndim == 3 or normalize else {"vmin": 0.0, "vmax": 1.0}
        ax.imshow(img.clip(0, 1) if img.ndim == 3 else img, cmap=None if img.ndim == 3 else cmap, **kwargs)
        ax.set_title(titles[i] if titles else f"#{i}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if i % ncols == 0:
            ax.set_ylabel("row (pixels)", fontsize=8)
        if i // ncols == nrows - 1:
            ax.set_xlabel("column (pixels)", fontsize=8)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def show_matrix(m: torch.Tensor, *, title: str, xlabel: str, ylabel: str, cmap: str = "coolwarm",
                annotate: bool = False, ax: plt.Axes | None = None) -> Figure:
    """Show a 2-d tensor as a heat map with a colour bar (values printed if ``annotate``)."""
    values = m.detach().float().cpu()
    if ax is None:
        fig, ax = plt.subplots(figsize=(min(12, 1 + 0.35 * values.shape[1]), min(8, 1 + 0.35 * values.shape[0])))
    else:
        fig = ax.figure
    bound = float(values.abs().max()) or 1.0
    image = ax.imshow(values.numpy(), cmap=cmap, vmin=-bound if cmap == "coolwarm" else None,
                      vmax=bound if cmap == "coolwarm" else None)
    if annotate:
        for (i, j), v in zip(((i, j) for i in range(values.shape[0]) for j in range(values.shape[1])),
                             values.flatten().tolist(), strict=True):
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=7)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig
