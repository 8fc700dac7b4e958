"""Notebook 07, MNIST end to end: the seed's network fixed, one training epoch, evaluation, the trained model.

The four exercises are *property* exercises (``verify=``): a network class, a training loop,
an evaluation loop and a trained model cannot be compared with one reference value. Each
check builds its own small, deterministic models and batches from a seed, runs the student's
code and the reference on identical copies, and explains a difference with a tagged
misconception (``[batch-dimension-lost]``, ``[missing-nonlinearity]``, ``[mean-loss-wrong]``...).
"""

from __future__ import annotations

import copy
import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from autograder.exercises.base import Exercise, register
from cnnlab import diagnosis as dx
from cnnlab import pristine
from cnnlab.cases import Case, RandomInputs
from cnnlab.data import TensorLoader
from cnnlab.diagnosis import student_frame
from cnnlab.harness import CountingScheduler, InverseDecay, ProbeNet, Recorder
from cnnlab.models import SeedMNISTNet
from cnnlab.settings import single_thread

NOTEBOOK = "07_mnist_convnet"
EXPECTED_PARAMS = 21_840
LAYER_PARAMS = {"conv1": 260, "conv2": 5_020, "fc1": 16_050, "fc2": 510}
ACCURACY_BAR = 0.99
TEST_SET_SIZE = 10_000
NOT_IMPLEMENTED_HINT = "not implemented yet: replace `raise NotImplementedError()` with your code"

BATCH_LOST = "batch-dimension-lost"
MISSING_NONLINEARITY = "missing-nonlinearity"
WRONG_PARAM_COUNT = "wrong-parameter-count"
WRONG_LAYERS = "wrong-layers"
SOFTMAX_NOT_LOGITS = "softmax-not-logits"
SOFTMAX_OVER_BATCH = "softmax-over-batch"
LOSS_NOT_DECREASING = "loss-not-decreasing"
GRAD_NOT_ZEROED = "grad-not-zeroed"
MEAN_LOSS_WRONG = "mean-loss-wrong"
LOSS_NOT_FLOAT = "loss-not-float"
TRAIN_MODE = "train-mode-not-set"
SCHEDULER = "scheduler-not-stepped"
SCHEDULER_ORDER = "scheduler-order"
WRONG_LOSS = "wrong-loss-function"
EVALUATE_WRONG = "evaluate-wrong"
BELOW_BAR = "accuracy-below-99"
NOT_ON_DEVICE = "batch-not-on-device"
LOADER_DATASET = "used-loader-dataset"
DATA_MISSING = "data-missing"

BATCH_HINT = (
    "the batch dimension is lost: flatten each image with x.flatten(1) (or "
    "x.view(x.size(0), -1)), never .view(320), which only works for one image"
)


one_thread = single_thread  # tiny tensors: one CPU thread, no waiting for a busy second one


def _single_threaded(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with one_thread():
            return fn(*args, **kwargs)

    return wrapper


# ------------------------------------------------------------------------ shared helpers
def _fail(exercise: Exercise, tag: str, hint: str, details: str = "", *, visible: bool) -> dx.CheckFailed:
    return dx.CheckFailed(exercise.name, tag, hint, details, visible=visible)


def _explain_error(exc: BaseException) -> tuple[str, str]:
    """A tag and hint for an exception raised by student code."""
    text = str(exc)
    if isinstance(exc, AttributeError) and "dataset" in text:
        return LOADER_DATASET, (
            "used loader.dataset: the loader may be any iterable of (x, y) batches "
            "(a TensorLoader, a tqdm bar); count the samples as you go with y.shape[0]"
        )
    if isinstance(exc, TypeError) and "scheduler" in text:
        return SCHEDULER, "the contract has a fourth argument scheduler=None: accept it and step it per batch"
    if "same device" in text or ("Input type" in text and "weight type" in text):
        return (
            NOT_ON_DEVICE,
            "move every batch to the model's device first: x, y = x.to(device), y.to(device)",
        )
    return dx.RAISED, f"raised {type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _call(
    exercise: Exercise, fn: Callable[..., Any], args: tuple, kwargs: dict, *, visible: bool, what: str
) -> Any:
    """Call student code; turn its exceptions into tagged failures."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise _fail(exercise, dx.NOT_IMPLEMENTED, NOT_IMPLEMENTED_HINT, visible=visible) from None
    except dx.CheckFailed:
        raise
    except Exception as exc:
        tag, hint = _explain_error(exc)
        raise _fail(exercise, tag, hint, f"on {what}\n{student_frame(exc)}", visible=visible) from None


def _quietly(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run course code with its warnings silenced (they would be blamed on the student)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _init_(module: nn.Module, gen: torch.Generator) -> nn.Module:
    """Re-initialise every parameter from ``gen`` (PyTorch's default scale, without the global RNG)."""
    with torch.no_grad():
        for mod in module.modules():
            weight = getattr(mod, "weight", None)
            if not isinstance(weight, nn.Parameter):
                continue
            bound = 1.0 / math.sqrt(max(1, weight[0].numel()))
            for p in (weight, getattr(mod, "bias", None)):
                if isinstance(p, nn.Parameter):
                    p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * bound)
    return module






