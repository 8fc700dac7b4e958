"""Notebook 06: Linear, activations, BatchNorm, Dropout and losses (grader-only).

The visible cases, the observations of the three property exercises and the property checks
that need no reference are declared in :mod:`cnnlab.checks.layers_losses`; this module adds the
references, the hidden case generators, the wrong variants and the hidden verifiers.

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

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from autograder.exercises.base import Exercise, register
from cnnlab import diagnosis as dx
from cnnlab import pristine
from cnnlab.cases import Case, RandomInputs
from cnnlab.checks import layers_losses as visible
from cnnlab.checks.calling import GENERIC_HINTS
from cnnlab.checks.layers_losses import (
    BN_TOLERANCE,
    COLLAPSE_TOLERANCE,
    RATE_MARGIN,
    RATE_MIN_ELEMENTS,
    SeededCase,
    bind,
    bn_signature,
    dropout_output_problem,
    dropout_signature,
    dropout_verdict,
    layers_note,
    make_linear,
    part_difference,
)
from cnnlab.comparing import EXACT, Tolerance, describe_value, difference
from cnnlab.diagnosis import CheckFailed, Misconception
from cnnlab.forbidden import torch_calls  # noqa: F401  (tests)

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
def _same(tol: Tolerance) -> Callable[[Any, Any], bool]:
    return lambda a, b: difference(a, b, tol) is None


def _judge_parts(exercise: Exercise, case: Case, got: tuple, expected: tuple, names: Sequence[str],
                 *, visible: bool) -> None:
    """Compare a result made of named parts; on a mismatch, name the part and diagnose."""
    diff = part_difference(got, expected, names, exercise.tolerance)
    if diff is None:
        return
    tag, explanation = diff
    hint = GENERIC_HINTS.get(tag, "wrong result")
    misconceptions = tuple(exercise.misconceptions)
    found = dx.find_misconception(case, got, expected, misconceptions, _same(exercise.tolerance))
    if found is not None:
        tag, hint = found.tag, found.hint
    details = f"on {case.describe(exercise.name)}" + (f"  ({case.note})" if case.note else "")
    raise CheckFailed(exercise.name, tag, hint, f"{details}\n{explanation}", visible=visible)


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


REDUCTIONS = ("none", "mean", "sum")


# ============================================================================= linear
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


register(Exercise.from_spec(visible.SPECS["linear"], pristine.linear, misconceptions=LINEAR_MISCONCEPTIONS))


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


def _collapsed(weight_of: Callable[..., torch.Tensor], bias_of: Callable[..., torch.Tensor | None]
               ) -> Callable[..., torch.nn.Linear]:
    """A wrong ``collapse_linear``: one ``nn.Linear`` with this weight and bias (for the visible record).

    The hidden verifier compares ``(weight, bias)`` pairs and recognises these mistakes with ``detect``.
    """

    def variant(*layers: torch.nn.Linear) -> torch.nn.Linear:
        return make_linear(weight_of(*layers), bias_of(*layers))

    return variant


def _collapsed_weight(*layers):
    return collapse_linear_reference(*layers)[0]


def _collapsed_bias(*layers):
    return collapse_linear_reference(*layers)[1]


def _summed_bias_tensor(*layers):
    return _collapsed_bias(*layers) * 0 + _summed_biases(*layers)


def _collapse_linear_module(*layers: torch.nn.Linear) -> torch.nn.Linear:
    """The reference with the student's signature: a new ``nn.Linear`` (what the visible record observes)."""
    return make_linear(*collapse_linear_reference(*layers))


BIAS_NOT_PROPAGATED = ("each bias passes through every later layer: b = W₂ b₁ + b₂, not b₁ + b₂ "
                       "(nor b₂ alone)")

