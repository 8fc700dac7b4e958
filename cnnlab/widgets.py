"""Interactive explorers. Sliders are ipywidgets, so they work with the keyboard (Tab, arrows)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cnnlab.exercises.conv_arithmetic import conv_output_size_reference


def draw_conv_geometry(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> Figure:
    """Draw a padded square input with the taps of the first and last output pixels, and the output grid."""
    fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(9, 4.6), gridspec_kw={"width_ratios": [3, 2]})
    full = size + 2 * padding
    try:
        out = conv_output_size_reference(size, kernel, stride, padding, dilation)
    except ValueError:
        out = 0
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
    ax_in.set_aspect("equal")
    ax_in.set_title(f"input {size}×{size}, padded to {full}×{full} (grey = padding)", fontsize=10)
    ax_in.set_xlabel("column")
    ax_in.set_ylabel("row")
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
    ax_out.set_aspect("equal")
    ax_out.set_xlabel("column")
    ax_out.set_ylabel("row")
    ax_out.set_title(f"output {out}×{out}" if out else "no output: the kernel does not fit", fontsize=10)
    span = dilation * (kernel - 1) + 1
    fig.suptitle(f"H_out = ⌊({size} + 2·{padding} − {span})/{stride}⌋ + 1 = {out}" if out else
                 f"the dilated kernel spans {span} pixels, more than the padded input's {full}")
    fig.tight_layout()
    return fig


def conv_explorer(size: int = 7, kernel: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1):
    """Sliders for input size, kernel, stride, padding and dilation; the figure and size update live."""
    import ipywidgets as widgets
    from IPython.display import display

    style = {"description_width": "80px"}
    sliders = {
        "size": widgets.IntSlider(size, 1, 12, description="input size", style=style),
        "kernel": widgets.IntSlider(kernel, 1, 7, description="kernel", style=style),
        "stride": widgets.IntSlider(stride, 1, 4, description="stride", style=style),
        "padding": widgets.IntSlider(padding, 0, 3, description="padding", style=style),
        "dilation": widgets.IntSlider(dilation, 1, 3, description="dilation", style=style),
    }
    summary = widgets.HTML()
    figure = widgets.Output()

    def redraw(_change=None) -> None:
        values = {k: s.value for k, s in sliders.items()}
        try:
            out = conv_output_size_reference(values["size"], values["kernel"], values["stride"],
                                             values["padding"], values["dilation"])
            summary.value = f"<b>output size: {out}</b>"
        except ValueError:
            summary.value = "<b>output size: none (the kernel does not fit)</b>"
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
