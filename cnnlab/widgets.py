"""Interactive explorers. Sliders are ipywidgets, so they work with the keyboard (Tab, arrows)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnlab.i18n import translate
from cnnlab.plots import localised


def _output_width(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """What PyTorch's conv1d makes of the input: run on shape-only (meta) tensors; 0 when nothing fits."""
    import torch

    from cnnlab import pristine

    x = torch.empty((1, 1, size), device="meta")
    w = torch.empty((1, 1, kernel), device="meta")
    try:
        return int(pristine.conv1d(x, w, None, stride, padding, dilation).shape[-1])
    except RuntimeError:
        return 0


@localised
def draw_conv_geometry(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> Figure:
    """Draw a padded square input with the taps of the first and last output pixels, and the output grid."""
    fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(9, 4.6), gridspec_kw={"width_ratios": [3, 2]})
    full = size + 2 * padding
    out = _output_width(size, kernel, stride, padding, dilation)
    for i in range(full):
        for j in range(full):
            inside = padding <= i < padding + size and padding <= j < padding + size
            ax_in.add_patch(Rectangle((j, i), 1, 1, facecolor="white" if inside else "#dddddd",
                                      edgecolor="#999999", linewidth=0.6, hatch=None if inside else "//"))
    colours = {"first output pixel": "#1f77b4", "last output pixel": "#ff7f0e"}
    if out > 0:
        last = (out - 1) * stride
        for (label, colour), start in zip(colours.items(), (0, last), strict=True):
            for a in range(kernel):
                for b in range(kernel):
                    ax_in.add_patch(Rectangle((start + b * dilation + 0.15, start + a * dilation + 0.15), 0.7, 0.7,
                                              facecolor=colour, alpha=0.55, edgecolor=colour, label=None))
            ax_in.plot([], [], "s", color=colour, label=label)
        ax_in.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, fontsize=8, frameon=False)
    ax_in.set_xlim(0, full)
    ax_in.set_ylim(full, 0)
    ax_in.set_xticks([t + 0.5 for t in range(full)], [str(t - padding) for t in range(full)], fontsize=7)
    ax_in.set_yticks([t + 0.5 for t in range(full)], [str(t - padding) for t in range(full)], fontsize=7)
    ax_in.set_aspect("equal")
    ax_in.set_title(f"input {size}×{size}, padded to {full}×{full} (grey = padding)", fontsize=10)
    ax_in.set_xlabel(translate("column"))
    ax_in.set_ylabel(translate("row"))
    for i in range(max(out, 1)):
        for j in range(max(out, 1)):
            colour = "white"
            if out and (i, j) == (0, 0):
                colour = colours["first output pixel"]
            elif out and (i, j) == (out - 1, out - 1):
                colour = colours["last output pixel"]
            ax_out.add_patch(Rectangle((j, i), 1, 1, facecolor=colour if out else "#f4cccc",
                                       edgecolor="#666666", alpha=0.8))
    ax_out.set_xlim(0, max(out, 1))
    ax_out.set_ylim(max(out, 1), 0)
    ticks = range(max(out, 1))
    ax_out.set_xticks([t + 0.5 for t in ticks], [str(t) for t in ticks])
    ax_out.set_yticks([t + 0.5 for t in ticks], [str(t) for t in ticks])
    ax_out.set_aspect("equal")
    ax_out.set_xlabel(translate("column"))
    ax_out.set_ylabel(translate("row"))
    ax_out.set_title(translate(f"output {out}×{out}") if out else translate("no output: the kernel does not fit"),
                     fontsize=10)
    span = dilation * (kernel - 1) + 1
    fig.suptitle(f"H_out = ⌊({size} + 2·{padding} − {span})/{stride}⌋ + 1 = {out}" if out else
                 f"the dilated kernel spans {span} pixels, more than the padded input's {full}")
    fig.tight_layout()
    return fig


