# Tenaz. `make dev` runs it locally, `make test` runs every test; `make setup` makes
# the tool environment (.venv, .tools) those need.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# SAM CLI from the project venv, never reporting usage.
export SAM_CLI_TELEMETRY := 0
SAM := $(CURDIR)/.venv/bin/sam
STATICCHECK := $(CURDIR)/.tools/bin/staticcheck

# deploy's samconfig.toml environment.
ENV ?= default
# Arguments for `make send`.
ARGS ?=

# A Lambda binary: Linux on arm64 (Graviton), static, no RPC mode, named bootstrap
# as provided.al2023 expects. $(1) is the directory under functions/, $(2) the output file.
define lambda_build
GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(2) ./functions/$(1)
endef

.PHONY: setup build test dev send bench deploy clean distclean lint build-IngestFunction build-ProcessorFunction build-RedriveFunction dlq-report replay inspect pause resume destinations chaos

setup:
	bash infra/setup.sh

# Every functions/<name> with a main.go, as bin/<name>/bootstrap.
build:
	@found=0; \
	for dir in functions/*/; do \
	  name=$$(basename "$$dir"); \
	  [ -f "$$dir/main.go" ] || continue; \
	  found=1; \
	  echo "build bin/$$name/bootstrap"; \
	  $(call lambda_build,$$name,bin/$$name/bootstrap); \
	done; \
	[ "$$found" = 1 ] || { echo "make build: no functions/*/main.go found" >&2; exit 1; }

test:
	bash infra/test.sh

dev:
	go run ./infra/dev

send:
	go run ./infra/send $(ARGS)

bench:
	bash infra/bench.sh

deploy:
	@[ -x "$(SAM)" ] || { echo "make deploy: $(SAM) not found; run 'make setup'" >&2; exit 1; }
	$(SAM) build --config-env $(ENV)
	$(SAM) deploy --config-env $(ENV)

clean:
	rm -rf bin .run .aws-sam

distclean: clean
	rm -rf .venv .tools

lint:
	@files=$$(find . -path './.*' -prune -o -name testdata -prune -o -name '*.go' -print); \
	[ -n "$$files" ] || { echo "make lint: no Go files" >&2; exit 1; }; \
	bad=$$(gofmt -l $$files); \
	if [ -n "$$bad" ]; then echo "gofmt: these files need formatting:" >&2; echo "$$bad" >&2; exit 1; fi
	go vet ./...
	go vet -tags integration ./...
	@[ -x "$(STATICCHECK)" ] || { echo "make lint: $(STATICCHECK) not found; run 'make setup'" >&2; exit 1; }
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags integration ./...

