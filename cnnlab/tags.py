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
