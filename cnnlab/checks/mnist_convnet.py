"""Notebook 07, MNIST end to end: the visible cases of its four property exercises, and how they are judged.

A network class, a training loop, an evaluation loop and a trained model cannot be compared
with one recorded value. Each visible check builds a small deterministic setup from its case,
runs the student's code on it and reports what happened as plain data (an *observation*:
parameter counts, output shapes, the parameters after an epoch, the returned loss...). A
property judge then names the mistake with the hidden tests' tags: first what it can tell on
its own (a lost batch dimension, a missing nonlinearity, eval mode, an unstepped scheduler...),
then by comparing with what the reference and its known wrong variants produced on the same
case at release (``cnnlab/expected/07_mnist_convnet.pt``). Nothing here computes an answer.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn as nn

from cnnlab import diagnosis as dx
from cnnlab import pristine
from cnnlab.cases import Case, RandomInputs
from cnnlab.checks.spec import VisibleSpec, declare
from cnnlab.comparing import Tolerance
from cnnlab.data import TensorLoader
from cnnlab.harness import CountingScheduler, InverseDecay, ProbeNet, Recorder
from cnnlab.models import SeedMNISTNet

NOTEBOOK = "07_mnist_convnet"
EXPECTED_PARAMS = 21_840
LAYER_PARAMS = {"conv1": 260, "conv2": 5_020, "fc1": 16_050, "fc2": 510}
ACCURACY_BAR = 0.99
TEST_SET_SIZE = 10_000

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
PARAMS_HINT = "the seed's network has 21,840 parameters: conv1 260 + conv2 5,020 + fc1 16,050 + fc2 510"
LAYERS_HINT = (
    "keep the seed's layers and names: conv1 = Conv2d(1, 10, 5), conv2 = Conv2d(10, 20, 5), "
    "fc1 = Linear(320, 50), fc2 = Linear(50, 10) (the plots use these names)"
)
NONLINEARITY_HINT = (
    "nothing between fc1 and fc2: two linear layers in a row are one linear layer "
    "(W2 W1 x + W2 b1 + b2); put F.relu on fc1's output"
)
SOFTMAX_HINT = (
    "returned probabilities (a softmax); return the raw logits: F.cross_entropy applies "
    "log-softmax itself, and a softmax before it slows learning"
)
SOFTMAX_OVER_BATCH_HINT = "a softmax over dim 0 mixes the images of a batch; return raw logits (no softmax at all)"
MIXED_BATCH_HINT = (
    "an image's logits depend on the other images in its batch: keep dim 0 (the batch) "
    "apart; flatten with x.flatten(1)"
)
TRAIN_STATE_TOL = {"rtol": 1e-4, "atol": 1e-5}
# An epoch's observation keeps the parameter tensors of at most this many entries: all of the probe net's,
# and the biases, conv1 and fc2 of the MNIST-sized net (its fc1 and conv2 weights would only make the record big).
KEPT_PARAMS = 1024


# ------------------------------------------------------------------------ shared helpers
def explain_error(exc: BaseException) -> tuple[str, str]:
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


def _error_report(exc: BaseException) -> dict[str, str]:
    """An exception of the student's code as plain data: its tag, hint, first line and where."""
    tag, hint = explain_error(exc)
    text = str(exc)
    where = dx.student_frame(exc)
    return {"tag": tag, "hint": hint, "message": f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}",
            # only a notebook's line: a course file's (a recorded wrong variant's) would leak into the record
            "where": where if where.startswith("in your code") else ""}


def _raise_error(name: str, error: dict[str, str], what: str) -> None:
    raise dx.CheckFailed(name, error["tag"], error["hint"], f"on {what}\n{error['where']}".rstrip())


def init_(module: nn.Module, gen: torch.Generator) -> nn.Module:
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


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of ``model``'s state dict."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], rtol: float, atol: float) -> bool:
    """Same keys, shapes and values (within ``rtol``/``atol``)."""
    return a.keys() == b.keys() and all(
        a[k].shape == b[k].shape
        and bool(pristine.allclose(a[k].double(), b[k].double(), rtol=rtol, atol=atol))
        for k in a
    )


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def param_breakdown(model: nn.Module) -> str:
    """``conv1 260, conv2 5,020, ...``: the parameters of each direct submodule that has some."""
    parts = [
        f"{name} {sum(p.numel() for p in child.parameters()):,}"
        for name, child in model.named_children()
        if any(True for _ in child.parameters())
    ]
    return ", ".join(parts) or "no submodules"


