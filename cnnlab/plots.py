"""Plots shared by the notebooks. Every figure has a title and labelled axes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from cnnlab import pristine
from cnnlab.i18n import translate

# Fonts with Chinese glyphs, in order of preference; matplotlib falls back to them glyph by glyph.
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
                "WenQuanYi Micro Hei", "Droid Sans Fallback", "SimHei", "Microsoft YaHei", "PingFang SC")


CJK_FILES = ("notosanscjk", "sourcehansans", "wqy-", "droidsansfallback", "simhei", "msyh", "pingfang")


def cjk_fonts() -> list[str]:
    """The installed font families that have Chinese glyphs (``fonts-noto-cjk`` on Debian).

    A font installed after matplotlib built its font cache is added here, so a fresh install works
    without clearing ``~/.cache/matplotlib``.
    """
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    found = [name for name in CJK_FAMILIES if name in installed]
    if not found:
        for path in font_manager.findSystemFonts():
            if any(key in Path(path).name.lower() for key in CJK_FILES):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        installed = {f.name for f in font_manager.fontManager.ttflist}
        found = [name for name in CJK_FAMILIES if name in installed]
    return found


def use_cjk_fonts() -> list[str]:
    """Let figures draw Chinese: the installed CJK fonts become fallbacks after the default font.

    matplotlib falls back glyph by glyph only across the families listed in ``font.family``.
    """
    found = cjk_fonts()
    family = [f for f in plt.rcParams["font.family"] if f not in found]
    plt.rcParams["font.family"] = family + found
    return found


def translate_figure(fig: Figure | None) -> Figure | None:
    """Every text of ``fig`` (titles, labels, legends, tables, ticks) in the course's language."""
    if fig is not None:
        from matplotlib.text import Text

        for text in fig.findobj(Text):
            before = text.get_text()
            if before and any(c.isalpha() for c in before):
                after = translate(before)
                if after != before:
                    text.set_text(after)
    return fig


def localised(draw):  # noqa: ANN001, ANN201
    """Decorate a function that returns a figure: its texts come out in the course's language."""
    import functools

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        result = draw(*args, **kwargs)
        translate_figure(result if isinstance(result, Figure) else getattr(result, "figure", None))
        return result

    return wrapper


use_cjk_fonts()


def _to_image(t: torch.Tensor):
    t = t.detach().float().cpu()
    if t.ndim == 3 and t.shape[0] in (1, 3):
        t = t.permute(1, 2, 0)
    if t.ndim == 3 and t.shape[-1] == 1:
        t = t[..., 0]
    return t.numpy()


@localised
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


@localised
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