def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], rtol: float, atol: float) -> bool:
    return a.keys() == b.keys() and all(
        a[k].shape == b[k].shape
        and bool(pristine.allclose(a[k].double(), b[k].double(), rtol=rtol, atol=atol))
        for k in a
    )


def _count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _param_breakdown(model: nn.Module) -> str:
    parts = [
        f"{name} {sum(p.numel() for p in child.parameters()):,}"
        for name, child in model.named_children()
        if any(True for _ in child.parameters())
    ]
    return ", ".join(parts) or "no submodules"


def _as_number(value: Any) -> float | None:
    """``value`` as a float when it is a real number or a one-element tensor without a graph."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.requires_grad:
        return float(value.item())
    return None


# ------------------------------------------------------------------------ MNISTConvNet
@dataclass
class NetCase(Case):
    """One property of the network: ``kind`` says which; ``args`` holds the input batch, if any."""

    kind: str = "shape"
    seed: int = 0
    device: str = "cpu"


def _build_net(exercise: Exercise, cls: Any, case: NetCase, visible: bool) -> nn.Module:
    if not isinstance(cls, type) and not getattr(cls, "remote", False):
        raise _fail(
            exercise,
            dx.WRONG_TYPE,
            "MNISTConvNet must be a class (a subclass of nn.Module)",
            f"got {type(cls).__name__}",
            visible=visible,
        )
    with torch.random.fork_rng(devices=[]):  # leave the notebook's random stream alone
        torch.manual_seed(case.seed)
        net = _call(exercise, cls, (), {}, visible=visible, what="MNISTConvNet()")
    if isinstance(net, nn.Module) and any(isinstance(m, SeedMNISTNet) for m in net.modules()):
        raise _fail(
            exercise,
            dx.USED_BUILTIN,
            "build the network yourself from nn.Conv2d, nn.MaxPool2d and nn.Linear, "
            "not from the course's cnnlab.models.SeedMNISTNet",
            visible=visible,
        )
    if not isinstance(net, nn.Module):
        raise _fail(
            exercise,
            dx.WRONG_TYPE,
            "MNISTConvNet() must build an nn.Module",
            f"got {type(net).__name__}",
            visible=visible,
        )
    return net.to(case.device).eval()


def _forward(exercise: Exercise, net: nn.Module, x: torch.Tensor, visible: bool) -> torch.Tensor:
    """Run the network on ``x`` (no grad); a failure on a batch that one image survives is a lost batch."""
    n = int(x.shape[0])
    what = f"a batch of shape {tuple(x.shape)}"
    try:
        with torch.no_grad():
            out = net(x.clone())
    except NotImplementedError:
        raise _fail(exercise, dx.NOT_IMPLEMENTED, NOT_IMPLEMENTED_HINT, visible=visible) from None
    except dx.CheckFailed:
        raise
    except Exception as exc:
        single_ok = False
        if n > 1:
            try:
                with torch.no_grad():
                    net(x[:1].clone())
                single_ok = True
            except Exception:
                single_ok = False
        if single_ok:
            raise _fail(
                exercise,
                BATCH_LOST,
                BATCH_HINT,
                f"one image works, but {what} raised {type(exc).__name__}: {str(exc).splitlines()[0]}\n"
                f"{student_frame(exc)}",
                visible=visible,
            ) from None
        tag, hint = _explain_error(exc)
        raise _fail(exercise, tag, hint, f"on {what}\n{student_frame(exc)}", visible=visible) from None
    if not isinstance(out, torch.Tensor):
        raise _fail(
            exercise,
            dx.WRONG_TYPE,
            "forward must return a tensor of logits",
            f"got {type(out).__name__} on {what}",
            visible=visible,
        )
    if tuple(out.shape) != (n, 10):
        if tuple(out.shape) == (10,) or (out.ndim != 2 and out.numel() == 10 * n):
            raise _fail(
                exercise,
                BATCH_LOST,
                BATCH_HINT,
                f"{what} gave logits of shape {tuple(out.shape)}; expected ({n}, 10)",
                visible=visible,
            )
        raise _fail(
            exercise,
            dx.WRONG_SHAPE,
            f"the logits must have shape (N, 10); got {tuple(out.shape)}",
            f"on {what}",
            visible=visible,
        )
    if out.device != x.device:
        raise _fail(
            exercise,
            dx.WRONG_DEVICE,
            "the logits are on another device than the input",
            f"input on {x.device}, logits on {out.device}",
            visible=visible,
        )
    return out


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    scale = float(b.detach().abs().max()) if b.numel() else 0.0
    return bool(pristine.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-5 + 1e-4 * scale))


def _check_layers(exercise: Exercise, net: nn.Module, visible: bool) -> None:
    wanted = {
        "conv1": (
            nn.Conv2d,
            lambda m: (m.in_channels, m.out_channels, tuple(m.kernel_size)) == (1, 10, (5, 5)),
            "nn.Conv2d(1, 10, 5)",
        ),
        "conv2": (
            nn.Conv2d,
            lambda m: (m.in_channels, m.out_channels, tuple(m.kernel_size)) == (10, 20, (5, 5)),
            "nn.Conv2d(10, 20, 5)",
        ),
        "fc1": (nn.Linear, lambda m: (m.in_features, m.out_features) == (320, 50), "nn.Linear(320, 50)"),
        "fc2": (nn.Linear, lambda m: (m.in_features, m.out_features) == (50, 10), "nn.Linear(50, 10)"),
    }
    for name, (kind, ok, text) in wanted.items():
        layer = getattr(net, name, None)
        if not isinstance(layer, kind) or not ok(layer):
            found = "missing" if layer is None else repr(layer)
            raise _fail(
                exercise,
                WRONG_LAYERS,
                "keep the seed's layers and names: conv1 = Conv2d(1, 10, 5), conv2 = Conv2d(10, 20, 5), "
                "fc1 = Linear(320, 50), fc2 = Linear(50, 10) (the plots use these names)",
                f"self.{name} should be {text}; it is {found}",
                visible=visible,
            )


def _check_nonlinearity(exercise: Exercise, net: nn.Module, x: torch.Tensor, visible: bool) -> None:
    """Two Linear layers called one after the other with nothing in between collapse into one."""
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def hook(module: nn.Module, inputs: tuple, output: Any) -> None:
        if inputs and isinstance(inputs[0], torch.Tensor) and isinstance(output, torch.Tensor):
            # clone: an in-place ReLU afterwards would otherwise change what we saw
            calls.append((inputs[0].detach().clone(), output.detach().clone()))

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Linear)]
    try:
        _forward(exercise, net, x, visible)
    finally:
        for h in handles:
            h.remove()
    for (_, out_a), (in_b, _) in zip(calls, calls[1:], strict=False):
        if out_a.shape == in_b.shape and bool(pristine.equal(out_a, in_b)):
            raise _fail(
                exercise,
                MISSING_NONLINEARITY,
                "nothing between fc1 and fc2: two linear layers in a row are one linear layer "
                "(W2 W1 x + W2 b1 + b2); put F.relu on fc1's output",
                "fc2 received exactly what fc1 returned",
                visible=visible,
            )


@_single_threaded
def verify_net(exercise: Exercise, cls: Any, case: Case, visible: bool) -> None:
    """Check one property of ``MNISTConvNet`` (see :class:`NetCase`)."""
    assert isinstance(case, NetCase)
    net = _build_net(exercise, cls, case, visible)
    kind = case.kind
    if kind == "params":
        n = _count_params(net)
        if n != EXPECTED_PARAMS:
            raise _fail(
                exercise,
                WRONG_PARAM_COUNT,
                "the seed's network has 21,840 parameters: conv1 260 + conv2 5,020 + fc1 16,050 + fc2 510",
                f"yours has {n:,} ({_param_breakdown(net)})",
                visible=visible,
            )
        return
    if kind == "layers":
        _check_layers(exercise, net, visible)
        return
    (x,) = case.args
    x = x.to(case.device)
    if kind == "shape":
        _forward(exercise, net, x, visible)
        return
    if kind == "composition":
        full = _forward(exercise, net, x, visible)
        alone = torch.cat([_forward(exercise, net, x[i : i + 1], visible) for i in range(x.shape[0])])
        perm = torch.arange(x.shape[0] - 1, -1, -1, device=x.device)
        shuffled = _forward(exercise, net, x[perm], visible)[perm]
        if _close(full, alone) and _close(full, shuffled):
            return
        ones = torch.ones(full.shape[1], dtype=torch.float64, device=full.device)
        if _close(full.double().sum(0), ones) or _close(full.double().exp().sum(0), ones):
            raise _fail(
                exercise,
                SOFTMAX_OVER_BATCH,
                "a softmax over dim 0 mixes the images of a batch; return raw logits (no softmax at all)",
                visible=visible,
            )
        raise _fail(
            exercise,
            BATCH_LOST,
            "an image's logits depend on the other images in its batch: keep dim 0 (the batch) "
            "apart; flatten with x.flatten(1)",
            f"batch of {x.shape[0]}: logits differ from the same images run one at a time",
            visible=visible,
        )
    if kind == "nonlinearity":
        _check_nonlinearity(exercise, net, x, visible)
        return
    if kind == "logits":
        out = _forward(exercise, net, x, visible).double()
        rows = out.sum(1)
        if bool((out >= 0).all()) and _close(rows, torch.ones_like(rows)):
            raise _fail(
                exercise,
                SOFTMAX_NOT_LOGITS,
                "returned probabilities (a softmax); return the raw logits: F.cross_entropy applies "
                "log-softmax itself, and a softmax before it slows learning",
                visible=visible,
            )
        return
    raise ValueError(f"unknown NetCase kind {kind!r}")


def _net_visible() -> list[Case]:
    r = RandomInputs(seed=7)
    return [
        NetCase(kind="params", note="21,840 parameters, like the seed's network"),
        NetCase(kind="layers", note="the seed's layers, with the seed's names"),
        NetCase((r.randn(1, 1, 28, 28),), kind="shape", note="one image: logits of shape (1, 10)"),
        NetCase((r.randn(7, 1, 28, 28),), kind="shape", note="a batch of 7: logits of shape (7, 10)"),
        NetCase(
            (r.randn(5, 1, 28, 28),),
            kind="composition",
            note="an image's logits do not depend on the rest of its batch",
        ),
        NetCase((r.randn(6, 1, 28, 28),), kind="nonlinearity", note="a nonlinearity between fc1 and fc2"),
        NetCase((r.randn(4, 1, 28, 28),), kind="logits", note="raw scores (logits), not probabilities"),
    ]


def net_cases(r: RandomInputs) -> list[NetCase]:
    """Hidden cases: every property, with random batch sizes and inputs on ``r.device``."""
    rng, dev = r.rng, str(r.device)
    n = rng.randint(2, 64)
    seed = rng.randrange(2**31)
    return [
        NetCase(kind="params", seed=seed, device=dev),
        NetCase(kind="layers", seed=seed, device=dev),
        NetCase((r.randn(1, 1, 28, 28),), kind="shape", seed=seed, device=dev),
        NetCase((r.randn(7, 1, 28, 28),), kind="shape", seed=seed, device=dev),
        NetCase((r.randn(n, 1, 28, 28),), kind="shape", seed=seed, device=dev),
        NetCase((r.randn(rng.randint(3, 12), 1, 28, 28),), kind="composition", seed=seed, device=dev),
        NetCase((r.randn(rng.randint(2, 16), 1, 28, 28),), kind="nonlinearity", seed=seed, device=dev),
        NetCase((r.randn(rng.randint(2, 16), 1, 28, 28),), kind="logits", seed=seed, device=dev),
    ]


register(
    Exercise(
        name="MNISTConvNet",
        notebook=NOTEBOOK,
        reference=None,
        visible=_net_visible,
        verify=verify_net,
    )
)


# ------------------------------------------------------------------------ training loop
def train_one_epoch_reference(
    model: nn.Module,
    loader: Any,
    optimizer: torch.optim.Optimizer,
    device: torch.device | str,
    scheduler: Any = None,
) -> float:
    """One pass over ``loader``; returns the mean per-sample cross-entropy."""
    return _train_epoch_recorded(model, loader, optimizer, device, scheduler)[0]


def _train_epoch_recorded(
    model: nn.Module,
    loader: Any,
    optimizer: torch.optim.Optimizer,
    device: torch.device | str,
    scheduler: Any = None,
    *,
    zero_grad: bool = True,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    scheduler_first: bool = False,
) -> tuple[float, list[tuple[float, int]]]:
    """The reference loop, with knobs for its known wrong variants; also returns each batch's (loss, size)."""
    loss_fn = loss_fn or pristine.cross_entropy
    model.train()
    batches: list[tuple[float, int]] = []
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        if zero_grad:
            optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        if scheduler is not None and scheduler_first:
            scheduler.step()
        optimizer.step()
        if scheduler is not None and not scheduler_first:
            scheduler.step()
        batches.append((loss.item(), int(y.shape[0])))
    total = sum(n for _, n in batches)
    return sum(loss * n for loss, n in batches) / total, batches