def as_number(value: Any) -> float | None:
    """``value`` as a float when it is a real number or a one-element tensor without a graph."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.requires_grad:
        return float(value.item())
    return None


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """``a`` equals ``b`` up to float rounding, relative to ``b``'s largest entry."""
    scale = float(b.detach().abs().max()) if b.numel() else 0.0
    return bool(pristine.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-5 + 1e-4 * scale))


def batch_loss(model: nn.Module, loader: TensorLoader, device: str) -> float:
    """The cross-entropy of ``model`` on the loader's first batch (no grad)."""
    with torch.no_grad():
        x, y = next(iter(loader))
        return float(pristine.cross_entropy(model(x.to(device)), y.to(device)))


def _sizes(batch_size: int, samples: int) -> list[int]:
    sizes = [batch_size] * (samples // batch_size)
    if samples % batch_size:
        sizes.append(samples % batch_size)
    return sizes


# ------------------------------------------------------------------------ cases
@dataclass
class NetCase(Case):
    """One property of the network: ``kind`` says which; ``args`` holds the input batch, if any."""

    kind: str = "shape"
    seed: int = 0
    device: str = "cpu"

    def cloned(self) -> NetCase:
        c = super().cloned()
        return replace(self, args=c.args, kwargs=c.kwargs)

    def describe(self, name: str) -> str:
        if self.args:
            return f"{name}() on a batch of shape {tuple(self.args[0].shape)}"
        return f"{name}()"


@dataclass(frozen=True)
class TrainSpec:
    """How to build one training check: a model, its optimizer, a scheduler and the batches."""

    seed: int
    batch_size: int
    samples: int
    optimizer: str = "sgd"  # sgd | momentum | adam
    lr: float = 0.1
    scheduler: bool = False
    net: str = "probe"  # probe (8x8 inputs) | seed (the measuring copy of post [5]'s network, 28x28)
    device: str = "cpu"

    def __repr__(self) -> str:
        sched = ", a scheduler" if self.scheduler else ""
        sizes = _sizes(self.batch_size, self.samples)
        return f"<{self.net} net, batches of {sizes}, {self.optimizer} lr={self.lr}{sched}>"

    def build(self) -> tuple[Recorder, torch.optim.Optimizer, CountingScheduler | None, TensorLoader]:
        """A fresh, identical setup at every call; the model starts in eval mode, batches on the CPU."""
        gen = torch.Generator().manual_seed(self.seed)
        inner = ProbeNet() if self.net == "probe" else SeedMNISTNet()
        model = Recorder(init_(inner, gen)).to(self.device).eval()
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
            sched = CountingScheduler(torch.optim.lr_scheduler.LambdaLR(opt, InverseDecay(0.5)))
        return model, opt, sched, TensorLoader(x, y, batch_size=self.batch_size)


@dataclass(frozen=True)
class EvalSpec:
    """A probe classifier, labels that make a known fraction of its predictions right, and the batches."""

    seed: int
    batch_size: int
    samples: int
    right: float = 0.55  # about this fraction of the labels agree with the model
    device: str = "cpu"

    def __repr__(self) -> str:
        return f"<probe net, batches of {_sizes(self.batch_size, self.samples)}, the model handed over in train mode>"

    def build(self) -> tuple[Recorder, TensorLoader, list[tuple[int, int]]]:
        """Model (train mode), loader (CPU batches) and each batch's (correct, size), all exact."""
        gen = torch.Generator().manual_seed(self.seed)
        inner = init_(ProbeNet(), gen)
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


@dataclass
class AccuracyCase(Case):
    """Evaluate the trained model on the whole test set, in batches of ``batch_size``, in some order."""

    batch_size: int = 1000
    order_seed: int | None = None
    device: str | None = None  # None: the model's own device

    def cloned(self) -> AccuracyCase:
        c = super().cloned()
        return replace(self, args=c.args, kwargs=c.kwargs)

    def describe(self, name: str) -> str:
        return f"`{name}` on the {TEST_SET_SIZE:,} MNIST test digits, batches of {self.batch_size}"


def _net_cases() -> list[Case]:
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


def _train_cases() -> list[Case]:
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
            note="an MNIST-sized network, one fixed batch: one step must lower its loss",
        ),
    ]


