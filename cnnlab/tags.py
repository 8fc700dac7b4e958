"""The tag vocabulary: every ``[tag]`` a failure message can start with, in one place.

Tags are stable kebab-case names that reports count across a class. Three kinds are listed
here with their meaning; the fourth, each exercise's misconceptions, is listed by name in
:data:`MISCONCEPTIONS` and explained by the hint of the grader's ``Misconception`` that carries
it. ``tests/test_tags.py`` proves that every tag the code can raise is in this file.
"""

from __future__ import annotations

# -- generic: any exercise, visible or hidden ------------------------------------------------
NOT_IMPLEMENTED = "not-implemented"
NOT_DEFINED = "not-defined"
RAISED = "raised-error"
WRONG_TYPE = "wrong-type"
WRONG_SHAPE = "wrong-shape"
WRONG_DEVICE = "wrong-device"
NOT_FINITE = "not-finite"
WRONG_VALUE = "wrong-value"
WRONG_ERROR = "wrong-error"
MISSING_ERROR = "missing-error"
USED_BUILTIN = "used-builtin"
MUTATED_INPUT = "mutated-input"
TAMPERED = "tampered-environment"
VISIBLE_DATA_STALE = "visible-data-stale"

GENERIC = {
    NOT_IMPLEMENTED: "the function still raises NotImplementedError",
    NOT_DEFINED: "the notebook has no function of that name (its cell was not run)",
    RAISED: "the function raised an exception on a valid input",
    WRONG_TYPE: "the result has the wrong type",
    WRONG_SHAPE: "the result has the wrong shape",
    WRONG_DEVICE: "the result is on the wrong device",
    NOT_FINITE: "the result holds nan or inf where PyTorch's does not",
    WRONG_VALUE: "wrong values, not matching any known mistake",
    WRONG_ERROR: "an invalid input raised the wrong exception type",
    MISSING_ERROR: "an invalid input was accepted instead of raising",
    USED_BUILTIN: "calls the PyTorch operator the exercise asks to build by hand",
    MUTATED_INPUT: "changed an argument in place",
    TAMPERED: "the notebook replaced something the checks rely on (advisory, in the kernel)",
    VISIBLE_DATA_STALE: "the visible checks' recorded results do not match this installation",
}

# -- state of the notebook: not a misconception ---------------------------------------------
NOT_RUN = "not-run"
KERNEL_DIED = "kernel-died"
NOTEBOOK_TIMEOUT = "notebook-timeout"
OUTPUT_LIMIT = "output-limit"
DATA_MISSING = "data-missing"

STATE = {
    NOT_IMPLEMENTED: GENERIC[NOT_IMPLEMENTED],
    NOT_DEFINED: GENERIC[NOT_DEFINED],
    NOT_RUN: "the cell never ran (an earlier cell stopped the notebook)",
    KERNEL_DIED: "the kernel died (out of memory, a crash, os._exit)",
    NOTEBOOK_TIMEOUT: "the notebook ran past its time limit",
    OUTPUT_LIMIT: "the notebook printed more than the output limit",
    DATA_MISSING: "MNIST was not found where COURSE_DATA_DIR points",
}

# -- the grader and its channel to the kernel ----------------------------------------------
NO_REPLY = "no-reply"
CALL_TIMEOUT = "call-timeout"
REPLY_TOO_LARGE = "reply-too-large"
UNREADABLE_REPLY = "unreadable-reply"
KERNEL_UNRESPONSIVE = "kernel-unresponsive"
SCRATCH_FULL = "scratch-full"
NO_HIDDEN_TESTS = "no-hidden-tests"
GRADER_ERROR = "grader-error"
WORKER_CRASHED = "worker-crashed"
KERNEL_START_FAILED = "kernel-start-failed"
NOT_GRADED = "not-graded"

GRADER = {
    NO_REPLY: "the kernel did not answer the grader's call",
    CALL_TIMEOUT: "the student's function ran past the per-call time limit",
    REPLY_TOO_LARGE: "the kernel's answer was larger than the reply limit",
    UNREADABLE_REPLY: "the kernel's answer was not plain data",
    KERNEL_UNRESPONSIVE: "the kernel stopped answering",
    SCRATCH_FULL: "the notebook filled its scratch space",
    NO_HIDDEN_TESTS: "a graded test cell had no hidden tests to run (the gradebook lost them)",
    GRADER_ERROR: "the grader itself failed on this test (not the student's fault)",
    WORKER_CRASHED: "the grading worker crashed (infrastructure: not recorded as a grade)",
    KERNEL_START_FAILED: "the kernel could not start (infrastructure: not recorded as a grade)",
    NOT_GRADED: "left ungraded after retries (infrastructure)",
}

