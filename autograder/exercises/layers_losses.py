"""Notebook 06: Linear, activations, BatchNorm, Dropout and losses.

Most exercises are compared with their ``torch`` / ``torch.nn.functional`` counterpart (through
:mod:`cnnlab.pristine`). Three need a property check instead:

- ``collapse_linear`` returns a module: its weight and bias are compared with the product of
  the stack, and the layers passed in must be left alone;
- ``batch_norm2d`` updates the running statistics in place: the output *and* the updated
  ``running_mean`` / ``running_var`` are compared with ``F.batch_norm`` on copies;
- ``dropout`` is random: every element must be 0 or ``x / (1 - p)``, the fraction dropped must
  be close to ``p``, a seeded generator must reproduce the mask, eval and ``p = 0`` are the
  identity and ``p = 1`` gives zeros.

:func:`forbid_calls` proves a from-scratch exercise does not use the builtin it re-implements.
It watches Python-level torch calls as well as ATen operators, because several builtins
(``F.linear``, ``F.dropout`` on the CPU, ``F.l1_loss``, ``F.pairwise_distance``) decompose into
generic operators that an ATen-only check cannot tell from a student's own code.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from autograder.exercises.base import Exercise, register
from cnnlab import diagnosis as dx
from cnnlab import pristine
from cnnlab.cases import Case, RandomInputs
from cnnlab.comparing import EXACT, Tolerance, describe_value, difference
from cnnlab.diagnosis import CheckFailed, Misconception
from cnnlab.forbidden import torch_calls  # noqa: F401  (tests)
from cnnlab.sources import cite

NOTEBOOK = "06_bn_fc_dropout_losses"

# ------------------------------------------------------------------ from-scratch rules
# Regular expressions (``re.search``) over the names of torch functions and ATen operators.
LINEAR = r"^linear$|bilinear"
ACTIVATIONS = r"sigmoid|tanh|relu|elu|threshold|softplus|silu|gelu|mish|hardtanh|hardsigmoid|hardswish|logit"
BATCH_NORMS = r"batch_norm|instance_norm|layer_norm|group_norm"
DROPOUTS = r"dropout"
NLL = r"nll_loss|cross_entropy"
SOFTMAX_NLL = r"softmax|nll_loss|cross_entropy"
BCE = r"binary_cross_entropy"
BCE_LOGITS = r"binary_cross_entropy|softplus|sigmoid"
REGRESSION = r"l1_loss|mse_loss|huber"
DISTANCES = r"dist|norm"


def forbid_calls(run: Any, fn: Callable[..., Any], case: Case, pattern: str, what: str) -> None:
    """Fail with ``[used-builtin]`` when ``fn`` on ``case`` reaches a torch call matching ``pattern``.

    ``run`` is the ``hidden_tests`` object (its exercise names the failure).
    """
    run.forbid(fn, case, pattern, what)


# --------------------------------------------------------------------------- helpers
_GENERIC_HINTS = {
    dx.WRONG_TYPE: "returned the wrong type",
    dx.WRONG_SHAPE: "returned the wrong shape",
    dx.WRONG_DEVICE: "returned a tensor on the wrong device",
    dx.NOT_FINITE: "produced nan or inf where PyTorch does not",
    dx.WRONG_VALUE: "wrong values",
}


def _same(tol: Tolerance) -> Callable[[Any, Any], bool]:
    return lambda a, b: difference(a, b, tol) is None


def _is_finite_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and bool(pristine.isfinite(value.detach()).all())


def _nonfinite_where_finite(case: Case, got: Any, expected: Any) -> bool:
    """The result has nan/inf although PyTorch's answer is finite."""
    return (isinstance(got, torch.Tensor) and isinstance(expected, torch.Tensor)
            and _is_finite_tensor(expected) and not _is_finite_tensor(got))


def _judge_parts(exercise: Exercise, case: Case, got: tuple, expected: tuple, names: Sequence[str],
                 *, visible: bool) -> None:
    """Compare a result made of named parts; on a mismatch, name the part and diagnose."""
    failing = [(name, diff) for name, g, e in zip(names, got, expected, strict=True)
               if (diff := difference(g, e, exercise.tolerance)) is not None]
    if not failing:
        return
    name, (tag, explanation) = failing[0]
    hint = _GENERIC_HINTS.get(tag, "wrong result")
    misconceptions = tuple(exercise.misconceptions)
    found = dx.find_misconception(case, got, expected, misconceptions, _same(exercise.tolerance))
    if found is not None:
        tag, hint = found.tag, found.hint
    details = f"on {case.describe(exercise.name)}" + (f"  ({case.note})" if case.note else "")
    raise CheckFailed(exercise.name, tag, hint, f"{details}\n{name}: {explanation}", visible=visible)


