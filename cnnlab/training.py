"""Notebook 07's helpers: the training recipe, predictions on a test set, and the plots of what a network learned.

The graded pieces (the network, one training epoch, the evaluation) are the student's; this
module only looks at the results. Functions that need a trained model raise
``NotImplementedError`` with a plain explanation while there is none (``model is None``), so a
fresh notebook run top to bottom stops only with "not implemented" messages.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
from matplotlib.figure import Figure

from cnnlab.data import TensorLoader
from cnnlab.plots import show_images

NO_MODEL = ("there is no trained model yet: implement MNISTConvNet, train_one_epoch and evaluate above, "
            "then run the training cell")


@dataclass(frozen=True)
class Recipe:
    """How notebook 07 trains the seed's network: Adam with a one-cycle learning rate."""

    epochs: int = 3
    batch_size: int = 128
    max_lr: float = 1e-2
    seed: int = 0
    test_batch_size: int = 1000


RECIPE = Recipe()


def require_model(model: nn.Module | None) -> nn.Module:
    """``model``, or ``NotImplementedError`` when the training cell has not produced one."""
    if model is None:
        raise NotImplementedError(NO_MODEL)
    return model


def one_cycle_lrs(max_lr: float, epochs: int, steps_per_epoch: int) -> list[float]:
    """The learning rate ``OneCycleLR`` uses at every step (from a throwaway optimizer)."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=max_lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, epochs=epochs, steps_per_epoch=steps_per_epoch,
                                                cycle_momentum=False)
    lrs = []
    for _ in range(epochs * steps_per_epoch):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def predict(model: nn.Module | None, loader: Iterable, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N, C) and labels (N,) for every batch of ``loader``, on the CPU (eval mode, no grad)."""
    model = require_model(model)
    model.eval()
    logits, labels = [], []
    with torch.no_grad():
        for x, y in loader:
            logits.append(model(x.to(device)).float().cpu())
            labels.append(y.cpu())
    return torch.cat(logits), torch.cat(labels)


def confusion_matrix(predicted: torch.Tensor, labels: torch.Tensor, classes: int = 10) -> torch.Tensor:
    """Counts (classes, classes): row = true class, column = predicted class."""
    flat = labels.long() * classes + predicted.long()
    return torch.bincount(flat, minlength=classes * classes).reshape(classes, classes)


def plot_history(history: Sequence[dict], *, bar: float = 0.99, lrs: Sequence[float] | None = None,
                 steps_per_epoch: int | None = None) -> Figure:
    """Learning curves from the training cell's ``history`` (one dict per epoch; epoch 0 = before training).

    Panels: training loss per epoch; test error per epoch (log scale) with the ``bar``; and, if
    given, the learning rate at every step.
    """
    trained = [h for h in history if h["epoch"] > 0]
    if not trained:
        raise NotImplementedError(NO_MODEL)
    panels = 3 if lrs is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 3.8))
    epochs = [h["epoch"] for h in trained]
    axes[0].plot(epochs, [h["train_loss"] for h in trained], "o-", label="training (mean over the epoch)")
    axes[0].set_title("Training loss")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("cross-entropy (nats)")
    axes[0].set_xticks(epochs)
    axes[0].legend(fontsize=8)
    all_epochs = [h["epoch"] for h in history]
    errors = [100 * (1 - h["test_accuracy"]) for h in history]
    axes[1].semilogy(all_epochs, errors, "o-", color="C1", label="test error")
    axes[1].axhline(100 * (1 - bar), color="C3", linestyle="--", label=f"the bar: {bar:.0%} accuracy")
    for e, err in zip(all_epochs, errors, strict=True):
        axes[1].annotate(f"{err:.2f}%", (e, err), textcoords="offset points", xytext=(4, 5), fontsize=7)
    axes[1].set_title("Test error after each epoch")
    axes[1].set_xlabel("epoch (0 = before training)")
    axes[1].set_ylabel("test error (%, log scale)")
    axes[1].set_xticks(all_epochs)
    axes[1].legend(fontsize=8)
    if lrs is not None:
        steps = torch.arange(len(lrs)).float()
        x = steps / steps_per_epoch if steps_per_epoch else steps
        axes[2].plot(x.tolist(), list(lrs), color="C2")
        axes[2].set_title("One-cycle learning rate")
        axes[2].set_xlabel("epoch" if steps_per_epoch else "step")
        axes[2].set_ylabel("learning rate")
    fig.suptitle("Learning curves of the seed's network on MNIST")
    fig.tight_layout()
    return fig