def _evaluate_cases() -> list[Case]:
    return [
        Case((EvalSpec(seed=11, batch_size=16, samples=37, right=0.5),), note="3 batches (16, 16, 5)"),
        Case((EvalSpec(seed=12, batch_size=50, samples=50, right=0.7),), note="one batch"),
        Case((EvalSpec(seed=13, batch_size=20, samples=64, right=0.4),), note="4 batches (20, 20, 20, 4)"),
    ]


def _model_cases() -> list[Case]:
    return [AccuracyCase(note="the whole MNIST test set, in order", batch_size=1000)]


# ------------------------------------------------------------------------ MNISTConvNet
def _forward(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor | None, dict[str, Any]]:
    """Run ``net`` on ``x`` (no grad): the logits when usable, and a plain report of what came out."""
    n = int(x.shape[0])
    report: dict[str, Any] = {"input": tuple(x.shape), "error": None, "single_ok": None, "returned": None,
                              "shape": None, "same_device": None}
    try:
        with torch.no_grad():
            out = net(x.clone())
    except (NotImplementedError, dx.CheckFailed):
        raise
    except Exception as exc:
        report["error"] = _error_report(exc)
        if n > 1:
            try:
                with torch.no_grad():
                    net(x[:1].clone())
                report["single_ok"] = True
            except Exception:
                report["single_ok"] = False
        return None, report
    report["returned"] = type(out).__name__
    if not isinstance(out, torch.Tensor):
        return None, report
    report["shape"] = tuple(out.shape)
    report["same_device"] = out.device == x.device
    usable = report["shape"] == (n, 10) and report["same_device"]
    return (out.detach() if usable else None), report


def _judge_forward(name: str, report: dict[str, Any]) -> None:
    n = report["input"][0]
    what = f"a batch of shape {report['input']}"
    error = report["error"]
    if error is not None:
        if report["single_ok"]:
            raise dx.CheckFailed(name, BATCH_LOST, BATCH_HINT,
                                 f"one image works, but {what} raised {error['message']}\n{error['where']}".rstrip())
        _raise_error(name, error, what)
    if report["shape"] is None:
        raise dx.CheckFailed(name, dx.WRONG_TYPE, "forward must return a tensor of logits",
                             f"got {report['returned']} on {what}")
    shape = report["shape"]
    if shape != (n, 10):
        if shape == (10,) or (len(shape) != 2 and math.prod(shape) == 10 * n):
            raise dx.CheckFailed(name, BATCH_LOST, BATCH_HINT,
                                 f"{what} gave logits of shape {shape}; expected ({n}, 10)")
        raise dx.CheckFailed(name, dx.WRONG_SHAPE, f"the logits must have shape (N, 10); got {shape}", f"on {what}")
    if not report["same_device"]:
        raise dx.CheckFailed(name, dx.WRONG_DEVICE, "the logits are on another device than the input")


def _layer(layer: Any) -> dict[str, Any]:
    """What a contract's layer name holds: its kind and sizes, and its repr for messages."""
    if layer is None:
        return {"spec": None, "repr": "missing"}
    if isinstance(layer, nn.Conv2d):
        spec: tuple = ("Conv2d", layer.in_channels, layer.out_channels, tuple(layer.kernel_size))
    elif isinstance(layer, nn.Linear):
        spec = ("Linear", layer.in_features, layer.out_features)
    else:
        spec = (type(layer).__name__,)
    return {"spec": spec, "repr": repr(layer) if isinstance(layer, nn.Module) else type(layer).__name__}


def _layer_params(layer: Any) -> int | None:
    return count_params(layer) if isinstance(layer, nn.Module) else None


