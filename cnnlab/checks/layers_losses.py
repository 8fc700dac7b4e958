"""Notebook 06, Linear, activations, BatchNorm, Dropout and losses: the visible cases of its exercises.

Most results are compared with the ones recorded at release. Three exercises are observed
instead of taken as returned:

- ``collapse_linear`` returns a module: the observation is its ``(weight, bias)``, and the
  layers passed in must be left alone;
- ``batch_norm2d`` updates the running statistics in place: the observation is
  ``(output, running_mean, running_var)`` after the call, and ``x`` must be left alone;
- ``dropout`` is random: it is judged by its properties (every element 0 or ``x / (1 - p)``,
  the fraction dropped close to ``p``, the seeded generator reproduces the mask, eval and
  ``p = 0`` are the identity, ``p = 1`` gives zeros), never against a recorded result.

Some mistakes cannot be recorded as a wrong result because each student makes them in
their own way (nan from an overflowing ``exp``, an ``eps`` instead of PyTorch's clamp):
they are recognised from the student's result and the recorded one (:data:`EXP_OVERFLOW`, ...).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from cnnlab import diagnosis as dx
from cnnlab import pristine
from cnnlab.cases import Case, RandomInputs
from cnnlab.checks.calling import GENERIC_HINTS, recorded_variant, where
from cnnlab.checks.spec import PropertyJudge, VisibleSpec, declare
from cnnlab.comparing import Tolerance, describe_value, difference, unchanged
from cnnlab.sources import cite

NOTEBOOK = "06_bn_fc_dropout_losses"

LINEAR_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-5)
COLLAPSE_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-4)
ACTIVATION_TOLERANCE = Tolerance(rtol=1e-5, atol=1e-6)
BN_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-5)
LOSS_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-5)
RATIO_TOLERANCE = Tolerance(rtol=1e-5, atol=1e-6)

Diagnosis = tuple[str, str]  # (tag, hint)
Detect = Callable[[Case, Any, Any], "Diagnosis | None"]


# ------------------------------------------------------------------------ signatures
def bn_signature(x, running_mean, running_var, weight=None, bias=None, training=True,  # noqa: ANN001, ANN201
                 momentum=0.1, eps=1e-5): ...  # noqa: E704


def dropout_signature(x, p=0.5, training=True, generator=None): ...  # noqa: ANN001, ANN201, E704


def bce_signature(probs, target, reduction="mean"): ...  # noqa: ANN001, ANN201, E704


def bind(signature_of: Callable[..., Any], case: Case, *, copy: bool = True) -> dict[str, Any]:
    """The case's arguments by name, defaults filled in (on a fresh copy unless ``copy=False``)."""
    c = case.cloned() if copy else case
    bound = inspect.signature(signature_of).bind(*c.args, **c.kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)




# ------------------------------------------------------- mistakes read from the result
def is_finite_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and bool(pristine.isfinite(value.detach()).all())


def nonfinite_where_finite(case: Case, got: Any, expected: Any) -> bool:
    """The result has nan/inf although PyTorch's answer is finite."""
    return (isinstance(got, torch.Tensor) and isinstance(expected, torch.Tensor)
            and is_finite_tensor(expected) and not is_finite_tensor(got))


def bce_eps_clamped(case: Case, got: Any, expected: Any) -> bool:
    """Right wherever 0 < p < 1, finite but different where p is exactly 0 or 1 (reduction='none')."""
    a = bind(bce_signature, case)
    if a["reduction"] != "none" or not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return False
    edge = (a["probs"] == 0) | (a["probs"] == 1)
    if not bool(edge.any()) or not is_finite_tensor(got):
        return False

    def same(x: Any, y: Any) -> bool:
        return difference(x, y, LOSS_TOLERANCE) is None

    return same(got[~edge], expected[~edge]) and not same(got[edge], expected[edge])


EXP_OVERFLOW: Diagnosis = (
    "exp-overflow", "exp of a large number overflows to inf (float32 overflows past exp(88)), and inf/inf "
    "or inf − inf is nan: rearrange so that exp only ever sees −|x| (e.g. exp(−|x|))")