def conv_explorer(size: int = 7, kernel: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1):
    """Sliders for input size, kernel, stride, padding and dilation; the figure and size update live.

    The output size is PyTorch's own: ``F.conv1d`` run on shape-only (meta) tensors.
    """
    import ipywidgets as widgets
    from IPython.display import display

    style = {"description_width": "80px"}
    sliders = {
        "size": widgets.IntSlider(size, 1, 12, description=translate("input size"), style=style),
        "kernel": widgets.IntSlider(kernel, 1, 7, description=translate("kernel"), style=style),
        "stride": widgets.IntSlider(stride, 1, 4, description=translate("stride"), style=style),
        "padding": widgets.IntSlider(padding, 0, 3, description=translate("padding"), style=style),
        "dilation": widgets.IntSlider(dilation, 1, 3, description=translate("dilation"), style=style),
    }
    summary = widgets.HTML()
    figure = widgets.Output()

    def redraw(_change=None) -> None:
        values = {k: s.value for k, s in sliders.items()}
        out = _output_width(values["size"], values["kernel"], values["stride"], values["padding"], values["dilation"])
        text = f"output size: {out}" if out else "output size: none (the kernel does not fit)"
        summary.value = f"<b>{translate(text)}</b>"
        with figure:
            figure.clear_output(wait=True)
            fig = draw_conv_geometry(**values)
            display(fig)
            plt.close(fig)

    for s in sliders.values():
        s.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(list(sliders.values())[:3]), widgets.HBox(list(sliders.values())[3:]),
                         summary, figure])


# ----------------------------------------------------------------- notebook 02: receptive fields
RF_LAYER_CHOICES = {
    "conv 3x3": dict(kind="conv", k=3, s=1, d=1),
    "conv 3x3, dilation 2": dict(kind="conv", k=3, s=1, d=2),
    "conv 3x3, dilation 4": dict(kind="conv", k=3, s=1, d=4),
    "conv 5x5": dict(kind="conv", k=5, s=1, d=1),
    "conv 3x3, stride 2": dict(kind="conv", k=3, s=2, d=1),
    "max-pool 2x2": dict(kind="pool", k=2, s=2, d=1),
}


def _rf_layer(name: str):  # noqa: ANN202
    import torch.nn as nn

    spec = RF_LAYER_CHOICES[name]
    if spec["kind"] == "pool":
        return nn.MaxPool2d(spec["k"], spec["s"])
    pad = spec["d"] * (spec["k"] - 1) // 2
    return nn.Conv2d(1, 1, spec["k"], stride=spec["s"], padding=pad, dilation=spec["d"])


def _field_after(field_fn, layers: list):  # noqa: ANN001, ANN202
    """``field_fn(layers)`` as a ``ReceptiveField``, or why not (text): a student's function may not work yet."""
    from cnnlab.receptive import ReceptiveField

    try:
        value = field_fn(layers)
    except NotImplementedError:
        return "not implemented yet"
    except Exception as exc:  # the picture still shows the exact field
        return f"raised {type(exc).__name__}: {exc}"
    try:
        rf = ReceptiveField(*value)
        return ReceptiveField(*(tuple(int(v) for v in pair) for pair in rf))
    except (TypeError, ValueError):
        return f"returned {value!r:.60}, not ReceptiveField(size, jump, start)"


