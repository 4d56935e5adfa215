#!/usr/bin/env bash
# Every check saferoad has: system packages its tests need, services, lint, types, tests.
# Called by `make check` (the README's check command), which CI runs through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

bash scripts/system-deps.sh

# Services the tests need (PostgreSQL on 127.0.0.1), stopped again on exit.
source scripts/services.sh
start_services
trap stop_services EXIT

echo "== ruff"
$BIN/ruff check src tests benchmarks
echo "== import-linter (dependencies point inward)"
$BIN/lint-imports
echo "== mypy"
$BIN/mypy src
echo "== pytest"
$BIN/pytest -n 2 --timeout 900 "$@"