@dataclass(frozen=True)
class TrainSpec:
    """How to build one training check: a model, its optimizer, a scheduler and the batches."""

    seed: int
    batch_size: int
    samples: int
    optimizer: str = "sgd"  # sgd | momentum | adam
    lr: float = 0.1
    scheduler: bool = False
    net: str = "probe"  # probe (8x8 inputs) | seed (the MNIST network, 28x28)
    device: str = "cpu"

    def __repr__(self) -> str:
        sizes = [self.batch_size] * (self.samples // self.batch_size)
        if self.samples % self.batch_size:
            sizes.append(self.samples % self.batch_size)
        sched = ", a scheduler" if self.scheduler else ""
        return f"<{self.net} net, batches of {sizes}, {self.optimizer} lr={self.lr}{sched}>"

    def build(self) -> tuple[Recorder, torch.optim.Optimizer, CountingScheduler | None, TensorLoader]:
        """A fresh, identical setup at every call; the model starts in eval mode, batches on the CPU."""
        gen = torch.Generator().manual_seed(self.seed)
        inner = ProbeNet() if self.net == "probe" else SeedMNISTNet()
        model = Recorder(_init_(inner, gen)).to(self.device).eval()
        side = 8 if self.net == "probe" else 28
        x = torch.randn((self.samples, 1, side, side), generator=gen)
        y = torch.randint(0, 10, (self.samples,), generator=gen)
        params = model.parameters()
        if self.optimizer == "adam":
            opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=self.lr)
        else:
            opt = torch.optim.SGD(params, lr=self.lr, momentum=0.9 if self.optimizer == "momentum" else 0.0)
        sched = None
        if self.scheduler:
            sched = CountingScheduler(
                torch.optim.lr_scheduler.LambdaLR(opt, InverseDecay(0.5))
            )
        return model, opt, sched, TensorLoader(x, y, batch_size=self.batch_size)


