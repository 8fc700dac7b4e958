"""Notebook 07, MNIST end to end, the grader's side: the fixed network, the reference loops, their known
wrong variants, the hidden case generators and the hidden verifiers.

The four exercises are *property* exercises (``verify=``): a network class, a training loop,
an evaluation loop and a trained model cannot be compared with one reference value. Each
hidden check builds its own small, deterministic models and batches from a seed, runs the
student's code and the reference on identical copies, and explains a difference with a tagged
misconception (``[batch-dimension-lost]``, ``[missing-nonlinearity]``, ``[mean-loss-wrong]``...).
The visible cases, the case classes and the property judges of the visible checks live in
:mod:`cnnlab.checks.mnist_convnet`; at release the reference and the wrong variants below are
run on the visible cases, and their observations are recorded for the student's library.
"""

from __future__ import annotations

import copy
import functools
import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.exercises.base import Exercise, register
from cnnlab import diagnosis as dx
from cnnlab import pristine
from cnnlab.cases import Case, RandomInputs
from cnnlab.checks import mnist_convnet as checks
from cnnlab.checks.calling import NOT_IMPLEMENTED_HINT
from cnnlab.checks.mnist_convnet import (
    ACCURACY_BAR,
    BATCH_HINT,
    BATCH_LOST,
    BELOW_BAR,
    DATA_MISSING,
    EVALUATE_WRONG,
    EXPECTED_PARAMS,
    GRAD_NOT_ZEROED,
    LAYER_PARAMS,
    LOSS_NOT_DECREASING,
    LOSS_NOT_FLOAT,
    MEAN_LOSS_WRONG,
    MISSING_NONLINEARITY,
    SCHEDULER,
    SCHEDULER_ORDER,
    SOFTMAX_NOT_LOGITS,
    SOFTMAX_OVER_BATCH,
    TRAIN_MODE,
    TRAIN_STATE_TOL,
    WRONG_LAYERS,
    WRONG_LOSS,
    WRONG_PARAM_COUNT,
    AccuracyCase,
    EvalSpec,
    NetCase,
    TrainSpec,
)
from cnnlab.data import TensorLoader
from cnnlab.diagnosis import student_frame
from cnnlab.harness import CountingScheduler, ProbeNet, Recorder
from cnnlab.models import SeedMNISTNet
from cnnlab.settings import single_thread

# The helpers the verifiers share with the visible checks (none of them is an answer).
_explain_error = checks.explain_error
_init_ = checks.init_
_state = checks.state
_same_state = checks.same_state
_count_params = checks.count_params
_param_breakdown = checks.param_breakdown
_as_number = checks.as_number
_close = checks.close
_batch_loss = checks.batch_loss
_model_device = checks.model_device

one_thread = single_thread  # tiny tensors: one CPU thread, no waiting for a busy second one


