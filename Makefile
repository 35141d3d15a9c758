# Two commands do everything on a fresh Debian 12 machine (see README.md):
#   make train   set up, build Caffe, build the default dataset, train L-DSCMR
#   make test    set up, then run the whole test suite (Caffe gtests + pytest)
# Every target is idempotent: a second run only checks, in seconds.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
SOLVER ?= prototxt/ldscmr_solver.prototxt

.PHONY: help setup setup-gpu system-deps venv caffe test test-fast gtest lint pytest data train bench

help:
	@echo "make train            install what is missing, build Caffe and the default dataset, train $(SOLVER)"
	@echo "make train ITERS=20   the same, stopping after 20 iterations (a demonstration, no validation at 0)"
	@echo "make train SOLVER=prototxt/dscmr_solver.prototxt   another method"
	@echo "make test             the same set-up, then the Caffe gtests of the layers and pytest"
	@echo "make test-fast        lint and the tests that train nothing (pytest -m \"not slow\"), for the edit-test loop"
	@echo "make data             only the built-in synthetic dataset, data/synthau (about a minute)"
	@echo "make setup            only the set-up: system packages, .venv, Caffe (cached in ~/.cache/dscmr)"
	@echo "make setup-gpu        a CUDA build of Caffe instead (needs CUDA 13's nvcc; not for make test)"
	@echo "make bench            Caffe vs PyTorch, layers, data builder, build times -> bench/results.md (about 20 min)"
	@echo "make bench BENCH_ARGS=--quick   one round of each (a few minutes); --cold-build adds a cold build"

setup: caffe

system-deps:
	@bash setup/install_system_deps.sh

venv: system-deps
	@bash setup/make_venv.sh

caffe: venv
	@bash setup/build_caffe.sh

# A CUDA build (sm_90, CUDA 13, no cuDNN) beside the CPU one; .venv then runs it. Not part of make test.
setup-gpu: venv
	@$(VENV)/bin/python -m pip install --disable-pip-version-check -q -r requirements-gpu.txt
	@CAFFE_GPU=1 bash setup/build_caffe.sh

test: setup
	@$(MAKE) --no-print-directory gtest lint pytest

gtest:
	@bash setup/run_gtests.sh

# Lint: ruff, configured in pyproject.toml.
lint:
	@echo "[test] ruff check"
	@$(VENV)/bin/ruff check .

# Two processes (pytest-xdist), a test file each at a time: 5.2 min of a 7.0-minute cold `make test` on
# 2 cores (AMD Zen 5; 8.6-9.3 of 11.0-12.3 on a Zen 3 before the commands stopped importing pycaffe whole).
pytest:
	@echo "[test] pytest -n 2 --dist loadfile"
	@$(VENV)/bin/python -m pytest tests -n 2 --dist loadfile --durations=15

# The edit-test loop: lint and every test not marked slow (no training), on the built Caffe.
test-fast: setup
	@$(MAKE) --no-print-directory lint
	@echo "[test] pytest -m 'not slow'"
	@$(VENV)/bin/python -m pytest tests -m "not slow" -q --durations=10

# The built-in default dataset (docs/data.md); SYNTHAU_ARGS passes options to the builder,
# e.g. SYNTHAU_ARGS="--train 40000 --val 2000 --test 4000 --encode jpg". Up to date: 0.4 s.
data: caffe
	@$(VENV)/bin/au-build-synthau --mirror $(SYNTHAU_ARGS)

# ITERS=N trains for N iterations instead of the solver's max_iter (a short demonstration run), without
# the validation pass before the first iteration: an untrained BatchNorm net's running statistics are zero,
# so it reports NaN (L-DSCMR: 31 batches, 34 s on 2 cores). Validation still runs every test_interval.
# The model card (runs/<snapshot prefix>.model.json, tools/nets/model_card.py) is written first, for au-predict.
train: setup data
	@[ -f "$(SOLVER)" ] || { echo "[train] $(SOLVER) does not exist; au-prototxt --help"; exit 1; }
	@solver=$(SOLVER); \
	 if [ -n "$(ITERS)" ]; then solver=runs/$(basename $(notdir $(SOLVER)))_$(ITERS)iters.prototxt; \
	   sed -e 's/^max_iter: .*/max_iter: $(ITERS)/' -e '/^test_initialization:/d' \
	       -e '$$a test_initialization: false' $(SOLVER) > $$solver; fi; \
	 log=runs/$$(basename $$solver .prototxt).log; \
	 $(VENV)/bin/au-model-card $$solver || exit 1; \
	 echo "[train] caffe train -solver $$solver (log: $$log; curves: au-parse-log $$log --plot ...)"; \
	 set -o pipefail; . $(VENV)/bin/activate && caffe train -solver $$solver 2>&1 | tee $$log

# Benchmarks (au-bench --help): not part of make test. PyTorch is a bench-only dependency.
bench: setup
	@$(VENV)/bin/python -m pip install --disable-pip-version-check -q -r requirements-bench.txt
	@$(VENV)/bin/au-bench $(BENCH_ARGS)
