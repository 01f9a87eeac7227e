# Ponder: the two commands a new user needs are `make demo` and `make test`.
# `deps` installs what the machine lacks (Debian packages, then Python packages for the
# reference scripts and interoperability tests); every other target calls it first.

SWIFT  ?= swift
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libopenblas-dev libsqlite3-dev sqlite3 bubblewrap libseccomp-dev pkg-config python3 python3-pip libopenmpi-dev openmpi-bin wamerican
PY_PACKAGES  := numpy safetensors tokenizers openai
PONDER := .build/release/ponder

.PHONY: deps build test demo bench bench-peers results scaling wording rlhf overoptimization clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@python3 -c "import numpy, safetensors, tokenizers, openai" 2>/dev/null || \
	  python3 -m pip install -q $(PY_PACKAGES) 2>&1 | grep -v "Running pip as the 'root' user" || true
	@python3 -c "import numpy, safetensors, tokenizers, openai" || { echo "error: Python packages $(PY_PACKAGES) are missing; install them with: python3 -m pip install $(PY_PACKAGES)"; exit 1; }

build: deps
	$(SWIFT) build -c release

# Numeric tests need optimised code: the whole suite runs in release mode.
test: deps
	$(SWIFT) test -c release

# The quickstart experiment from scratch: tokenizer, pretraining, SFT, held-out evaluation,
# GRPO on arithmetic, evaluation again; then the runs table and the curves.
demo: build
	rm -rf runs/quickstart
	$(PONDER) run experiments/quickstart.yaml
	$(PONDER) runs
	$(PONDER) compare quickstart/pretrain quickstart/sft --metric loss --svg runs/quickstart/loss.svg --html runs/quickstart/loss.html
	$(PONDER) compare quickstart/grpo --metric reward --svg runs/quickstart/reward.svg

bench: build
	$(PONDER) bench

# Every shipped experiment with three seeds, graded on the test split; writes the README's
# results table and the refusal and hallucination tables (scripts/results.sh says how; PARTS=knowledge
# for the latter alone). Hours on 2 cores; not part of CI.
results: build
	scripts/results.sh

# Data-parallel GRPO on this machine (1 rank x 2 threads, 2 ranks x 1 thread over MPI) and the
# cost model for N machines: the README's scaling section (about 20 minutes on 2 cores).
scaling: build
	python3 scripts/scaling.py --configs small,medium --readme README.md

# Skills or templates: quickstart with three seeds, graded on seen and held-out phrasings and on
# hand-written questions; the README's wording table (about 20 minutes on 2 cores).
wording: build
	python3 scripts/wording.py --readme README.md

# experiments/rlhf.yaml (reward model + PPO) and dpo.yaml before and after on the test split:
# the README's RLHF table, seeds 0, 1 and 2 (about 45 minutes on 2 cores).
rlhf: build
	python3 scripts/rlhf.py --readme README.md

# Reward-model over-optimisation (experiments/overoptimization.yaml, two seeds): best-of-n, PPO
# and DPO against reward models of different size, data and label noise, ensembles and the KL
# penalty as mitigations; the README's over-optimisation tables (about 100 minutes on 2 cores).
overoptimization: build
	python3 scripts/overoptimization.py --readme README.md

# Side-by-side figures from PyTorch on the same configs (optional; never needed by the tests).
bench-peers: build
	@python3 -c "import torch" 2>/dev/null || python3 -m pip install -q torch==2.13.0
	python3 bench/torch_peer.py
	$(PONDER) bench

clean:
	rm -rf .build