def _run_train(
    fn: Callable[..., Any], spec: TrainSpec, **knobs: Any
) -> tuple[Any, Recorder, Any, TensorLoader]:
    model, opt, sched, loader = spec.build()
    kwargs = {"scheduler": sched} if sched is not None else {}
    result = fn(model, loader, opt, spec.device, **kwargs, **knobs)
    return result, model, sched, loader


def _batch_loss(model: nn.Module, loader: TensorLoader, device: str) -> float:
    with torch.no_grad():
        x, y = next(iter(loader))
        return float(pristine.cross_entropy(model(x.to(device)), y.to(device)))


TRAIN_STATE_TOL = {"rtol": 1e-4, "atol": 1e-5}


def _param_variants() -> list[tuple[str, str, dict]]:
    return [
        (
            GRAD_NOT_ZEROED,
            "gradients were never zeroed, so every step used the sum of all earlier "
            "gradients: call optimizer.zero_grad() for every batch",
            {"zero_grad": False},
        ),
        (
            WRONG_LOSS,
            "F.nll_loss on raw logits is not cross-entropy: use F.cross_entropy(logits, y) "
            "(it applies log_softmax itself)",
            {"loss_fn": pristine.nll_loss},
        ),
        (
            SCHEDULER_ORDER,
            "scheduler.step() ran before optimizer.step(): step the optimizer first, then the scheduler",
            {"scheduler_first": True},
        ),
    ]


