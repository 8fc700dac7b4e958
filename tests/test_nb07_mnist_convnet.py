"""Notebook 07: the checks accept the solution and name every known mistake with its tag.

Each wrong variant below is fed to the exercise's visible checks *and* to the hidden-test code
taken from the solution notebook itself, and must fail there with its tag: that proves each
diagnosis fires where students meet it. Training to 99 % is proven by the pipeline tests
(``tests/test_course.py`` grades the full solution); here a GPU run checks the recipe on CUDA.
"""

from __future__ import annotations

import ast
import os
import random
import tempfile
from unittest import mock

import matplotlib
import nbformat
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from helpers import COURSE, solution_namespace
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.exercises import get_exercise
from autograder.exercises import mnist_convnet as ex
from autograder.hidden import hidden_tests
from cnnlab import a11y, check
from cnnlab.data import ALLOW_DOWNLOAD_ENV, DataMissing, TensorLoader, load_mnist
from cnnlab.diagnosis import CheckFailed
from cnnlab.expected import load_expected
from cnnlab.models import SeedMNISTNet

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cnnlab import training  # noqa: E402

pytestmark = pytest.mark.nb07
NB = "07_mnist_convnet"


@pytest.fixture(scope="module")
def sol():
    return solution_namespace(NB)


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensors: one thread is as fast, and far faster on a busy 2-core machine."""
    with ex.one_thread():
        yield


def _test_cells() -> dict[str, str]:
    nb = nbformat.read(COURSE.source_notebook(NB), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")}


def hidden_code(grade_id: str) -> str:
    source = _test_cells()[grade_id]
    return source.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS", 1)[0]


def visible_tag(name: str, fn) -> str | None:
    try:
        check(name, fn, quiet=True)
    except CheckFailed as failure:
        return failure.tag
    return None


def hidden_tag(grade_id: str, name: str, value, seed: int) -> str | None:
    """Run the notebook's own hidden-test code with ``name`` bound to ``value``; return the failure tag."""
    with mock.patch.dict(os.environ, {"COURSE_SEED": str(seed), "COURSE_DEVICE": "cpu"}):
        try:
            exec(compile(hidden_code(grade_id), f"<{grade_id}>", "exec"), {name: value})  # noqa: S102
        except CheckFailed as failure:
            return failure.tag
    return None


# ------------------------------------------------------------------ wrong networks
class _Layers(nn.Module):
    def __init__(self, fc1_out: int = 50) -> None:
        super().__init__()
        self.conv1, self.pool1 = nn.Conv2d(1, 10, 5), nn.MaxPool2d(2, 2)
        self.conv2, self.pool2 = nn.Conv2d(10, 20, 5), nn.MaxPool2d(2, 2)
        self.fc1, self.fc2 = nn.Linear(320, fc1_out), nn.Linear(fc1_out, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool2(F.relu(self.conv2(self.pool1(F.relu(self.conv1(x))))))


class SeedAsWritten(_Layers):
    def forward(self, x):
        return self.fc2(self.fc1(self.features(x).view(320)))


class ViewKept(_Layers):  # the partial student's network: ReLU added, view(320) kept
    def forward(self, x):
        return self.fc2(F.relu(self.fc1(self.features(x).view(320))))


class NoReLU(_Layers):
    def forward(self, x):
        return self.fc2(self.fc1(self.features(x).flatten(1)))


class DropoutNotNonlinear(_Layers):
    def forward(self, x):
        return self.fc2(F.dropout(self.fc1(self.features(x).flatten(1)), 0.5, self.training))


class Softmaxed(_Layers):
    def forward(self, x):
        return F.softmax(self.fc2(F.relu(self.fc1(self.features(x).flatten(1)))), dim=1)


class SoftmaxOverBatch(_Layers):
    def forward(self, x):
        return F.softmax(self.fc2(F.relu(self.fc1(self.features(x).flatten(1)))), dim=0)


class MixesBatch(_Layers):  # normalises each feature over the batch: logits depend on the neighbours
    def forward(self, x):
        h = self.features(x).flatten(1)
        h = h - h.mean(dim=0, keepdim=True)
        return self.fc2(F.relu(self.fc1(h)))


class Wider(_Layers):
    def __init__(self) -> None:
        super().__init__(fc1_out=64)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(self.features(x).flatten(1))))


