# Convolutional networks in PyTorch, from the formula to MNIST.
# Every target runs with the project's virtual environment first on PATH.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV       := $(CURDIR)/.venv
PYTHON     := $(VENV)/bin/python
SETUP_DONE := $(VENV)/.setup-done
BASE_PYTHON ?= $(shell command -v python3.11 || command -v python3)
KERNEL     := cnn-course

export PATH := $(VENV)/bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# MNIST lives outside the repository. Use $COURSE_DATA_DIR when set, else a shared
# copy next to the checkout, else ./data (where `make data` tells you what to put).
COURSE_DATA_DIR ?= $(firstword $(wildcard $(CURDIR)/../shared/data) $(CURDIR)/data)
export COURSE_DATA_DIR

# The Chinese course: `make lab LANG=zh`, `make grade-me LANG=zh` (or COURSE_LANG=zh) use course-zh/.
# LANG=zh is not a locale, so the commands themselves run with LANG=C.UTF-8.
ifeq ($(LANG),zh)
override LANG := C.UTF-8
COURSE_LANG := zh
endif
COURSE_LANG ?= en
COURSE_DIR := $(if $(filter zh,$(COURSE_LANG)),course-zh,course)

SUBMISSIONS ?= submitted
WORKERS    ?=
LMS        ?=
ROSTER     ?=
LAB_ARGS   ?=
LAB_DIR    ?= $(if $(filter zh,$(COURSE_LANG)),$(CURDIR)/course-zh,$(CURDIR))
PYTEST_ARGS ?=

.PHONY: help setup demo test release validate lab grade feedback export report grade-me \
        bench lint format examples student-kit clean distclean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(SETUP_DONE)  ## create .venv, install the project with its grader and dev extras, and its Jupyter kernel

$(SETUP_DONE): pyproject.toml
	@$(BASE_PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required; set BASE_PYTHON=/path/to/python3.11")'
	@test -x $(PYTHON) || $(BASE_PYTHON) -m venv $(VENV)
	@echo "installing the pinned dependencies into .venv (a few minutes the first time; log: .venv/setup.log)"
	@$(PYTHON) -m pip install --upgrade "pip>=24" > $(VENV)/setup.log 2>&1 \
	  && $(PYTHON) -m pip install --progress-bar off -e ".[grader,dev]" >> $(VENV)/setup.log 2>&1 \
	  || { tail -n 30 $(VENV)/setup.log; echo "make setup: pip install failed (full log: .venv/setup.log)"; exit 1; }
	$(PYTHON) -m autograder.setup_env --kernel $(KERNEL)
	@touch $@
	@echo "setup done: .venv is ready (kernel '$(KERNEL)')"

demo: setup  ## release the course, grade examples/submissions, write feedback and grades.csv
	$(PYTHON) -m autograder demo

test: setup  ## run the test suite
	$(PYTHON) -m pytest $(PYTEST_ARGS)

release: setup  ## regenerate course/ and course-zh/ from solutions/ and the Chinese catalogs
	$(PYTHON) -m autograder release

validate: setup  ## solutions pass every test, released notebooks pass none
	$(PYTHON) -m autograder validate

lab: setup  ## start JupyterLab on the course; LANG=zh: the Chinese course (LAB_DIR=folder LAB_ARGS="--port=8899")
	$(VENV)/bin/jupyter lab --notebook-dir=$(LAB_DIR) $(LAB_ARGS)

grade: setup  ## grade a class: make grade SUBMISSIONS=path/or/export.zip [LMS=canvas|moodle] [ROSTER=roster.csv] [WORKERS=N]
	$(PYTHON) -m autograder grade $(SUBMISSIONS) $(if $(WORKERS),--workers $(WORKERS)) $(if $(LMS),--lms $(LMS)) $(if $(ROSTER),--roster $(ROSTER))

feedback: setup  ## write feedback HTML for every graded submission
	$(PYTHON) -m autograder feedback

export: setup  ## write grades.csv from the gradebook
	$(PYTHON) -m autograder export

report: setup  ## plots and the misconception report
	$(PYTHON) -m autograder report

grade-me: setup  ## self-study: grade your own course/ (LANG=zh: course-zh/) with the hidden tests
	$(PYTHON) -m autograder grade-me $(if $(filter zh,$(COURSE_LANG)),--from course-zh)

bench: setup  ## benchmarks (timings, not tests)
	$(PYTHON) bench/run_all.py

lint: setup  ## ruff
	$(VENV)/bin/ruff check cnnlab autograder tests bench tools

student-kit: release  ## build/student-kit/ and .zip: course/, the cnnlab wheel (no grader), requirements
	$(PYTHON) -m autograder.student_kit

examples: setup  ## rebuild examples/submissions from solutions/
	$(PYTHON) -m autograder.examples

clean:  ## remove grading output (never solutions/ or course/)
	rm -rf build grading .pytest_cache

distclean: clean  ## also remove .venv
	rm -rf $(VENV)