def _bind(signature_of: Callable[..., Any], case: Case, *, copy: bool = True) -> dict[str, Any]:
    """The case's arguments by name, defaults filled in (on a fresh copy unless ``copy=False``)."""
    c = case.cloned() if copy else case
    bound = inspect.signature(signature_of).bind(*c.args, **c.kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _make_linear(weight: torch.Tensor, bias: torch.Tensor | None) -> torch.nn.Linear:
    """An ``nn.Linear`` holding exactly these values (no random initialisation is drawn)."""
    out_f, in_f = weight.shape
    layer = torch.nn.Linear(in_f, out_f, bias=bias is not None, device="meta", dtype=weight.dtype)
    layer = layer.to_empty(device=weight.device)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


REDUCTIONS = ("none", "mean", "sum")


# ============================================================================= linear
def _linear_signature(x, weight, bias=None): ...  # noqa: ANN001, ANN202, E704


def _linear_not_transposed(x, weight, bias=None):
    y = x @ weight
    return y if bias is None else y + bias


def _linear_no_bias(x, weight, bias=None):
    return pristine.linear(x, weight)


LINEAR_MISCONCEPTIONS = (
    Misconception("weight-not-transposed", "y = x Wᵀ + b: the weight has shape (out_features, in_features), "
                  "so multiply by its transpose", variant=_linear_not_transposed),
    Misconception("bias-forgotten", "the bias was not added (one value per output feature)",
                  variant=_linear_no_bias),
)


def _linear_visible() -> list[Case]:
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


register(Exercise(
    name="linear", notebook=NOTEBOOK, reference=pristine.linear, visible=_linear_visible,
    misconceptions=LINEAR_MISCONCEPTIONS, tolerance=Tolerance(rtol=1e-4, atol=1e-5),
))


def linear_case(r: RandomInputs) -> Case:
    """A random ``F.linear`` call: 0 to 3 leading dimensions, bias 70% of the time, float64 sometimes."""
    rng = r.rng
    dtype = torch.float64 if rng.random() < 0.2 else torch.float32
    in_f, out_f = rng.randint(1, 9), rng.randint(1, 9)
    lead = [rng.randint(1, 5) for _ in range(rng.randint(0, 3))]
    x = r.randn(*lead, in_f, dtype=dtype)
    bias = r.randn(out_f, dtype=dtype) if rng.random() < 0.7 else None
    return Case((x, r.randn(out_f, in_f, dtype=dtype), bias))


# ==================================================================== collapse_linear
def collapse_linear_reference(*layers: torch.nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """The (weight, bias) of the single affine map that the stack computes.

    ``W = W_k ... W_2 W_1`` and ``b = W_k(...(W_2 b_1 + b_2)...) + b_k``, through ``F.linear``.
    """
    weight: torch.Tensor | None = None
    bias: torch.Tensor | None = None
    with torch.no_grad():
        for layer in layers:
            w = layer.weight.detach()
            b = layer.bias.detach() if layer.bias is not None else w.new_zeros(w.shape[0])
            weight = w if weight is None else pristine.linear(weight.T, w).T.contiguous()
            bias = b if bias is None else pristine.linear(bias, w, b)
    assert weight is not None and bias is not None, "collapse_linear needs at least one layer"
    return weight, bias


def _reversed_product(*layers):
    weight = layers[0].weight.detach()
    for layer in layers[1:]:
        weight = weight @ layer.weight.detach()
    return weight


def _summed_biases(*layers):
    return sum(layer.bias.detach() for layer in layers if layer.bias is not None)


def _last_bias(*layers):
    last = layers[-1]
    return last.bias.detach() if last.bias is not None else last.weight.new_zeros(last.weight.shape[0])


def _part_matches(index: int, *alternatives: Callable[..., Any], tol: Tolerance) -> Callable[..., bool]:
    """A ``detect`` that fires when part ``index`` of the result equals one wrong alternative."""
    same = _same(tol)

    def detect(case: Case, got: Any, expected: Any) -> bool:
        if not isinstance(got, tuple) or len(got) <= index:
            return False
        for alternative in alternatives:
            try:
                wrong = case.call(alternative)
            except Exception:
                continue
            if not same(wrong, expected[index]) and same(got[index], wrong):
                return True
        return False

    return detect


COLLAPSE_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-4)

COLLAPSE_MISCONCEPTIONS = (
    Misconception("product-order", "the first layer acts first, so its weight is rightmost: "
                  "W = W_k ⋯ W_2 W_1 (here W₂ @ W₁), not W₁ @ W₂",
                  detect=_part_matches(0, _reversed_product, tol=COLLAPSE_TOLERANCE)),
    Misconception("bias-not-propagated", "each bias passes through every later layer: "
                  "b = W₂ b₁ + b₂, not b₁ + b₂ (nor b₂ alone)",
                  detect=_part_matches(1, _summed_biases, _last_bias, tol=COLLAPSE_TOLERANCE)),
    Misconception("bias-dropped", "the collapsed layer needs the combined bias W₂ b₁ + b₂",
                  detect=lambda case, got, expected: isinstance(got, tuple)
                  and isinstance(got[1], torch.Tensor) and bool((got[1] == 0).all())
                  and not bool((expected[1] == 0).all())),
)


def _collapse_verify(exercise: Exercise, fn: Callable[..., Any], case: Case, visible: bool) -> None:
    received: dict[str, tuple] = {}

    def spy(*layers: Any) -> Any:
        received["layers"] = layers
        return fn(*layers)

    got = exercise.call_student(spy, case, visible=visible)
    where = f"on {case.describe(exercise.name)}" + (f"  ({case.note})" if case.note else "")
    if not isinstance(got, torch.nn.Linear):
        raise CheckFailed(exercise.name, dx.WRONG_TYPE, "must return one torch.nn.Linear module",
                          f"{where}\nit returned {describe_value(got)}", visible=visible)
    for before, after in zip(case.args, received.get("layers", ()), strict=False):
        for name, p in before.named_parameters():
            if difference(getattr(after, name).detach(), p.detach(), EXACT) is not None:
                raise CheckFailed(exercise.name, dx.MUTATED_INPUT,
                                  "changed a layer that was passed in; build and return a new nn.Linear",
                                  where, visible=visible)
    expected = case.call(collapse_linear_reference)
    weight = got.weight.detach()
    bias = got.bias.detach() if got.bias is not None else torch.zeros_like(expected[1])
    _judge_parts(exercise, case, (weight, bias), expected, ("weight", "bias"), visible=visible)


def _layers_note(layers: Sequence[torch.nn.Linear]) -> str:
    sizes = [layers[0].in_features] + [layer.out_features for layer in layers]
    biases = "".join("b" if layer.bias is not None else "-" for layer in layers)
    return f"{len(layers)} layers {' → '.join(map(str, sizes))}, biases {biases}"


def collapse_linear_case(r: RandomInputs, *, max_layers: int = 4) -> Case:
    """A random stack of ``nn.Linear`` layers on ``r.device`` (biases 80% of the time)."""
    rng = r.rng
    sizes = [rng.randint(1, 6) for _ in range(rng.randint(2, max_layers + 1))]
    layers = tuple(_make_linear(r.randn(b, a), r.randn(b) if rng.random() < 0.8 else None)
                   for a, b in zip(sizes, sizes[1:], strict=False))
    return Case(layers, note=_layers_note(layers))


def _collapse_visible() -> list[Case]:
    r = RandomInputs(seed=62)
    w1 = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [-1.0, 0.0, 1.0]])
    w2 = torch.tensor([[1.0, 2.0, 0.0, 1.0], [0.0, 0.0, 1.0, -1.0]])
    cases = [
        (_make_linear(r.randn(3, 3), r.randn(3)), _make_linear(r.randn(3, 3), r.randn(3))),
        (_make_linear(w1, torch.tensor([1.0, 0.0, 0.0, 2.0])), _make_linear(w2, torch.tensor([0.5, -0.5]))),
        (_make_linear(r.randn(4, 2), None), _make_linear(r.randn(3, 4), None),
         _make_linear(r.randn(2, 3), None)),
        (_make_linear(r.randn(5, 3), r.randn(5)),),
        (_make_linear(r.randn(4, 3), r.randn(4)), _make_linear(r.randn(2, 4), None),
         _make_linear(r.randn(3, 2), r.randn(3))),
    ]
    notes = ["square layers: the order of the product matters", "integer weights", "no biases at all",
             "a single layer: return an equal copy", "a bias-free layer in the middle"]
    return [Case(layers, note=f"{note}; {_layers_note(layers)}")
            for layers, note in zip(cases, notes, strict=True)]


register(Exercise(
    name="collapse_linear", notebook=NOTEBOOK, reference=collapse_linear_reference, visible=_collapse_visible,
    misconceptions=COLLAPSE_MISCONCEPTIONS, tolerance=COLLAPSE_TOLERANCE, verify=_collapse_verify, pure=False,
))


# ======================================================================== activations
ACTIVATION_TOLERANCE = Tolerance(rtol=1e-5, atol=1e-6)

EXP_OVERFLOW = Misconception(
    "exp-overflow", "exp of a large number overflows to inf (float32 overflows past exp(88)), and inf/inf "
    "or inf − inf is nan: rearrange so that exp only ever sees −|x| (e.g. exp(−|x|))",
    detect=_nonfinite_where_finite)


def _sigmoid_of_minus_x(x):
    return 1.0 / (1.0 + torch.exp(x))


def _tanh_half(x):
    return 2.0 * pristine.sigmoid(x) - 1.0


def _leaky_default_slope(x, negative_slope=0.01):
    return pristine.leaky_relu(x, 0.01)


def _leaky_positive_side(x, negative_slope=0.01):
    return torch.where(x > 0, negative_slope * x, x)


def _elu_without_minus_one(x, alpha=1.0):
    return torch.where(x > 0, x, alpha * torch.exp(torch.clamp(x, max=0.0)))