BCE_LOGITS_OVERFLOW: Diagnosis = (
    "exp-overflow", "log(1 + exp(−x)) overflows for x ≪ 0: use the stable form "
    "max(x, 0) − x·y + log(1 + exp(−|x|))")
SOFTMAX_OVERFLOW: Diagnosis = (
    "softmax-overflow", "exp(1000) overflows to inf and inf/inf is nan: subtract each row's maximum before "
    "exp, i.e. log_softmax(z) = z − max − log Σ exp(z − max) (torch.logsumexp does this)")
LOG_NOT_CLAMPED: Diagnosis = (
    "log-not-clamped", "log(0) = −inf, and 0·(−inf) = nan: clamp each log term at −100 as PyTorch does, "
    "torch.clamp(torch.log(p), min=-100)")
EPS_INSTEAD_OF_CLAMP: Diagnosis = (
    "eps-instead-of-clamp", "PyTorch clamps each log term at −100 (a certain, wrong prediction costs exactly "
    "100); adding an eps to p or clamping p gives a different number")


def when(test: Callable[[Case, Any, Any], bool], diagnosis: Diagnosis) -> Detect:
    """A detect that names ``diagnosis`` when ``test(case, got, expected)`` holds."""
    return lambda case, got, expected: diagnosis if test(case, got, expected) else None


def part_difference(got: Any, expected: Any, parts: Sequence[str], tol: Tolerance) -> tuple[str, str] | None:
    """``difference``, naming the first wrong part of a result made of named parts (``running_var: ...``)."""
    diff = difference(got, expected, tol)
    if diff is None or not parts or not isinstance(got, tuple) or not len(got) == len(parts) == len(expected):
        return diff
    for part, g, e in zip(parts, got, expected, strict=True):
        part_diff = difference(g, e, tol)
        if part_diff is not None:
            return part_diff[0], f"{part}: {part_diff[1]}"
    return diff


def recorded_judge(*, parts: Sequence[str] = (), detects: Sequence[Detect] = ()) -> PropertyJudge:
    """Compare with the recorded result, as the default check does, and also

    - name the part of a tuple result that is wrong (``parts``, e.g. ``running_var: ...``);
    - name mistakes that are read from the result, not recorded (``detects``), when no
      recorded wrong variant explains it.
    """

    def judge(spec: VisibleSpec, case: Case, got: Any, record: dict) -> None:
        expected = record["expected"]
        diff = part_difference(got, expected, parts, spec.tolerance)
        if diff is None:
            return
        tag, explanation = diff
        hint = GENERIC_HINTS.get(tag, "wrong result")
        found = recorded_variant(got, record.get("variants", ()), spec.tolerance)
        for detect in detects:
            if found is not None:
                break
            try:
                found = detect(case, got, expected)
            except Exception:  # a detect that cannot read this result says nothing
                found = None
        if found is not None:
            tag, hint = found
        raise dx.CheckFailed(spec.name, tag, hint, f"{where(spec.name, case)}\n{explanation}")

    return judge


# ============================================================================= linear
def _linear_cases() -> list[Case]:
    r = RandomInputs(seed=61)
    rows = torch.tensor([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [3.0, 3.0, 3.0], [4.0, 4.0, 4.0]])
    return [
        Case((r.randn(2, 3), r.randn(3, 3), r.randn(3)), note="a square weight: transposing matters"),
        Case((torch.tensor([[1.0, 2.0, 3.0]]), rows, torch.full((4,), 0.5)),
             note=f"{cite(4)}'s worked example: the answer is [[6.5, 12.5, 18.5, 24.5]]"),
        Case((r.randn(4, 5), r.randn(2, 5)), note="no bias"),
        Case((r.randn(2, 3, 5), r.randn(4, 5), r.randn(4)), note="leading dimensions (N, L, in_features)"),
        Case((r.randn(5), r.randn(2, 5), r.randn(2)), note="a single vector (in_features,)"),
    ]