def _spec_text(spec: tuple | None) -> str:
    if spec is None:
        return "missing"
    if spec[0] == "Conv2d":
        return f"nn.Conv2d({spec[1]}, {spec[2]}, {spec[3][0] if spec[3][0] == spec[3][1] else spec[3]})"
    if spec[0] == "Linear":
        return f"nn.Linear({spec[1]}, {spec[2]})"
    return spec[0]


def _passthrough(net: nn.Module, x: torch.Tensor) -> bool:
    """Whether some Linear layer receives exactly what the Linear layer called before it returned."""
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def hook(module: nn.Module, inputs: tuple, output: Any) -> None:
        if inputs and isinstance(inputs[0], torch.Tensor) and isinstance(output, torch.Tensor):
            # clone: an in-place ReLU afterwards would otherwise change what we saw
            calls.append((inputs[0].detach().clone(), output.detach().clone()))

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Linear)]
    try:
        with torch.no_grad():
            net(x.clone())
    finally:
        for h in handles:
            h.remove()
    return any(out_a.shape == in_b.shape and bool(pristine.equal(out_a, in_b))
               for (_, out_a), (in_b, _) in zip(calls, calls[1:], strict=False))


def _affine_after_fc1(net: nn.Module, x: torch.Tensor) -> bool | None:
    """Whether the logits are an affine function of fc1's output: scaled by -1 and by 2, they move
    exactly as a linear map would (a ReLU breaks the first, a tanh the second). ``None``: no fc1."""
    fc1 = getattr(net, "fc1", None)
    if not isinstance(fc1, nn.Module):
        return None
    outs, fired = [], []

    def scaled(scale: float) -> Any:
        def hook(_module: nn.Module, _inputs: tuple, out: Any) -> Any:
            fired.append(scale)
            return out * scale

        return hook

    for scale in (1.0, -1.0, 2.0, 0.0):
        handle = fc1.register_forward_hook(scaled(scale))
        try:
            with torch.no_grad():
                outs.append(net(x.clone()).detach().double())
        except Exception:
            return None
        finally:
            handle.remove()
    g1, g_minus, g2, g0 = outs
    step = g1 - g0
    if not fired or not bool(step.abs().max() > 0):  # fc1 never called as a module, or its output unused
        return None
    tol = 1e-5 + 1e-4 * float(step.abs().max())
    odd = float((g_minus - g0 + step).abs().max()) <= tol
    homogeneous = float((g2 - g0 - 2 * step).abs().max()) <= 2 * tol
    return odd and homogeneous


def observe_net(cls: Any, case: NetCase) -> dict[str, Any]:
    """Build ``cls`` under the case's seed and report the property ``case.kind`` asks about."""
    if not isinstance(cls, type):
        return {"built": "not-a-class", "type": type(cls).__name__}
    with torch.random.fork_rng(devices=[]):  # leave the notebook's random stream alone
        torch.manual_seed(case.seed)
        net = cls()
    if not isinstance(net, nn.Module):
        return {"built": "not-a-module", "type": type(net).__name__}
    if any(isinstance(m, SeedMNISTNet) for m in net.modules()):
        return {"built": "borrowed", "type": type(net).__name__}
    obs: dict[str, Any] = {"built": "module", "type": "module"}
    net = net.to(case.device).eval()
    if case.kind == "params":
        obs["layers"] = {name: _layer_params(getattr(net, name, None)) for name in LAYER_PARAMS}
        obs["total"] = count_params(net)
        obs["breakdown"] = param_breakdown(net)
        return obs
    if case.kind == "layers":
        obs["layers"] = {name: _layer(getattr(net, name, None)) for name in LAYER_PARAMS}
        return obs
    (x,) = case.args
    x = x.to(case.device)
    full, obs["forward"] = _forward(net, x)
    if full is None:
        return obs
    if case.kind == "composition":
        parts = []
        for i in range(x.shape[0]):
            one, report = _forward(net, x[i : i + 1])
            if one is None:
                obs["forward"] = report
                return obs
            parts.append(one)
        perm = torch.arange(x.shape[0] - 1, -1, -1, device=x.device)
        shuffled, report = _forward(net, x[perm])
        if shuffled is None:
            obs["forward"] = report
            return obs
        ones = torch.ones(full.shape[1], dtype=torch.float64, device=full.device)
        obs["same_alone"] = close(full, torch.cat(parts))
        obs["same_shuffled"] = close(full, shuffled[perm])
        obs["columns_sum_to_one"] = close(full.double().sum(0), ones) or close(full.double().exp().sum(0), ones)
    elif case.kind == "nonlinearity":
        obs["passthrough"] = _passthrough(net, x)
        obs["affine_after_fc1"] = _affine_after_fc1(net, x)
    elif case.kind == "logits":
        out = full.double()
        rows = out.sum(1)
        obs["probabilities"] = bool((out >= 0).all()) and close(rows, torch.ones_like(rows))
    return obs