class Renamed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.Sequential(nn.Conv2d(1, 10, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(10, 20, 5), nn.ReLU(),
                                   nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(320, 50), nn.ReLU(), nn.Linear(50, 10))

    def forward(self, x):
        return self.head(self.convs(x))


class Borrowed(SeedMNISTNet):
    pass


class Stub(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        raise NotImplementedError()


NET_MISTAKES = [
    (SeedAsWritten, "batch-dimension-lost"),
    (ViewKept, "batch-dimension-lost"),
    (NoReLU, "missing-nonlinearity"),
    (DropoutNotNonlinear, "missing-nonlinearity"),
    (Softmaxed, "softmax-not-logits"),
    (SoftmaxOverBatch, "softmax-over-batch"),
    (MixesBatch, "batch-dimension-lost"),
    (Wider, "wrong-parameter-count"),
    (Renamed, "wrong-layers"),
    (Borrowed, "used-builtin"),
    (Stub, "not-implemented"),
]


def test_solution_network_passes(sol) -> None:
    assert visible_tag("MNISTConvNet", sol.MNISTConvNet) is None
    for seed in (1, 2):
        assert hidden_tag("test_MNISTConvNet", "MNISTConvNet", sol.MNISTConvNet, seed) is None


@pytest.mark.parametrize(("variant", "tag"), NET_MISTAKES, ids=[v.__name__ for v, _ in NET_MISTAKES])
def test_network_mistakes_are_diagnosed(variant, tag) -> None:
    assert visible_tag("MNISTConvNet", variant) == tag
    assert hidden_tag("test_MNISTConvNet", "MNISTConvNet", variant, seed=3) == tag


def test_solution_network_counts(sol) -> None:
    net = sol.MNISTConvNet()
    assert sum(p.numel() for p in net.parameters()) == ex.EXPECTED_PARAMS == sum(ex.LAYER_PARAMS.values())
    for name, count in ex.LAYER_PARAMS.items():
        assert sum(p.numel() for p in getattr(net, name).parameters()) == count
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        net(torch.randn(1, 1, 28, 28))
    assert counter.get_total_flops() == 2 * 480_500


# ------------------------------------------------------------------ wrong training epochs
def _epoch(*, zero=True, step=True, train=True, nll=False, sched=True, sched_first=False, mean="samples"):
    def train_one_epoch(model, loader, optimizer, device, scheduler=None):
        if train:
            model.train()
        total, samples, losses = 0.0, 0, []
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            if zero:
                optimizer.zero_grad()
            loss = (F.nll_loss if nll else F.cross_entropy)(model(x), y)
            loss.backward()
            if scheduler is not None and sched and sched_first:
                scheduler.step()
            if step:
                optimizer.step()
            if scheduler is not None and sched and not sched_first:
                scheduler.step()
            total += loss.item() * len(y)
            samples += len(y)
            losses.append(loss)
        if mean == "last":
            return losses[-1].item()
        if mean == "batches":
            return sum(v.item() for v in losses) / len(losses)
        if mean == "sum":
            return sum(v.item() for v in losses)
        if mean == "total":
            return total
        if mean == "tensor":
            return sum(losses) / len(losses)
        if mean == "dataset":
            return total / len(loader.dataset)
        return total / samples

    return train_one_epoch


def _no_scheduler_argument(model, loader, optimizer, device):
    return ex.train_one_epoch_reference(model, loader, optimizer, device)


def _per_epoch_scheduler(model, loader, optimizer, device, scheduler=None):
    loss = _epoch(sched=False)(model, loader, optimizer, device, scheduler)
    if scheduler is not None:
        scheduler.step()
    return loss


def _not_implemented(model, loader, optimizer, device, scheduler=None):
    raise NotImplementedError()


TRAIN_MISTAKES = [
    (_epoch(step=False), "loss-not-decreasing"),
    (_epoch(zero=False), "grad-not-zeroed"),
    (_epoch(train=False), "train-mode-not-set"),
    (_epoch(nll=True), "wrong-loss-function"),
    (_epoch(sched=False), "scheduler-not-stepped"),
    (_per_epoch_scheduler, "scheduler-not-stepped"),
    (_no_scheduler_argument, "scheduler-not-stepped"),
    (_epoch(sched_first=True), "scheduler-order"),
    (_epoch(mean="last"), "mean-loss-wrong"),
    (_epoch(mean="batches"), "mean-loss-wrong"),
    (_epoch(mean="sum"), "mean-loss-wrong"),
    (_epoch(mean="total"), "mean-loss-wrong"),
    (_epoch(mean="tensor"), "loss-not-float"),
    (_epoch(mean="dataset"), "used-loader-dataset"),
    (_not_implemented, "not-implemented"),
]
TRAIN_IDS = ["no-step", "no-zero-grad", "no-train-mode", "nll-on-logits", "scheduler-never", "scheduler-per-epoch",
             "no-scheduler-argument", "scheduler-first", "last-loss", "mean-of-batches", "sum-of-means",
             "sum-of-samples", "tensor-with-graph", "loader-dataset", "stub"]


def test_solution_epoch_passes(sol) -> None:
    assert visible_tag("train_one_epoch", sol.train_one_epoch) is None
    for seed in (1, 2, 3):
        assert hidden_tag("test_train_one_epoch", "train_one_epoch", sol.train_one_epoch, seed) is None


def test_equivalent_epochs_pass() -> None:
    """Other correct ways to write the loop: a loss module, zero_grad after step, log_softmax + nll."""

    def loss_module(model, loader, optimizer, device, scheduler=None):
        criterion, model = nn.CrossEntropyLoss(), model.train()
        total = n = 0
        for x, y in loader:
            out = model(x.to(device))
            loss = criterion(out, y.to(device))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if scheduler:
                scheduler.step()
            total, n = total + float(loss) * len(y), n + len(y)
        return total / n

    def log_softmax_nll(model, loader, optimizer, device, scheduler=None):
        model.train()
        total = torch.zeros(())
        n = 0
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.nll_loss(F.log_softmax(model(x.to(device)), dim=1), y.to(device), reduction="sum")
            (loss / len(y)).backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += loss.detach()
            n += len(y)
        return total / n  # a detached 0-d tensor is accepted

    for fn in (loss_module, log_softmax_nll):
        assert visible_tag("train_one_epoch", fn) is None
        assert hidden_tag("test_train_one_epoch", "train_one_epoch", fn, seed=5) is None


@pytest.mark.parametrize(("variant", "tag"), TRAIN_MISTAKES, ids=TRAIN_IDS)
def test_epoch_mistakes_are_diagnosed(variant, tag) -> None:
    assert visible_tag("train_one_epoch", variant) == tag
    hidden = {hidden_tag("test_train_one_epoch", "train_one_epoch", variant, seed) for seed in (11, 12)}
    assert hidden == {tag}


def test_one_step_lowers_the_loss_on_many_seeds() -> None:
    """The hidden 'one step on a fixed batch' case never fails a correct loop, whatever the seed."""
    rng = random.Random(0)
    for _ in range(25):
        bs = rng.randint(16, 64)
        spec = ex.TrainSpec(seed=rng.randrange(2**31), batch_size=bs, samples=bs, lr=0.05, net="seed")
        model, opt, _, loader = spec.build()
        before = ex._batch_loss(model, loader, "cpu")
        ex.train_one_epoch_reference(model, loader, opt, "cpu")
        assert ex._batch_loss(model, loader, "cpu") < before


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), bs=st.integers(1, 9), batches=st.integers(1, 4), extra=st.integers(0, 8))
def test_reference_epoch_is_the_weighted_mean_and_repeatable(seed, bs, batches, extra) -> None:
    spec = ex.TrainSpec(seed=seed, batch_size=bs, samples=bs * batches + extra % bs if bs > 1 else batches,
                        optimizer="momentum", scheduler=True)
    (mean, per_batch), model, sched, loader = ex._run_train(ex._train_epoch_recorded, spec)
    assert sched.steps == len(loader) == len(per_batch)
    assert mean == pytest.approx(sum(v * n for v, n in per_batch) / sum(n for _, n in per_batch))
    (mean2, _), model2, _, _ = ex._run_train(ex._train_epoch_recorded, spec)
    assert mean == mean2 and ex._same_state(ex._state(model), ex._state(model2), 0.0, 0.0)