# ==================================================================== collapse_linear
def make_linear(weight: torch.Tensor, bias: torch.Tensor | None) -> torch.nn.Linear:
    """An ``nn.Linear`` holding exactly these values (no random initialisation is drawn)."""
    out_f, in_f = weight.shape
    layer = torch.nn.Linear(in_f, out_f, bias=bias is not None, device="meta", dtype=weight.dtype)
    layer = layer.to_empty(device=weight.device)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer


def layers_note(layers: Sequence[torch.nn.Linear]) -> str:
    sizes = [layers[0].in_features] + [layer.out_features for layer in layers]
    biases = "".join("b" if layer.bias is not None else "-" for layer in layers)
    return f"{len(layers)} layers {' → '.join(map(str, sizes))}, biases {biases}"


def _collapse_cases() -> list[Case]:
    r = RandomInputs(seed=62)
    w1 = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [-1.0, 0.0, 1.0]])
    w2 = torch.tensor([[1.0, 2.0, 0.0, 1.0], [0.0, 0.0, 1.0, -1.0]])
    cases = [
        (make_linear(r.randn(3, 3), r.randn(3)), make_linear(r.randn(3, 3), r.randn(3))),
        (make_linear(w1, torch.tensor([1.0, 0.0, 0.0, 2.0])), make_linear(w2, torch.tensor([0.5, -0.5]))),
        (make_linear(r.randn(4, 2), None), make_linear(r.randn(3, 4), None),
         make_linear(r.randn(2, 3), None)),
        (make_linear(r.randn(5, 3), r.randn(5)),),
        (make_linear(r.randn(4, 3), r.randn(4)), make_linear(r.randn(2, 4), None),
         make_linear(r.randn(3, 2), r.randn(3))),
    ]
    notes = ["square layers: the order of the product matters", "integer weights", "no biases at all",
             "a single layer: return an equal copy", "a bias-free layer in the middle"]
    return [Case(layers, note=f"{note}; {layers_note(layers)}")
            for layers, note in zip(cases, notes, strict=True)]


def observe_collapse(fn: Callable[..., Any], case: Case) -> tuple[torch.Tensor, torch.Tensor]:
    """``(weight, bias)`` of the module ``fn`` returns (a missing bias reads as zeros)."""
    layers = case.args
    before = [layer.state_dict() for layer in case.cloned().args]
    got = fn(*layers)
    if not isinstance(got, torch.nn.Linear):
        raise dx.CheckFailed("collapse_linear", dx.WRONG_TYPE, "must return one torch.nn.Linear module",
                             f"{where('collapse_linear', case)}\nit returned {describe_value(got)}")
    if not all(unchanged(layer.state_dict(), state) for layer, state in zip(layers, before, strict=True)):
        raise dx.CheckFailed("collapse_linear", dx.MUTATED_INPUT,
                             "changed a layer that was passed in; build and return a new nn.Linear",
                             where("collapse_linear", case))
    weight = got.weight.detach()
    bias = got.bias.detach() if got.bias is not None else weight.new_zeros(weight.shape[0])
    return weight, bias


# ======================================================================== activations
_EXTREMES = (-1000.0, -100.0, -30.0, -1e-3, 0.0, 1e-3, 30.0, 100.0, 1000.0)


def _activation_cases(name: str) -> Callable[[], list[Case]]:
    def cases() -> list[Case]:
        r = RandomInputs(seed=63)
        small = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
        out = [Case((small,), note="a few points around 0"),
               Case((r.randn(3, 4) * 4,), note="a random (3, 4) tensor")]
        if name == "leaky_relu":
            out.append(Case((small,), {"negative_slope": 0.2}, note="a steeper negative slope"))
        if name == "elu":
            out.append(Case((small,), {"alpha": 0.5}, note="alpha = 0.5: the negative side tends to −0.5"))
        out.append(Case((torch.tensor(_EXTREMES),), note="large |x| must not overflow to nan"))
        return out

    return cases


