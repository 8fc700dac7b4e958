"""Notebook 06: references, solutions and diagnoses for Linear, activations, BN, dropout and losses.

- Hypothesis property tests: the solution functions agree with PyTorch on random shapes and values.
- Every misconception fires: its variant, or a realistic wrong implementation, fed as the student's
  function fails the check with that tag, while the solution passes.
- The from-scratch rules catch the builtins (including those that decompose into generic operators).
- The dropout checks cannot flake on a correct solution.
- The visible checks judge against the results recorded at release (``cnnlab/expected``): the
  solution passes them, and each recorded wrong variant is named by its own tag.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from helpers import solution_namespace
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.exercises import all_exercises, get_exercise
from autograder.exercises import layers_losses as L
from autograder.hidden import HiddenRun
from cnnlab import check
from cnnlab.cases import Case, RandomInputs
from cnnlab.checks import layers_losses as visible
from cnnlab.diagnosis import CheckFailed
from cnnlab.expected import load_expected

pytestmark = pytest.mark.nb06

NOTEBOOK = "06_bn_fc_dropout_losses"
EXERCISES = ("linear", "collapse_linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "batch_norm2d",
             "dropout", "nll_loss", "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits",
             "l1_loss", "mse_loss", "smooth_l1_loss", "pairwise_distance")
HYPOTHESIS = settings(max_examples=15, deadline=None, derandomize=True)


def ours() -> dict:
    """This notebook's exercises (found without importing the other notebooks' modules)."""
    return {name: get_exercise(name) for name in EXERCISES}


@pytest.fixture(scope="module")
def sol():  # noqa: ANN201
    return solution_namespace(NOTEBOOK)


def _random_case(name: str, r: RandomInputs) -> Case:
    """One hidden-test-like case for ``name``."""
    builders: dict[str, Callable[[RandomInputs], Case]] = {
        "linear": L.linear_case,
        "collapse_linear": L.collapse_linear_case,
        "batch_norm2d": L.batch_norm2d_case,
        "dropout": lambda r: L.dropout_case(r, large=r.rng.random() < 0.3),
        "nll_loss": lambda r: L.classification_case(r, log_probs=True),
        "cross_entropy": lambda r: L.classification_case(r, extreme=r.rng.random() < 0.5),
        "binary_cross_entropy": L.bce_case,
        "binary_cross_entropy_with_logits": lambda r: L.bce_case(r, logits=True),
        "pairwise_distance": L.pairwise_distance_case,
    }
    if name in builders:
        return builders[name](r)
    if name in L.REGRESSION_SPECS:
        return L.regression_case(r, name)
    return L.activation_case(r, name)


def first_failure(name: str, fn: Callable[..., Any], *, seeds: range = range(0)) -> CheckFailed | None:
    """The first failure of ``fn``: visible checks first, then random cases from each seed."""
    try:
        check(name, fn, quiet=True)
    except CheckFailed as failure:
        return failure
    exercise = get_exercise(name)
    for seed in seeds:
        try:
            exercise.check_case(fn, _random_case(name, RandomInputs(seed)), visible=False)
        except CheckFailed as failure:
            return failure
    return None


# ------------------------------------------------------------------ registry and the solution
def test_every_exercise_is_registered_for_this_notebook() -> None:
    ours = {name for name, ex in all_exercises().items() if ex.notebook == NOTEBOOK}
    assert ours == set(EXERCISES)


@pytest.mark.parametrize("name", EXERCISES)
def test_solution_passes_visible_and_random_cases(sol, name: str) -> None:  # noqa: ANN001
    failure = first_failure(name, getattr(sol, name), seeds=range(8))
    assert failure is None, str(failure)


@pytest.mark.parametrize("name", EXERCISES)
def test_visible_cases_agree_with_the_reference(name: str) -> None:
    """The references are PyTorch; the visible cases must be valid calls with a note where it helps."""
    exercise = get_exercise(name)
    for case in exercise.visible():
        if name == "dropout":  # judged by its properties: no reference, nothing recorded
            assert exercise.reference is None
            case.call(lambda x, p=0.5, training=True, generator=None: F.dropout(x, p, training))
        else:
            assert case.call(exercise.reference) is not None


# ------------------------------------------------------------------ visible checks: recorded data
def test_visible_checks_use_recorded_data(sol) -> None:  # noqa: ANN001
    """The solution passes every visible check; each recorded wrong variant fails with its own tag."""
    recorded = load_expected(NOTEBOOK)
    assert set(recorded) == set(EXERCISES)
    for name in EXERCISES:
        check(name, getattr(sol, name), quiet=True)
        exercise = get_exercise(name)
        tags = {v["tag"] for result in recorded[name]["results"] for v in result.get("variants", ())}
        assert tags <= {m.tag for m in exercise.misconceptions}, name
        for m in exercise.misconceptions:
            if m.variant is None:
                continue
            assert m.tag in tags, f"{name}: the {m.tag} variant is recorded on no visible case"
            with pytest.raises(CheckFailed) as caught:
                check(name, m.variant, quiet=True)
            assert caught.value.tag == m.tag, str(caught.value)


def test_dropout_records_no_result() -> None:
    """Dropout is random: its visible check is a property judge, the record holds no output."""
    results = load_expected(NOTEBOOK)["dropout"]["results"]
    assert all(r["expected"] is None and not r["variants"] for r in results)


def test_visible_cases_are_rebuilt_identically() -> None:
    """Cases with nn.Linear layers (and seeded dropout cases) come out the same on every build."""
    from cnnlab.checks.plain import digest

    for name, spec in visible.SPECS.items():
        first, second = spec.cases(), spec.cases()
        assert digest([(c.args, c.kwargs) for c in first]) == digest([(c.args, c.kwargs) for c in second]), name
    seeds = [c.seed for c in visible.SPECS["dropout"].cases()]
    assert [c.cloned().seed for c in visible.SPECS["dropout"].cases()] == seeds


def test_visible_observations_are_plain_data(sol) -> None:  # noqa: ANN001
    """collapse_linear and batch_norm2d are observed as tensors, not modules."""
    from cnnlab.checks.plain import plain

    for name in ("collapse_linear", "batch_norm2d", "dropout"):
        spec = visible.SPECS[name]
        for case in spec.cases():
            plain(spec.observe(getattr(sol, name), case.cloned()))


def test_visible_check_names_a_changed_layer_or_input(sol) -> None:  # noqa: ANN001
    def collapse_in_place(*layers):  # noqa: ANN002, ANN202
        merged = sol.collapse_linear(*layers)
        with torch.no_grad():
            layers[0].weight.zero_()
        return merged

    def bn_in_place(x, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        out = sol.batch_norm2d(x, *args, **kwargs)
        x.zero_()
        return out

    def dropout_in_place(x, p=0.5, training=True, generator=None):  # noqa: ANN001, ANN202
        return x.mul_(1.0) if not training else sol.dropout(x.mul_(1.0001), p, training, generator)

    for name, wrong in (("collapse_linear", collapse_in_place), ("batch_norm2d", bn_in_place),
                        ("dropout", dropout_in_place)):
        with pytest.raises(CheckFailed) as caught:
            check(name, wrong, quiet=True)
        assert caught.value.tag == "mutated-input", (name, str(caught.value))
    with pytest.raises(CheckFailed) as caught:
        check("collapse_linear", lambda *layers: sol.collapse_linear(*layers).weight, quiet=True)
    assert caught.value.tag == "wrong-type"


# ------------------------------------------------------------------ hypothesis: solutions = PyTorch
@HYPOTHESIS
@given(lead=st.lists(st.integers(1, 4), max_size=3), fin=st.integers(1, 8), fout=st.integers(1, 8),
       bias=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_linear_matches_torch(sol, lead, fin, fout, bias, seed) -> None:  # noqa: ANN001
    g = torch.Generator().manual_seed(seed)
    x, w = torch.randn(*lead, fin, generator=g), torch.randn(fout, fin, generator=g)
    b = torch.randn(fout, generator=g) if bias else None
    torch.testing.assert_close(sol.linear(x, w, b), F.linear(x, w, b))


@HYPOTHESIS
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5), biases=st.lists(st.booleans(), min_size=4,
       max_size=4), seed=st.integers(0, 2**31 - 1))
def test_collapse_linear_equals_the_stack(sol, sizes, biases, seed) -> None:  # noqa: ANN001
    torch.manual_seed(seed)
    layers = [nn.Linear(a, b, bias=biases[i % 4]) for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False))]
    before = [layer.weight.detach().clone() for layer in layers]
    merged = sol.collapse_linear(*layers)
    x = torch.randn(5, sizes[0])
    with torch.no_grad():
        torch.testing.assert_close(merged(x), nn.Sequential(*layers)(x), rtol=1e-4, atol=1e-4)
        weight, bias = L.collapse_linear_reference(*layers)
        torch.testing.assert_close(merged.weight, weight, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(merged.bias, bias, rtol=1e-4, atol=1e-5)
    assert all(torch.equal(b, layer.weight) for b, layer in zip(before, layers, strict=True))


@HYPOTHESIS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), scale=st.sampled_from([0.1, 1.0, 10.0, 100.0]),
       extreme=st.booleans(), slope=st.floats(0.0, 1.0), alpha=st.floats(0.05, 3.0), seed=st.integers(0, 2**31 - 1))
def test_activations_match_torch_and_never_overflow(sol, shape, scale, extreme, slope, alpha, seed) -> None:  # noqa: ANN001
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale
    if extreme:
        x.view(-1)[0] = 1000.0
        x.view(-1)[-1] = -1000.0
    pairs = [(sol.sigmoid(x), torch.sigmoid(x)), (sol.tanh(x), torch.tanh(x)), (sol.relu(x), F.relu(x)),
             (sol.leaky_relu(x, slope), F.leaky_relu(x, slope)), (sol.elu(x, alpha), F.elu(x, alpha))]
    for got, expected in pairs:
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


@HYPOTHESIS
@given(n=st.integers(1, 4), c=st.integers(1, 4), h=st.integers(1, 4), w=st.integers(1, 4), training=st.booleans(),
       track=st.booleans(), affine=st.booleans(), momentum=st.floats(0.0, 1.0), eps=st.sampled_from([1e-5, 1e-3, 0.5]),
       seed=st.integers(0, 2**31 - 1))
def test_batch_norm2d_matches_torch_output_and_running_stats(sol, n, c, h, w, training, track, affine, momentum,  # noqa: ANN001
                                                             eps, seed) -> None:
    if training and n * h * w < 2:
        n = 2
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g) * 3 + 1
    stats = (torch.randn(c, generator=g), torch.rand(c, generator=g) + 0.5) if (track or not training) else (None, None)
    gamma_beta = (torch.rand(c, generator=g) + 0.5, torch.randn(c, generator=g)) if affine else (None, None)
    mine = [s.clone() if s is not None else None for s in stats]
    theirs = [s.clone() if s is not None else None for s in stats]
    got = sol.batch_norm2d(x, *mine, *gamma_beta, training=training, momentum=momentum, eps=eps)
    expected = F.batch_norm(x, *theirs, *gamma_beta, training=training, momentum=momentum, eps=eps)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    for a, b in zip(mine, theirs, strict=True):
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@HYPOTHESIS
@given(n=st.integers(1, 8), c=st.integers(2, 6), spatial=st.lists(st.integers(1, 3), max_size=2),
       weighted=st.booleans(), reduction=st.sampled_from(L.REDUCTIONS), scale=st.sampled_from([1.0, 10.0, 1000.0]),
       seed=st.integers(0, 2**31 - 1))
def test_classification_losses_match_torch(sol, n, c, spatial, weighted, reduction, scale, seed) -> None:  # noqa: ANN001
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, *spatial, generator=g) * scale
    target = torch.randint(0, c, (n, *spatial), generator=g)
    weight = torch.rand(c, generator=g) + 0.1 if weighted else None
    torch.testing.assert_close(sol.cross_entropy(logits, target, weight, reduction),
                               F.cross_entropy(logits, target, weight=weight, reduction=reduction),
                               rtol=1e-4, atol=1e-5)
    log_probs = F.log_softmax(logits, dim=1)
    torch.testing.assert_close(sol.nll_loss(log_probs, target, weight, reduction),
                               F.nll_loss(log_probs, target, weight=weight, reduction=reduction), rtol=1e-4, atol=1e-5)


@HYPOTHESIS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), reduction=st.sampled_from(L.REDUCTIONS),
       soft=st.booleans(), scale=st.sampled_from([1.0, 10.0, 1000.0]), seed=st.integers(0, 2**31 - 1))
def test_binary_losses_match_torch(sol, shape, reduction, soft, scale, seed) -> None:  # noqa: ANN001
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(*shape, generator=g) if soft else (torch.rand(*shape, generator=g) < 0.5).float()
    probs = torch.rand(*shape, generator=g)
    probs.view(-1)[0] = 0.0
    probs.view(-1)[-1] = 1.0
    torch.testing.assert_close(sol.binary_cross_entropy(probs, target, reduction),
                               F.binary_cross_entropy(probs, target, reduction=reduction), rtol=1e-4, atol=1e-5)
    logits = torch.randn(*shape, generator=g) * scale
    torch.testing.assert_close(sol.binary_cross_entropy_with_logits(logits, target, reduction),
                               F.binary_cross_entropy_with_logits(logits, target, reduction=reduction),
                               rtol=1e-4, atol=1e-5)


@HYPOTHESIS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), reduction=st.sampled_from(L.REDUCTIONS),
       beta=st.sampled_from([0.0, 0.3, 1.0, 2.5]), seed=st.integers(0, 2**31 - 1))
def test_regression_losses_match_torch(sol, shape, reduction, beta, seed) -> None:  # noqa: ANN001
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(*shape, generator=g) * 2, torch.randn(*shape, generator=g) * 2
    torch.testing.assert_close(sol.l1_loss(a, b, reduction), F.l1_loss(a, b, reduction=reduction))
    torch.testing.assert_close(sol.mse_loss(a, b, reduction), F.mse_loss(a, b, reduction=reduction))
    torch.testing.assert_close(sol.smooth_l1_loss(a, b, beta, reduction),
                               F.smooth_l1_loss(a, b, reduction=reduction, beta=beta))


@HYPOTHESIS
@given(lead=st.lists(st.integers(1, 6), max_size=1), d=st.integers(1, 10), p=st.sampled_from([1.0, 1.5, 2.0, 3.0]),
       eps=st.sampled_from([1e-6, 0.1, 0.5]), seed=st.integers(0, 2**31 - 1))
def test_pairwise_distance_matches_torch(sol, lead, d, p, eps, seed) -> None:  # noqa: ANN001
    g = torch.Generator().manual_seed(seed)
    x1, x2 = torch.randn(*lead, d, generator=g), torch.randn(*lead, d, generator=g)
    torch.testing.assert_close(sol.pairwise_distance(x1, x2, p, eps), F.pairwise_distance(x1, x2, p=p, eps=eps))


# -------------------------------------------------------------------------- dropout never flakes
def test_dropout_checks_pass_the_solution_on_many_seeds(sol) -> None:  # noqa: ANN001
    """The statistical checks hold with a margin (Hoeffding: failure < 1e-17 per case)."""
    exercise = get_exercise("dropout")
    for seed in range(24):
        r = RandomInputs(seed)
        exercise.check_case(sol.dropout, L.dropout_case(r, large=seed % 6 == 0), visible=False)


def test_dropout_rate_margin_is_far_beyond_the_noise() -> None:
    n, margin = L.RATE_MIN_ELEMENTS, L.RATE_MARGIN
    worst_std = (0.25 / n) ** 0.5
    assert margin / worst_std > 8  # more than 8 standard deviations
    assert 2 * torch.exp(torch.tensor(-2 * n * margin**2)).item() < 1e-15  # Hoeffding


# ----------------------------------------------------------------------- misconceptions: variants
VARIANTS = [pytest.param(name, m.tag, m.variant, id=f"{name}-{m.tag}")
            for name, ex in sorted(ours().items())
            for m in ex.misconceptions if m.variant is not None]


@pytest.mark.parametrize(("name", "tag", "variant"), VARIANTS)
def test_each_variant_is_diagnosed_with_its_tag(name: str, tag: str, variant: Callable[..., Any]) -> None:
    failure = first_failure(name, variant, seeds=range(30))
    assert failure is not None, f"{name}: the {tag} variant passed every check"
    assert failure.tag == tag, str(failure)


# ------------------------------------------------------------- misconceptions: wrong implementations
def _bn(*, biased_running=False, inverted=False, eval_batch=False, eval_update=False, no_update=False,
        unbiased_norm=False, dims=(0, 2, 3), eps_outside=False, affine=True):  # noqa: ANN202
    """A batch_norm2d with one classic mistake switched on."""

    def batch_norm2d(x, running_mean, running_var, weight=None, bias=None, training=True, momentum=0.1, eps=1e-5):
        use_batch = training or eval_batch
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, keepdim=True, unbiased=unbiased_norm)
        if (training or eval_update) and running_mean is not None and not no_update:
            stat_var = x.var(dim=(0, 2, 3), unbiased=not biased_running)
            m = 1 - momentum if inverted else momentum
            with torch.no_grad():
                running_mean.mul_(1 - m).add_(m * x.mean(dim=(0, 2, 3)))
                running_var.mul_(1 - m).add_(m * stat_var)
        if not use_batch:
            mean, var = running_mean.view(1, -1, 1, 1), running_var.view(1, -1, 1, 1)
        y = (x - mean) / (var.sqrt() + eps if eps_outside else (var + eps).sqrt())
        if affine and weight is not None:
            y = y * weight.view(1, -1, 1, 1)
        if affine and bias is not None:
            y = y + bias.view(1, -1, 1, 1)
        return y

    return batch_norm2d


def _bn_rebinding(x, running_mean, running_var, weight=None, bias=None, training=True, momentum=0.1, eps=1e-5):
    """Updates by assignment: the caller's tensors never change."""
    mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
    if training and running_mean is not None:
        running_mean = (1 - momentum) * running_mean + momentum * mean  # noqa: F841
    if not training:
        mean, var = running_mean, running_var
    y = (x - mean.view(1, -1, 1, 1)) / (var.view(1, -1, 1, 1) + eps).sqrt()
    return y * (1 if weight is None else weight.view(1, -1, 1, 1)) + (0 if bias is None else bias.view(1, -1, 1, 1))