def plot_confusion(counts: torch.Tensor, *, title: str) -> Figure:
    """A confusion matrix with every count printed; colour is log-scaled so that rare mistakes show."""
    counts = counts.detach().cpu()
    classes = counts.shape[0]
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    image = ax.imshow(torch.log10(1 + counts.float()).numpy(), cmap="Blues")
    for i in range(classes):
        for j in range(classes):
            value = int(counts[i, j])
            if value:
                ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                        color="white" if i == j else "black")
    ax.set_xticks(range(classes))
    ax.set_yticks(range(classes))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.8, label="log10(1 + count)")
    fig.tight_layout()
    return fig


def worst_mistakes(logits: torch.Tensor, labels: torch.Tensor, k: int = 12) -> torch.Tensor:
    """Indices of the ``k`` misclassified samples the model was most sure about, most confident first."""
    probs = logits.softmax(dim=1)
    confidence, predicted = probs.max(dim=1)
    wrong = (predicted != labels).nonzero().flatten()
    order = confidence[wrong].argsort(descending=True)
    return wrong[order[:k]]


def show_mistakes(model: nn.Module | None, images: torch.Tensor, labels: torch.Tensor, device: torch.device | str,
                  *, k: int = 12, suptitle: str, batch_size: int = 1000) -> Figure:
    """The ``k`` test images ``model`` gets wrong most confidently, with true label, answer and probability.

    ``images`` (N, 1, H, W) and ``labels`` (N,) may live on any device; the model runs on ``device``.
    """
    logits, labels = predict(model, TensorLoader(images, labels, batch_size=batch_size), device)
    indices = worst_mistakes(logits, labels, k)
    probs = logits.softmax(dim=1)
    titles = []
    for i in indices.tolist():
        p, guess = probs[i].max(dim=0)
        titles.append(f"#{i}: true {int(labels[i])}, said {int(guess)} ({float(p):.0%})")
    shown = [images[i].detach().cpu() for i in indices.tolist()]
    return show_images(shown, titles, suptitle=suptitle, ncols=6, size=2.3)


def show_filters(model: nn.Module | None, *, suptitle: str, layer: str = "conv1", ncols: int = 5) -> Figure:
    """The kernels of ``model``'s first layer (C_out, 1, k, k) on one symmetric colour scale.

    Red is positive, blue negative. Like an image grid, the panels have no ticks; the outer ones
    carry the axis labels.
    """
    w = getattr(require_model(model), layer).weight.detach().float().cpu()[:, 0]
    bound = float(w.abs().max()) or 1.0
    n = w.shape[0]
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.0 * ncols + 1.2, 2.1 * nrows + 0.6), squeeze=False)
    image = None
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.set_visible(False)
            continue
        image = ax.imshow(w[i].numpy(), cmap="RdBu_r", vmin=-bound, vmax=bound)
        ax.set_title(f"filter {i}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if i % ncols == 0:
            ax.set_ylabel("kernel row", fontsize=8)
        if i // ncols == nrows - 1:
            ax.set_xlabel("kernel column", fontsize=8)
    fig.suptitle(suptitle)
    fig.tight_layout()
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="weight")
    return fig


def feature_maps(model: nn.Module | None, x: torch.Tensor, layers: Sequence[str] = ("conv1", "conv2")
                 ) -> dict[str, torch.Tensor]:
    """The outputs of the named submodules for input ``x`` (1, 1, H, W), captured with forward hooks."""
    model = require_model(model)
    captured: dict[str, torch.Tensor] = {}
    handles = []
    for name in layers:
        module = getattr(model, name)
        handles.append(module.register_forward_hook(
            lambda _m, _i, out, name=name: captured.__setitem__(name, out.detach().float().cpu())))
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return captured


__all__ = ["RECIPE", "Recipe", "confusion_matrix", "feature_maps", "one_cycle_lrs", "plot_confusion",
           "plot_history", "predict", "require_model", "show_filters", "show_mistakes", "worst_mistakes"]