# ====================================================================== batch_norm2d
def _bn_cases() -> list[Case]:
    r = RandomInputs(seed=64)

    def batch(n: int, c: int, h: int, w: int) -> torch.Tensor:
        return r.randn(n, c, h, w) * (r.rand(1, c, 1, 1) * 2 + 0.5) + r.randn(1, c, 1, 1)

    ramp = torch.arange(8.0).reshape(2, 1, 2, 2)
    return [
        Case((ramp, torch.zeros(1), torch.ones(1)),
             note="one channel holding 0..7: mean 3.5, biased variance 5.25, unbiased 6.0"),
        Case((batch(2, 3, 3, 3), r.randn(3), r.rand(3) + 0.5, r.rand(3) + 0.5, r.randn(3)),
             note="training with γ and β: output and both running statistics are compared"),
        Case((batch(3, 2, 2, 2), r.randn(2), r.rand(2) + 0.5), {"momentum": 0.3},
             note="momentum = 0.3 is the weight of the NEW batch statistic"),
        Case((batch(2, 3, 2, 3), r.randn(3), r.rand(3) + 0.5, r.rand(3) + 0.5, r.randn(3)),
             {"training": False},
             note="eval mode: normalise with the running statistics and leave them unchanged"),
        Case((batch(2, 2, 3, 3), None, None), note="track_running_stats=False: no running statistics at all"),
        Case((batch(2, 2, 2, 2), r.randn(2), r.rand(2) + 0.5), {"eps": 0.5},
             note="a large eps makes its place visible"),
    ]


def observe_batch_norm(fn: Callable[..., Any], case: Case) -> tuple[Any, Any, Any]:
    """``(output, running_mean, running_var)``: the statistics as the call left them."""
    a = bind(bn_signature, case, copy=False)  # the very tensors the function gets
    x_before = a["x"].clone()
    out = fn(*case.args, **case.kwargs)
    if not unchanged(a["x"], x_before):
        raise dx.CheckFailed("batch_norm2d", dx.MUTATED_INPUT,
                             "changed x in place; only the running statistics may be modified",
                             where("batch_norm2d", case))
    return out, a["running_mean"], a["running_var"]


# ============================================================================ dropout
# The drop rate is checked on at least RATE_MIN_ELEMENTS elements, within RATE_MARGIN of p.
# By Hoeffding's inequality a correct solution misses that margin with probability at most
# 2·exp(−2·n·margin²) = 2·exp(−40) ≈ 9e−18 for n = 50,000: it cannot flake. Cases keep p outside
# [0.4, 0.6], so p and 1 − p are at least 0.2 = 10 margins apart.
RATE_MIN_ELEMENTS = 50_000
RATE_MARGIN = 0.02
# Two masks of 2,000 elements agree by chance with probability below 0.91^2000.
DISTINCT_MASK_ELEMENTS = 2000


@dataclass
class SeededCase(Case):
    """A dropout call; ``seed`` seeds the ``torch.Generator`` passed as ``generator``."""

    seed: int = 0

    def cloned(self) -> SeededCase:
        c = super().cloned()
        return SeededCase(c.args, c.kwargs, c.note, c.raises, seed=self.seed)

    def describe(self, name: str) -> str:
        parts = [describe_value(a) for a in self.args]
        parts += [f"{k}={describe_value(v)}" for k, v in self.kwargs.items() if k != "generator"]
        parts.append(f"generator=torch.Generator().manual_seed({self.seed})")
        return f"{name}({', '.join(parts)})"


def _dropout_cases() -> list[Case]:
    r = RandomInputs(seed=65)
    return [
        SeededCase((r.randn(250, 200),), {"p": 0.3}, "50,000 elements: about 30% dropped", seed=1),
        SeededCase((r.randn(200, 250),), {"p": 0.8}, "p = 0.8 is the probability to DROP", seed=2),
        SeededCase((r.randn(3, 4),), {"p": 0.5, "training": False}, "eval mode is the identity", seed=3),
        SeededCase((r.randn(2, 5),), {"p": 0.0}, "p = 0 drops nothing", seed=4),
        SeededCase((r.randn(2, 5),), {"p": 1.0}, "p = 1 drops everything: zeros, not nan", seed=5),
    ]