# -- misconceptions, by notebook (each explained by its Misconception's hint in the grader) ----
MISCONCEPTIONS_BY_NOTEBOOK: dict[str, tuple[str, ...]] = {
    "01_conv_arithmetic": (
        "bias-forgotten", "ceil-vs-floor", "dilation-ignored", "dilation-times-k", "extra-padding-on-left",
        "flipped-kernel", "float-size",
        "groups-mixed-channels", "missing-plus-one", "padding-ignored", "padding-one-side",
        "returned-transpose", "same-padding-floored", "stride-ignored",
    ),
    "02_receptive_field": (
        "bias-counted", "box-not-mask", "channels-not-squared", "dilation-adds-params",
        "dilation-counts-gaps", "dilation-ignored", "dilation-times-k", "index-swapped", "jump-after-layer",
        "jump-not-multiplied", "mask-not-reduced", "nested-not-walked", "no-autograd", "not-per-axis",
        "padding-grows-field", "padding-not-scaled", "pooling-ignored", "returned-gradient",
        "rf-adds-kernel-sizes", "start-ignores-padding", "start-is-center", "stride-ignored",
        "summed-all-outputs", "train-mode", "wrong-keys",
    ),
    "03_params_flops": (
        "batch-ignored", "bias-always-counted", "bias-counted", "bias-divided-by-groups", "bias-forgotten",
        "bias-not-disabled", "buffers-counted", "counted-tensors", "depthwise-forgotten",
        "depthwise-groups-missing", "extra-layers", "float-count", "flops-not-macs", "frozen-counted",
        "groups-ignored", "hooks-left-behind", "input-size-not-output", "linear-skipped", "not-two-convs",
        "one-group-only", "only-conv2d", "pointwise-first", "pointwise-forgotten", "pointwise-not-1x1",
        "ratio-inverted", "same-padding-missing", "shared-counted-twice", "square-kernel-assumed",
        "square-output-assumed", "trainable-inverted", "transposed-per-output",
    ),
    "04_pooling": (
        "ceil-everywhere", "ceil-last-window-kept", "ceil-mode-ignored", "count-include-pad-wrong",
        "dilation-ignored", "divisor-override-ignored", "float-size", "indices-in-padded-plane",
        "indices-not-per-plane", "indices-within-window", "output-size-ignored", "overhang-counted",
        "padding-ignored", "padding-one-side", "return-indices-ignored", "stride-defaults-to-1",
        "unpool-size-ignores-padding", "zero-padding-in-max",
    ),
    "05_upsampling": (
        "align-corners-swapped", "bias-forgotten", "dilation-ignored", "flipped-kernel", "float-size",
        "half-pixel-nearest", "missing-minus-one", "negative-source-wraps", "no-half-pixel-offset",
        "not-reshaped", "output-padding-both-sides", "output-padding-ignored", "padding-added",
        "padding-ignored", "pseudo-inverse-not-transpose", "scale-from-sizes", "size-rounded",
        "size-times-stride", "stride-ignored", "sum-not-product", "weight-layout-swapped",
    ),
    "06_bn_fc_dropout_losses": (
        "absolute-instead-of-squared", "affine-ignored", "alpha-ignored", "bce-terms-swapped",
        "beta-ignored", "bias-dropped", "bias-forgotten", "bias-not-propagated", "dropout-in-eval",
        "dropout-not-rescaled", "dropout-wrong-values", "elu-missing-minus-one", "eps-ignored",
        "eps-instead-of-clamp", "eps-outside-norm", "eps-outside-sqrt", "eval-scaled",
        "eval-updates-running-stats", "eval-uses-batch-stats", "exp-overflow", "generator-ignored",
        "huber-instead-of-smooth-l1", "log-not-clamped", "log-taken-twice", "mask-not-random",
        "max-added-back", "missing-half", "momentum-inverted", "negative-slope-ignored",
        "normalised-with-unbiased-var", "p-ignored", "p-is-keep-probability", "p-one-nan",
        "p-zero-not-identity", "product-order", "reduction-ignored", "rmse-not-mse", "root-missing",
        "running-stats-not-updated", "running-var-biased", "sigmoid-sign", "sigmoid-then-bce",
        "sign-flipped", "slope-on-positive-side", "softmax-overflow", "softmax-without-log",
        "softmax-wrong-dim", "squared-instead-of-absolute", "stats-over-all-channels", "stats-per-sample",
        "tanh-half-argument", "weight-ignored", "weight-not-transposed", "weighted-mean-wrong", "wrong-dim",
        "wrong-drop-rate", "wrong-rescale",
    ),
    "07_mnist_convnet": (
        "accuracy-below-99", "batch-dimension-lost", "batch-not-on-device", "evaluate-wrong",
        "grad-not-zeroed", "loss-not-decreasing", "loss-not-float", "mean-loss-wrong",
        "missing-nonlinearity", "scheduler-not-stepped", "scheduler-order", "softmax-not-logits",
        "softmax-over-batch", "train-mode-not-set", "used-loader-dataset", "wrong-layers",
        "wrong-loss-function", "wrong-parameter-count",
    ),
    "08_backward": (
        "batch-stats-treated-as-constants", "bias-grad-averaged", "bn-mean-term-missing", "bn-variance-term-missing",
        "central-difference-not-halved", "count-include-pad-wrong", "dilation-ignored-in-scatter",
        "kernel-not-flipped", "mean-over-batch-missing", "normalised-with-unbiased-var", "not-divided-by-window",
        "one-sided-difference", "overlap-overwritten", "sign-flipped", "softmax-wrong-dim",
        "stride-ignored-in-scatter", "ties-to-every-max", "zero-padding-in-max",
    ),
}

MISCONCEPTIONS = frozenset(t for group in MISCONCEPTIONS_BY_NOTEBOOK.values() for t in group)
KNOWN = frozenset(GENERIC) | frozenset(STATE) | frozenset(GRADER) | MISCONCEPTIONS


def kind(tag: str) -> str:
    """``"state"``, ``"grader"``, ``"generic"``, ``"misconception"`` or ``"unknown"``: how a report reads a tag."""
    for name, group in (("state", STATE), ("grader", GRADER), ("generic", GENERIC), ("misconception", MISCONCEPTIONS)):
        if tag in group:
            return name
    return "unknown"