def _elu_alpha_ignored(x, alpha=1.0):
    return pristine.elu(x, 1.0)


ACTIVATION_SPECS: dict[str, tuple[Callable[..., Any], tuple[Misconception, ...]]] = {
    "sigmoid": (pristine.sigmoid, (
        EXP_OVERFLOW,
        Misconception("sigmoid-sign", "σ(x) = 1 / (1 + e^(−x)); this is σ(−x) = 1 − σ(x)",
                      variant=_sigmoid_of_minus_x),
    )),
    "tanh": (pristine.tanh, (
        EXP_OVERFLOW,
        Misconception("tanh-half-argument", "tanh(x) = 2σ(2x) − 1; 2σ(x) − 1 is tanh(x/2)",
                      variant=_tanh_half),
    )),
    "relu": (pristine.relu, ()),
    "leaky_relu": (pristine.leaky_relu, (
        Misconception("negative-slope-ignored", "use the `negative_slope` argument, not a fixed 0.01",
                      variant=_leaky_default_slope),
        Misconception("slope-on-positive-side", "the small slope applies to negative inputs; positive "
                      "inputs pass unchanged", variant=_leaky_positive_side),
    )),
    "elu": (pristine.elu, (
        EXP_OVERFLOW,
        Misconception("elu-missing-minus-one", "ELU is α(eˣ − 1) for x ≤ 0: it starts at 0 and tends to −α; "
                      "without the −1 it jumps at 0", variant=_elu_without_minus_one),
        Misconception("alpha-ignored", "use the `alpha` argument: the negative branch tends to −α",
                      variant=_elu_alpha_ignored),
    )),
}

_EXTREMES = torch.tensor([-1000.0, -100.0, -30.0, -1e-3, 0.0, 1e-3, 30.0, 100.0, 1000.0])


def _activation_visible(name: str) -> Callable[[], list[Case]]:
    def cases() -> list[Case]:
        r = RandomInputs(seed=63)
        small = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
        out = [Case((small,), note="a few points around 0"),
               Case((r.randn(3, 4) * 4,), note="a random (3, 4) tensor")]
        if name == "leaky_relu":
            out.append(Case((small,), {"negative_slope": 0.2}, note="a steeper negative slope"))
        if name == "elu":
            out.append(Case((small,), {"alpha": 0.5}, note="alpha = 0.5: the negative side tends to −0.5"))
        out.append(Case((_EXTREMES.clone(),), note="large |x| must not overflow to nan"))
        return out

    return cases


for _name, (_reference, _misconceptions) in ACTIVATION_SPECS.items():
    register(Exercise(
        name=_name, notebook=NOTEBOOK, reference=_reference, visible=_activation_visible(_name),
        misconceptions=_misconceptions, tolerance=ACTIVATION_TOLERANCE,
    ))


def activation_case(r: RandomInputs, name: str) -> Case:
    """A random input for activation ``name``: any shape, wide range, sometimes ±1000, sometimes float64."""
    rng = r.rng
    dtype = torch.float64 if rng.random() < 0.2 else torch.float32
    shape = [rng.randint(1, 6) for _ in range(rng.randint(1, 4))]
    x = r.randn(*shape, dtype=dtype) * rng.choice([1.0, 3.0, 10.0, 40.0])
    if rng.random() < 0.4:
        flat = x.view(-1)
        for _ in range(rng.randint(1, 3)):
            flat[rng.randrange(flat.numel())] = rng.choice([-1000.0, 1000.0, -300.0, 300.0])
    kwargs: dict[str, Any] = {}
    if name == "leaky_relu" and rng.random() < 0.7:
        kwargs["negative_slope"] = round(rng.uniform(0.02, 0.5), 3)
    if name == "elu" and rng.random() < 0.7:
        kwargs["alpha"] = round(rng.uniform(0.1, 2.0), 3)
    return Case((x,), kwargs)


# ====================================================================== batch_norm2d
def _bn_signature(x, running_mean, running_var, weight=None, bias=None, training=True,  # noqa: ANN001, ANN202
                  momentum=0.1, eps=1e-5): ...  # noqa: E704


def batch_norm2d_reference(x, running_mean, running_var, weight=None, bias=None, training=True,
                           momentum=0.1, eps=1e-5):
    """``F.batch_norm`` on the given (copied) statistics: returns (output, running_mean, running_var)."""
    out = pristine.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
    return out, running_mean, running_var


BN_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-5)
_CHANNEL = (0, 2, 3)


def _bn_normalised(a: dict[str, Any], mean: torch.Tensor, var: torch.Tensor, *, eps_outside: bool = False,
                   affine: bool = True) -> torch.Tensor:
    x = a["x"]
    shape = (1, -1, 1, 1) if mean.ndim == 1 else mean.shape
    denom = var.reshape(shape).sqrt() + a["eps"] if eps_outside else (var.reshape(shape) + a["eps"]).sqrt()
    y = (x - mean.reshape(shape)) / denom
    if affine and a["weight"] is not None:
        y = y * a["weight"].reshape(1, -1, 1, 1)
    if affine and a["bias"] is not None:
        y = y + a["bias"].reshape(1, -1, 1, 1)
    return y


def _bn_batch_output(unbiased: bool = False, dims: tuple[int, ...] = _CHANNEL, eps_outside: bool = False,
                     affine: bool = True) -> Callable[..., Any]:
    def alternative(*args: Any, **kwargs: Any) -> torch.Tensor:
        a = _bind(_bn_signature, Case(args, kwargs))
        x = a["x"]
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, keepdim=True, unbiased=unbiased)
        return _bn_normalised(a, mean, var, eps_outside=eps_outside, affine=affine)

    return alternative


def _bn_mode_output(eps_outside: bool = False, affine: bool = True) -> Callable[..., Any]:
    """The output with the statistics the mode should use, one other knob changed."""

    def alternative(*args: Any, **kwargs: Any) -> torch.Tensor:
        a = _bind(_bn_signature, Case(args, kwargs))
        if a["training"] or a["running_mean"] is None:
            return _bn_batch_output(eps_outside=eps_outside, affine=affine)(*args, **kwargs)
        return _bn_normalised(a, a["running_mean"], a["running_var"], eps_outside=eps_outside, affine=affine)

    return alternative


def _bn_running(which: str, *, biased: bool = False, inverted: bool = False) -> Callable[..., Any]:
    """``running_mean`` or ``running_var`` after one training step, one convention changed."""

    def alternative(*args: Any, **kwargs: Any) -> torch.Tensor:
        a = _bind(_bn_signature, Case(args, kwargs))
        x, m = a["x"], a["momentum"]
        stat = x.mean(dim=_CHANNEL) if which == "mean" else x.var(dim=_CHANNEL, unbiased=not biased)
        old = a[f"running_{which}"]
        return m * old + (1 - m) * stat if inverted else (1 - m) * old + m * stat

    return alternative


def _bn_when(condition: Callable[[dict[str, Any]], bool], detect: Callable[..., bool]) -> Callable[..., bool]:
    def guarded(case: Case, got: Any, expected: Any) -> bool:
        if not isinstance(got, tuple) or len(got) != 3:
            return False
        return condition(_bind(_bn_signature, case)) and detect(case, got, expected)

    return guarded