def _close(a: torch.Tensor, b: torch.Tensor | float) -> bool:
    """``|a - b| <= atol + rtol·|b|`` everywhere (cheap: dropout checks run on 100,000+ elements)."""
    tol = RATIO_TOLERANCE
    bound = tol.atol + tol.rtol * (b.abs() if isinstance(b, torch.Tensor) else abs(b))
    return bool(((a - b).abs() <= bound).all())


def _scale_kind(ratios: torch.Tensor, p: float) -> str:
    """What the kept elements were multiplied by."""
    if ratios.numel() == 0:
        return "none-kept"
    candidates = {"inverted": 1 / (1 - p), "unscaled": 1.0, "divided-by-p": 1 / p, "times-keep": 1 - p,
                  "times-p": p}
    for kind, factor in candidates.items():
        if _close(ratios, factor):
            return kind
    return "other"


Verdict = tuple[str, str, str]  # (tag, hint, what was measured)


def dropout_output_problem(out: Any, x: torch.Tensor, x_after: torch.Tensor, x_before: torch.Tensor
                           ) -> Verdict | None:
    """What is wrong with one dropout call before its values are looked at: x changed, type, shape, device."""
    if not pristine.equal(x_after, x_before):
        return dx.MUTATED_INPUT, "changed x in place; return a new tensor (x * mask / (1 - p))", ""
    if not isinstance(out, torch.Tensor):
        return dx.WRONG_TYPE, GENERIC_HINTS[dx.WRONG_TYPE], f"expected a torch.Tensor, got {describe_value(out)}"
    if out.shape != x.shape:
        return dx.WRONG_SHAPE, GENERIC_HINTS[dx.WRONG_SHAPE], f"expected shape {tuple(x.shape)}, got {tuple(out.shape)}"
    if out.device != x.device:
        return (dx.WRONG_DEVICE, GENERIC_HINTS[dx.WRONG_DEVICE],
                f"the input is on {x.device}, the result on {out.device}: draw the mask with device=x.device")
    return None