def judge_net(spec: VisibleSpec, case: Case, obs: dict[str, Any], record: dict) -> None:
    """Name what is wrong with the network's property; the recorded reference supplies the contract's sizes."""
    name = spec.name
    built = obs["built"]
    if built == "not-a-class":
        raise dx.CheckFailed(name, dx.WRONG_TYPE, "MNISTConvNet must be a class (a subclass of nn.Module)",
                             f"got {obs['type']}")
    if built == "not-a-module":
        raise dx.CheckFailed(name, dx.WRONG_TYPE, "MNISTConvNet() must build an nn.Module", f"got {obs['type']}")
    if built == "borrowed":
        raise dx.CheckFailed(name, dx.USED_BUILTIN, "build the network yourself from nn.Conv2d, nn.MaxPool2d and "
                             "nn.Linear, not from the course's cnnlab.models.SeedMNISTNet")
    expected = record["expected"]
    assert isinstance(case, NetCase)
    if case.kind == "params":
        if obs["total"] != expected["total"]:
            raise dx.CheckFailed(name, WRONG_PARAM_COUNT, PARAMS_HINT,
                                 f"yours has {obs['total']:,} ({obs['breakdown']})")
        return
    if case.kind == "layers":
        for layer, wanted in expected["layers"].items():
            got = obs["layers"][layer]
            if got["spec"] != wanted["spec"]:
                raise dx.CheckFailed(name, WRONG_LAYERS, LAYERS_HINT,
                                     f"self.{layer} should be {_spec_text(wanted['spec'])}; it is {got['repr']}")
        return
    _judge_forward(name, obs["forward"])
    if case.kind == "composition" and not (obs["same_alone"] and obs["same_shuffled"]):
        if obs["columns_sum_to_one"]:
            raise dx.CheckFailed(name, SOFTMAX_OVER_BATCH, SOFTMAX_OVER_BATCH_HINT)
        n = obs["forward"]["input"][0]
        raise dx.CheckFailed(name, BATCH_LOST, MIXED_BATCH_HINT,
                             f"batch of {n}: logits differ from the same images run one at a time or reordered")
    if case.kind == "nonlinearity":
        if obs["passthrough"]:
            raise dx.CheckFailed(name, MISSING_NONLINEARITY, NONLINEARITY_HINT,
                                 "fc2 received exactly what fc1 returned")
        if obs["affine_after_fc1"]:
            raise dx.CheckFailed(name, MISSING_NONLINEARITY, NONLINEARITY_HINT,
                                 "the logits move linearly with fc1's output: scaled by -1 or by 2, "
                                 "fc1's output changes the logits exactly as one linear layer would")
    if case.kind == "logits" and obs["probabilities"]:
        raise dx.CheckFailed(name, SOFTMAX_NOT_LOGITS, SOFTMAX_HINT)