@localised
def draw_pool_windows(size: int, kernel: int, stride: int | None = None, padding: int = 0, dilation: int = 1,
                      ceil_mode: bool = False, *, ax: plt.Axes | None = None) -> Figure:
    """Draw the windows of a 1-d pooling along one axis: kept ones in blue, the ones ceil_mode drops in red.

    Row 0 is the input (white, numbered) with its padding (grey, -inf for max pooling) and the
    cells past the padding that only a ceil_mode window reaches (dotted). Each further row is
    one window: its taps, where it starts and whether PyTorch keeps it.
    """
    from matplotlib.patches import Rectangle

    stride = kernel if stride is None else stride
    span = dilation * (kernel - 1) + 1
    try:  # PyTorch decides which windows it keeps: ask it, on a real row of `size` values
        kept = pristine.max_pool1d(torch.zeros(1, 1, size), kernel, stride, padding, dilation, ceil_mode).shape[-1]
    except RuntimeError:
        kept = 0
    steps = size + 2 * padding - span
    naive = max(0, (-(-steps // stride) if ceil_mode else steps // stride) + 1)
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(5.0, 0.5 * (size + 2 * padding + 4)), 0.5 * (naive + 2) + 1.2))
    else:
        fig = ax.figure
    right = max(size + padding, -padding + (naive - 1) * stride + span) if naive else size + padding
    for pos in range(-padding, right):
        inside, in_pad = 0 <= pos < size, pos < size + padding
        face = "white" if inside else ("#dddddd" if in_pad else "none")
        hatch = None if inside or not in_pad else "//"
        ax.add_patch(Rectangle((pos, 0), 1, 1, facecolor=face, edgecolor="#777777",
                               linestyle="-" if in_pad else ":", hatch=hatch))
        ax.text(pos + 0.5, 0.5, str(pos) if inside else ("pad" if in_pad else ""), ha="center", va="center",
                fontsize=7)
    for w in range(naive):
        start = -padding + w * stride
        colour = "#1f77b4" if w < kept else "#d62728"
        for u in range(kernel):
            ax.add_patch(Rectangle((start + u * dilation + 0.1, w + 1.15), 0.8, 0.7, facecolor=colour,
                                   alpha=0.6, edgecolor=colour, linestyle="-" if w < kept else "--"))
        note = "kept" if w < kept else "dropped: starts in the right padding"
        ax.text(right + 0.3, w + 1.5, note, va="center", fontsize=8, color=colour)
    ax.set_xlim(-padding - 0.5, right + 6)
    ax.set_ylim(naive + 1.2, -0.2)
    ax.set_yticks([0.5] + [w + 1.5 for w in range(naive)], ["input"] + [f"window {w}" for w in range(naive)])
    ax.set_xlabel("position along the axis (0 = first input pixel; grey = padding)")
    ax.set_ylabel("window")
    mode = "ceil" if ceil_mode else "floor"
    ax.set_title(f"H={size}, k={kernel}, s={stride}, p={padding}, d={dilation}, {mode} mode: "
                 f"H_out = {kept}", fontsize=10)
    return fig


@localised
def draw_source_positions(in_size: int, out_size: int, *, ax: plt.Axes | None = None) -> Figure:
    """Where each output pixel of a 1-d resize samples the input, for nearest and both bilinear conventions.

    Source coordinates are in input pixel indices: ``2.0`` is the centre of input pixel 2 and
    ``2.5`` lies halfway between pixels 2 and 3 (bilinear mixes them 50/50 there). Positions
    outside the input are clamped to its first or last pixel, as PyTorch does.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 4))
    else:
        fig = ax.figure
    dst = torch.arange(out_size, dtype=torch.float64)
    scale = in_size / out_size
    corners = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    mappings = {
        "nearest: floor(i·in/out)": (dst * scale).floor().clamp(max=in_size - 1),
        "bilinear, align_corners=False: (i+½)·in/out − ½": ((dst + 0.5) * scale - 0.5).clamp(0, in_size - 1),
        "bilinear, align_corners=True: i·(in−1)/(out−1)": dst * corners,
    }
    for (label, src), marker in zip(mappings.items(), ("s", "o", "^"), strict=True):
        ax.plot(dst.numpy(), src.numpy(), marker=marker, linestyle="-", label=label)
    for i in range(in_size):
        ax.axhline(i, color="#bbbbbb", linewidth=0.6, zorder=0)
    ax.set_xlabel(f"output pixel index (0..{out_size - 1})")
    ax.set_ylabel(f"source coordinate in the input (pixel index, 0..{in_size - 1})")
    ax.set_title(f"Resizing {in_size} pixels to {out_size}: which input position each output reads")
    ax.legend(fontsize=8, loc="upper left")
    return fig


@localised
def plot_curves(x: torch.Tensor, curves: dict[str, torch.Tensor], *, title: str, xlabel: str, ylabel: str,
                ax: plt.Axes | None = None, logy: bool = False, ylim: tuple[float, float] | None = None,
                marker: str | None = None) -> Figure:
    """Plot several curves y(x) on one axes, with a legend (``x`` is shared by every curve)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
    else:
        fig = ax.figure
    xs = x.detach().float().cpu().numpy()
    for label, y in curves.items():
        ax.plot(xs, y.detach().float().cpu().numpy(), label=label, marker=marker, markersize=3)
    if logy:
        ax.set_yscale("log")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


@localised
def plot_functions_and_derivatives(functions: dict[str, object], *, title: str,
                                   x_range: tuple[float, float] = (-5, 5), points: int = 401,
                                   xlabel: str = "x", ylabels: tuple[str, str] = ("f(x)", "f'(x)"),
                                   ylim: tuple[float, float] | None = None) -> Figure:
    """Two panels: elementwise functions (callables on a 1-d tensor), and their derivatives by autograd."""
    x = torch.linspace(x_range[0], x_range[1], points, requires_grad=True)
    values, slopes = {}, {}
    for label, f in functions.items():
        y = f(x)  # type: ignore[operator]
        (grad,) = torch.autograd.grad(y.sum(), x)
        values[label], slopes[label] = y.detach(), grad
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    plot_curves(x, values, title="the functions", xlabel=xlabel, ylabel=ylabels[0], ax=left, ylim=ylim)
    plot_curves(x, slopes, title="their derivatives (autograd)", xlabel=xlabel, ylabel=ylabels[1], ax=right)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@localised
def plot_histograms(samples: dict[str, torch.Tensor], *, title: str, xlabel: str, bins: int = 60,
                    ax: plt.Axes | None = None) -> Figure:
    """Overlaid histograms (as densities) of the values in each tensor."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
    else:
        fig = ax.figure
    for label, values in samples.items():
        data = values.detach().float().flatten().cpu().numpy()
        ax.hist(data, bins=bins, density=True, alpha=0.45, histtype="stepfilled", label=label)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    return fig


# ----------------------------------------------------------- notebooks 02 and 03 (receptive field, counting)
def show_field_on_image(image: torch.Tensor, mask: torch.Tensor, *, title: str,
                        box: tuple[tuple[int, int], tuple[int, int]] | None = None,
                        ax: plt.Axes | None = None) -> Figure:
    """An image with the pixels of ``mask`` (H, W) tinted orange, and an optional box ((r0, c0), (r1, c1))."""
    from matplotlib.patches import Rectangle

    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 5))
    else:
        fig = ax.figure
    img = _to_image(image)
    ax.imshow(img, cmap=None if img.ndim == 3 else "gray", vmin=0.0, vmax=1.0)
    overlay = torch.zeros(*mask.shape, 4)
    overlay[..., 0], overlay[..., 1], overlay[..., 3] = 1.0, 0.5, 0.55 * mask.detach().float().cpu()
    ax.imshow(overlay.numpy())
    if box is not None:
        (r0, c0), (r1, c1) = box
        ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False,
                               edgecolor="#1f77b4", linewidth=1.5))
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("column (pixels)")
    ax.set_ylabel("row (pixels)")
    return fig


@localised
def show_gradient_heatmap(grad: torch.Tensor, *, title: str,
                          box: tuple[tuple[int, int], tuple[int, int]] | None = None,
                          log: bool = False, ax: plt.Axes | None = None) -> Figure:
    """|gradient| (H, W) as a heat map with a colour bar; ``box`` outlines the theoretical field."""
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
    else:
        fig = ax.figure
    values = grad.detach().abs().float().cpu()
    if log:
        positive = values[values > 0]
        low = float(positive.min()) if positive.numel() else 1e-12
        top = float(values.max()) or 1.0
        norm = LogNorm(vmin=max(low, top * 1e-6), vmax=top)
        image = ax.imshow(values.clamp(min=low).numpy(), cmap="magma", norm=norm)
    else:
        image = ax.imshow(values.numpy(), cmap="magma")
    if box is not None:
        (r0, c0), (r1, c1) = box
        ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False,
                               edgecolor="#4fc3f7", linewidth=1.2, linestyle="--"))
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("input column (pixels)")
    ax.set_ylabel("input row (pixels)")
    fig.colorbar(image, ax=ax, shrink=0.8, label="|∂ output / ∂ input|")
    return fig


@localised
def bar_params_macs(names: Sequence[str], params: Sequence[int], macs: Sequence[int], *,
                    title: str) -> Figure:
    """Two bar charts side by side: parameters and MACs per layer, each bar labelled with its value."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, values, label, colour in zip(axes, (params, macs), ("parameters", "MACs (one image)"),
                                         ("#1f77b4", "#ff7f0e"), strict=True):
        bars = ax.bar(list(names), list(values), color=colour)
        total = sum(values) or 1
        for bar, v in zip(bars, values, strict=True):
            ax.annotate(f"{v:,}\n({100 * v / total:.0f}%)",
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, max(values) * 1.3 if len(values) else 1)
        ax.set_title(f"{label}: {sum(values):,} in all", fontsize=10)
        ax.set_xlabel("layer")
        ax.set_ylabel(label)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