# ------------------------------------------------------------------ wrong evaluations
def _evaluation(*, eval_mode=True, no_grad=True, result="fraction"):
    def evaluate(model, loader, device):
        if eval_mode:
            model.eval()
        correct, samples, accs = 0, 0, []
        with torch.set_grad_enabled(not no_grad):
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                right = int((model(x).argmax(dim=1) == y).sum())
                correct, samples = correct + right, samples + len(y)
                accs.append(right / len(y))
        return {"fraction": correct / samples, "count": correct, "percent": 100 * correct / samples,
                "error": 1 - correct / samples, "batch-mean": sum(accs) / len(accs),
                "per-batch-count": correct / len(accs), "tensor": torch.tensor(correct / samples)}[result]

    return evaluate


def _evaluate_with_dataset(model, loader, device):
    return _evaluation(result="count")(model, loader, device) / len(loader.dataset)


EVAL_MISTAKES = [
    (_evaluation(eval_mode=False), "evaluate-wrong"),
    (_evaluation(no_grad=False), "evaluate-wrong"),
    (_evaluation(result="count"), "evaluate-wrong"),
    (_evaluation(result="percent"), "evaluate-wrong"),
    (_evaluation(result="error"), "evaluate-wrong"),
    (_evaluation(result="batch-mean"), "evaluate-wrong"),
    (_evaluation(result="per-batch-count"), "evaluate-wrong"),
    (_evaluate_with_dataset, "used-loader-dataset"),
]
EVAL_IDS = ["no-eval-mode", "with-grad", "count", "percent", "error-rate", "mean-of-batches", "per-batch-count",
            "loader-dataset"]


