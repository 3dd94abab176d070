# Two commands set up everything on a fresh clone:
#   make demo   create .venv, install raygen (CPU torch), run the main job on an embedded local Ray
#   make test   install if needed, run the test suite
SHELL  := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= python3
# Extra pip flags for torch, e.g. TORCH_PIP_ARGS="--index-url <PyTorch CPU or CUDA wheel index>" (docs/install.md).
TORCH_PIP_ARGS ?=
# The SpliceAI release whose weights `raygen score --model spliceai` reads (installed without dependencies).
SPLICEAI_WHEEL := spliceai==1.3.1
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export RAY_AUTH_MODE ?= disabled
export RAY_USAGE_STATS_ENABLED ?= 0
export HF_HUB_OFFLINE ?= 1
export GRADIO_ANALYTICS_ENABLED ?= False
export PIP_DISABLE_PIP_VERSION_CHECK ?= 1

.PHONY: demo test install clean browser oracles r-peers bench-oracles

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# CPU torch first: pip then never reaches for the multi-GB CUDA wheels on a CPU-only host.
	$(BIN)/pip install -q "torch>=2.3,<2.14" $(TORCH_PIP_ARGS) 2>&1 | { grep -v "is ignored" || true; }
	$(BIN)/pip install -q -e ".[dev]" 2>&1 | { grep -v "is ignored" || true; }
	# SpliceAI's published weights and gene tables only (raygen runs them in torch): --no-deps keeps
	# TensorFlow and Keras out of this environment.
	$(BIN)/pip install -q --no-deps $(SPLICEAI_WHEEL) 2>&1 | { grep -v "is ignored" || true; }
	$(BIN)/python -c "import raygen, ray, torch, pysam, transformers, gradio, h5py"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/raygen demo --out demo_out

# Headless Chromium for the UI browser test (tests/serve/test_ui.py): installed with apt-get where it is
# missing and we are root (CI on a fresh Debian box); otherwise that one test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    echo "installing chromium for the browser test (apt-get) ..." && \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } || \
	  echo "chromium is not installed: the browser test will be skipped"

# Peer tools for the differential tests (tests/oracles.py). Python peers get a venv each under .oracles/, so
# their pinned stacks (TensorFlow for SpliceAI, CNVkit's numpy/pandas ranges) never enter raygen's; R packages
# come from Debian. A peer that cannot be installed only makes its own tests skip, and they say why.
ORACLES ?= .oracles
ORACLE_NAMES := spliceai cnvkit
ORACLE_PIP_spliceai := tensorflow-cpu==2.15.1 spliceai==1.3.1
ORACLE_PIP_cnvkit := cnvkit==0.9.14
# Peers only the benchmarks compare against (not needed by the tests): `make bench-oracles`.
BENCH_ORACLE_NAMES := inmoose
ORACLE_PIP_inmoose := inmoose==0.9.1
R_DEBS := r-bioc-sva r-bioc-edger r-bioc-deseq2 r-bioc-dnacopy
# Installed, checked without loading them (loading all four costs ~14 CPU s on every `make test`).
R_INSTALLED := quit(status = as.integer(length(find.package(c("sva", "edgeR", "DESeq2", "DNAcopy"), quiet = TRUE)) != 4L))

$(ORACLES)/%/.installed:
	@echo "installing the $* peer for differential tests into $(ORACLES)/$* ..."
	rm -rf $(ORACLES)/$* && $(PYTHON) -m venv $(ORACLES)/$*
	# --no-compile: pip would byte-compile every file of the peer stacks (measured: the CNVkit venv builds in 19 CPU s
	# instead of 38; compiling the TensorFlow one costs 18); the modules a test imports compile at first import
	$(ORACLES)/$*/bin/pip install -q --no-compile $(ORACLE_PIP_$*) 2>&1 | { grep -v "is ignored" || true; }
	touch $@

r-peers:
	@command -v Rscript >/dev/null 2>&1 && Rscript -e '$(R_INSTALLED)' >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    echo "installing R peers for differential tests (apt-get: $(R_DEBS)) ..." && \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(R_DEBS) >/dev/null 2>&1; } || \
	  echo "R peers are not installed: their differential tests will be skipped"

oracles:
	@# -j: R's packages (apt-get) and the two peer venvs (pip) install side by side: mostly network and disk waits
	@$(MAKE) --no-print-directory -k -j3 r-peers $(foreach n,$(ORACLE_NAMES),$(ORACLES)/$(n)/.installed) || \
	  echo "some peer tools did not install: their differential tests will be skipped"

bench-oracles:
	@$(MAKE) --no-print-directory -k $(foreach n,$(BENCH_ORACLE_NAMES),$(ORACLES)/$(n)/.installed) || \
	  echo "some benchmark peers did not install: their benchmark columns will be missing"

test: $(STAMP) browser oracles
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(ORACLES) demo_out .pytest_cache