def dropout_verdict(x: torch.Tensor, p: float, training: bool, out: torch.Tensor,
                    rerun: Callable[[int], torch.Tensor], seed: int) -> Verdict | None:
    """The first property of inverted dropout that ``out`` breaks, or None.

    ``rerun(s)`` is the output of the same call with ``torch.Generator().manual_seed(s)``; it is
    asked for ``seed`` (the mask must repeat) and, on large inputs, ``seed + 1`` (it must not).
    """
    finite = is_finite_tensor(out)
    if not training:
        if _close(out, x):
            return None
        if _close(out, x * (1 - p)):
            return ("eval-scaled", "with inverted dropout, eval is the identity: the 1/(1 − p) scaling already "
                    "happened in training (multiplying by 1 − p at test time is the old, non-inverted form)", "")
        return "dropout-in-eval", "in eval mode (training=False) dropout does nothing: return x unchanged", ""
    if p == 0.0:
        if not finite or bool((out == 0).all()):
            return ("p-is-keep-probability", "PyTorch's p is the probability to DROP an element "
                    "(CS231n's p is the probability to keep it): p = 0 keeps everything", "")
        if not _close(out, x):
            return "p-zero-not-identity", "with p = 0 nothing is dropped and 1/(1 − p) = 1: the result equals x", ""
        return None
    if p == 1.0:
        if not finite:
            return ("p-one-nan", "with p = 1 every element is dropped, and 0 · x/(1 − p) = 0 · inf = nan: "
                    "handle p = 1 separately and return zeros", "")
        if _close(out, x):
            return ("p-is-keep-probability", "PyTorch's p is the probability to DROP an element "
                    "(CS231n's p is the probability to keep it): p = 1 drops everything", "")
        if not bool((out == 0).all()):
            return dx.WRONG_VALUE, "with p = 1 every element is dropped: the result is all zeros", ""
        return None
    if not finite:
        return dx.NOT_FINITE, GENERIC_HINTS[dx.NOT_FINITE], ""
    informative = x != 0
    kept = (out != 0) & informative
    scale = _scale_kind(out[kept] / x[kept], p)
    n = int(informative.sum())
    dropped = 1.0 - int(kept.sum()) / max(n, 1)
    rate = "unknown"
    if n >= RATE_MIN_ELEMENTS:
        if abs(dropped - p) <= RATE_MARGIN:
            rate = "p"
        elif abs(dropped - (1 - p)) <= RATE_MARGIN:
            rate = "keep"
        else:
            rate = "other"
    measured = f"dropped {dropped:.1%} of {n} elements; kept elements were multiplied by {scale}"
    if rate == "keep":
        return ("p-is-keep-probability", "PyTorch's p is the probability to DROP an element (CS231n's p is the "
                "probability to keep it): drop with probability p, then divide the kept ones by 1 − p", measured)
    if scale == "unscaled":
        return ("dropout-not-rescaled", "inverted dropout divides the kept elements by 1 − p, so that the "
                "expected output equals x and eval needs no change", measured)
    if scale in ("divided-by-p", "times-keep", "times-p"):
        return "wrong-rescale", "divide the kept elements by the keep probability 1 − p", measured
    if scale == "other":
        return "dropout-wrong-values", "every output element must be either 0 or x / (1 − p)", measured
    if rate == "other":
        return "wrong-drop-rate", f"about a fraction p = {p:g} of the elements must be dropped", measured
    if not _close(rerun(seed), out):
        return ("generator-ignored", "draw the random mask with the `generator` argument, e.g. torch.rand("
                "x.shape, generator=generator, device=x.device): the same seed must give the same mask", "")
    if n >= DISTINCT_MASK_ELEMENTS and _close(rerun(seed + 1), out):
        return ("mask-not-random", "two different seeds gave the same mask: draw a new random mask "
                "on every call", "")
    return None


def observe_dropout(fn: Callable[..., Any], case: Case) -> dict[str, torch.Tensor | None]:
    """The output with the case's seed (``out``); again with that seed (``again``) and with the next
    one (``other``) where they can tell something; on large inputs ``generator=None`` must run too."""
    seed = getattr(case, "seed", 0)
    a = bind(dropout_signature, case, copy=False)
    x, p, training = a["x"], float(a["p"]), bool(a["training"])

    def run(seed_value: int | None) -> torch.Tensor:
        c = case.cloned()
        gen = None if seed_value is None else torch.Generator(device=x.device).manual_seed(seed_value)
        c.kwargs["generator"] = gen
        seen = bind(dropout_signature, c, copy=False)["x"]
        before = seen.clone()
        out = fn(*c.args, **c.kwargs)
        problem = dropout_output_problem(out, x, seen, before)
        if problem is not None:
            tag, hint, detail = problem
            raise dx.CheckFailed("dropout", tag, hint, where("dropout", case) + (f"\n{detail}" if detail else ""))
        return out.detach()

    observed: dict[str, torch.Tensor | None] = {"out": run(seed), "again": None, "other": None}
    if training and 0.0 < p < 1.0:
        n = int((x != 0).sum())
        observed["again"] = run(seed)
        if n >= DISTINCT_MASK_ELEMENTS:
            observed["other"] = run(seed + 1)
        if n >= RATE_MIN_ELEMENTS:
            run(None)  # generator=None must work too (the global generator)
    return observed