# ------------------------------------------------------------------------ train_one_epoch
def observe_train(fn: Any, case: Case) -> tuple[dict[str, Any], tuple]:
    """Run ``fn`` for one epoch on the case's setup: ``(summary, parameters after the epoch)``.

    The parameters are ``(name, tensor)`` pairs (see ``KEPT_PARAMS``): a tuple, not a dict, so that
    observations compare entry by entry within the spec's tolerance.
    """
    (spec,) = case.args
    model, opt, sched, loader = spec.build()
    initial = state(model)
    before = batch_loss(model, loader, spec.device) if spec.net == "seed" else None
    kwargs = {"scheduler": sched} if sched is not None else {}
    try:
        got = fn(model, loader, opt, spec.device, **kwargs)
    except (NotImplementedError, dx.CheckFailed):
        raise
    except Exception as exc:
        return {"error": _error_report(exc)}, ()
    after = state(model)
    grad_calls = [training for training, grad, _ in model.calls if grad]
    summary = {
        "error": None,
        "grad_calls": len(grad_calls),
        "grad_calls_in_eval_mode": sum(not training for training in grad_calls),
        "changed": not same_state(after, initial, 0.0, 0.0),
        "batches": len(loader),
        "scheduler_steps": None if sched is None else sched.steps,
        "loss_before": before,
        "loss_after": batch_loss(model, loader, spec.device) if spec.net == "seed" else None,
        "returned": type(got).__name__,
        "holds_graph": isinstance(got, torch.Tensor) and got.requires_grad,
        "loss": as_number(got),
    }
    return summary, tuple((k, v.cpu()) for k, v in after.items() if v.numel() <= KEPT_PARAMS)


def _same_params(a: tuple, b: tuple) -> bool:
    return bool(a) and bool(b) and same_state(dict(a), dict(b), **TRAIN_STATE_TOL)


def _same_loss(got: float | None, wanted: float | None) -> bool:
    return got is not None and wanted is not None and abs(got - wanted) <= 1e-5 + 1e-5 * abs(wanted)


def judge_train(spec: VisibleSpec, case: Case, obs: tuple, record: dict) -> None:
    """Properties first (gradients, train mode, steps, scheduler, a float), then the recorded reference's
    parameters and loss; a recorded wrong variant that matches names the mistake."""
    name = spec.name
    summary, params = obs
    what = case.describe(name)
    if summary["error"] is not None:
        _raise_error(name, summary["error"], what)
    if not summary["grad_calls"]:
        raise dx.CheckFailed(name, LOSS_NOT_DECREASING, "the model never ran with gradients enabled: for each batch "
                             "compute the loss of model(x) and call loss.backward()", what)
    if summary["grad_calls_in_eval_mode"]:
        raise dx.CheckFailed(name, TRAIN_MODE, "call model.train() first: evaluate() leaves the model in eval mode, "
                             "and dropout or batch-norm layers behave differently there", what)
    if not summary["changed"]:
        raise dx.CheckFailed(name, LOSS_NOT_DECREASING, "the parameters did not change: call loss.backward() and "
                             "then optimizer.step() for every batch", what)
    steps, batches = summary["scheduler_steps"], summary["batches"]
    if steps is not None and steps != batches:
        hint = ("the scheduler was never stepped: call scheduler.step() after every optimizer.step()" if steps == 0
                else f"the scheduler was stepped {steps} times for {batches} batches: step it once per batch, "
                "after optimizer.step() (OneCycleLR counts batches, not epochs)")
        raise dx.CheckFailed(name, SCHEDULER, hint, what)
    before, after = summary["loss_before"], summary["loss_after"]
    if before is not None and not after < before:
        raise dx.CheckFailed(name, LOSS_NOT_DECREASING, "one step on a fixed batch did not lower the loss: step "
                             "against the gradient of the cross-entropy (loss.backward(), then optimizer.step())",
                             f"{what}: loss {before:.5f} before, {after:.5f} after")
    if summary["holds_graph"]:
        raise dx.CheckFailed(name, LOSS_NOT_FLOAT, "returned a tensor that still holds the autograd graph of every "
                             "batch: accumulate loss.item() (a Python float) instead", what)
    value = summary["loss"]
    if value is None:
        raise dx.CheckFailed(name, dx.WRONG_TYPE, "return the mean loss as a Python float",
                             f"got {summary['returned']} from {what}")
    expected, expected_params = record["expected"]
    variants = record.get("variants", ())
    if not _same_params(params, expected_params):
        for v in variants:  # the variants that train differently (not those that only sum the losses differently)
            v_params = v["value"][1]
            if not _same_params(v_params, expected_params) and _same_params(params, v_params):
                raise dx.CheckFailed(name, v["tag"], v["hint"], what)
        raise dx.CheckFailed(name, dx.WRONG_VALUE, "after the epoch the parameters differ from the reference loop's: "
                             "for every batch, zero_grad -> model(x) -> F.cross_entropy -> backward -> step", what)
    wanted = expected["loss"]
    if _same_loss(value, wanted):
        return
    for v in variants:
        v_summary, v_params = v["value"]
        if _same_params(v_params, expected_params) and _same_loss(value, v_summary.get("loss")):
            raise dx.CheckFailed(name, v["tag"], v["hint"], f"{what}: expected {wanted:.6f}, got {value:.6f}")
    raise dx.CheckFailed(name, MEAN_LOSS_WRONG, "return the mean per-sample loss of the epoch: the sum of "
                         "loss.item() * batch size over all batches, divided by the number of samples",
                         f"{what}: expected {wanted:.6f}, got {value:.6f}")