COLLAPSE_MISCONCEPTIONS = (
    Misconception("product-order", "the first layer acts first, so its weight is rightmost: "
                  "W = W_k ⋯ W_2 W_1 (here W₂ @ W₁), not W₁ @ W₂",
                  detect=_part_matches(0, _reversed_product, tol=COLLAPSE_TOLERANCE),
                  variant=_collapsed(_reversed_product, _collapsed_bias)),
    Misconception("bias-not-propagated", BIAS_NOT_PROPAGATED,
                  detect=_part_matches(1, _summed_biases, _last_bias, tol=COLLAPSE_TOLERANCE),
                  variant=_collapsed(_collapsed_weight, _summed_bias_tensor)),
    Misconception("bias-not-propagated", BIAS_NOT_PROPAGATED,  # the same mistake, b₂ alone: recorded too
                  variant=_collapsed(_collapsed_weight, _last_bias)),
    Misconception("bias-dropped", "the collapsed layer needs the combined bias W₂ b₁ + b₂",
                  detect=lambda case, got, expected: isinstance(got, tuple)
                  and isinstance(got[1], torch.Tensor) and bool((got[1] == 0).all())
                  and not bool((expected[1] == 0).all()),
                  variant=_collapsed(_collapsed_weight, lambda *layers: None)),
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


def collapse_linear_case(r: RandomInputs, *, max_layers: int = 4) -> Case:
    """A random stack of ``nn.Linear`` layers on ``r.device`` (biases 80% of the time)."""
    rng = r.rng
    sizes = [rng.randint(1, 6) for _ in range(rng.randint(2, max_layers + 1))]
    layers = tuple(make_linear(r.randn(b, a), r.randn(b) if rng.random() < 0.8 else None)
                   for a, b in zip(sizes, sizes[1:], strict=False))
    return Case(layers, note=layers_note(layers))


register(Exercise.from_spec(visible.SPECS["collapse_linear"], _collapse_linear_module,
                            misconceptions=COLLAPSE_MISCONCEPTIONS, verify=_collapse_verify))


# ======================================================================== activations
EXP_OVERFLOW = Misconception(*visible.EXP_OVERFLOW, detect=visible.nonfinite_where_finite)


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

for _name, (_reference, _misconceptions) in ACTIVATION_SPECS.items():
    register(Exercise.from_spec(visible.SPECS[_name], _reference, misconceptions=_misconceptions))


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
def batch_norm2d_reference(x, running_mean, running_var, weight=None, bias=None, training=True,
                           momentum=0.1, eps=1e-5):
    """``F.batch_norm`` on the given (copied) statistics: returns (output, running_mean, running_var)."""
    out = pristine.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
    return out, running_mean, running_var


_CHANNEL = (0, 2, 3)


def _bn_variant(*, eval_batch: bool = False, eval_update: bool = False, no_update: bool = False,
                biased_running: bool = False, inverted: bool = False, unbiased_norm: bool = False,
                dims: tuple[int, ...] = _CHANNEL, eps_outside: bool = False, affine: bool = True
                ) -> Callable[..., torch.Tensor]:
    """A wrong ``batch_norm2d`` with the student's signature, one mistake switched on (for the visible
    record: it updates the running statistics in place as the student's must)."""

    def variant(x, running_mean, running_var, weight=None, bias=None, training=True, momentum=0.1, eps=1e-5):
        if (training or eval_update) and running_mean is not None and not no_update:
            m = 1 - momentum if inverted else momentum
            with torch.no_grad():
                running_mean.mul_(1 - m).add_(m * x.mean(dim=_CHANNEL))
                running_var.mul_(1 - m).add_(m * x.var(dim=_CHANNEL, unbiased=not biased_running))
        if training or eval_batch or running_mean is None:
            mean = x.mean(dim=dims, keepdim=True)
            var = x.var(dim=dims, keepdim=True, unbiased=unbiased_norm)
        else:
            mean, var = running_mean.reshape(1, -1, 1, 1), running_var.reshape(1, -1, 1, 1)
        y = (x - mean) / (var.sqrt() + eps if eps_outside else (var + eps).sqrt())
        if affine and weight is not None:
            y = y * weight.reshape(1, -1, 1, 1)
        if affine and bias is not None:
            y = y + bias.reshape(1, -1, 1, 1)
        return y

    return variant


def _batch_norm2d_call(x, running_mean, running_var, weight=None, bias=None, training=True, momentum=0.1,
                       eps=1e-5):
    """The reference with the student's signature: ``F.batch_norm``, updating the statistics in place."""
    return pristine.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)


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
        a = bind(bn_signature, Case(args, kwargs))
        x = a["x"]
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, keepdim=True, unbiased=unbiased)
        return _bn_normalised(a, mean, var, eps_outside=eps_outside, affine=affine)

    return alternative


def _bn_mode_output(eps_outside: bool = False, affine: bool = True) -> Callable[..., Any]:
    """The output with the statistics the mode should use, one other knob changed."""

    def alternative(*args: Any, **kwargs: Any) -> torch.Tensor:
        a = bind(bn_signature, Case(args, kwargs))
        if a["training"] or a["running_mean"] is None:
            return _bn_batch_output(eps_outside=eps_outside, affine=affine)(*args, **kwargs)
        return _bn_normalised(a, a["running_mean"], a["running_var"], eps_outside=eps_outside, affine=affine)

    return alternative