@localised
def draw_receptive_field(layers: list, field_fn=None, image=None,  # noqa: ANN001
                         out_index: tuple[int, int] | None = None) -> Figure:
    """The field of one output pixel (default: the centre one) drawn on a photo, and a table per layer.

    Orange pixels are the exact field (dilation leaves holes), found by walking the layers
    backwards (:func:`cnnlab.receptive.reachable_mask`). ``field_fn`` is the recurrence of
    notebook 02's exercise 1 (``receptive_field``): the table lists its size, jump and start
    after each layer, and the blue box is the extent it gives. Without it, or while it
    raises, only the exact field is drawn.
    """
    from cnnlab.images import sample_photo
    from cnnlab.plots import show_field_on_image
    from cnnlab.receptive import feature_sizes, field_box, reachable_mask

    image = sample_photo(96, gray=True) if image is None else image
    h, w = image.shape[-2:]
    fig, (ax_img, ax_tab) = plt.subplots(1, 2, figsize=(10, 4.8), gridspec_kw={"width_ratios": [1, 1.1]})
    try:
        out_h, out_w = feature_sizes(layers, (h, w))[-1]
    except ValueError:
        out_h = out_w = 0
    rows = [("input", 1, 1, 0, f"{h}x{w}")]
    problem = None
    for i in range(1, len(layers) + 1):
        rf = _field_after(field_fn, layers[:i]) if field_fn is not None else None
        try:
            size = "x".join(map(str, feature_sizes(layers[:i], (h, w))[-1]))
        except ValueError:
            size = "—"
        if isinstance(rf, str):
            problem = problem or rf
        known = rf is not None and not isinstance(rf, str)
        rows.append((describe_short(layers[i - 1]), *((rf.size[0], rf.jump[0], rf.start[0]) if known else "???"),
                     size))
    if out_h > 0 and out_w > 0:
        index = out_index or (out_h // 2, out_w // 2)
        rf = _field_after(field_fn, layers) if field_fn is not None else None
        mask = reachable_mask(layers, (h, w), index)
        title = translate(f"output pixel {index} of {out_h}x{out_w}: {int(mask.sum())} pixels")
        box = None
        if rf is not None and not isinstance(rf, str):
            box = field_box(rf, index, (h, w))
            title += translate(f", extent {rf.size[0]}x{rf.size[1]}")
        show_field_on_image(image, mask, box=box, ax=ax_img, title=title)
    else:
        ax_img.imshow(image[0].numpy() if image.ndim == 3 else image.numpy(), cmap="gray")
        ax_img.set_title("no output pixel left: the stack shrinks the image to nothing", fontsize=10)
        ax_img.set_xlabel("column (pixels)")
        ax_img.set_ylabel("row (pixels)")
    ax_tab.axis("off")
    table = ax_tab.table(cellText=[list(map(str, r)) for r in rows],
                         colLabels=[translate(t) for t in ("layer", "field r", "jump j", "start", "output")],
                         loc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.25)
    if field_fn is None:
        caption = "after each layer (no recurrence given: r, j and start are not shown)"
    elif problem is not None:
        caption = f"your receptive_field: {problem}"
    else:
        caption = "after each layer, from your receptive_field (rows)"
    ax_tab.set_title(caption, fontsize=10, wrap=True)
    fig.suptitle("Receptive field of a stack of layers on a 96x96 photo")
    fig.tight_layout()
    return fig


def describe_short(layer) -> str:  # noqa: ANN001
    """``conv k3 s1 d2`` or ``max-pool k2 s2``: a table label for one layer."""
    from cnnlab.receptive import layer_geometry

    g = layer_geometry(layer)
    if g is None:
        return type(layer).__name__
    name = "conv" if type(layer).__name__ == "Conv2d" else "pool"
    text = f"{name} k{g.kernel[0]} s{g.stride[0]}"
    return text + (f" d{g.dilation[0]}" if g.dilation[0] > 1 else "")


def receptive_field_explorer(field_fn, start: tuple[str, ...] = ("conv 3x3", "conv 3x3")):  # noqa: ANN001, ANN201
    """Stack layers with buttons and watch the field of the centre output pixel grow on a photo.

    ``field_fn`` is your ``receptive_field`` (notebook 02, exercise 1): the table and the blue box
    come from it, the orange pixels from walking the layers backwards.
    """
    import ipywidgets as widgets
    from IPython.display import display

    stack = [_rf_layer(name) for name in start]
    choice = widgets.Dropdown(options=[(translate(k), k) for k in RF_LAYER_CHOICES], value="conv 3x3",
                              description=translate("layer"))
    add = widgets.Button(description=translate("add layer"), button_style="primary")
    remove = widgets.Button(description=translate("remove last"))
    reset = widgets.Button(description=translate("reset"))
    figure = widgets.Output()

    def redraw() -> None:
        with figure:
            figure.clear_output(wait=True)
            fig = draw_receptive_field(stack, field_fn)
            display(fig)
            plt.close(fig)

    def on_add(_button) -> None:  # noqa: ANN001
        stack.append(_rf_layer(choice.value))
        redraw()

    def on_remove(_button) -> None:  # noqa: ANN001
        if stack:
            stack.pop()
        redraw()

    def on_reset(_button) -> None:  # noqa: ANN001
        stack.clear()
        redraw()

    add.on_click(on_add)
    remove.on_click(on_remove)
    reset.on_click(on_reset)
    redraw()
    return widgets.VBox([widgets.HBox([choice, add, remove, reset]), figure])