# ------------------------------------------------------------------------ evaluate
def observe_evaluate(fn: Any, case: Case) -> dict[str, Any]:
    """Run ``fn`` on the case's probe model (handed over in train mode) and loader; report how it ran."""
    (spec,) = case.args
    model, loader, _ = spec.build()
    initial = state(model)
    try:
        got = fn(model, loader, spec.device)
    except (NotImplementedError, dx.CheckFailed):
        raise
    except Exception as exc:
        return {"error": _error_report(exc)}
    return {
        "error": None,
        "calls": len(model.calls),
        "calls_in_train_mode": sum(training for training, _, _ in model.calls),
        "calls_with_grad": sum(grad for _, grad, _ in model.calls),
        "changed": not same_state(state(model), initial, 0.0, 0.0),
        "returned": type(got).__name__,
        "accuracy": as_number(got),
    }


def judge_evaluate(spec: VisibleSpec, case: Case, obs: dict[str, Any], record: dict) -> None:
    """Eval mode, no grad, no change, a number; then the recorded accuracy, or a recorded wrong variant's."""
    name = spec.name
    what = case.describe(name)
    if obs["error"] is not None:
        _raise_error(name, obs["error"], what)
    if not obs["calls"]:
        raise dx.CheckFailed(name, EVALUATE_WRONG, "evaluate never called the model", what)
    if obs["calls_in_train_mode"]:
        raise dx.CheckFailed(name, EVALUATE_WRONG, "call model.eval() first: in training mode dropout and "
                             "batch-norm change the predictions", what)
    if obs["calls_with_grad"]:
        raise dx.CheckFailed(name, EVALUATE_WRONG, "wrap the loop in torch.no_grad() (or torch.inference_mode()): "
                             "evaluation needs no autograd graph, and building one costs memory and time", what)
    if obs["changed"]:
        raise dx.CheckFailed(name, EVALUATE_WRONG, "evaluate changed the model's parameters; it must only measure",
                             what)
    value = obs["accuracy"]
    if value is None:
        raise dx.CheckFailed(name, dx.WRONG_TYPE, "return the accuracy as a Python float in [0, 1]",
                             f"got {obs['returned']} from {what}")
    expected = record["expected"]["accuracy"]
    if abs(value - expected) <= 1e-6:
        return
    details = f"{what}: expected {expected:.6f}, got {value:.6f}"
    for v in record.get("variants", ()):
        wrong = v["value"].get("accuracy")
        if wrong is not None and abs(wrong - expected) > 1e-6 and abs(value - wrong) <= 1e-6:
            raise dx.CheckFailed(name, v["tag"], v["hint"], details)
    raise dx.CheckFailed(name, EVALUATE_WRONG, "accuracy = (predictions equal to the labels) / (number of samples), "
                         "with the prediction = argmax of the logits over the classes (dim=1)", details)