def _bn_running(which: str, *, biased: bool = False, inverted: bool = False) -> Callable[..., Any]:
    """``running_mean`` or ``running_var`` after one training step, one convention changed."""

    def alternative(*args: Any, **kwargs: Any) -> torch.Tensor:
        a = bind(bn_signature, Case(args, kwargs))
        x, m = a["x"], a["momentum"]
        stat = x.mean(dim=_CHANNEL) if which == "mean" else x.var(dim=_CHANNEL, unbiased=not biased)
        old = a[f"running_{which}"]
        return m * old + (1 - m) * stat if inverted else (1 - m) * old + m * stat

    return alternative


def _bn_when(condition: Callable[[dict[str, Any]], bool], detect: Callable[..., bool]) -> Callable[..., bool]:
    def guarded(case: Case, got: Any, expected: Any) -> bool:
        if not isinstance(got, tuple) or len(got) != 3:
            return False
        return condition(bind(bn_signature, case)) and detect(case, got, expected)

    return guarded


def _training_with_stats(a: dict[str, Any]) -> bool:
    return bool(a["training"]) and a["running_mean"] is not None


def _eval(a: dict[str, Any]) -> bool:
    return not a["training"] and a["running_mean"] is not None


def _stats_changed(case: Case, got: Any, expected: Any) -> bool:
    a = bind(bn_signature, case)
    same = _same(BN_TOLERANCE)
    return not (same(got[1], a["running_mean"]) and same(got[2], a["running_var"]))


def _stats_unchanged(case: Case, got: Any, expected: Any) -> bool:
    a = bind(bn_signature, case)
    same = _same(BN_TOLERANCE)
    return (same(got[1], a["running_mean"]) and same(got[2], a["running_var"])
            and not (same(expected[1], a["running_mean"]) and same(expected[2], a["running_var"])))


BN_MISCONCEPTIONS = (
    Misconception("eval-uses-batch-stats", "in eval mode (training=False) normalise with running_mean and "
                  "running_var, not with the statistics of the batch",
                  detect=_bn_when(_eval, _part_matches(0, _bn_batch_output(), tol=BN_TOLERANCE)),
                  variant=_bn_variant(eval_batch=True)),
    Misconception("eval-updates-running-stats", "in eval mode the running statistics are only read, never "
                  "updated", detect=_bn_when(_eval, _stats_changed),
                  variant=_bn_variant(eval_update=True)),
    Misconception("running-stats-not-updated", "running_mean and running_var were not changed in place: "
                  "update them with in-place ops (running_mean.mul_(1 - momentum).add_(momentum * mean)); "
                  "`running_mean = ...` only rebinds a local name",
                  detect=_bn_when(_training_with_stats, _stats_unchanged),
                  variant=_bn_variant(no_update=True)),
    Misconception("momentum-inverted", "PyTorch's momentum is the weight of the NEW batch statistic: "
                  "running = (1 − momentum)·running + momentum·batch. CS231n's momentum is the weight of the "
                  "old value, the inverse convention",
                  detect=_bn_when(_training_with_stats, lambda case, got, expected: (
                      _part_matches(1, _bn_running("mean", inverted=True), tol=BN_TOLERANCE)(
                          case, got, expected)
                      or _part_matches(2, _bn_running("var", inverted=True), _bn_running(
                          "var", inverted=True, biased=True), tol=BN_TOLERANCE)(case, got, expected))),
                  variant=_bn_variant(inverted=True)),
    Misconception("running-var-biased", "running_var must use the unbiased variance (divide by n − 1, "
                  "n = N·H·W), while the output is normalised with the biased one (divide by n)",
                  detect=_bn_when(_training_with_stats, _part_matches(
                      2, _bn_running("var", biased=True), tol=BN_TOLERANCE)),
                  variant=_bn_variant(biased_running=True)),
    Misconception("normalised-with-unbiased-var", "normalise with the biased batch variance (divide by "
                  "n = N·H·W); only running_var stores the unbiased one",
                  detect=_part_matches(0, _bn_batch_output(unbiased=True), tol=BN_TOLERANCE),
                  variant=_bn_variant(unbiased_norm=True)),
    Misconception("stats-per-sample", "BatchNorm2d's statistics are per channel over (N, H, W); over "
                  "(H, W) of each sample alone is InstanceNorm",
                  detect=_part_matches(0, _bn_batch_output(dims=(2, 3)), tol=BN_TOLERANCE),
                  variant=_bn_variant(dims=(2, 3))),
    Misconception("stats-over-all-channels", "compute one mean and one variance per channel (over N, H, W), "
                  "not one for the whole tensor",
                  detect=_part_matches(0, _bn_batch_output(dims=(0, 1, 2, 3)), tol=BN_TOLERANCE),
                  variant=_bn_variant(dims=(0, 1, 2, 3))),
    Misconception("eps-outside-sqrt", "eps goes inside the square root: (x − μ) / √(σ² + eps)",
                  detect=_part_matches(0, _bn_mode_output(eps_outside=True), tol=BN_TOLERANCE),
                  variant=_bn_variant(eps_outside=True)),
    Misconception("affine-ignored", "after normalising, scale by weight (γ) and shift by bias (β), "
                  "per channel",
                  detect=_part_matches(0, _bn_mode_output(affine=False), tol=BN_TOLERANCE),
                  variant=_bn_variant(affine=False)),
)