@_single_threaded
def verify_train(exercise: Exercise, fn: Callable[..., Any], case: Case, visible: bool) -> None:
    """Run the student's epoch and the reference on identical setups; explain any difference."""
    (spec,) = case.args
    model, _, _, loader = spec.build()
    initial = _state(model)
    before = _batch_loss(model, loader, spec.device)
    what = f"train_one_epoch on {spec!r}"
    got, model, sched, loader = _call(exercise, _run_train, (fn, spec), {}, visible=visible, what=what)
    grad_calls = [c for c in model.calls if c[1]]
    if not grad_calls:
        raise _fail(
            exercise,
            LOSS_NOT_DECREASING,
            "the model never ran with gradients enabled: "
            "for each batch compute the loss of model(x) and call loss.backward()",
            what,
            visible=visible,
        )
    if any(not training for training, _, _ in grad_calls):
        raise _fail(
            exercise,
            TRAIN_MODE,
            "call model.train() first: evaluate() leaves the model in eval mode, "
            "and dropout or batch-norm layers behave differently there",
            what,
            visible=visible,
        )
    after_state = _state(model)
    if _same_state(after_state, initial, 0.0, 0.0):
        raise _fail(
            exercise,
            LOSS_NOT_DECREASING,
            "the parameters did not change: call loss.backward() and then optimizer.step() for every batch",
            what,
            visible=visible,
        )
    if sched is not None and sched.steps != len(loader):
        hint = (
            "the scheduler was never stepped: call scheduler.step() after every optimizer.step()"
            if sched.steps == 0
            else f"the scheduler was stepped {sched.steps} times for {len(loader)} batches: step it once "
            "per batch, after optimizer.step() (OneCycleLR counts batches, not epochs)"
        )
        raise _fail(exercise, SCHEDULER, hint, what, visible=visible)
    if spec.net == "seed":
        after = _batch_loss(model, loader, spec.device)
        if not after < before:
            raise _fail(
                exercise,
                LOSS_NOT_DECREASING,
                "one step on a fixed batch did not lower the loss: "
                "step against the gradient of the cross-entropy (loss.backward(), then optimizer.step())",
                f"{what}: loss {before:.5f} before, {after:.5f} after",
                visible=visible,
            )
    if isinstance(got, torch.Tensor) and got.requires_grad:
        raise _fail(
            exercise,
            LOSS_NOT_FLOAT,
            "returned a tensor that still holds the autograd graph of every "
            "batch: accumulate loss.item() (a Python float) instead",
            what,
            visible=visible,
        )
    value = _as_number(got)
    if value is None:
        raise _fail(
            exercise,
            dx.WRONG_TYPE,
            "return the mean loss as a Python float",
            f"got {type(got).__name__} from {what}",
            visible=visible,
        )
    expected, batches, ref_model = _reference_train(spec)
    if not _same_state(after_state, _state(ref_model), **TRAIN_STATE_TOL):
        for tag, hint, knobs in _param_variants():
            if tag == SCHEDULER_ORDER and sched is None:
                continue
            _, wrong_model, _, _ = _quietly(_run_train, _train_epoch_recorded, spec, **knobs)
            if _same_state(after_state, _state(wrong_model), **TRAIN_STATE_TOL):
                raise _fail(exercise, tag, hint, what, visible=visible)
        raise _fail(
            exercise,
            dx.WRONG_VALUE,
            "after the epoch the parameters differ from the reference loop: "
            "for every batch, zero_grad -> model(x) -> F.cross_entropy -> backward -> step",
            what,
            visible=visible,
        )
    if abs(value - expected) <= 1e-5 + 1e-5 * abs(expected):
        return
    losses = [loss for loss, _ in batches]
    wrong_means = [
        (losses[-1], "returned the last batch's loss; return the mean over the whole epoch"),
        (sum(losses), "returned the sum of the batch losses; divide by the number of samples"),
        (
            sum(losses) / len(losses),
            "averaged the batch means, but the last batch is smaller: weight each "
            "batch's loss by its size (loss.item() * y.shape[0]) and divide by the "
            "number of samples",
        ),
        (
            sum(loss * n for loss, n in batches),
            "returned the summed loss of all samples; divide it by the number of samples",
        ),
    ]
    for wrong, hint in wrong_means:
        if abs(wrong - expected) > 1e-6 and abs(value - wrong) <= 1e-5 + 1e-5 * abs(wrong):
            raise _fail(
                exercise,
                MEAN_LOSS_WRONG,
                hint,
                f"{what}: expected {expected:.6f}, got {value:.6f}",
                visible=visible,
            )
    raise _fail(
        exercise,
        MEAN_LOSS_WRONG,
        "return the mean per-sample loss of the epoch: the sum of "
        "loss.item() * batch size over all batches, divided by the number of samples",
        f"{what}: expected {expected:.6f}, got {value:.6f}",
        visible=visible,
    )