def _single_threaded(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with one_thread():
            return fn(*args, **kwargs)

    return wrapper


# ------------------------------------------------------------------------ shared helpers
def _call(
    exercise: Exercise, fn: Callable[..., Any], args: tuple, kwargs: dict, *, visible: bool, what: str
) -> Any:
    """Call student code; turn its exceptions into tagged failures."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise dx.CheckFailed(exercise.name, dx.NOT_IMPLEMENTED, NOT_IMPLEMENTED_HINT, visible=visible) from None
    except dx.CheckFailed:
        raise
    except Exception as exc:
        tag, hint = _explain_error(exc)
        raise dx.CheckFailed(exercise.name, tag, hint, f"on {what}\n{student_frame(exc)}", visible=visible) from None


def _quietly(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run course code with its warnings silenced (they would be blamed on the student)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# ------------------------------------------------------------------------ MNISTConvNet
def _build_net(exercise: Exercise, cls: Any, case: NetCase, visible: bool) -> nn.Module:
    if not isinstance(cls, type) and not getattr(cls, "remote", False):
        raise dx.CheckFailed(
            exercise.name,
            dx.WRONG_TYPE,
            "MNISTConvNet must be a class (a subclass of nn.Module)",
            f"got {type(cls).__name__}",
            visible=visible,
        )
    with torch.random.fork_rng(devices=[]):  # leave the notebook's random stream alone
        torch.manual_seed(case.seed)
        net = _call(exercise, cls, (), {}, visible=visible, what="MNISTConvNet()")
    if isinstance(net, nn.Module) and any(isinstance(m, SeedMNISTNet) for m in net.modules()):
        raise dx.CheckFailed(
            exercise.name,
            dx.USED_BUILTIN,
            "build the network yourself from nn.Conv2d, nn.MaxPool2d and nn.Linear, "
            "not from the course's cnnlab.models.SeedMNISTNet",
            visible=visible,
        )
    if not isinstance(net, nn.Module):
        raise dx.CheckFailed(
            exercise.name,
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
        raise dx.CheckFailed(exercise.name, dx.NOT_IMPLEMENTED, NOT_IMPLEMENTED_HINT, visible=visible) from None
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
            raise dx.CheckFailed(
                exercise.name,
                BATCH_LOST,
                BATCH_HINT,
                f"one image works, but {what} raised {type(exc).__name__}: {str(exc).splitlines()[0]}\n"
                f"{student_frame(exc)}",
                visible=visible,
            ) from None
        tag, hint = _explain_error(exc)
        raise dx.CheckFailed(exercise.name, tag, hint, f"on {what}\n{student_frame(exc)}", visible=visible) from None
    if not isinstance(out, torch.Tensor):
        raise dx.CheckFailed(
            exercise.name,
            dx.WRONG_TYPE,
            "forward must return a tensor of logits",
            f"got {type(out).__name__} on {what}",
            visible=visible,
        )
    if tuple(out.shape) != (n, 10):
        if tuple(out.shape) == (10,) or (out.ndim != 2 and out.numel() == 10 * n):
            raise dx.CheckFailed(
                exercise.name,
                BATCH_LOST,
                BATCH_HINT,
                f"{what} gave logits of shape {tuple(out.shape)}; expected ({n}, 10)",
                visible=visible,
            )
        raise dx.CheckFailed(
            exercise.name,
            dx.WRONG_SHAPE,
            f"the logits must have shape (N, 10); got {tuple(out.shape)}",
            f"on {what}",
            visible=visible,
        )
    if out.device != x.device:
        raise dx.CheckFailed(
            exercise.name,
            dx.WRONG_DEVICE,
            "the logits are on another device than the input",
            f"input on {x.device}, logits on {out.device}",
            visible=visible,
        )
    return out


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
            raise dx.CheckFailed(
                exercise.name,
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
            raise dx.CheckFailed(
                exercise.name,
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
            raise dx.CheckFailed(
                exercise.name,
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
            raise dx.CheckFailed(
                exercise.name,
                SOFTMAX_OVER_BATCH,
                "a softmax over dim 0 mixes the images of a batch; return raw logits (no softmax at all)",
                visible=visible,
            )
        raise dx.CheckFailed(
            exercise.name,
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
            raise dx.CheckFailed(
                exercise.name,
                SOFTMAX_NOT_LOGITS,
                "returned probabilities (a softmax); return the raw logits: F.cross_entropy applies "
                "log-softmax itself, and a softmax before it slows learning",
                visible=visible,
            )
        return
    raise ValueError(f"unknown NetCase kind {kind!r}")


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


class ReferenceMNISTNet(nn.Module):
    """Post [5]'s MNIST network with its two bugs fixed: the answer to ``MNISTConvNet``.

    The flatten keeps the batch dimension, and a ReLU separates fc1 and fc2. (``cnnlab.models.SeedMNISTNet``,
    which students may measure, keeps the missing ReLU.)
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(F.relu(self.conv1(x)))
        return self.pool2(F.relu(self.conv2(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(self.features(x).flatten(1))))


class _AsWritten(ReferenceMNISTNet):
    """The post's forward: ``.view(320)`` (one image only) and nothing between fc1 and fc2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(self.features(x).view(320)))


class _NoReLU(ReferenceMNISTNet):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(self.features(x).flatten(1)))


class _Softmaxed(ReferenceMNISTNet):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(super().forward(x), dim=1)


class _SoftmaxOverBatch(ReferenceMNISTNet):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(super().forward(x), dim=0)


class _Wider(ReferenceMNISTNet):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(320, 64), nn.Linear(64, 10)


NET_MISCONCEPTIONS = (
    dx.Misconception(BATCH_LOST, BATCH_HINT, variant=_AsWritten),
    dx.Misconception(MISSING_NONLINEARITY, checks.NONLINEARITY_HINT, variant=_NoReLU),
    dx.Misconception(SOFTMAX_NOT_LOGITS, checks.SOFTMAX_HINT, variant=_Softmaxed),
    dx.Misconception(SOFTMAX_OVER_BATCH, checks.SOFTMAX_OVER_BATCH_HINT, variant=_SoftmaxOverBatch),
    dx.Misconception(WRONG_PARAM_COUNT, checks.PARAMS_HINT, variant=_Wider),
)

register(Exercise.from_spec(checks.NET_SPEC, ReferenceMNISTNet, misconceptions=NET_MISCONCEPTIONS, verify=verify_net))


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




def _run_train(
    fn: Callable[..., Any], spec: TrainSpec, **knobs: Any
) -> tuple[Any, Recorder, Any, TensorLoader]:
    model, opt, sched, loader = spec.build()
    kwargs = {"scheduler": sched} if sched is not None else {}
    result = fn(model, loader, opt, spec.device, **kwargs, **knobs)
    return result, model, sched, loader


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


# Wrong summaries of an epoch's (batch mean loss, batch size) pairs, with what each one means.
_WRONG_MEANS: list[tuple[Callable[[list[tuple[float, int]]], float], str]] = [
    (lambda batches: batches[-1][0], "returned the last batch's loss; return the mean over the whole epoch"),
    (
        lambda batches: sum(loss for loss, _ in batches),
        "returned the sum of the batch losses; divide by the number of samples",
    ),
    (
        lambda batches: sum(loss for loss, _ in batches) / len(batches),
        "averaged the batch means, but the last batch is smaller: weight each "
        "batch's loss by its size (loss.item() * y.shape[0]) and divide by the "
        "number of samples",
    ),
    (
        lambda batches: sum(loss * n for loss, n in batches),
        "returned the summed loss of all samples; divide it by the number of samples",
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
        raise dx.CheckFailed(
            exercise.name,
            LOSS_NOT_DECREASING,
            "the model never ran with gradients enabled: "
            "for each batch compute the loss of model(x) and call loss.backward()",
            what,
            visible=visible,
        )
    if any(not training for training, _, _ in grad_calls):
        raise dx.CheckFailed(
            exercise.name,
            TRAIN_MODE,
            "call model.train() first: evaluate() leaves the model in eval mode, "
            "and dropout or batch-norm layers behave differently there",
            what,
            visible=visible,
        )
    after_state = _state(model)
    if _same_state(after_state, initial, 0.0, 0.0):
        raise dx.CheckFailed(
            exercise.name,
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
        raise dx.CheckFailed(exercise.name, SCHEDULER, hint, what, visible=visible)
    if spec.net == "seed":
        after = _batch_loss(model, loader, spec.device)
        if not after < before:
            raise dx.CheckFailed(
                exercise.name,
                LOSS_NOT_DECREASING,
                "one step on a fixed batch did not lower the loss: "
                "step against the gradient of the cross-entropy (loss.backward(), then optimizer.step())",
                f"{what}: loss {before:.5f} before, {after:.5f} after",
                visible=visible,
            )
    if isinstance(got, torch.Tensor) and got.requires_grad:
        raise dx.CheckFailed(
            exercise.name,
            LOSS_NOT_FLOAT,
            "returned a tensor that still holds the autograd graph of every "
            "batch: accumulate loss.item() (a Python float) instead",
            what,
            visible=visible,
        )
    value = _as_number(got)
    if value is None:
        raise dx.CheckFailed(
            exercise.name,
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
                raise dx.CheckFailed(exercise.name, tag, hint, what, visible=visible)
        raise dx.CheckFailed(
            exercise.name,
            dx.WRONG_VALUE,
            "after the epoch the parameters differ from the reference loop: "
            "for every batch, zero_grad -> model(x) -> F.cross_entropy -> backward -> step",
            what,
            visible=visible,
        )
    if abs(value - expected) <= 1e-5 + 1e-5 * abs(expected):
        return
    wrong_means = [(mean(batches), hint) for mean, hint in _WRONG_MEANS]
    for wrong, hint in wrong_means:
        if abs(wrong - expected) > 1e-6 and abs(value - wrong) <= 1e-5 + 1e-5 * abs(wrong):
            raise dx.CheckFailed(
                exercise.name,
                MEAN_LOSS_WRONG,
                hint,
                f"{what}: expected {expected:.6f}, got {value:.6f}",
                visible=visible,
            )
    raise dx.CheckFailed(
        exercise.name,
        MEAN_LOSS_WRONG,
        "return the mean per-sample loss of the epoch: the sum of "
        "loss.item() * batch size over all batches, divided by the number of samples",
        f"{what}: expected {expected:.6f}, got {value:.6f}",
        visible=visible,
    )


def _reference_train(spec: TrainSpec) -> tuple[float, list[tuple[float, int]], nn.Module]:
    (expected, batches), model, _, _ = _quietly(_run_train, _train_epoch_recorded, spec)
    return expected, batches, model


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


def _wrong_epoch(**knobs: Any) -> Callable[..., float]:
    """The reference loop with one of its knobs turned: a known wrong training epoch."""

    def train_one_epoch(model: nn.Module, loader: Any, optimizer: torch.optim.Optimizer,
                        device: torch.device | str, scheduler: Any = None) -> float:
        return _quietly(_train_epoch_recorded, model, loader, optimizer, device, scheduler, **knobs)[0]

    return train_one_epoch


def _wrong_mean(mean: Callable[[list[tuple[float, int]]], float]) -> Callable[..., float]:
    """The reference loop that returns another summary of its batch losses than the per-sample mean."""

    def train_one_epoch(model: nn.Module, loader: Any, optimizer: torch.optim.Optimizer,
                        device: torch.device | str, scheduler: Any = None) -> float:
        return mean(_train_epoch_recorded(model, loader, optimizer, device, scheduler)[1])

    return train_one_epoch


TRAIN_MISCONCEPTIONS = tuple(
    dx.Misconception(tag, hint, variant=_wrong_epoch(**knobs)) for tag, hint, knobs in _param_variants()
) + tuple(dx.Misconception(MEAN_LOSS_WRONG, hint, variant=_wrong_mean(mean)) for mean, hint in _WRONG_MEANS)

register(Exercise.from_spec(checks.TRAIN_SPEC, train_one_epoch_reference, misconceptions=TRAIN_MISCONCEPTIONS,
                            verify=verify_train))


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


# Wrong accuracies from each batch's (correct, size) and the loader's batch size, with what each one means.
_WRONG_ACCURACIES: list[tuple[Callable[[list[tuple[int, int]], int], float], str]] = [
    (
        lambda batches, _: float(sum(c for c, _ in batches)),
        "returned the number of correct predictions; divide by the number of samples",
    ),
    (
        lambda batches, _: 100.0 * sum(c for c, _ in batches) / sum(n for _, n in batches),
        "returned a percentage; return a fraction in [0, 1]",
    ),
    (
        lambda batches, _: 1.0 - sum(c for c, _ in batches) / sum(n for _, n in batches),
        "returned the error rate; accuracy is the fraction of correct predictions",
    ),
    (
        lambda batches, _: sum(c / n for c, n in batches) / len(batches),
        "averaged the per-batch accuracies, but the last batch is smaller: add up correct predictions "
        "and samples over the whole loader, then divide once",
    ),
    (
        lambda batches, _: sum(c for c, _ in batches) / len(batches),
        "divided by the number of batches; divide by the number of samples",
    ),
    (
        lambda batches, batch_size: sum(c for c, _ in batches) / (len(batches) * batch_size),
        "divided by len(loader) * batch_size, but the last batch is smaller: count the samples",
    ),
]


@_single_threaded
def verify_evaluate(exercise: Exercise, fn: Callable[..., Any], case: Case, visible: bool) -> None:
    """The student's accuracy must equal an independent count; mistakes are recognised by their values."""
    (spec,) = case.args
    model, loader, batches = spec.build()
    initial = _state(model)
    what = f"evaluate on {spec!r}"
    got = _call(exercise, fn, (model, loader, spec.device), {}, visible=visible, what=what)
    if not model.calls:
        raise dx.CheckFailed(exercise.name, EVALUATE_WRONG, "evaluate never called the model", what, visible=visible)
    if any(training for training, _, _ in model.calls):
        raise dx.CheckFailed(
            exercise.name,
            EVALUATE_WRONG,
            "call model.eval() first: in training mode dropout and batch-norm change the predictions",
            what,
            visible=visible,
        )
    if any(grad for _, grad, _ in model.calls):
        raise dx.CheckFailed(
            exercise.name,
            EVALUATE_WRONG,
            "wrap the loop in torch.no_grad() (or torch.inference_mode()): "
            "evaluation needs no autograd graph, and building one costs memory and time",
            what,
            visible=visible,
        )
    if not _same_state(_state(model), initial, 0.0, 0.0):
        raise dx.CheckFailed(
            exercise.name,
            EVALUATE_WRONG,
            "evaluate changed the model's parameters; it must only measure",
            what,
            visible=visible,
        )
    value = _as_number(got)
    if value is None:
        raise dx.CheckFailed(
            exercise.name,
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
    wrong = [(accuracy(batches, spec.batch_size), hint) for accuracy, hint in _WRONG_ACCURACIES]
    for wrong_value, hint in wrong:
        if abs(wrong_value - expected) > 1e-6 and abs(value - wrong_value) <= 1e-6:
            raise dx.CheckFailed(
                exercise.name,
                EVALUATE_WRONG,
                hint,
                f"{what}: expected {expected:.6f}, got {value:.6f}",
                visible=visible,
            )
    raise dx.CheckFailed(
        exercise.name,
        EVALUATE_WRONG,
        "accuracy = (predictions equal to the labels) / (number of samples), "
        "with the prediction = argmax of the logits over the classes (dim=1)",
        f"{what}: expected {expected:.6f} ({correct} of {total}), got {value:.6f}",
        visible=visible,
    )


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


def _wrong_accuracy(accuracy: Callable[[list[tuple[int, int]], int], float]) -> Callable[..., float]:
    """An evaluation that counts like the reference, then returns another number than the accuracy."""

    def evaluate(model: nn.Module, loader: Any, device: torch.device | str) -> float:
        model.eval()
        batches = []
        with torch.no_grad():
            for x, y in loader:
                y = y.to(device)
                batches.append((int((model(x.to(device)).argmax(dim=1) == y).sum()), int(y.shape[0])))
        return accuracy(batches, batches[0][1])

    return evaluate


EVALUATE_MISCONCEPTIONS = tuple(
    dx.Misconception(EVALUATE_WRONG, hint, variant=_wrong_accuracy(accuracy)) for accuracy, hint in _WRONG_ACCURACIES
)

register(Exercise.from_spec(checks.EVALUATE_SPEC, evaluate_reference, misconceptions=EVALUATE_MISCONCEPTIONS,
                            verify=verify_evaluate))


# ------------------------------------------------------------------------ the trained model
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
            raise dx.CheckFailed(exercise.name, dx.WRONG_TYPE,
                                 "`model` must be your trained MNISTConvNet (an instance)",
                                 f"{type(exc).__name__}: {exc}", visible=visible) from None
    if isinstance(model, type):
        raise dx.CheckFailed(
            exercise.name,
            dx.WRONG_TYPE,
            "`model` is a class; it must be the trained network (an instance)",
            visible=visible,
        )
    if not isinstance(model, nn.Module):
        raise dx.CheckFailed(
            exercise.name,
            dx.WRONG_TYPE,
            "`model` must be your trained MNISTConvNet",
            f"got {type(model).__name__}",
            visible=visible,
        )
    n = _count_params(model)
    if n != EXPECTED_PARAMS:
        raise dx.CheckFailed(
            exercise.name,
            WRONG_PARAM_COUNT,
            "the graded model must be the seed's network, 21,840 parameters",
            f"`model` has {n:,}",
            visible=visible,
        )
    device = torch.device(case.device) if case.device else _model_device(model)
    try:
        x, y = mnist_tensors(train=False, device=device)
    except DataMissing as err:
        raise dx.CheckFailed(
            exercise.name, DATA_MISSING, "the MNIST test set is not available", str(err), visible=visible
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
        raise dx.CheckFailed(exercise.name, dx.NOT_IMPLEMENTED, NOT_IMPLEMENTED_HINT, visible=visible) from None
    except Exception as exc:
        single_ok = True
        try:
            with torch.no_grad():
                net(x[:1])
        except Exception:
            single_ok = False
        tag, hint = (BATCH_LOST, BATCH_HINT) if single_ok else _explain_error(exc)
        raise dx.CheckFailed(
            exercise.name,
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
        hint = f"the trained model reaches {accuracy:.2%} on the test set; the bar is {ACCURACY_BAR:.1%}"
        if accuracy < 0.5:
            hint += "\n(is it trained at all? fix the answers above, then run the training cell)"
        raise dx.CheckFailed(exercise.name, BELOW_BAR, hint, where, visible=visible)
    print(f"  `model`: {where}")


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


# No reference: a trained model is the student's own; its visible check is a property judge alone.
register(Exercise.from_spec(checks.MODEL_SPEC, None, verify=verify_model))


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
    "ReferenceMNISTNet",
    "train_one_epoch_reference",
    "evaluate_reference",
    "count_correct",
    "net_cases",
    "train_cases",
    "evaluate_cases",
    "model_cases",
]