def judge_dropout(spec: VisibleSpec, case: Case, observed: dict, record: dict) -> None:
    """Dropout's properties: nothing recorded is needed."""
    seed = getattr(case, "seed", 0)
    a = bind(dropout_signature, case, copy=False)

    def rerun(seed_value: int) -> torch.Tensor:
        again = observed["again"] if seed_value == seed else observed["other"]
        assert again is not None, "dropout: this rerun was not observed"
        return again

    verdict = dropout_verdict(a["x"], float(a["p"]), bool(a["training"]), observed["out"], rerun, seed)
    if verdict is not None:
        tag, hint, detail = verdict
        raise dx.CheckFailed(spec.name, tag, hint, where(spec.name, case) + (f"\n{detail}" if detail else ""))


# ==================================================================== classification
def _classification_cases(log_probs: bool) -> Callable[[], list[Case]]:
    def cases() -> list[Case]:
        r = RandomInputs(seed=66)

        def inputs(*shape: int) -> torch.Tensor:
            z = r.randn(*shape) * 2
            return pristine.log_softmax(z, 1) if log_probs else z

        target = torch.tensor([0, 2, 1, 2])
        weight = torch.tensor([1.0, 2.0, 0.5])
        huge = torch.tensor([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -999.0], [0.0, 1000.0, 999.0],
                             [5.0, 1.0, -1000.0]])
        out = [Case((inputs(4, 3), target), note="4 samples, 3 classes, reduction='mean'")]
        if not log_probs:
            out.append(Case((huge, target),
                            note="logits of ±1000: exp overflows unless you shift by the max"))
            out.append(Case((torch.tensor([[1000.0, 993.1, 0.0], [993.1, -50.0, 1000.0]]), torch.tensor([0, 2])),
                            {"reduction": "none"}, note="small losses next to large logits: subtract the "
                            "max and do not add it back"))
        out += [
            Case((inputs(4, 3), target, weight),
                 note="class weights: the mean divides by Σ weight[target] = 4"),
            Case((inputs(4, 3), target, weight), {"reduction": "none"}, note="one weighted loss per sample"),
            Case((inputs(4, 3), target), {"reduction": "sum"}),
            Case((inputs(2, 3, 2, 2), torch.tensor([[[0, 1], [2, 2]], [[1, 0], [0, 2]]]), weight),
                 note="(N, C, H, W) scores and (N, H, W) targets, as in segmentation"),
        ]
        return out

    return cases


# ------------------------------------------------------------------------------- BCE
def _bce_cases() -> list[Case]:
    r = RandomInputs(seed=67)
    y = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0])
    return [
        Case((r.rand(5) * 0.9 + 0.05, y), note="probabilities and hard 0/1 targets"),
        Case((r.rand(2, 3) * 0.9 + 0.05, r.rand(2, 3)), {"reduction": "none"}, note="soft targets in [0, 1]"),
        Case((torch.tensor([0.0, 1.0, 0.0, 1.0, 0.5]), y), {"reduction": "none"},
             note="p exactly 0 or 1: each log is clamped at −100"),
        Case((r.rand(3, 4) * 0.9 + 0.05, (r.rand(3, 4) > 0.5).float()), {"reduction": "sum"}),
    ]


def _bce_logits_cases() -> list[Case]:
    r = RandomInputs(seed=68)
    return [
        Case((r.randn(6) * 3, torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])), note="logits and 0/1 targets"),
        Case((torch.tensor([1000.0, -1000.0, 30.0, -30.0, 0.0]), torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0])),
             {"reduction": "none"}, note="huge logits: the loss is about |x|, not nan and not 100"),
        Case((r.randn(2, 3) * 3, r.rand(2, 3)), {"reduction": "sum"}, note="soft targets"),
    ]


# ------------------------------------------------------------------------ regression
def _regression_cases(name: str) -> Callable[[], list[Case]]:
    def cases() -> list[Case]:
        r = RandomInputs(seed=69)
        pred = torch.tensor([0.0, 0.5, -2.0, 3.0])
        goal = torch.tensor([0.2, -0.5, 1.0, 3.0])
        out = [Case((pred, goal), note="errors −0.2, 1, −3 and 0"),
               Case((r.randn(2, 3), r.randn(2, 3)), {"reduction": "none"}),
               Case((r.randn(3, 4), r.randn(3, 4)), {"reduction": "sum"})]
        if name == "smooth_l1_loss":
            out += [Case((pred, goal), {"beta": 0.5, "reduction": "none"}, note="beta = 0.5"),
                    Case((pred, goal), {"beta": 2.0, "reduction": "none"}, note="beta = 2"),
                    Case((pred, goal), {"beta": 0.0}, note="beta = 0 is plain L1")]
        return out

    return cases