def test_solution_evaluate_passes(sol) -> None:
    assert visible_tag("evaluate", sol.evaluate) is None
    assert visible_tag("evaluate", _evaluation(result="tensor")) is None
    for seed in (1, 2, 3):
        assert hidden_tag("test_evaluate", "evaluate", sol.evaluate, seed) is None


@pytest.mark.parametrize(("variant", "tag"), EVAL_MISTAKES, ids=EVAL_IDS)
def test_evaluate_mistakes_are_diagnosed(variant, tag) -> None:
    assert visible_tag("evaluate", variant) == tag
    assert hidden_tag("test_evaluate", "evaluate", variant, seed=21) == tag


def test_partial_students_evaluate_is_caught_by_the_visible_check() -> None:
    """The example partial student's evaluate fails deterministically (its score must not vary)."""
    from autograder.examples import partial_spec

    namespace = {"torch": torch, "nn": nn, "F": F}
    exec(partial_spec(NB)["ANSWERS"]["evaluate"], namespace)  # noqa: S102
    assert visible_tag("evaluate", namespace["evaluate"]) == "evaluate-wrong"


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), bs=st.integers(1, 30), samples=st.integers(1, 90),
       right=st.floats(0.0, 1.0))
def test_eval_spec_accuracy_is_exact(seed, bs, samples, right) -> None:
    """The labels of an EvalSpec make the reference (and an independent count) agree exactly with its plan."""
    spec = ex.EvalSpec(seed=seed, batch_size=bs, samples=samples, right=right)
    model, loader, batches = spec.build()
    expected = sum(c for c, _ in batches) / sum(n for _, n in batches)
    assert ex.evaluate_reference(model, loader, "cpu") == expected
    x, y = loader.x, loader.y
    assert ex.count_correct(model, x, y, batch_size=7) / len(y) == expected