def _training_with_stats(a: dict[str, Any]) -> bool:
    return bool(a["training"]) and a["running_mean"] is not None


def _eval(a: dict[str, Any]) -> bool:
    return not a["training"] and a["running_mean"] is not None


def _stats_changed(case: Case, got: Any, expected: Any) -> bool:
    a = _bind(_bn_signature, case)
    same = _same(BN_TOLERANCE)
    return not (same(got[1], a["running_mean"]) and same(got[2], a["running_var"]))


def _stats_unchanged(case: Case, got: Any, expected: Any) -> bool:
    a = _bind(_bn_signature, case)
    same = _same(BN_TOLERANCE)
    return (same(got[1], a["running_mean"]) and same(got[2], a["running_var"])
            and not (same(expected[1], a["running_mean"]) and same(expected[2], a["running_var"])))


BN_MISCONCEPTIONS = (
    Misconception("eval-uses-batch-stats", "in eval mode (training=False) normalise with running_mean and "
                  "running_var, not with the statistics of the batch",
                  detect=_bn_when(_eval, _part_matches(0, _bn_batch_output(), tol=BN_TOLERANCE))),
    Misconception("eval-updates-running-stats", "in eval mode the running statistics are only read, never "
                  "updated", detect=_bn_when(_eval, _stats_changed)),
    Misconception("running-stats-not-updated", "running_mean and running_var were not changed in place: "
                  "update them with in-place ops (running_mean.mul_(1 - momentum).add_(momentum * mean)); "
                  "`running_mean = ...` only rebinds a local name",
                  detect=_bn_when(_training_with_stats, _stats_unchanged)),
    Misconception("momentum-inverted", "PyTorch's momentum is the weight of the NEW batch statistic: "
                  "running = (1 − momentum)·running + momentum·batch. CS231n's momentum is the weight of the "
                  "old value, the inverse convention",
                  detect=_bn_when(_training_with_stats, lambda case, got, expected: (
                      _part_matches(1, _bn_running("mean", inverted=True), tol=BN_TOLERANCE)(
                          case, got, expected)
                      or _part_matches(2, _bn_running("var", inverted=True), _bn_running(
                          "var", inverted=True, biased=True), tol=BN_TOLERANCE)(case, got, expected)))),
    Misconception("running-var-biased", "running_var must use the unbiased variance (divide by n − 1, "
                  "n = N·H·W), while the output is normalised with the biased one (divide by n)",
                  detect=_bn_when(_training_with_stats, _part_matches(
                      2, _bn_running("var", biased=True), tol=BN_TOLERANCE))),
    Misconception("normalised-with-unbiased-var", "normalise with the biased batch variance (divide by "
                  "n = N·H·W); only running_var stores the unbiased one",
                  detect=_part_matches(0, _bn_batch_output(unbiased=True), tol=BN_TOLERANCE)),
    Misconception("stats-per-sample", "BatchNorm2d's statistics are per channel over (N, H, W); over "
                  "(H, W) of each sample alone is InstanceNorm",
                  detect=_part_matches(0, _bn_batch_output(dims=(2, 3)), tol=BN_TOLERANCE)),
    Misconception("stats-over-all-channels", "compute one mean and one variance per channel (over N, H, W), "
                  "not one for the whole tensor",
                  detect=_part_matches(0, _bn_batch_output(dims=(0, 1, 2, 3)), tol=BN_TOLERANCE)),
    Misconception("eps-outside-sqrt", "eps goes inside the square root: (x − μ) / √(σ² + eps)",
                  detect=_part_matches(0, _bn_mode_output(eps_outside=True), tol=BN_TOLERANCE)),
    Misconception("affine-ignored", "after normalising, scale by weight (γ) and shift by bias (β), "
                  "per channel",
                  detect=_part_matches(0, _bn_mode_output(affine=False), tol=BN_TOLERANCE)),
)


def _bn_verify(exercise: Exercise, fn: Callable[..., Any], case: Case, visible: bool) -> None:
    received: dict[str, Any] = {}

    def with_state(*args: Any, **kwargs: Any) -> tuple:
        a = _bind(_bn_signature, Case(args, kwargs), copy=False)  # the very tensors the student gets
        received["x"] = a["x"]
        received["x_before"] = a["x"].clone()
        out = fn(*args, **kwargs)
        return out, a["running_mean"], a["running_var"]

    got = exercise.call_student(with_state, case, visible=visible)
    if difference(received["x"], received["x_before"], EXACT) is not None:
        raise CheckFailed(exercise.name, dx.MUTATED_INPUT, "changed x in place; only the running statistics "
                          "may be modified", f"on {case.describe(exercise.name)}", visible=visible)
    expected = case.call(batch_norm2d_reference)
    _judge_parts(exercise, case, got, expected, ("output", "running_mean", "running_var"), visible=visible)


def _bn_visible() -> list[Case]:
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


register(Exercise(
    name="batch_norm2d", notebook=NOTEBOOK, reference=batch_norm2d_reference, visible=_bn_visible,
    misconceptions=BN_MISCONCEPTIONS, tolerance=BN_TOLERANCE, verify=_bn_verify, pure=False,
))


def batch_norm2d_case(r: RandomInputs) -> Case:
    """A random ``F.batch_norm`` call on a small (N, C, H, W) input (n = N·H·W between 2 and 48).

    Small n keeps the biased and unbiased variances far apart; momentum avoids 0.5, where the
    PyTorch and CS231n conventions agree.
    """
    rng = r.rng
    while True:
        n, h, w = rng.randint(1, 4), rng.randint(1, 4), rng.randint(1, 4)
        if 2 <= n * h * w <= 48:
            break
    c = rng.randint(1, 5)
    x = r.randn(n, c, h, w) * (r.rand(1, c, 1, 1) * 2.5 + 0.5) + 2 * r.randn(1, c, 1, 1)
    training = rng.random() < 0.7
    track = not training or rng.random() < 0.85
    stats = (r.randn(c), r.rand(c) + 0.5) if track else (None, None)
    weight = r.rand(c) * 1.5 + 0.25 if rng.random() < 0.7 else None
    bias = r.randn(c) if weight is not None and rng.random() < 0.9 else None
    kwargs: dict[str, Any] = {"training": training}
    if rng.random() < 0.7:
        kwargs["momentum"] = rng.choice([0.1, 0.01, 0.2, 0.3, 0.7, 0.9, round(rng.uniform(0.05, 0.4), 3)])
    if rng.random() < 0.4:
        kwargs["eps"] = rng.choice([1e-5, 1e-3, 0.1, 0.5])
    return Case((x, *stats, weight, bias), kwargs)


# ============================================================================ dropout
# The drop rate is checked on at least RATE_MIN_ELEMENTS elements, within RATE_MARGIN of p.
# By Hoeffding's inequality a correct solution misses that margin with probability at most
# 2·exp(−2·n·margin²) = 2·exp(−40) ≈ 9e−18 for n = 50,000: it cannot flake. Cases keep p outside
# [0.4, 0.6], so p and 1 − p are at least 0.2 = 10 margins apart.
RATE_MIN_ELEMENTS = 50_000
RATE_MARGIN = 0.02
_RATIO_TOL = Tolerance(rtol=1e-5, atol=1e-6)


