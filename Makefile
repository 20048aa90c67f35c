# finetune_course. Two commands for a newcomer: `make demo` runs the main job, `make test` runs
# every test. Both create .venv from requirements-dev.txt first (once; again when it changes).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A second environment with what a learner gets from `pip install`: the newest fastai and
# fastcore. torch/torchvision are pinned to the releases that lie on the course machines' disk.
LATEST := .venv-latest
LATEST_TORCH := torch==2.14.1 torchvision==0.29.1

.PHONY: demo test setup readme check-readme check-drift nbtest pytest latest record

$(BIN)/.installed: requirements-dev.txt setup.py settings.ini
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/finetune-course demo

test: setup check-drift check-readme nbtest pytest latest

# One thread per process in the tests. nbdev_test runs two notebooks at once (one per core), and
# torch starts a thread per core in each: four threads on two cores made each training 10x slower
# (bench/threads.py: a 64 px epoch 9 s alone, 95 s beside a second one). One thread alone is no slower
# here than two (9.2 s against 11.0 s). Numbers depend on the thread count; results record it.
nbtest pytest latest: export OMP_NUM_THREADS = 1

# The notebooks run as on another CPU. torch picks its kernels per processor (ATen's AVX-512, AVX2
# or default code, oneDNN's convolutions), and a different order of floating-point sums moves a
# few-epoch run by an image or two. The stored outputs are recorded on the course machine's AVX-512
# kernels; the tests run its AVX2 kernels, as on a common laptop, so an assert that holds only for
# the recorded numbers fails here, not on a learner's machine. (On a CPU without AVX-512 these
# settings change nothing, and the recorded numbers differ from the test's anyway.)
nbtest: export ATEN_CPU_CAPABILITY = avx2
nbtest: export ONEDNN_MAX_CPU_ISA = AVX2

# Notebooks are the source: cleaning them and exporting the library must change nothing.
check-drift: setup
	@before=$$(git status --porcelain; git diff); \
	$(BIN)/nbdev_clean && $(BIN)/nbdev_export; \
	after=$$(git status --porcelain; git diff); \
	if [ "$$before" != "$$after" ]; then git status --short; \
	  echo "nbdev_clean/nbdev_export changed files: run them and commit the result"; exit 1; fi

# README.md is rendered from nbs/index.ipynb (nbdev_readme needs Quarto, not installable here).
readme: setup
	$(BIN)/python tools/render_readme.py

check-readme: setup
	$(BIN)/python tools/render_readme.py --check

# Record a notebook's outputs (the docs show them), e.g.
# `make record NB=nbs/lessons/01_first_fine_tune.ipynb`. One thread, as in the tests; on an idle
# machine, since the outputs show timings.
record: setup
	@test -n "$(NB)" || { echo "Name the notebook: make record NB=nbs/api/03_data.ipynb"; exit 2; }
	OMP_NUM_THREADS=1 $(BIN)/python tools/record_notebook.py $(NB)

nbtest: setup
	$(BIN)/nbdev_test --timing

# Two workers, a test file each at a time (their session fixtures are per file): both cores busy,
# one thread each, as in nbtest.
PYTEST := python -m pytest -q -n 2 --dist loadfile
pytest: setup
	$(BIN)/$(PYTEST) tests

$(LATEST)/bin/.installed: setup.py settings.ini Makefile
	test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/pip install -q $(LATEST_TORCH) pytest pytest-xdist
	$(LATEST)/bin/pip install -q --upgrade --upgrade-strategy eager . $(LATEST_TORCH)
	touch $@

# The installed package (not the source tree) with the newest fastai: what `pip install` gives a
# learner, its data and licences, the command line end to end, and the offline errors. (The rest of
# the suite needs the development tools: DVC, the browser, Jupyter Book.)
LATEST_TESTS := test_package.py test_cli.py test_offline.py
latest: $(LATEST)/bin/.installed
	$(LATEST)/bin/pip install -q --no-deps --force-reinstall .
	$(LATEST)/bin/pip list 2>/dev/null | grep -iE '^(fastai|fastcore|torch|timm) '
	cd tests && ../$(LATEST)/bin/$(PYTEST) $(LATEST_TESTS)

# The course website in _docs/: nbdev's doc processors, then Jupyter Book 1 (Quarto, which
# nbdev_docs needs, cannot be installed here). Built with the network cut where `unshare -n` is
# permitted (root), which proves it needs none.
.PHONY: docs browser
docs: setup
	if unshare -n true 2>/dev/null; then unshare -n $(BIN)/python tools/build_docs.py; \
	else $(BIN)/python tools/build_docs.py; fi

# Debian's Chromium for the docs site's browser test (Playwright drives it; no browser download).
browser:
	command -v chromium >/dev/null || \
	  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

# Fashion-MNIST (Debian's dataset-fashion-mnist, MIT, 30 MB): the photos of clothes that the
# head-from-a-class demo reads from /usr/share/datasets/fashion-mnist (nbs/api/04_learner.ipynb).
.PHONY: fashion-mnist
fashion-mnist:
	test -d /usr/share/datasets/fashion-mnist || \
	  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist; }
nbtest: fashion-mnist

# In `make test` the browser test (tests/test_docs.py) must run: a missing browser fails it.
pytest: browser
pytest: export FINETUNE_COURSE_REQUIRE_BROWSER = 1
