# Steward: `make run` to try it, `make test` for every test, `make bench` for the figures.
CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
STEWARD_BIN ?= $(TARGET_DIR)/debug/steward
STEWARD_AGENT_BIN ?= $(TARGET_DIR)/debug/steward-agent
PYTHON ?= python3
# The test build carries the test clock (never `make run` or release builds).
TEST_FEATURES := --features steward-server/test-clock,steward-agent/test-version
DATA_DIR ?= $(CURDIR)/.steward
LISTEN ?= 127.0.0.1:7717
export STEWARD_BIN STEWARD_AGENT_BIN

.PHONY: build console run test unit e2e bench lint fmt fmt-check clean

build: console
	$(CARGO) build --workspace --all-targets $(TEST_FEATURES)

# The web console's bundle (console/dist), which the server embeds when it is built. Without
# npm the server builds without it and /console says so.
# Rebuilt only when its sources change, so Rust-only work never re-embeds it.
CONSOLE_SOURCES := $(shell find console/src console/scripts console/index.html console/vite.config.ts console/tsconfig.json \
	console/package.json console/package-lock.json -type f 2>/dev/null)

console: console/dist/index.html

console/dist/index.html: $(CONSOLE_SOURCES)
	@if command -v npm >/dev/null 2>&1; then \
	  cd console && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; } \
	  && npm run --silent build; \
	else echo "npm not found: building the server without its web console"; fi

run: console
	$(CARGO) build -p steward-server -p steward-agent
	BIN=$(TARGET_DIR)/debug DATA_DIR=$(DATA_DIR) LISTEN=$(LISTEN) tools/run.sh

test: build fmt-check unit e2e

fmt-check:
	$(CARGO) fmt --all -- --check

unit:
	$(CARGO) test --workspace --quiet $(TEST_FEATURES)

e2e:
	$(PYTHON) -m pytest tests/e2e -q -x --durations=10

bench: console
	$(CARGO) build --release -p steward-server -p steward-agent -p steward-bench
	$(TARGET_DIR)/release/steward-bench --steward $(TARGET_DIR)/release/steward

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets $(TEST_FEATURES) -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
