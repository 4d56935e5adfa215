# saferoad: the two commands of the README.
#   make demo    set up (first time) and run `saferoad demo` on embedded defaults
#   make check   set up (first time) and run every check: ruff, mypy, pytest (+ services)

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: install demo check lint typecheck test lock update clean web-screenshots edge-wheel images

$(STAMP): pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet "uv==$(UV_VERSION)"
	# --compile-bytecode: uv installs without .pyc, and with PYTHONDONTWRITEBYTECODE=1 (set on
	# this project's machines) every process, each evaluation worker included, compiled every
	# module it imports from source: 10.4 s for the evaluation stack against 2.9 s (docs/evaluation.md)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/saferoad demo

check: install
	bash scripts/check.sh

lint: install
	$(BIN)/ruff check src tests benchmarks

typecheck: install
	$(BIN)/mypy src

test: install
	$(BIN)/pytest

# Refresh docs/web/*.png: the web app's browser tests, run in Chromium, save each page.
web-screenshots: install
	SAFEROAD_WEB_SCREENSHOTS=docs/web $(BIN)/pytest -q tests/store/test_web_browser.py

# Re-resolve the lock file after changing dependencies in pyproject.toml; then the edge image's
# lock: the same pins for the base (edge wheel's) dependencies only (deploy/Dockerfile, docs/deploy.md).
lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml -c requirements.lock --python-version 3.11 -o deploy/requirements-edge.lock

# The edge as one wheel (dist/saferoad-<version>-py3-none-any.whl): its base dependencies are the
# edge recorder's; the cloud services need the extra, `pip install "saferoad[cloud]"` (docs/deploy.md).
edge-wheel: install
	$(BIN)/python scripts/edge_wheel.py build dist

# Dependency update: re-resolve the lock to the newest allowed versions in a work copy
# (.update/work), run ruff, mypy and the snapshot tests there, write .update/report.md (docs/deploy.md).
update: install
	$(BIN)/python scripts/update_deps.py run

# Build every deploy/Dockerfile target with buildah (no Docker daemon; a stand-in Debian base when no
# registry answers) and check each inside the image (docs/deploy.md). Root, network to PyPI and
# Debian, ~10 minutes: by hand, never part of `make check`.
images:
	bash scripts/build_images.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