# Run by `sam build` (template.yaml: BuildMethod makefile) with ARTIFACTS_DIR set.
build-IngestFunction:
	@[ -n "$(ARTIFACTS_DIR)" ] || { echo "build-IngestFunction: ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 1; }
	$(call lambda_build,ingest,$(ARTIFACTS_DIR)/bootstrap)

build-ProcessorFunction:
	@[ -n "$(ARTIFACTS_DIR)" ] || { echo "build-ProcessorFunction: ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 1; }
	$(call lambda_build,processor,$(ARTIFACTS_DIR)/bootstrap)

build-RedriveFunction:
	@[ -n "$(ARTIFACTS_DIR)" ] || { echo "build-RedriveFunction: ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 1; }
	$(call lambda_build,redrive,$(ARTIFACTS_DIR)/bootstrap)

# Operator commands. They invoke the deployed stack's redrive function (STACK, default
# tenaz, the samconfig stack name; region from samconfig.toml's ENV) and print its
# report, or with LOCAL=1 POST the same request to the local runner of `make dev`
# (LOCAL_URL, default http://127.0.0.1:3000).
#   make dlq-report                        what is in the DLQ, by source, type, reason
#   make replay FILTER='{"source": "stripe", "type": "payment_intent.*"}'
# FILTER is required: FILTER='{}' replays every message in the DLQ.
STACK ?= tenaz
LOCAL_URL ?= http://127.0.0.1:3000

define redrive_invoke
	@if [ -n "$(LOCAL)" ]; then \
	  curl -sS --fail-with-body -X POST -H 'content-type: application/json' --data '$(1)' $(LOCAL_URL)/api/redrive; echo; \
	else \
	  $(SAM) remote invoke RedriveFunction --config-env $(ENV) --stack-name $(STACK) --event '$(1)'; \
	fi
endef

dlq-report:
	$(call redrive_invoke,{"dryRun": true})

replay:
	@[ -n '$(FILTER)' ] || { echo "make replay: set FILTER, e.g. FILTER='{\"source\": \"stripe\"}' (FILTER='{}' replays everything)" >&2; exit 2; }
	$(call redrive_invoke,{"filter": $(FILTER)})

# Where is my event: one read of the event's idempotency record (no DLQ receive).
#   make inspect KEY=stripe:evt_1NG8Du2eZvKYlo2C      text; JSON=1 prints JSON
#   make inspect LOCAL=1 KEY=...                       the local runner's GET /api/inspect
# The table is TENAZ_IDEMPOTENCY_TABLE, or else the stack's IdempotencyTableName output
# (sam list stack-outputs, STACK and ENV as above); REGION, when set, is the table's
# region (default: the AWS environment's).
inspect:
	@[ -n '$(KEY)' ] || { echo "make inspect: set KEY, e.g. KEY=stripe:evt_1NG8Du2eZvKYlo2C (source:id)" >&2; exit 2; }
	@flags='$(if $(JSON),-json) $(if $(REGION),-region $(REGION))'; \
	if [ -n "$(LOCAL)" ]; then \
	  go run ./infra/inspect -local '$(LOCAL_URL)' $$flags '$(KEY)'; \
	elif [ -n "$${TENAZ_IDEMPOTENCY_TABLE:-}" ]; then \
	  go run ./infra/inspect $$flags '$(KEY)'; \
	else \
	  [ -x "$(SAM)" ] || { echo "make inspect: set TENAZ_IDEMPOTENCY_TABLE, or run 'make setup' for $(SAM)" >&2; exit 1; }; \
	  $(SAM) list stack-outputs --stack-name $(STACK) --config-env $(ENV) --output json | go run ./infra/inspect -stack-outputs - $$flags '$(KEY)'; \
	fi

# Pause a destination: its records wait in the queue, spending no attempt, until it is
# resumed; every processor container sees it within TENAZ_BREAKER_CACHE_MS (1 s).
#   make pause DEST=orders.internal       DEST is a route's dependency (default: its URL's host)
#   make resume DEST=orders.internal      closes its breaker: the records go through within DeferMax
#   make destinations                     every breaker, open or paused (DEST=a,b: only those)
#   LOCAL=1 ...                           the local runner of `make dev` instead
# The table is TENAZ_BREAKER_TABLE, or else the stack's BreakerTableName output (STACK,
# ENV as above); REGION, when set, is the table's region.
define destination_run
	@flags='$(if $(REGION),-region $(REGION))'; \
	if [ -n "$(LOCAL)" ]; then \
	  go run ./infra/destination -local '$(LOCAL_URL)' $$flags $(1); \
	elif [ -n "$${TENAZ_BREAKER_TABLE:-}" ]; then \
	  go run ./infra/destination $$flags $(1); \
	else \
	  [ -x "$(SAM)" ] || { echo "make $@: set TENAZ_BREAKER_TABLE, or run 'make setup' for $(SAM)" >&2; exit 1; }; \
	  $(SAM) list stack-outputs --stack-name $(STACK) --config-env $(ENV) --output json | go run ./infra/destination -stack-outputs - $$flags $(1); \
	fi
endef

pause resume:
	@[ -n '$(DEST)' ] || { echo "make $@: set DEST, e.g. DEST=orders.internal (a route's dependency)" >&2; exit 2; }
	$(call destination_run,$@ '$(DEST)')

destinations:
	$(call destination_run,status $(subst $(comma), ,$(DEST)))

comma := ,

# The chaos ledger: webhooks through the pipeline with faults injected at random.
chaos:
	go run ./infra/chaos -n $(or $(N),2000) -seeds $(or $(SEEDS),3) -destinations $(or $(DESTINATIONS),3)
