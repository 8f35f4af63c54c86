# twophase: the two commands of the README are `make book` (main job) and `make test`.
# Both set up everything on a fresh machine: a virtual environment in .venv with the pinned
# torch/torchvision pair (constraints.txt), then run.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= quick
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export MPLBACKEND ?= Agg

.PHONY: setup test book notebooks kernel lab lint bench clean-runs screenshots

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,book]" -c constraints.txt
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (twophase)" >/dev/null
	touch $(STAMP)

# one worker per CPU (pytest-xdist); a test file runs whole on one worker, so its module
# fixtures (the smoke book, a finished smoke run) are computed once
test: setup
	$(PY) -m pytest -q -n auto --dist loadfile

book: setup
	$(PY) -m twophase.book all --profile $(PROFILE) -j 2

notebooks: setup
	$(PY) -m twophase.book run --profile $(PROFILE) -j 2

# This venv's kernel also for the user's own JupyterLab, VS Code or Jupyter outside the checkout:
# registered per user as "twophase" (~/.local/share/jupyter/kernels/twophase).
kernel: setup
	$(PY) -m ipykernel install --user --name twophase \
		--display-name "Python 3 (twophase, $(abspath $(VENV)))" >/dev/null

# JupyterLab in notebooks/ with the kernel of setup ("Python 3 (twophase)"); notebooks read the
# root runs/ (twophase.paths) and show figures inline; jupyterlab-myst renders the MyST roles.
lab: kernel
	cd notebooks && MPLBACKEND=module://matplotlib_inline.backend_inline \
		$(abspath $(VENV))/bin/jupyter lab $(LAB_ARGS)

lint: setup
	$(VENV)/bin/ruff check twophase tests benchmarks

bench: setup
	$(PY) -m pip install --quiet -e ".[bench]" -c constraints.txt
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b --quick || exit 1; done

clean-runs:
	rm -rf runs book/_build book/_generated

screenshots: setup
	$(PY) -m twophase.book screenshot --profile $(PROFILE)