def _reference_train(spec: TrainSpec) -> tuple[float, list[tuple[float, int]], nn.Module]:
    (expected, batches), model, _, _ = _quietly(_run_train, _train_epoch_recorded, spec)
    return expected, batches, model


def _train_visible() -> list[Case]:
    return [
        Case(
            (TrainSpec(seed=1, batch_size=16, samples=37, optimizer="sgd", lr=0.1),),
            note="3 batches (16, 16, 5), the model handed over in eval mode",
        ),
        Case(
            (TrainSpec(seed=2, batch_size=8, samples=27, optimizer="momentum", lr=0.05, scheduler=True),),
            note="4 batches with a learning-rate scheduler",
        ),
        Case((TrainSpec(seed=3, batch_size=12, samples=43, optimizer="adam", lr=0.01),), note="Adam"),
        Case(
            (TrainSpec(seed=4, batch_size=32, samples=32, optimizer="sgd", lr=0.05, net="seed"),),
            note="the MNIST network, one fixed batch: one step must lower its loss",
        ),
    ]


def train_cases(r: RandomInputs) -> list[Case]:
    """Hidden cases: random sizes (the last batch smaller), optimizers and schedulers on ``r.device``."""
    rng, dev = r.rng, str(r.device)
    cases = []
    for _ in range(4):
        bs = rng.randint(4, 24)
        samples = bs * rng.randint(1, 4) + rng.randint(1, bs - 1)
        cases.append(
            Case(
                (
                    TrainSpec(
                        seed=rng.randrange(2**31),
                        batch_size=bs,
                        samples=samples,
                        optimizer=rng.choice(["sgd", "momentum", "adam"]),
                        lr=rng.choice([0.01, 0.03, 0.1]) / 10 ** int(rng.random() < 0.3),
                        scheduler=rng.random() < 0.5,
                        device=dev,
                    ),
                )
            )
        )
    bs = rng.randint(16, 64)
    cases.append(
        Case(
            (
                TrainSpec(
                    seed=rng.randrange(2**31),
                    batch_size=bs,
                    samples=bs,
                    optimizer="sgd",
                    lr=0.05,
                    net="seed",
                    device=dev,
                ),
            ),
            note="one step must lower the loss",
        )
    )
    return cases


register(
    Exercise(
        name="train_one_epoch",
        notebook=NOTEBOOK,
        reference=None,
        visible=_train_visible,
        verify=verify_train,
        pure=False,
    )
)


# ------------------------------------------------------------------------ evaluation
def evaluate_reference(model: nn.Module, loader: Any, device: torch.device | str) -> float:
    """Fraction of samples whose largest logit is the label, counted over the whole loader."""
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            y = y.to(device)
            correct += int((model(x.to(device)).argmax(dim=1) == y).sum())
            total += int(y.shape[0])
    return correct / total


