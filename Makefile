# Two commands do everything on a fresh Debian 12 machine (see README.md):
#   make train   set up, build Caffe, build the default dataset, train L-DSCMR
#   make test    set up, then run the whole test suite (Caffe gtests + pytest)
# Every target is idempotent: a second run only checks, in seconds.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
SOLVER ?= prototxt/ldscmr_solver.prototxt

.PHONY: help setup system-deps venv caffe test gtest pytest train

help:
	@echo "make train    install what is missing, build Caffe, build the default dataset, train $(SOLVER)"
	@echo "make test     install what is missing, build Caffe, run the Caffe gtests and pytest"
	@echo "make setup    only the set-up: system packages, .venv, Caffe (cached in ~/.cache/dscmr)"

setup: caffe

system-deps:
	@bash setup/install_system_deps.sh

venv: system-deps
	@bash setup/make_venv.sh

caffe: venv
	@bash setup/build_caffe.sh

test: setup
	@$(MAKE) --no-print-directory gtest pytest

gtest:
	@bash setup/run_gtests.sh

pytest:
	@echo "[test] pytest"
	@$(VENV)/bin/python -m pytest tests

train: setup
	@missing=""; \
	 [ -f "$(SOLVER)" ] || missing="$$missing\n  $(SOLVER): the network and solver generator (issue #4) has not written it yet"; \
	 [ -d data/synthau ] || missing="$$missing\n  data/synthau: the built-in default dataset builder (issue #5) does not exist yet"; \
	 if [ -n "$$missing" ]; then echo -e "[train] cannot train yet; missing:$$missing"; exit 1; fi
	@. $(VENV)/bin/activate && caffe train -solver $(SOLVER)