# ------------------------------------------------------------------ the trained model
def test_model_check_diagnoses_untrained_and_broken_models() -> None:
    torch.manual_seed(0)
    assert visible_tag("model", NoReLU()) == "accuracy-below-99"
    assert visible_tag("model", ViewKept()) == "batch-dimension-lost"
    assert visible_tag("model", Wider()) == "wrong-parameter-count"
    assert visible_tag("model", NoReLU) == "wrong-type"
    assert visible_tag("model", "a string") == "wrong-type"
    assert hidden_tag("test_model", "model", ViewKept(), seed=4) == "batch-dimension-lost"


def test_model_check_counts_independently() -> None:
    """The accuracy check's count equals a plain count, for any order and batch size."""
    from cnnlab.data import mnist_tensors

    torch.manual_seed(1)
    net = NoReLU().eval()
    x, y = mnist_tensors(train=False)
    x, y = x[:3000], y[:3000]
    with torch.no_grad():
        plain = int((net(x).argmax(1) == y).sum())
    assert ex.count_correct(net, x, y, 777) == plain
    order = torch.randperm(len(y))
    assert ex.count_correct(net, x[order], y[order], 1100) == plain


# ------------------------------------------------------------------ visible checks: recorded data only
class Oracle(nn.Module):
    """Looks each test digit up in a copy of the test set: a "trained model" at 100 % without training.

    It has the seed's 21,840 parameters (unused) and keeps the test set in buffers, so the visible
    `model` check can be passed here in a second instead of the training cell's minute.
    """

    def __init__(self) -> None:
        super().__init__()
        from cnnlab.data import mnist_tensors

        x, y = mnist_tensors(train=False)
        self.unused = nn.Parameter(torch.zeros(ex.EXPECTED_PARAMS))
        self.register_buffer("proj", torch.randn(784, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
        keys = x.flatten(1).double() @ self.proj
        order = keys.argsort()
        self.register_buffer("keys", keys[order])
        self.register_buffer("labels", y[order])

    def forward(self, x):
        idx = torch.searchsorted(self.keys, x.flatten(1).double() @ self.proj).clamp(max=len(self.keys) - 1)
        return F.one_hot(self.labels[idx], 10).float() + 0 * self.unused[:1]


def _fails_with(name: str, fn) -> tuple[str, str] | None:
    try:
        check(name, fn, quiet=True)
    except CheckFailed as failure:
        return failure.tag, failure.hint
    return None


def test_visible_checks_use_recorded_data(sol) -> None:
    """The solution passes every visible check, judged against the results recorded at release; each
    recorded wrong variant of the grader fails them with its own tag and hint."""
    recorded = load_expected(NB)
    assert set(recorded) == {"MNISTConvNet", "train_one_epoch", "evaluate", "model"}
    for name in ("MNISTConvNet", "train_one_epoch", "evaluate"):
        check(name, getattr(sol, name), quiet=True)
    check("model", Oracle(), quiet=True)
    assert all(r["expected"] is None and not r["variants"] for r in recorded["model"]["results"])
    for name, record in recorded.items():
        variants = [m for m in get_exercise(name).misconceptions if m.variant is not None]
        in_record = {(v["tag"], v["hint"]) for r in record["results"] for v in r["variants"]}
        assert in_record == {(m.tag, m.hint) for m in variants}, name
        for m in variants:
            assert _fails_with(name, m.variant) == (m.tag, m.hint), (name, m.tag, m.hint)


def test_visible_checks_judge_against_the_record(sol) -> None:
    """Change a recorded value and the solution fails: the visible checks compare with the record."""
    import cnnlab.selfcheck as selfcheck

    recorded = load_expected(NB)

    def shifted(name: str, change):
        data = {k: dict(v) for k, v in recorded.items()}
        data[name]["results"] = [dict(r) for r in data[name]["results"]]
        change(data[name]["results"][0])
        return mock.patch.object(selfcheck, "load_expected", lambda notebook: data)

    def accuracy(result):
        result["expected"] = {**result["expected"], "accuracy": result["expected"]["accuracy"] + 0.25}

    def loss(result):
        summary, params = result["expected"]
        result["expected"] = ({**summary, "loss": summary["loss"] + 0.5}, params)

    def params(result):  # the reference and its variants all recorded with other parameters
        def moved(value):
            return value[0], tuple((k, v + 1.0) for k, v in value[1])

        result["expected"] = moved(result["expected"])
        result["variants"] = [{**v, "value": moved(v["value"])} for v in result["variants"]]

    def total(result):
        result["expected"] = {**result["expected"], "total": 21_841}

    with shifted("evaluate", accuracy):
        assert _fails_with("evaluate", sol.evaluate)[0] == "evaluate-wrong"
    with shifted("train_one_epoch", loss):
        assert _fails_with("train_one_epoch", sol.train_one_epoch)[0] == "mean-loss-wrong"
    with shifted("train_one_epoch", params):
        assert _fails_with("train_one_epoch", sol.train_one_epoch)[0] == "wrong-value"
    with shifted("MNISTConvNet", total):
        assert _fails_with("MNISTConvNet", sol.MNISTConvNet)[0] == "wrong-parameter-count"


def test_other_nonlinearities_and_functional_layers_pass() -> None:
    """The visible check's affine test needs both scalings (tanh is odd, yet not linear), and says
    nothing when fc1 is not called as a module."""

    class Tanh(_Layers):
        def forward(self, x):
            return self.fc2(torch.tanh(self.fc1(self.features(x).flatten(1))))

    class FunctionalFc1(_Layers):  # fc1's weights through F.linear: its forward hook never fires
        def forward(self, x):
            h = F.linear(self.features(x).flatten(1), self.fc1.weight, self.fc1.bias)
            return self.fc2(F.relu(h))

    assert visible_tag("MNISTConvNet", Tanh) is None
    assert visible_tag("MNISTConvNet", FunctionalFc1) is None


def test_the_student_library_holds_no_answer_network() -> None:
    """The fixed network is the grader's; the course's SeedMNISTNet keeps post [5]'s missing ReLU."""
    assert visible_tag("MNISTConvNet", ex.ReferenceMNISTNet) is None

    class Measuring(nn.Module):  # SeedMNISTNet's layers and forward, without subclassing it
        def __init__(self) -> None:
            super().__init__()
            for name, layer in SeedMNISTNet().named_children():
                setattr(self, name, layer)

        forward = SeedMNISTNet.forward

    assert visible_tag("MNISTConvNet", Measuring) == "missing-nonlinearity"


# ------------------------------------------------------------------ notebook, data, plots
def test_training_cell_uses_the_recipe() -> None:
    nb = nbformat.read(COURSE.source_notebook(NB), as_version=4)
    cell = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "train_model")
    assert cell.metadata["nbgrader"]["locked"] and not cell.metadata["nbgrader"]["grade"]
    r = training.RECIPE
    first = ast.parse(cell.source).body[0]
    assert ast.unparse(first.targets[0]) == "(EPOCHS, BATCH_SIZE, MAX_LR)"
    assert ast.literal_eval(first.value) == (r.epochs, r.batch_size, r.max_lr)
    assert "tqdm(" in cell.source and "file=sys.stderr" not in cell.source
    tests = _test_cells()
    assert set(tests) == {"test_MNISTConvNet", "test_train_one_epoch", "test_evaluate", "test_model"}
    assert not any("tqdm" in source for source in tests.values()), "a progress bar in a test cell writes to stderr"


def test_missing_data_stops_with_one_clear_message() -> None:
    with (tempfile.TemporaryDirectory() as empty, mock.patch.dict(os.environ, {ALLOW_DOWNLOAD_ENV: "0"}),
          pytest.raises(DataMissing) as info):
        load_mnist(train=False, root=empty)
    message = str(info.value)
    assert "\n" not in message and empty in message
    assert "COURSE_DATA_DIR" in message and ALLOW_DOWNLOAD_ENV in message


def test_training_helpers() -> None:
    logits = torch.tensor([[5.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 9.0], [2.0, 0.0, 0.0]])
    labels = torch.tensor([0, 2, 1, 0])
    counts = training.confusion_matrix(logits.argmax(1), labels, classes=3)
    assert counts.tolist() == [[2, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert training.worst_mistakes(logits, labels, k=5).tolist() == [2, 1]
    lrs = training.one_cycle_lrs(1e-2, epochs=2, steps_per_epoch=10)
    assert len(lrs) == 20 and max(lrs) == pytest.approx(1e-2) and lrs[0] == pytest.approx(1e-2 / 25)
    with pytest.raises(NotImplementedError):
        training.predict(None, [], "cpu")
    with pytest.raises(NotImplementedError):
        training.plot_history([{"epoch": 0, "train_loss": float("nan"), "test_accuracy": 0.1}])
    images = torch.zeros(2, 1, 28, 28)
    for needs_a_model in (lambda: training.show_filters(None, suptitle="x"),
                          lambda: training.show_mistakes(None, images, labels[:2], "cpu", suptitle="x"),
                          lambda: training.feature_maps(None, images[:1])):
        with pytest.raises(NotImplementedError):
            needs_a_model()


def test_plots_have_titles_and_labelled_axes() -> None:
    torch.manual_seed(0)
    net = NoReLU()
    history = [{"epoch": 0, "train_loss": float("nan"), "test_accuracy": 0.1},
               {"epoch": 1, "train_loss": 0.3, "test_accuracy": 0.98}]
    x = torch.randn(12, 1, 28, 28)
    loader = TensorLoader(x, torch.randint(0, 10, (12,)), batch_size=5)
    logits, labels = training.predict(net, loader, "cpu")
    maps = training.feature_maps(net, x[:1])
    assert maps["conv1"].shape == (1, 10, 24, 24) and maps["conv2"].shape == (1, 20, 8, 8)
    figures = [
        training.plot_history(history, lrs=training.one_cycle_lrs(1e-2, 1, 10), steps_per_epoch=10),
        training.plot_confusion(training.confusion_matrix(logits.argmax(1), labels), title="confusion"),
        training.show_filters(net, suptitle="filters"),
        training.show_mistakes(net, x, labels, "cpu", k=4, suptitle="mistakes"),
    ]
    for fig in figures:
        assert not a11y.problems(fig), a11y.problems(fig)
        for ax in fig.axes:
            if ax.get_visible() and ax.get_label() != "<colorbar>":
                assert ax.get_title(), "every panel has a title"
        plt.close(fig)


# ------------------------------------------------------------------ GPU
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_recipe_reaches_99_on_cuda_and_checks_pass_there(sol) -> None:
    from cnnlab.data import mnist_tensors

    device = torch.device("cuda")
    for name, fn in (("MNISTConvNet", sol.MNISTConvNet), ("train_one_epoch", sol.train_one_epoch),
                     ("evaluate", sol.evaluate)):
        cases = {"MNISTConvNet": ex.net_cases, "train_one_epoch": ex.train_cases, "evaluate": ex.evaluate_cases}[name]
        with hidden_tests(name, seed=7, device=device) as t:
            for case in cases(t):
                t.check(fn, case)
    r = training.RECIPE
    x_train, y_train = mnist_tensors(train=True, device=device)
    x_test, y_test = mnist_tensors(train=False, device=device)
    torch.manual_seed(r.seed)
    model = sol.MNISTConvNet().to(device)
    loader = TensorLoader(x_train, y_train, r.batch_size, shuffle=True, generator=torch.Generator().manual_seed(r.seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=r.max_lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=r.max_lr, epochs=r.epochs,
                                                    steps_per_epoch=len(loader))
    for _ in range(r.epochs):
        sol.train_one_epoch(model, loader, optimizer, device, scheduler)
    test_loader = TensorLoader(x_test, y_test, r.test_batch_size)
    assert sol.evaluate(model, test_loader, device) >= ex.ACCURACY_BAR
    with hidden_tests("model", seed=8, device=device) as t:
        for case in ex.model_cases(t):
            t.check(model, case)