@dataclass
class SeededCase(Case):
    """A dropout call; ``seed`` seeds the ``torch.Generator`` passed as ``generator``."""

    seed: int = 0

    def describe(self, name: str) -> str:
        parts = [describe_value(a) for a in self.args]
        parts += [f"{k}={describe_value(v)}" for k, v in self.kwargs.items() if k != "generator"]
        parts.append(f"generator=torch.Generator().manual_seed({self.seed})")
        return f"{name}({', '.join(parts)})"


def _dropout_signature(x, p=0.5, training=True, generator=None): ...  # noqa: ANN001, ANN202, E704


def _dropout_reference(x, p=0.5, training=True, generator=None):
    """Only for shapes and the eval / p=0 / p=1 identities; random values are checked as properties."""
    return pristine.dropout(x, p, training)


def _close(a: torch.Tensor, b: torch.Tensor | float) -> bool:
    """``|a - b| <= atol + rtol·|b|`` everywhere (cheap: dropout checks run on 100,000+ elements)."""
    if isinstance(b, torch.Tensor):
        bound = _RATIO_TOL.atol + _RATIO_TOL.rtol * b.abs()
    else:
        bound = _RATIO_TOL.atol + _RATIO_TOL.rtol * abs(b)
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


def _dropout_verify(exercise: Exercise, fn: Callable[..., Any], case: Case, visible: bool) -> None:
    a = _bind(_dropout_signature, case)
    x, p, training = a["x"], float(a["p"]), bool(a["training"])
    seed = getattr(case, "seed", 0)
    where = f"on {case.describe(exercise.name)}" + (f"  ({case.note})" if case.note else "")

    def fail(tag: str, hint: str, detail: str = "") -> None:
        details = where + (f"\n{detail}" if detail else "")
        raise CheckFailed(exercise.name, tag, hint, details, visible=visible)

    def run(seed_value: int | None) -> torch.Tensor:
        gen = None if seed_value is None else torch.Generator(device=x.device).manual_seed(seed_value)
        call = SeededCase(case.args, {**case.kwargs, "generator": gen}, case.note, seed=seed_value or 0)
        seen: dict[str, torch.Tensor] = {}

        def spy(*args: Any, **kwargs: Any) -> Any:
            seen["x"] = _bind(_dropout_signature, Case(args, kwargs), copy=False)["x"]
            seen["before"] = seen["x"].clone()
            return fn(*args, **kwargs)

        out = exercise.call_student(spy, call, visible=visible)
        if not pristine.equal(seen["x"], seen["before"]):
            fail(dx.MUTATED_INPUT, "changed x in place; return a new tensor (x * mask / (1 - p))")
        if not isinstance(out, torch.Tensor):
            fail(dx.WRONG_TYPE, _GENERIC_HINTS[dx.WRONG_TYPE],
                 f"expected a torch.Tensor, got {describe_value(out)}")
        if out.shape != x.shape:
            fail(dx.WRONG_SHAPE, _GENERIC_HINTS[dx.WRONG_SHAPE],
                 f"expected shape {tuple(x.shape)}, got {tuple(out.shape)}")
        if out.device != x.device:
            fail(dx.WRONG_DEVICE, _GENERIC_HINTS[dx.WRONG_DEVICE],
                 f"the input is on {x.device}, the result on {out.device}: "
                 "draw the mask with device=x.device")
        return out.detach()

    out = run(seed)
    finite = _is_finite_tensor(out)
    if not training:
        if _close(out, x):
            return
        if _close(out, x * (1 - p)):
            fail("eval-scaled", "with inverted dropout, eval is the identity: the 1/(1 − p) scaling already "
                 "happened in training (multiplying by 1 − p at test time is the old, non-inverted form)")
        fail("dropout-in-eval", "in eval mode (training=False) dropout does nothing: return x unchanged")
    if p == 0.0:
        if not finite or bool((out == 0).all()):
            fail("p-is-keep-probability", "PyTorch's p is the probability to DROP an element "
                 "(CS231n's p is the probability to keep it): p = 0 keeps everything")
        if not _close(out, x):
            fail("p-zero-not-identity", "with p = 0 nothing is dropped and 1/(1 − p) = 1: "
                 "the result equals x")
        return
    if p == 1.0:
        if not finite:
            fail("p-one-nan", "with p = 1 every element is dropped, and 0 · x/(1 − p) = 0 · inf = nan: "
                 "handle p = 1 separately and return zeros")
        if _close(out, x):
            fail("p-is-keep-probability", "PyTorch's p is the probability to DROP an element "
                 "(CS231n's p is the probability to keep it): p = 1 drops everything")
        if not bool((out == 0).all()):
            fail(dx.WRONG_VALUE, "with p = 1 every element is dropped: the result is all zeros")
        return
    if not finite:
        fail(dx.NOT_FINITE, _GENERIC_HINTS[dx.NOT_FINITE])
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
        fail("p-is-keep-probability", "PyTorch's p is the probability to DROP an element (CS231n's p is the "
             "probability to keep it): drop with probability p, then divide the kept ones by 1 − p", measured)
    if scale == "unscaled":
        fail("dropout-not-rescaled", "inverted dropout divides the kept elements by 1 − p, so that the "
             "expected output equals x and eval needs no change", measured)
    if scale in ("divided-by-p", "times-keep", "times-p"):
        fail("wrong-rescale", "divide the kept elements by the keep probability 1 − p", measured)
    if scale == "other":
        fail("dropout-wrong-values", "every output element must be either 0 or x / (1 − p)", measured)
    if rate == "other":
        fail("wrong-drop-rate", f"about a fraction p = {p:g} of the elements must be dropped", measured)
    if not _close(run(seed), out):
        fail("generator-ignored", "draw the random mask with the `generator` argument, e.g. torch.rand("
             "x.shape, generator=generator, device=x.device): the same seed must give the same mask")
    if n >= 2000 and _close(run(seed + 1), out):  # two masks agree with probability < 0.91^2000
        fail("mask-not-random", "two different seeds gave the same mask: draw a new random mask "
             "on every call")
    if n >= RATE_MIN_ELEMENTS:
        run(None)  # generator=None must work too (the global generator)


def _dropout_visible() -> list[Case]:
    r = RandomInputs(seed=65)
    return [
        SeededCase((r.randn(250, 200),), {"p": 0.3}, "50,000 elements: about 30% dropped", seed=1),
        SeededCase((r.randn(200, 250),), {"p": 0.8}, "p = 0.8 is the probability to DROP", seed=2),
        SeededCase((r.randn(3, 4),), {"p": 0.5, "training": False}, "eval mode is the identity", seed=3),
        SeededCase((r.randn(2, 5),), {"p": 0.0}, "p = 0 drops nothing", seed=4),
        SeededCase((r.randn(2, 5),), {"p": 1.0}, "p = 1 drops everything: zeros, not nan", seed=5),
    ]


register(Exercise(
    name="dropout", notebook=NOTEBOOK, reference=_dropout_reference, visible=_dropout_visible,
    verify=_dropout_verify, tolerance=_RATIO_TOL, pure=False,  # the verifier checks x itself, cheaply
))


