# edge-encoders: the verbs people type. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python for the build/dev venv. torch 2.13.0's CPU wheel is for 3.11 on our machines; override as you need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# torch goes in first and pinned: an unpinned torch pulls a multi-GB CUDA build. Extra pip args (e.g. a CPU
# wheel index) go in TORCH_PIP_ARGS.
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=

OUT ?= artifacts
HOST ?= 127.0.0.1
PORT ?= 8080
EXPORT_ARGS ?=
PYTEST_ARGS ?=

.PHONY: help setup export serve test unit lint fmt bench bench-quick demo invoke-local tools image invoke deploy publish clean soak test-image image-server run-server bulk check-arm64

# Lambda / SAM. image and invoke need a container engine (DOCKER=podman works: `make test-image` runs both
# with podman), deploy also AWS credentials. samconfig.toml keeps one config env per architecture, so
# ARCH=arm64 builds, invokes and deploys arm64 throughout.
ARCH ?= x86_64
PLATFORM = $(if $(filter arm64,$(ARCH)),linux/arm64,linux/amd64)
DOCKER ?= docker
SAM ?= .tools/sam/bin/sam
SAM_ENV = --config-file samconfig.toml --config-env $(ARCH)
GUIDED ?=
EVENT ?= events/embed.json
# Image names (the test tier passes names of its own checkout, so two checkouts on one host never share a tag)
IMAGE ?= edge-encoders:$(ARCH)
SERVER_IMAGE ?= edge-encoders-server:$(ARCH)
EVENTS ?=
S3_URI ?=

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(STAMP) ## create .venv with the runtime, server, build (torch CPU) and dev dependencies

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[build,server,aws,dev]"
	@touch $@

export: setup ## export, optimize, quantize, validate -> artifacts/embed and artifacts/rerank (cached; EXPORT_ARGS=--help)
	$(PY) -m edge_build export --out $(OUT) $(EXPORT_ARGS)

serve: setup ## run the HTTP API under uvicorn on 127.0.0.1:8080 (HOST=, PORT= to change)
	EDGE_EMBED_BUNDLE=$${EDGE_EMBED_BUNDLE:-$(OUT)/embed} EDGE_RERANK_BUNDLE=$${EDGE_RERANK_BUNDLE:-$(OUT)/rerank} \
		$(PY) -m handler.serve --host $(HOST) --port $(PORT)

lint: setup ## ruff (lint + format check), mypy, and the import layers (import-linter)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

fmt: setup ## format and autofix what ruff can
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

unit: setup tools ## fast tier only: unit tests (tiny and toy models built in the tests; no export needed)
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

test: setup tools lint export ## everything CI runs: lint, export (cached), unit, contract, hostile, parity, e2e and image tests
	$(VENV)/bin/pytest $(PYTEST_ARGS)

tools: ## the SAM CLI + cfn-lint 1.53.3 in .tools/sam (sam validate --lint, the Lambda emulator binary)
	bash scripts/setup_tools.sh

demo: setup tools export ## the quickstart: the function under the Lambda emulator, one request of each kind
	$(PY) scripts/demo.py

invoke-local: setup tools export ## run events/ (or EVENTS="a.json b.json") through the handler under the Lambda emulator
	$(PY) -m edge_devtools.lambda_emulator invoke $(EVENTS)

publish: setup ## upload artifacts/embed and artifacts/rerank to S3: make publish S3_URI=s3://bucket/prefix
	@test -n "$(S3_URI)" || { echo "usage: make publish S3_URI=s3://bucket/prefix"; exit 2; }
	$(PY) scripts/publish.py $(S3_URI) --embed $(OUT)/embed --rerank $(OUT)/rerank

# Bulk embedding: OUT here is where the shards go, so this target never runs export (which writes to OUT).
IN ?=
BULK_BUNDLE ?= artifacts/embed
BULK_ARGS ?=

bulk: setup ## embed a corpus: make bulk IN=corpus.jsonl|.csv OUT=dir/|s3://bucket/prefix (resumable; BULK_ARGS=--help)
	@test -n "$(IN)" -a "$(origin OUT)" != "file" || { \
		echo "usage: make bulk IN=corpus.jsonl OUT=dir/|s3://bucket/prefix [BULK_BUNDLE=artifacts/embed] [BULK_ARGS=...]"; exit 2; }
	$(PY) -m edge_encoders.bulk "$(IN)" "$(OUT)" --bundle "$(BULK_BUNDLE)" $(BULK_ARGS)

image: export ## build the Lambda image edge-encoders:ARCH (ARCH=x86_64|arm64; DOCKER=podman for podman)
	$(DOCKER) build -f Dockerfile.lambda --platform $(PLATFORM) -t $(IMAGE) .

invoke: tools export ## sam build + sam local invoke -e EVENT (needs Docker, or DOCKER_HOST at a podman socket)
	$(SAM) build $(SAM_ENV)
	$(SAM) local invoke EdgeEncodersFunction $(SAM_ENV) -e $(EVENT)

deploy: tools export ## sam build + sam deploy with samconfig.toml's ARCH env (GUIDED=1 to be asked; needs AWS)
	$(SAM) build $(SAM_ENV)
	$(SAM) deploy $(SAM_ENV) $(if $(GUIDED),--guided)

image-server: image ## the HTTP server image edge-encoders-server:ARCH (uvicorn on PORT 8080, non-root)
	$(DOCKER) build -f Dockerfile.server --platform $(PLATFORM) $(if $(filter podman,$(DOCKER)),--format docker) \
		--build-arg LAMBDA_IMAGE=$(IMAGE) -t $(SERVER_IMAGE) .

run-server: image-server ## run the server image on 127.0.0.1:PORT (read-only root, /tmp in memory)
	$(DOCKER) run --rm -p 127.0.0.1:$(PORT):8080 --read-only --tmpfs /tmp $(SERVER_IMAGE)

test-image: setup tools export ## image tier: podman stand-in base, make image, sam build + sam local invoke of events/
	$(VENV)/bin/pytest tests/image $(PYTEST_ARGS)

ARM64_ARGS ?=
check-arm64: setup export ## arm64 variant under qemu-user (aarch64 onnxruntime) vs x86 fp32 on validation texts; slow, not in test
	bash scripts/arm64/setup.sh
	$(PY) scripts/check_arm64.py $(ARM64_ARGS)

SOAK_ARGS ?=
soak: setup export ## 10 minutes of mixed + hostile traffic at concurrency 64 on uvicorn; prints RSS over time and the targets
	$(PY) scripts/soak.py $(SOAK_ARGS)

bench: setup export ## benchmark vs sentence-transformers/torch, ST onnx backend, fastembed -> results/
	$(PY) -m bench

bench-quick: setup export ## a ~2 minute version of make bench
	$(PY) -m bench --quick

clean: ## remove exported bundles and caches (keeps .venv)
	rm -rf $(OUT) .taskroot .pytest_cache .mypy_cache .ruff_cache
