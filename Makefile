# The README's quick start: `make dev` runs the gateway over an embedded fakekube, `make test` runs
# every test, the contract suite against a real kube-apiserver included. Both create .venv
# themselves on a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# CONTRACT=0 leaves the contract suite (and the Go build of refkube) out of `make test`.
CONTRACT ?= 1

.PHONY: dev test lint bench clean image image-smoke e2e-dashboard

# compileall: an editable install writes no bytecode, and with PYTHONDONTWRITEBYTECODE=1 (set in
# many CI and container environments) Python never caches it, so every start of the gateway would
# compile handler/ and kubeapi/ from source: `import handler.app` took a third more CPU that way
# (CPU 333 against 255 ms, median of 8 starts at load average 9).
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/python -m compileall -q handler kubeapi fakekube >/dev/null
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/kuberay-apiserver dev

lint: $(STAMP)
	$(BIN)/ruff check handler fakekube kubeapi tests examples benchmarks
	$(BIN)/mypy handler fakekube kubeapi

# `make test` = lint, then ONE pytest run over every test with KUBERAY_CONTRACT=1, so pytest's
# closing line (and the `conformance: N/M scenarios agree` summary above it) is the last output.
# refkube (infra/refkube, a kube-apiserver built from Go modules: seconds when Go's build cache is
# warm, 5-15 min cold) builds in the background, niced, while the other tests run; the contract
# tests run last and wait for it (build.sh locks). A missing Go or a failed build fails the target.
ifeq ($(CONTRACT),0)
test: lint
	$(BIN)/pytest -q --ignore=tests/deploy
else
test: lint
	@mkdir -p build
	@echo "refkube, helm: building in the background (logs: build/refkube-build.log, build/helm-build.log)"
	@infra/refkube/build.sh > build/refkube-build.log 2>&1 & build=$$!; \
	infra/helmbin/build.sh > build/helm-build.log 2>&1 & helm=$$!; \
	KUBERAY_CONTRACT=1 $(BIN)/pytest -q; rc=$$?; \
	if ! wait $$build; then echo "refkube build FAILED:"; tail -40 build/refkube-build.log; exit 1; fi; \
	if ! wait $$helm; then echo "helm build FAILED:"; tail -40 build/helm-build.log; exit 1; fi; \
	exit $$rc
endif

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Conformance alone (also part of `make test`): builds the reference kube-apiserver (infra/refkube,
# cached), runs tests/contract against refkube, fakekube and the gateway in front of each, and the
# CRD engine's comparison with refkube; prints `conformance: N/M scenarios agree` with the
# divergences (all of them in build/conformance-divergences.txt).
.PHONY: conformance
conformance: $(STAMP)
	infra/refkube/build.sh
	KUBERAY_CONTRACT=1 $(BIN)/pytest -q --tb=line tests/contract tests/fakekube/crd/test_refkube.py

# Operator fidelity (not part of `make test`: a cold build of the KubeRay operator takes longer than
# its budget): builds refkube and infra/kuberay-operator (the real KubeRay operator v1.5.0 as a Go
# module, cached), runs tests/contract/test_operator_fidelity.py, prints
# `operator fidelity: N/M fields agree` and every difference (known, with its reason, or NEW).
.PHONY: operator-fidelity
operator-fidelity: $(STAMP)
	infra/refkube/build.sh
	infra/kuberay-operator/build.sh
	KUBERAY_CONTRACT=1 KUBERAY_OPERATOR_FIDELITY=1 $(BIN)/pytest -q --tb=short tests/contract/test_operator_fidelity.py

# Benchmarks (benchmarks/README.md): gateway vs kubectl proxy and more, as same-run ratios from
# >= 5 alternating rounds each; a round taken while other processes use the CPU (or steal is high)
# is refused and taken again (at most 2 x rounds per figure). Installs nginx and wrk with apt-get
# when missing. Writes benchmarks/RESULTS.md from reproducible sections only (exit 3 when a figure
# is unstable: it says which and why); fails (exit 1) when a ratio is worse than the baseline's
# per-round range by more than its own spread. ~25 min on a quiet 2-core machine.
# BENCH_ARGS passes options, e.g. BENCH_ARGS=proxy.
bench: $(STAMP)
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# Do the quick figures reproduce? Runs proxy (GET, 2 KB list), authn and coldstart twice (~12 min
# on a quiet machine) and prints both medians per figure, within 10 % or not, or why a figure is
# unstable; writes nothing. REPRO_ARGS passes options; REPRO_ARGS=--compare compares the last two
# `make bench` runs (build/bench/run-*.json) instead.
.PHONY: bench-repro
bench-repro: $(STAMP)
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python -m benchmarks.repro $(REPRO_ARGS)

# The soak (issue 13, benchmarks/soak.py; not part of `make test`): 30 minutes of mixed load through
# the gateway with 100 informer-style watches, the upstream cut twice; writes its table into
# benchmarks/RESULTS.md and fails when errors outside the cuts or lost/duplicated events are not 0.
# SOAK_ARGS passes options, e.g. SOAK_ARGS="--duration 120" for a short proof run.
.PHONY: soak
soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak $(SOAK_ARGS)

# Container images (README "Deploy: container image"): kuberay-apiserver:dev and kuberay-fakekube:dev
# from a Debian root filesystem (mmdebstrap) and this repository's wheel, with buildah; OCI archives
# in build/image/. Slow (minutes) and needs root, mmdebstrap and buildah (apt-get install -y
# mmdebstrap buildah podman), so it is not part of `make test`; tests/deploy checks its definition.
image: $(STAMP)
	PYTHON=$(BIN)/python infra/image/build.sh

# Run the built images from their unpacked roots (read-only, non-root): /readyz, SIGTERM, and the
# cold start to the first proxied 200 (README "Deploy: container image").
image-smoke:
	python3 infra/image/smoke.py --runs 3

# The official KubeRay Dashboard (../shared/kuberay/dashboard, Next.js) built and served locally,
# driven in headless Chromium against `kuberay-apiserver dev` (e2e/dashboard/run.sh). Not part of
# `make test`: it needs npm (yarn install + a Next.js build, minutes) and Debian's chromium
# (apt-get install chromium). Anything missing fails it loudly. Screenshots: build/e2e-dashboard/.
e2e-dashboard: $(STAMP)
	e2e/dashboard/run.sh