def dropout_case(r: RandomInputs, *, large: bool = True) -> SeededCase:
    """A random dropout call. ``large``: at least 50,000 elements and p away from 0.5 (rate tests)."""
    rng = r.rng
    if large:
        n, c = rng.randint(2, 8), rng.randint(8, 32)
        side = math.ceil(math.sqrt(RATE_MIN_ELEMENTS / (n * c))) + rng.randint(0, 4)
        x = r.randn(n, c, side, side)
        p = round(rng.choice([rng.uniform(0.05, 0.4), rng.uniform(0.6, 0.95)]), 3)
        return SeededCase((x,), {"p": p}, seed=rng.randrange(2**31))
    x = r.randn(*[rng.randint(1, 6) for _ in range(rng.randint(1, 4))])
    kind = rng.choice(["eval", "p0", "p1", "small"])
    kwargs: dict[str, Any] = {"p": round(rng.uniform(0.1, 0.9), 3)}
    if kind == "eval":
        kwargs["training"] = False
    elif kind == "p0":
        kwargs["p"] = 0.0
    elif kind == "p1":
        kwargs["p"] = 1.0
    return SeededCase((x,), kwargs, seed=rng.randrange(2**31))


# ==================================================================== classification
LOSS_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-5)


def _weighted_by_count(log_probs, target, weight=None, reduction="mean"):
    """The weighted sum divided by the number of targets instead of the sum of their weights."""
    if weight is None or reduction != "mean":
        return pristine.nll_loss(log_probs, target, weight=weight, reduction=reduction)
    return pristine.nll_loss(log_probs, target, weight=weight, reduction="sum") / target.numel()


def _nll_weight_ignored(log_probs, target, weight=None, reduction="mean"):
    return pristine.nll_loss(log_probs, target, reduction=reduction)


def _nll_sign_flipped(log_probs, target, weight=None, reduction="mean"):
    return -pristine.nll_loss(log_probs, target, weight=weight, reduction=reduction)


def _nll_always_mean(log_probs, target, weight=None, reduction="mean"):
    return pristine.nll_loss(log_probs, target, weight=weight)


def _nll_log_again(log_probs, target, weight=None, reduction="mean"):
    return pristine.nll_loss(torch.log(log_probs), target, weight=weight, reduction=reduction)


WEIGHT_IGNORED = "`weight` was ignored: each sample's loss is multiplied by weight[target]"
WEIGHTED_MEAN = ("with weights and reduction='mean' PyTorch divides by the sum of the weights of the "
                 "targets, Σ weight[target], not by the number of samples")
REDUCTION_IGNORED = "follow `reduction`: 'none' keeps one loss per element, 'sum' adds them, 'mean' averages"

NLL_MISCONCEPTIONS = (
    Misconception("weight-ignored", WEIGHT_IGNORED, variant=_nll_weight_ignored),
    Misconception("weighted-mean-wrong", WEIGHTED_MEAN, variant=_weighted_by_count),
    Misconception("sign-flipped", "the negative log-likelihood is −log p[target] (a positive number)",
                  variant=_nll_sign_flipped),
    Misconception("reduction-ignored", REDUCTION_IGNORED, variant=_nll_always_mean),
    Misconception("log-taken-twice", "the input already holds log-probabilities: pick −log_probs[target] "
                  "without taking another log", variant=_nll_log_again),
)


def _ce_weight_ignored(logits, target, weight=None, reduction="mean"):
    return pristine.cross_entropy(logits, target, reduction=reduction)


def _ce_weighted_by_count(logits, target, weight=None, reduction="mean"):
    return _weighted_by_count(pristine.log_softmax(logits, 1), target, weight, reduction)


def _ce_no_log(logits, target, weight=None, reduction="mean"):
    probs = pristine.log_softmax(logits, 1).exp()
    return pristine.nll_loss(probs, target, weight=weight, reduction=reduction)


def _ce_wrong_dim(logits, target, weight=None, reduction="mean"):
    return pristine.nll_loss(pristine.log_softmax(logits, 0), target, weight=weight, reduction=reduction)


def _ce_max_added_back(logits, target, weight=None, reduction="mean"):
    """z − logsumexp(z): stable, but near ±1000 it subtracts two numbers whose float32 spacing is 6e−5."""
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return pristine.nll_loss(log_probs, target, weight=weight, reduction=reduction)


def _ce_always_mean(logits, target, weight=None, reduction="mean"):
    return pristine.cross_entropy(logits, target, weight=weight)


CE_MISCONCEPTIONS = (
    Misconception("softmax-overflow", "exp(1000) overflows to inf and inf/inf is nan: subtract each row's "
                  "maximum before exp, i.e. log_softmax(z) = z − max − log Σ exp(z − max) (torch.logsumexp "
                  "does this)", detect=_nonfinite_where_finite),
    Misconception("max-added-back", "z − logsumexp(z) adds the maximum M back and then subtracts a number "
                  "near z: at z ≈ 1000 float32 numbers are 6e−5 apart, so a small loss loses its digits. "
                  "Compute (z − M) − log Σ exp(z − M), as log_softmax does", variant=_ce_max_added_back),
    Misconception("weight-ignored", WEIGHT_IGNORED, variant=_ce_weight_ignored),
    Misconception("weighted-mean-wrong", WEIGHTED_MEAN, variant=_ce_weighted_by_count),
    Misconception("softmax-without-log", "cross-entropy is −log softmax(z)[target]: the log is missing",
                  variant=_ce_no_log),
    Misconception("softmax-wrong-dim", "softmax runs over the classes, dimension 1, not over the batch",
                  variant=_ce_wrong_dim),
    Misconception("reduction-ignored", REDUCTION_IGNORED, variant=_ce_always_mean),
)


def _nll_reference(log_probs, target, weight=None, reduction="mean"):
    return pristine.nll_loss(log_probs, target, weight=weight, reduction=reduction)


def _ce_reference(logits, target, weight=None, reduction="mean"):
    return pristine.cross_entropy(logits, target, weight=weight, reduction=reduction)


def _classification_visible(log_probs: bool) -> Callable[[], list[Case]]:
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


register(Exercise(
    name="nll_loss", notebook=NOTEBOOK, reference=_nll_reference, visible=_classification_visible(True),
    misconceptions=NLL_MISCONCEPTIONS, tolerance=LOSS_TOLERANCE,
))
register(Exercise(
    name="cross_entropy", notebook=NOTEBOOK, reference=_ce_reference, visible=_classification_visible(False),
    misconceptions=CE_MISCONCEPTIONS, tolerance=LOSS_TOLERANCE,
))


def classification_case(r: RandomInputs, *, log_probs: bool = False, extreme: bool = False) -> Case:
    """A random (N, C) or (N, C, d1, ...) classification loss call with integer targets.

    ``log_probs`` passes log-probabilities (for ``nll_loss``); ``extreme`` puts logits of ±1000 in.
    """
    rng = r.rng
    n, c = rng.randint(1, 12), rng.randint(2, 7)
    spatial = [rng.randint(1, 4) for _ in range(rng.randint(1, 2))] if rng.random() < 0.25 else []
    z = r.randn(n, c, *spatial) * rng.choice([1.0, 3.0, 10.0])
    if extreme:
        up, down = r.rand(n, c, *spatial) < 0.3, r.rand(n, c, *spatial) < 0.3
        z = z + 1000.0 * up.float() - 1000.0 * down.float()
    if log_probs:
        z = pristine.log_softmax(z, 1)
    target = r.randint(0, c, n, *spatial)
    weight = r.rand(c) * 2 + 0.1 if rng.random() < 0.5 else None
    return Case((z, target, weight), {"reduction": rng.choice(REDUCTIONS)})


