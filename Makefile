# The README's quick start: `make dev` runs the gateway over an embedded fakekube, `make test` runs
# every test. Both create .venv themselves on a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/kuberay-apiserver dev

lint: $(STAMP)
	$(BIN)/ruff check handler fakekube tests
	$(BIN)/mypy handler fakekube

test: lint
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Contract suite: builds the reference kube-apiserver (infra/refkube, cached; minutes when cold),
# runs tests/contract against refkube, fakekube and the gateway in front of each, and prints
# `conformance: N/M scenarios agree` with the divergences. Not part of `make test` (yet).
.PHONY: conformance
conformance: $(STAMP)
	infra/refkube/build.sh
	KUBERAY_CONTRACT=1 $(BIN)/pytest -q --tb=line tests/contract

# Benchmarks (benchmarks/README.md): gateway vs kubectl proxy and more, as same-run ratios. Installs
# nginx and wrk with apt-get when missing; writes benchmarks/RESULTS.md; fails when a ratio is more
# than 20 % worse than benchmarks/baseline.json. BENCH_ARGS passes options, e.g. BENCH_ARGS=proxy.
bench: $(STAMP)
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)