# ------------------------------------------------------------------------ the trained model
def model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def observe_model(model: Any, case: AccuracyCase) -> dict[str, Any]:
    """What ``model`` is, and how many of the MNIST test digits it gets right (counted here, not by ``evaluate``)."""
    from cnnlab.data import DataMissing, mnist_tensors

    if isinstance(model, type):
        return {"kind": "class", "type": model.__name__}
    if not isinstance(model, nn.Module):
        return {"kind": "object", "type": type(model).__name__}
    obs: dict[str, Any] = {"kind": "module", "type": type(model).__name__, "params": count_params(model)}
    if obs["params"] != EXPECTED_PARAMS:
        return obs
    device = torch.device(case.device) if case.device else model_device(model)
    try:
        x, y = mnist_tensors(train=False, device=device)
    except DataMissing as err:
        obs["data_missing"] = str(err)
        return obs
    if case.order_seed is not None:
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(case.order_seed)).to(device)
        x, y = x[order], y[order]
    try:
        net = copy.deepcopy(model)
    except Exception:  # an uncopyable model is evaluated in place
        net = model
    was_training = net.training
    net = net.to(device).eval()
    correct = 0
    try:
        with torch.no_grad():
            for start in range(0, len(x), case.batch_size):
                xb, yb = x[start : start + case.batch_size], y[start : start + case.batch_size]
                logits = net(xb)
                if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (len(xb), 10):
                    raise ValueError(f"logits of shape {tuple(getattr(logits, 'shape', ()))} for {len(xb)} images; "
                                     f"expected ({len(xb)}, 10)")
                correct += int((logits.argmax(dim=1) == yb).sum())
    except NotImplementedError:
        raise
    except Exception as exc:
        obs["error"] = _error_report(exc)
        try:
            with torch.no_grad():
                net(x[:1])
            obs["single_ok"] = True
        except Exception:
            obs["single_ok"] = False
        return obs
    finally:
        if net is model:
            model.train(was_training)
    obs.update(correct=correct, total=len(x), device=device.type, batch_size=case.batch_size)
    return obs


def judge_model(spec: VisibleSpec, case: Case, obs: dict[str, Any], record: dict) -> None:
    """The seed's architecture, and at least 99.0 % of the test digits right."""
    name = spec.name
    if obs["kind"] == "class":
        raise dx.CheckFailed(name, dx.WRONG_TYPE, "`model` is a class; it must be the trained network (an instance)")
    if obs["kind"] != "module":
        raise dx.CheckFailed(name, dx.WRONG_TYPE, "`model` must be your trained MNISTConvNet", f"got {obs['type']}")
    if obs["params"] != EXPECTED_PARAMS:
        raise dx.CheckFailed(name, WRONG_PARAM_COUNT, "the graded model must be the seed's network, 21,840 parameters",
                             f"`model` has {obs['params']:,}")
    if "data_missing" in obs:
        raise dx.CheckFailed(name, DATA_MISSING, "the MNIST test set is not available", obs["data_missing"])
    if "error" in obs:
        error = obs["error"]
        tag, hint = (BATCH_LOST, BATCH_HINT) if obs["single_ok"] else (error["tag"], error["hint"])
        raise dx.CheckFailed(name, tag, hint, f"evaluating `model` on the test set raised {error['message']}")
    accuracy = obs["correct"] / obs["total"]
    where = (f"{obs['correct']:,} of {obs['total']:,} test digits right ({accuracy:.2%}) on {obs['device']}, "
             f"batches of {obs['batch_size']}")
    if accuracy < ACCURACY_BAR:
        hint = f"the trained model reaches {accuracy:.2%} on the test set; the bar is {ACCURACY_BAR:.1%}"
        if accuracy < 0.5:
            hint += "\n(is it trained at all? fix the answers above, then run the training cell)"
        raise dx.CheckFailed(name, BELOW_BAR, hint, where)
    print(f"  `model`: {where}")


NET_SPEC, TRAIN_SPEC, EVALUATE_SPEC, MODEL_SPEC = declare(
    VisibleSpec("MNISTConvNet", NOTEBOOK, _net_cases, observe=observe_net, judge=judge_net),
    VisibleSpec("train_one_epoch", NOTEBOOK, _train_cases, tolerance=Tolerance(**TRAIN_STATE_TOL), pure=False,
                observe=observe_train, judge=judge_train),
    VisibleSpec("evaluate", NOTEBOOK, _evaluate_cases, tolerance=Tolerance(rtol=0.0, atol=1e-6), pure=False,
                observe=observe_evaluate, judge=judge_evaluate),
    VisibleSpec("model", NOTEBOOK, _model_cases, pure=False, observe=observe_model, judge=judge_model),
)