# ------------------------------------------------------------------------------- BCE
def _bce_reference(probs, target, reduction="mean"):
    return pristine.binary_cross_entropy(probs, target, reduction=reduction)


def _bce_with_logits_reference(logits, target, reduction="mean"):
    return pristine.binary_cross_entropy_with_logits(logits, target, reduction=reduction)


def _bce_sign_flipped(probs, target, reduction="mean"):
    return -pristine.binary_cross_entropy(probs, target, reduction=reduction)


def _bce_swapped(probs, target, reduction="mean"):
    return pristine.binary_cross_entropy(probs, 1 - target, reduction=reduction)


def _bce_eps_clamped(case: Case, got: Any, expected: Any) -> bool:
    """Right wherever 0 < p < 1, finite but different where p is exactly 0 or 1 (reduction='none')."""
    a = _bind(_bce_signature, case)
    if a["reduction"] != "none" or not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return False
    edge = (a["probs"] == 0) | (a["probs"] == 1)
    if not bool(edge.any()) or not _is_finite_tensor(got):
        return False
    same = _same(LOSS_TOLERANCE)
    return same(got[~edge], expected[~edge]) and not same(got[edge], expected[edge])


def _bce_signature(probs, target, reduction="mean"): ...  # noqa: ANN001, ANN202, E704


BCE_MISCONCEPTIONS = (
    Misconception("log-not-clamped", "log(0) = −inf, and 0·(−inf) = nan: clamp each log term at −100 as "
                  "PyTorch does, torch.clamp(torch.log(p), min=-100)", detect=_nonfinite_where_finite),
    Misconception("eps-instead-of-clamp", "PyTorch clamps each log term at −100 (a certain, wrong prediction "
                  "costs exactly 100); adding an eps to p or clamping p gives a different number",
                  detect=_bce_eps_clamped),
    Misconception("sign-flipped", "BCE is −[y·log p + (1 − y)·log(1 − p)]: mind the minus sign",
                  variant=_bce_sign_flipped),
    Misconception("bce-terms-swapped", "y multiplies log p and (1 − y) multiplies log(1 − p)",
                  variant=_bce_swapped),
)


def _bcel_via_sigmoid(logits, target, reduction="mean"):
    return pristine.binary_cross_entropy(pristine.sigmoid(logits), target, reduction=reduction)


def _bcel_sign_flipped(logits, target, reduction="mean"):
    return -pristine.binary_cross_entropy_with_logits(logits, target, reduction=reduction)


BCE_LOGITS_MISCONCEPTIONS = (
    Misconception("exp-overflow", "log(1 + exp(−x)) overflows for x ≪ 0: use the stable form "
                  "max(x, 0) − x·y + log(1 + exp(−|x|))", detect=_nonfinite_where_finite),
    Misconception("sigmoid-then-bce", "σ(x) rounds to exactly 1 in float32 once x > 17, so log(1 − σ(x)) "
                  "hits the −100 clamp: never go through probabilities, use max(x, 0) − x·y + "
                  "log(1 + exp(−|x|))",
                  variant=_bcel_via_sigmoid),
    Misconception("sign-flipped", "BCE is −[y·log σ(x) + (1 − y)·log(1 − σ(x))]: mind the minus sign",
                  variant=_bcel_sign_flipped),
)


def _bce_visible() -> list[Case]:
    r = RandomInputs(seed=67)
    y = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0])
    return [
        Case((r.rand(5) * 0.9 + 0.05, y), note="probabilities and hard 0/1 targets"),
        Case((r.rand(2, 3) * 0.9 + 0.05, r.rand(2, 3)), {"reduction": "none"}, note="soft targets in [0, 1]"),
        Case((torch.tensor([0.0, 1.0, 0.0, 1.0, 0.5]), y), {"reduction": "none"},
             note="p exactly 0 or 1: each log is clamped at −100"),
        Case((r.rand(3, 4) * 0.9 + 0.05, (r.rand(3, 4) > 0.5).float()), {"reduction": "sum"}),
    ]


def _bce_logits_visible() -> list[Case]:
    r = RandomInputs(seed=68)
    return [
        Case((r.randn(6) * 3, torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])), note="logits and 0/1 targets"),
        Case((torch.tensor([1000.0, -1000.0, 30.0, -30.0, 0.0]), torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0])),
             {"reduction": "none"}, note="huge logits: the loss is about |x|, not nan and not 100"),
        Case((r.randn(2, 3) * 3, r.rand(2, 3)), {"reduction": "sum"}, note="soft targets"),
    ]


register(Exercise(
    name="binary_cross_entropy", notebook=NOTEBOOK, reference=_bce_reference, visible=_bce_visible,
    misconceptions=BCE_MISCONCEPTIONS, tolerance=LOSS_TOLERANCE,
))
register(Exercise(
    name="binary_cross_entropy_with_logits", notebook=NOTEBOOK, reference=_bce_with_logits_reference,
    visible=_bce_logits_visible, misconceptions=BCE_LOGITS_MISCONCEPTIONS, tolerance=LOSS_TOLERANCE,
))


def bce_case(r: RandomInputs, *, logits: bool = False) -> Case:
    """A random BCE call: any shape, hard or soft targets; probabilities of exactly 0 and 1 (or logits
    up to ±1000) half of the time."""
    rng = r.rng
    shape = [rng.randint(1, 6) for _ in range(rng.randint(1, 3))]
    target = r.rand(*shape) if rng.random() < 0.4 else (r.rand(*shape) < 0.5).float()
    if logits:
        x = r.randn(*shape) * rng.choice([1.0, 4.0, 20.0])
        if rng.random() < 0.5:
            x.view(-1)[rng.randrange(x.numel())] = rng.choice([-1000.0, 1000.0, -40.0, 40.0])
    else:
        x = r.rand(*shape)
        if rng.random() < 0.5:
            x.view(-1)[rng.randrange(x.numel())] = rng.choice([0.0, 1.0])
    return Case((x, target), {"reduction": rng.choice(REDUCTIONS)})


# ------------------------------------------------------------------------ regression
def _l1_reference(input, target, reduction="mean"):  # noqa: A002
    return pristine.l1_loss(input, target, reduction=reduction)


def _mse_reference(input, target, reduction="mean"):  # noqa: A002
    return pristine.mse_loss(input, target, reduction=reduction)


def _smooth_l1_reference(input, target, beta=1.0, reduction="mean"):  # noqa: A002
    return pristine.smooth_l1_loss(input, target, reduction=reduction, beta=beta)


def _l1_always_mean(input, target, reduction="mean"):  # noqa: A002
    return pristine.l1_loss(input, target)


def _l1_squared(input, target, reduction="mean"):  # noqa: A002
    return pristine.mse_loss(input, target, reduction=reduction)


def _mse_always_mean(input, target, reduction="mean"):  # noqa: A002
    return pristine.mse_loss(input, target)


def _mse_root(input, target, reduction="mean"):  # noqa: A002
    return pristine.mse_loss(input, target, reduction=reduction).sqrt()


def _mse_absolute(input, target, reduction="mean"):  # noqa: A002
    return pristine.l1_loss(input, target, reduction=reduction)