def _dropout(*, scale=lambda p: 1 / (1 - p), drop=lambda p: p, eval_fn=None, special=True,
             generator_used=True, fixed_seed=False):  # noqa: ANN202
    """A dropout with one classic mistake switched on."""

    def dropout(x, p=0.5, training=True, generator=None):
        if not training:
            return x if eval_fn is None else eval_fn(x, p)
        if special and p == 0:
            return x
        if special and p == 1:
            return torch.zeros_like(x)
        gen = generator if generator_used else None
        if fixed_seed:
            gen = torch.Generator(device=x.device).manual_seed(0)
        keep = torch.rand(x.shape, generator=gen, device=x.device) >= drop(p)
        return x * keep * scale(p)

    return dropout


def _dropout_without_edge_cases(x, p=0.5, training=True, generator=None):
    """Correct for 0 < p < 1, but p = 1 divides 0 by 0."""
    if not training:
        return x
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * keep / (1 - p)


WRONG = [
    # collapse_linear
    ("collapse_linear", "product-order", lambda *ls: _linear_from(
        _chain(ls, reverse=True), L.collapse_linear_reference(*ls)[1])),
    ("collapse_linear", "bias-not-propagated", lambda *ls: _linear_from(
        L.collapse_linear_reference(*ls)[0], sum(x.bias.detach() for x in ls if x.bias is not None))),
    ("collapse_linear", "bias-dropped", lambda *ls: _linear_from(L.collapse_linear_reference(*ls)[0], None)),
    # activations that overflow
    ("sigmoid", "exp-overflow", lambda x: torch.exp(x) / (1 + torch.exp(x))),
    ("tanh", "exp-overflow", lambda x: (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))),
    ("elu", "exp-overflow", lambda x, alpha=1.0: x.clamp(min=0) + alpha * (torch.exp(x) - 1) * (x <= 0)),
    # batch_norm2d
    ("batch_norm2d", "running-var-biased", _bn(biased_running=True)),
    ("batch_norm2d", "momentum-inverted", _bn(inverted=True)),
    ("batch_norm2d", "eval-uses-batch-stats", _bn(eval_batch=True)),
    ("batch_norm2d", "eval-updates-running-stats", _bn(eval_update=True)),
    ("batch_norm2d", "running-stats-not-updated", _bn(no_update=True)),
    ("batch_norm2d", "running-stats-not-updated", _bn_rebinding),
    ("batch_norm2d", "normalised-with-unbiased-var", _bn(unbiased_norm=True)),
    ("batch_norm2d", "stats-per-sample", _bn(dims=(2, 3))),
    ("batch_norm2d", "stats-over-all-channels", _bn(dims=(0, 1, 2, 3))),
    ("batch_norm2d", "eps-outside-sqrt", _bn(eps_outside=True)),
    ("batch_norm2d", "affine-ignored", _bn(affine=False)),
    # dropout
    ("dropout", "dropout-not-rescaled", _dropout(scale=lambda p: 1.0)),
    ("dropout", "p-is-keep-probability", _dropout(drop=lambda p: 1 - p, scale=lambda p: 1 / p, special=False)),
    ("dropout", "wrong-rescale", _dropout(scale=lambda p: 1 - p)),
    ("dropout", "dropout-wrong-values", _dropout(scale=lambda p: 1.234)),
    ("dropout", "wrong-drop-rate", _dropout(drop=lambda p: p / 2)),
    ("dropout", "eval-scaled", _dropout(eval_fn=lambda x, p: x * (1 - p))),
    ("dropout", "dropout-in-eval", _dropout(eval_fn=lambda x, p: x * (torch.rand(x.shape) >= p) / (1 - p))),
    ("dropout", "p-one-nan", _dropout_without_edge_cases),
    ("dropout", "generator-ignored", _dropout(generator_used=False)),
    ("dropout", "mask-not-random", _dropout(fixed_seed=True)),
    # losses
    ("cross_entropy", "softmax-overflow", lambda z, t, weight=None, reduction="mean": F.nll_loss(
        torch.log(torch.exp(z) / torch.exp(z).sum(1, keepdim=True)), t, weight=weight, reduction=reduction)),
    ("binary_cross_entropy", "log-not-clamped", lambda p, y, reduction="mean": L._reduce(
        -(y * torch.log(p) + (1 - y) * torch.log(1 - p)), reduction)),
    ("binary_cross_entropy", "eps-instead-of-clamp", lambda p, y, reduction="mean": L._reduce(
        -(y * torch.log(p + 1e-7) + (1 - y) * torch.log(1 - p + 1e-7)), reduction)),
    ("binary_cross_entropy_with_logits", "exp-overflow", lambda z, y, reduction="mean": L._reduce(
        (1 - y) * z + torch.log(1 + torch.exp(-z)), reduction)),
]