# ----------------------------------------------------------------- pairwise_distance
def _pd_cases() -> list[Case]:
    r = RandomInputs(seed=70)
    a, b = torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    return [
        Case((a, b), note="the 3-4-5 triangle; identical vectors are eps·√2 apart"),
        Case((r.randn(4, 5), r.randn(4, 5)), {"p": 1.0}, note="p = 1: the sum of absolute differences"),
        Case((r.randn(4, 5), r.randn(4, 5)), {"p": 3.0}),
        Case((r.randn(3, 4), r.randn(3, 4)), {"eps": 0.5}, note="a large eps makes its place visible"),
        Case((r.randn(6), r.randn(6)), note="two single vectors: a 0-d result"),
    ]


# ========================================================================= the specs
def _overflow_judge(diagnosis: Diagnosis) -> PropertyJudge:
    return recorded_judge(detects=(when(nonfinite_where_finite, diagnosis),))


ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "elu")
REGRESSION_NAMES = ("l1_loss", "mse_loss", "smooth_l1_loss")
_OVERFLOWING = {"sigmoid", "tanh", "elu"}

SPECS: dict[str, VisibleSpec] = {spec.name: spec for spec in declare(
    VisibleSpec("linear", NOTEBOOK, _linear_cases, tolerance=LINEAR_TOLERANCE),
    VisibleSpec("collapse_linear", NOTEBOOK, _collapse_cases, tolerance=COLLAPSE_TOLERANCE, pure=False,
                observe=observe_collapse, judge=recorded_judge(parts=("weight", "bias"))),
    *(VisibleSpec(name, NOTEBOOK, _activation_cases(name), tolerance=ACTIVATION_TOLERANCE,
                  judge=_overflow_judge(EXP_OVERFLOW) if name in _OVERFLOWING else None)
      for name in ACTIVATION_NAMES),
    VisibleSpec("batch_norm2d", NOTEBOOK, _bn_cases, tolerance=BN_TOLERANCE, pure=False,
                observe=observe_batch_norm, judge=recorded_judge(parts=("output", "running_mean", "running_var"))),
    VisibleSpec("dropout", NOTEBOOK, _dropout_cases, tolerance=RATIO_TOLERANCE, pure=False,
                observe=observe_dropout, judge=judge_dropout),
    VisibleSpec("nll_loss", NOTEBOOK, _classification_cases(True), tolerance=LOSS_TOLERANCE),
    VisibleSpec("cross_entropy", NOTEBOOK, _classification_cases(False), tolerance=LOSS_TOLERANCE,
                judge=_overflow_judge(SOFTMAX_OVERFLOW)),
    VisibleSpec("binary_cross_entropy", NOTEBOOK, _bce_cases, tolerance=LOSS_TOLERANCE,
                judge=recorded_judge(detects=(when(nonfinite_where_finite, LOG_NOT_CLAMPED),
                                              when(bce_eps_clamped, EPS_INSTEAD_OF_CLAMP)))),
    VisibleSpec("binary_cross_entropy_with_logits", NOTEBOOK, _bce_logits_cases, tolerance=LOSS_TOLERANCE,
                judge=_overflow_judge(BCE_LOGITS_OVERFLOW)),
    *(VisibleSpec(name, NOTEBOOK, _regression_cases(name), tolerance=LOSS_TOLERANCE)
      for name in REGRESSION_NAMES),
    VisibleSpec("pairwise_distance", NOTEBOOK, _pd_cases, tolerance=LOSS_TOLERANCE),
)}