@dataclass(frozen=True)
class EvalSpec:
    """A probe classifier, labels that make a known fraction of its predictions right, and the batches."""

    seed: int
    batch_size: int
    samples: int
    right: float = 0.55  # about this fraction of the labels agree with the model
    device: str = "cpu"

    def __repr__(self) -> str:
        sizes = [self.batch_size] * (self.samples // self.batch_size)
        if self.samples % self.batch_size:
            sizes.append(self.samples % self.batch_size)
        return f"<probe net, batches of {sizes}, the model handed over in train mode>"

    def build(self) -> tuple[Recorder, TensorLoader, list[tuple[int, int]]]:
        """Model (train mode), loader (CPU batches) and each batch's (correct, size), all exact."""
        gen = torch.Generator().manual_seed(self.seed)
        inner = _init_(ProbeNet(), gen)
        x = torch.randn((self.samples, 1, 8, 8), generator=gen)
        twin = copy.deepcopy(inner).double()
        with torch.no_grad():  # keep only inputs whose top two logits are far apart: no argmax flips
            for _ in range(50):
                top2 = twin(x.double()).topk(2, dim=1).values
                bad = (top2[:, 0] - top2[:, 1]) < 1e-3
                if not bool(bad.any()):
                    break
                x[bad] = torch.randn((int(bad.sum()), 1, 8, 8), generator=gen)
            pred = twin(x.double()).argmax(dim=1)
        agree = torch.rand(self.samples, generator=gen) < self.right
        shift = torch.randint(1, 10, (self.samples,), generator=gen)
        y = torch.where(agree, pred, (pred + shift) % 10)
        batches = [
            (int(agree[i : i + self.batch_size].sum()), len(agree[i : i + self.batch_size]))
            for i in range(0, self.samples, self.batch_size)
        ]
        model = Recorder(inner).to(self.device).train()
        return model, TensorLoader(x, y, batch_size=self.batch_size), batches


@_single_threaded
def verify_evaluate(exercise: Exercise, fn: Callable[..., Any], case: Case, visible: bool) -> None:
    """The student's accuracy must equal an independent count; mistakes are recognised by their values."""
    (spec,) = case.args
    model, loader, batches = spec.build()
    initial = _state(model)
    what = f"evaluate on {spec!r}"
    got = _call(exercise, fn, (model, loader, spec.device), {}, visible=visible, what=what)
    if not model.calls:
        raise _fail(exercise, EVALUATE_WRONG, "evaluate never called the model", what, visible=visible)
    if any(training for training, _, _ in model.calls):
        raise _fail(
            exercise,
            EVALUATE_WRONG,
            "call model.eval() first: in training mode dropout and batch-norm change the predictions",
            what,
            visible=visible,
        )
    if any(grad for _, grad, _ in model.calls):
        raise _fail(
            exercise,
            EVALUATE_WRONG,
            "wrap the loop in torch.no_grad() (or torch.inference_mode()): "
            "evaluation needs no autograd graph, and building one costs memory and time",
            what,
            visible=visible,
        )
    if not _same_state(_state(model), initial, 0.0, 0.0):
        raise _fail(
            exercise,
            EVALUATE_WRONG,
            "evaluate changed the model's parameters; it must only measure",
            what,
            visible=visible,
        )
    value = _as_number(got)
    if value is None:
        raise _fail(
            exercise,
            dx.WRONG_TYPE,
            "return the accuracy as a Python float in [0, 1]",
            f"got {type(got).__name__} from {what}",
            visible=visible,
        )
    correct = sum(c for c, _ in batches)
    total = sum(n for _, n in batches)
    expected = correct / total
    if abs(value - expected) <= 1e-6:
        return
    wrong = [
        (float(correct), "returned the number of correct predictions; divide by the number of samples"),
        (100.0 * expected, "returned a percentage; return a fraction in [0, 1]"),
        (1.0 - expected, "returned the error rate; accuracy is the fraction of correct predictions"),
        (
            sum(c / n for c, n in batches) / len(batches),
            "averaged the per-batch accuracies, but the last batch is smaller: add up correct predictions "
            "and samples over the whole loader, then divide once",
        ),
        (correct / len(batches), "divided by the number of batches; divide by the number of samples"),
        (
            correct / (len(batches) * spec.batch_size),
            "divided by len(loader) * batch_size, but the last batch is smaller: count the samples",
        ),
    ]
    for wrong_value, hint in wrong:
        if abs(wrong_value - expected) > 1e-6 and abs(value - wrong_value) <= 1e-6:
            raise _fail(
                exercise,
                EVALUATE_WRONG,
                hint,
                f"{what}: expected {expected:.6f}, got {value:.6f}",
                visible=visible,
            )
    raise _fail(
        exercise,
        EVALUATE_WRONG,
        "accuracy = (predictions equal to the labels) / (number of samples), "
        "with the prediction = argmax of the logits over the classes (dim=1)",
        f"{what}: expected {expected:.6f} ({correct} of {total}), got {value:.6f}",
        visible=visible,
    )


def _evaluate_visible() -> list[Case]:
    return [
        Case((EvalSpec(seed=11, batch_size=16, samples=37, right=0.5),), note="3 batches (16, 16, 5)"),
        Case((EvalSpec(seed=12, batch_size=50, samples=50, right=0.7),), note="one batch"),
        Case((EvalSpec(seed=13, batch_size=20, samples=64, right=0.4),), note="4 batches (20, 20, 20, 4)"),
    ]


def evaluate_cases(r: RandomInputs) -> list[Case]:
    """Hidden cases: random sizes (the last batch smaller) and accuracies, on ``r.device``."""
    rng, cases = r.rng, []
    for _ in range(5):
        bs = rng.randint(4, 40)
        samples = bs * rng.randint(1, 5) + rng.randint(1, bs - 1)
        cases.append(
            Case(
                (
                    EvalSpec(
                        seed=rng.randrange(2**31),
                        batch_size=bs,
                        samples=samples,
                        right=rng.uniform(0.2, 0.9),
                        device=str(r.device),
                    ),
                )
            )
        )
    return cases


register(
    Exercise(
        name="evaluate",
        notebook=NOTEBOOK,
        reference=None,
        visible=_evaluate_visible,
        verify=verify_evaluate,
        pure=False,
    )
)


# ------------------------------------------------------------------------ the trained model
@dataclass
class AccuracyCase(Case):
    """Evaluate the trained model on the whole test set, in batches of ``batch_size``, in some order."""

    batch_size: int = 1000
    order_seed: int | None = None
    device: str | None = None  # None: the model's own device


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def count_correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> int:
    """An independent count of correct predictions (no grad), ``batch_size`` images at a time."""
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            logits = model(xb)
            if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (len(xb), 10):
                raise ValueError(
                    f"logits of shape {tuple(getattr(logits, 'shape', ()))} for {len(xb)} images; "
                    f"expected ({len(xb)}, 10)"
                )
            correct += int((logits.argmax(dim=1) == yb).sum())
    return correct


def verify_model(exercise: Exercise, model: Any, case: Case, visible: bool) -> None:
    """The trained network: the seed's architecture, and at least 99.0% on the 10,000 test digits."""
    assert isinstance(case, AccuracyCase)
    from cnnlab.data import DataMissing, mnist_tensors

    if getattr(model, "remote", False):  # graded by the evaluator: fetch the kernel's `model`
        try:
            model = model.fetch()
        except dx.CheckFailed:
            raise
        except Exception as exc:
            raise _fail(exercise, dx.WRONG_TYPE, "`model` must be your trained MNISTConvNet (an instance)",
                        f"{type(exc).__name__}: {exc}", visible=visible) from None
    if isinstance(model, type):
        raise _fail(
            exercise,
            dx.WRONG_TYPE,
            "`model` is a class; it must be the trained network (an instance)",
            visible=visible,
        )
    if not isinstance(model, nn.Module):
        raise _fail(
            exercise,
            dx.WRONG_TYPE,
            "`model` must be your trained MNISTConvNet",
            f"got {type(model).__name__}",
            visible=visible,
        )
    n = _count_params(model)
    if n != EXPECTED_PARAMS:
        raise _fail(
            exercise,
            WRONG_PARAM_COUNT,
            "the graded model must be the seed's network, 21,840 parameters",
            f"`model` has {n:,}",
            visible=visible,
        )
    device = torch.device(case.device) if case.device else _model_device(model)
    try:
        x, y = mnist_tensors(train=False, device=device)
    except DataMissing as err:
        raise _fail(
            exercise, DATA_MISSING, "the MNIST test set is not available", str(err), visible=visible
        ) from None
    if case.order_seed is not None:
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(case.order_seed)).to(device)
        x, y = x[order], y[order]
    try:
        net = copy.deepcopy(model)
    except Exception:  # an uncopyable model is evaluated in place
        net = model
    was_training = net.training
    net = net.to(device).eval()
    try:
        correct = count_correct(net, x, y, case.batch_size)
    except NotImplementedError:
        raise _fail(exercise, dx.NOT_IMPLEMENTED, NOT_IMPLEMENTED_HINT, visible=visible) from None
    except Exception as exc:
        single_ok = True
        try:
            with torch.no_grad():
                net(x[:1])
        except Exception:
            single_ok = False
        tag, hint = (BATCH_LOST, BATCH_HINT) if single_ok else _explain_error(exc)
        raise _fail(
            exercise,
            tag,
            hint,
            f"evaluating `model` on the test set raised {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}",
            visible=visible,
        ) from None
    finally:
        if net is model:
            model.train(was_training)
    accuracy = correct / len(x)
    where = (f"{correct:,} of {len(x):,} test digits right ({accuracy:.2%}) on {device.type}, "
             f"batches of {case.batch_size}")
    if accuracy < ACCURACY_BAR:
        hint = f"the trained model reaches {accuracy:.2%} on the test set; the bar is {ACCURACY_BAR:.1%}" + (
            " (is it trained at all? fix the answers above, then run the training cell)"
            if accuracy < 0.5
            else ""
        )
        raise _fail(exercise, BELOW_BAR, hint, where, visible=visible)
    print(f"  `model`: {where}")


def _model_visible() -> list[Case]:
    return [AccuracyCase(note="the whole MNIST test set, in order", batch_size=1000)]


def model_cases(r: RandomInputs) -> list[Case]:
    """Hidden case: the whole test set in a random order and random batch size, on ``r.device``."""
    return [
        AccuracyCase(
            batch_size=r.rng.randint(100, 2500),
            order_seed=r.rng.randrange(2**31),
            device=str(r.device),
            note="the whole test set, shuffled",
        )
    ]


register(
    Exercise(
        name="model",
        notebook=NOTEBOOK,
        reference=None,
        visible=_model_visible,
        verify=verify_model,
        pure=False,
    )
)


__all__ = [
    "EXPECTED_PARAMS",
    "LAYER_PARAMS",
    "ACCURACY_BAR",
    "NetCase",
    "TrainSpec",
    "EvalSpec",
    "AccuracyCase",
    "ProbeNet",
    "Recorder",
    "CountingScheduler",
    "train_one_epoch_reference",
    "evaluate_reference",
    "count_correct",
    "net_cases",
    "train_cases",
    "evaluate_cases",
    "model_cases",
]