def _bn_verify(exercise: Exercise, fn: Callable[..., Any], case: Case, visible: bool) -> None:
    received: dict[str, Any] = {}

    def with_state(*args: Any, **kwargs: Any) -> tuple:
        a = bind(bn_signature, Case(args, kwargs), copy=False)  # the very tensors the student gets
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


register(Exercise.from_spec(visible.SPECS["batch_norm2d"], _batch_norm2d_call, misconceptions=BN_MISCONCEPTIONS,
                            verify=_bn_verify))


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
# The properties (and the drop-rate margin RATE_MARGIN on RATE_MIN_ELEMENTS elements, which a correct
# solution cannot miss) are shared with the visible check: cnnlab.checks.layers_losses.dropout_verdict.
def _dropout_verify(exercise: Exercise, fn: Callable[..., Any], case: Case, visible: bool) -> None:
    a = bind(dropout_signature, case)
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
            seen["x"] = bind(dropout_signature, Case(args, kwargs), copy=False)["x"]
            seen["before"] = seen["x"].clone()
            return fn(*args, **kwargs)

        out = exercise.call_student(spy, call, visible=visible)
        problem = dropout_output_problem(out, x, seen["x"], seen["before"])
        if problem is not None:
            fail(*problem)
        return out.detach()

    verdict = dropout_verdict(x, p, training, run(seed), run, seed)
    if verdict is not None:
        fail(*verdict)
    if training and 0.0 < p < 1.0 and int((x != 0).sum()) >= RATE_MIN_ELEMENTS:
        run(None)  # generator=None must work too (the global generator)


register(Exercise.from_spec(visible.SPECS["dropout"], None, verify=_dropout_verify))


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
    Misconception(*visible.SOFTMAX_OVERFLOW, detect=visible.nonfinite_where_finite),
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


register(Exercise.from_spec(visible.SPECS["nll_loss"], _nll_reference, misconceptions=NLL_MISCONCEPTIONS))
register(Exercise.from_spec(visible.SPECS["cross_entropy"], _ce_reference, misconceptions=CE_MISCONCEPTIONS))


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


BCE_MISCONCEPTIONS = (
    Misconception(*visible.LOG_NOT_CLAMPED, detect=visible.nonfinite_where_finite),
    Misconception(*visible.EPS_INSTEAD_OF_CLAMP, detect=visible.bce_eps_clamped),
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
    Misconception(*visible.BCE_LOGITS_OVERFLOW, detect=visible.nonfinite_where_finite),
    Misconception("sigmoid-then-bce", "σ(x) rounds to exactly 1 in float32 once x > 17, so log(1 − σ(x)) "
                  "hits the −100 clamp: never go through probabilities, use max(x, 0) − x·y + "
                  "log(1 + exp(−|x|))",
                  variant=_bcel_via_sigmoid),
    Misconception("sign-flipped", "BCE is −[y·log σ(x) + (1 − y)·log(1 − σ(x))]: mind the minus sign",
                  variant=_bcel_sign_flipped),
)


register(Exercise.from_spec(visible.SPECS["binary_cross_entropy"], _bce_reference,
                            misconceptions=BCE_MISCONCEPTIONS))
register(Exercise.from_spec(visible.SPECS["binary_cross_entropy_with_logits"], _bce_with_logits_reference,
                            misconceptions=BCE_LOGITS_MISCONCEPTIONS))


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


for _name, (_reference, _misconceptions) in REGRESSION_SPECS.items():
    register(Exercise.from_spec(visible.SPECS[_name], _reference, misconceptions=_misconceptions))


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


register(Exercise.from_spec(visible.SPECS["pairwise_distance"], _pd_reference, misconceptions=PD_MISCONCEPTIONS))


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
    "RATE_MARGIN", "RATE_MIN_ELEMENTS", "REGRESSION", "SOFTMAX_NLL", "SeededCase", "activation_case",
    "batch_norm2d_case", "batch_norm2d_reference", "bce_case", "classification_case", "collapse_linear_case",
    "collapse_linear_reference", "dropout_case", "forbid_calls", "linear_case", "pairwise_distance_case",
    "regression_case", "torch_calls",
]