def _smooth_huber(input, target, beta=1.0, reduction="mean"):  # noqa: A002
    return _reduce(beta * pristine.smooth_l1_loss(input, target, reduction="none", beta=beta), reduction)


def _smooth_beta_ignored(input, target, beta=1.0, reduction="mean"):  # noqa: A002
    return pristine.smooth_l1_loss(input, target, reduction=reduction, beta=1.0)


def _smooth_no_half(input, target, beta=1.0, reduction="mean"):  # noqa: A002
    d = (input - target).abs()
    return _reduce(torch.where(d < beta, d * d / beta, d - beta), reduction)


def _smooth_always_mean(input, target, beta=1.0, reduction="mean"):  # noqa: A002
    return pristine.smooth_l1_loss(input, target, beta=beta)


REGRESSION_SPECS: dict[str, tuple[Callable[..., Any], tuple[Misconception, ...]]] = {
    "l1_loss": (_l1_reference, (
        Misconception("squared-instead-of-absolute", "L1 is the mean ABSOLUTE error |x − y|; you squared it",
                      variant=_l1_squared),
        Misconception("reduction-ignored", REDUCTION_IGNORED, variant=_l1_always_mean),
    )),
    "mse_loss": (_mse_reference, (
        Misconception("rmse-not-mse", "MSE is the mean of the squared errors, with no square root",
                      variant=_mse_root),
        Misconception("absolute-instead-of-squared", "MSE squares the errors: (x − y)²",
                      variant=_mse_absolute),
        Misconception("reduction-ignored", REDUCTION_IGNORED, variant=_mse_always_mean),
    )),
    "smooth_l1_loss": (_smooth_l1_reference, (
        Misconception("huber-instead-of-smooth-l1", "that is the Huber loss, β times SmoothL1: SmoothL1 is "
                      "0.5·d²/β for |d| < β and |d| − 0.5·β otherwise", variant=_smooth_huber),
        Misconception("beta-ignored", "use the `beta` argument: it sets where the quadratic part ends",
                      variant=_smooth_beta_ignored),
        Misconception("missing-half", "SmoothL1 is 0.5·d²/β for |d| < β and |d| − 0.5·β otherwise: the two "
                      "halves make the pieces meet smoothly at |d| = β", variant=_smooth_no_half),
        Misconception("reduction-ignored", REDUCTION_IGNORED, variant=_smooth_always_mean),
    )),
}


def _regression_visible(name: str) -> Callable[[], list[Case]]:
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


for _name, (_reference, _misconceptions) in REGRESSION_SPECS.items():
    register(Exercise(
        name=_name, notebook=NOTEBOOK, reference=_reference, visible=_regression_visible(_name),
        misconceptions=_misconceptions, tolerance=LOSS_TOLERANCE,
    ))


def regression_case(r: RandomInputs, name: str) -> Case:
    """A random regression-loss call: same-shape input and target, any reduction (and beta)."""
    rng = r.rng
    shape = [rng.randint(1, 6) for _ in range(rng.randint(1, 4))]
    scale = rng.choice([0.3, 1.0, 3.0])
    kwargs: dict[str, Any] = {"reduction": rng.choice(REDUCTIONS)}
    if name == "smooth_l1_loss":
        kwargs["beta"] = rng.choice([1.0, 0.0, 0.5, 2.0, round(rng.uniform(0.1, 3.0), 3)])
    return Case((r.randn(*shape) * scale, r.randn(*shape) * scale), kwargs)


# ----------------------------------------------------------------- pairwise_distance
def _pd_reference(x1, x2, p=2.0, eps=1e-6):
    return pristine.pairwise_distance(x1, x2, p=p, eps=eps)


def _pd_eps_outside(x1, x2, p=2.0, eps=1e-6):
    return pristine.pairwise_distance(x1, x2, p=p, eps=0.0) + eps


def _pd_eps_ignored(x1, x2, p=2.0, eps=1e-6):
    return pristine.pairwise_distance(x1, x2, p=p, eps=0.0)


def _pd_p_ignored(x1, x2, p=2.0, eps=1e-6):
    return pristine.pairwise_distance(x1, x2, p=2.0, eps=eps)


def _pd_no_root(x1, x2, p=2.0, eps=1e-6):
    return ((x1 - x2 + eps).abs() ** p).sum(dim=-1)


def _pd_wrong_dim(x1, x2, p=2.0, eps=1e-6):
    return ((x1 - x2 + eps).abs() ** p).sum(dim=0) ** (1 / p)


PD_MISCONCEPTIONS = (
    Misconception("eps-outside-norm", "PyTorch adds eps to the DIFFERENCE, ‖x1 − x2 + eps‖_p, not to the "
                  "norm", variant=_pd_eps_outside),
    Misconception("eps-ignored", "add eps to every component of x1 − x2 before taking the norm",
                  variant=_pd_eps_ignored),
    Misconception("p-ignored", "use the `p` argument: ‖d‖_p = (Σ |d_i|^p)^(1/p)", variant=_pd_p_ignored),
    Misconception("root-missing", "take the p-th root of the sum: (Σ |d_i|^p)^(1/p)", variant=_pd_no_root),
    Misconception("wrong-dim", "the norm runs over the last dimension (the features of each pair)",
                  variant=_pd_wrong_dim),
)


def _pd_visible() -> list[Case]:
    r = RandomInputs(seed=70)
    a, b = torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    return [
        Case((a, b), note="the 3-4-5 triangle; identical vectors are eps·√2 apart"),
        Case((r.randn(4, 5), r.randn(4, 5)), {"p": 1.0}, note="p = 1: the sum of absolute differences"),
        Case((r.randn(4, 5), r.randn(4, 5)), {"p": 3.0}),
        Case((r.randn(3, 4), r.randn(3, 4)), {"eps": 0.5}, note="a large eps makes its place visible"),
        Case((r.randn(6), r.randn(6)), note="two single vectors: a 0-d result"),
    ]


register(Exercise(
    name="pairwise_distance", notebook=NOTEBOOK, reference=_pd_reference, visible=_pd_visible,
    misconceptions=PD_MISCONCEPTIONS, tolerance=LOSS_TOLERANCE,
))


def pairwise_distance_case(r: RandomInputs) -> Case:
    """A random ``F.pairwise_distance`` call on (N, D) or (D,) inputs with p in {1, 1.5, 2, 3}."""
    rng = r.rng
    d = rng.randint(1, 10)
    lead = [rng.randint(1, 8)] if rng.random() < 0.85 else []
    kwargs: dict[str, Any] = {}
    if rng.random() < 0.7:
        kwargs["p"] = rng.choice([1.0, 1.5, 2.0, 3.0])
    if rng.random() < 0.5:
        kwargs["eps"] = rng.choice([1e-6, 0.1, 0.5])
    return Case((r.randn(*lead, d), r.randn(*lead, d)), kwargs)


__all__ = [
    "ACTIVATIONS", "BATCH_NORMS", "BCE", "BCE_LOGITS", "DISTANCES", "DROPOUTS", "LINEAR", "NLL",
    "REGRESSION", "SOFTMAX_NLL", "SeededCase", "activation_case", "batch_norm2d_case",
    "batch_norm2d_reference", "bce_case", "classification_case", "collapse_linear_case",
    "collapse_linear_reference", "dropout_case", "forbid_calls", "linear_case", "pairwise_distance_case",
    "regression_case", "torch_calls",
]