def _chain(layers: tuple, reverse: bool) -> torch.Tensor:
    weights = [layer.weight.detach() for layer in layers]
    product = weights[0]
    for w in weights[1:]:
        product = product @ w if reverse else w @ product
    return product


def _linear_from(weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer


@pytest.mark.parametrize(("name", "tag", "wrong"), [pytest.param(*w, id=f"{w[0]}-{w[1]}") for w in WRONG])
def test_each_wrong_implementation_is_diagnosed(name: str, tag: str, wrong: Callable[..., Any]) -> None:
    failure = first_failure(name, wrong, seeds=range(30))
    assert failure is not None, f"{name}: the {tag} implementation passed every check"
    assert failure.tag == tag, str(failure)


def test_every_misconception_tag_is_proven() -> None:
    proven = {(p.values[0], p.values[1]) for p in VARIANTS} | {(w[0], w[1]) for w in WRONG}
    declared = {(name, m.tag) for name, ex in ours().items()
                for m in ex.misconceptions}
    assert declared - proven == set()


def test_hidden_random_cases_catch_the_issue_mistakes() -> None:
    """Without the visible checks, random hidden-test cases alone still name each mistake."""
    exercise = get_exercise("batch_norm2d")
    for wrong, tag in ((_bn(biased_running=True), "running-var-biased"), (_bn(inverted=True), "momentum-inverted"),
                       (_bn(eval_batch=True), "eval-uses-batch-stats")):
        tags = set()
        for seed in range(30):
            try:
                exercise.check_case(wrong, L.batch_norm2d_case(RandomInputs(seed)), visible=False)
            except CheckFailed as failure:
                tags.add(failure.tag)
                if tag in tags:
                    break
        assert tag in tags, (tag, tags)
    dropout = get_exercise("dropout")
    for wrong, tag in ((_dropout(scale=lambda p: 1.0), "dropout-not-rescaled"),
                       (_dropout(drop=lambda p: 1 - p, scale=lambda p: 1 / p, special=False), "p-is-keep-probability")):
        with pytest.raises(CheckFailed) as caught:
            dropout.check_case(wrong, L.dropout_case(RandomInputs(7)), visible=False)
        assert caught.value.tag == tag


# ------------------------------------------------------------------------------- from scratch
BUILTINS = [
    ("linear", lambda x, w, b=None: F.linear(x, w, b), L.LINEAR),
    ("linear", lambda x, w, b=None: nn.functional.linear(x, w, b), L.LINEAR),
    ("sigmoid", torch.sigmoid, L.ACTIVATIONS),
    ("tanh", lambda x: 2 * torch.sigmoid(2 * x) - 1, L.ACTIVATIONS),
    ("relu", F.relu, L.ACTIVATIONS),
    ("leaky_relu", lambda x, negative_slope=0.01: nn.LeakyReLU(negative_slope)(x), L.ACTIVATIONS),
    ("elu", lambda x, alpha=1.0: F.elu(x, alpha), L.ACTIVATIONS),
    ("batch_norm2d", lambda x, rm, rv, w=None, b=None, training=True, momentum=0.1, eps=1e-5: F.batch_norm(
        x, rm, rv, w, b, training, momentum, eps), L.BATCH_NORMS),
    ("dropout", lambda x, p=0.5, training=True, generator=None: F.dropout(x, p, training), L.DROPOUTS),
    ("dropout", lambda x, p=0.5, training=True, generator=None: nn.Dropout(p)(x), L.DROPOUTS),
    ("nll_loss", lambda lp, t, weight=None, reduction="mean": F.nll_loss(lp, t, weight=weight, reduction=reduction),
     L.NLL),
    ("cross_entropy", lambda z, t, weight=None, reduction="mean": F.nll_loss(
        F.log_softmax(z, 1), t, weight=weight, reduction=reduction), L.SOFTMAX_NLL),
    ("binary_cross_entropy", lambda p, y, reduction="mean": F.binary_cross_entropy(p, y, reduction=reduction), L.BCE),
    ("binary_cross_entropy_with_logits", lambda z, y, reduction="mean": L._reduce(
        -(y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z)), reduction), L.BCE_LOGITS),
    ("l1_loss", lambda a, b, reduction="mean": F.l1_loss(a, b, reduction=reduction), L.REGRESSION),
    ("mse_loss", lambda a, b, reduction="mean": nn.MSELoss(reduction=reduction)(a, b), L.REGRESSION),
    ("smooth_l1_loss", lambda a, b, beta=1.0, reduction="mean": F.huber_loss(a, b, reduction=reduction,
                                                                             delta=beta), L.REGRESSION),
    ("pairwise_distance", lambda a, b, p=2.0, eps=1e-6: torch.linalg.vector_norm(a - b + eps, p, dim=-1), L.DISTANCES),
]
FORBIDDEN = {name: pattern for name, _, pattern in BUILTINS}


@pytest.mark.parametrize(("name", "builtin", "pattern"), [pytest.param(*b, id=b[0]) for b in BUILTINS])
def test_builtins_are_caught(name: str, builtin: Callable[..., Any], pattern: str) -> None:
    run = HiddenRun(get_exercise(name), 3, torch.device("cpu"))
    case = (L.SeededCase((run.randn(4, 5),), {"p": 0.3}) if name == "dropout" else _random_case(name, run))
    with pytest.raises(CheckFailed) as caught:
        L.forbid_calls(run, builtin, case, pattern, "the builtin")
    assert caught.value.tag == "used-builtin"


@pytest.mark.parametrize("name", EXERCISES)
def test_the_solution_obeys_the_from_scratch_rule(sol, name: str) -> None:  # noqa: ANN001
    if name not in FORBIDDEN:
        return
    for seed in range(3):
        run = HiddenRun(get_exercise(name), seed, torch.device("cpu"))
        L.forbid_calls(run, getattr(sol, name), _random_case(name, run), FORBIDDEN[name], "the builtin")


def test_cross_entropy_may_call_the_students_own_nll_loss(sol) -> None:  # noqa: ANN001
    run = HiddenRun(get_exercise("cross_entropy"), 1, torch.device("cpu"))
    _, names = L.torch_calls(sol.cross_entropy, *_random_case("cross_entropy", run).args)
    assert "gather" in names and not any("nll" in n for n in names)


def test_the_call_recorder_does_not_import_dynamo() -> None:
    """By default a TorchDispatchMode's first use imports torch._dynamo: seconds of the notebook's budget."""
    from cnnlab.forbidden import _OpRecorder

    assert not _OpRecorder._should_skip_dynamo()
    assert not hasattr(_OpRecorder.__dict__["__torch_dispatch__"], "__wrapped__")  # torch._disable_dynamo


# --------------------------------------------------------------------------------- messages
def test_batch_norm_failures_name_the_part_that_is_wrong() -> None:
    failure = first_failure("batch_norm2d", _bn(biased_running=True))
    assert failure is not None and "running_var:" in failure.details
    assert "unbiased" in failure.hint


def test_dropout_failure_says_what_was_measured() -> None:
    failure = first_failure("dropout", _dropout(scale=lambda p: 1.0))
    assert failure is not None and "dropped" in failure.details and "generator=torch.Generator()" in failure.details
