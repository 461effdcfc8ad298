#!/usr/bin/env bash
# scripts/test.sh: installs dependencies, builds, then runs the whole suite:
# GoogleTest unit tests (ctest) and the integration tests (pytest, real vsrv on real containers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
# podman and containerd drive vsrv in tests/integration/test_engines.py.
bash scripts/engines.sh && export VSRV_ENGINE_TESTS=1
bash scripts/build.sh
export VSRV_BIN=$PWD/${BUILD_DIR:-build}/cli/vsrv
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure)
/usr/bin/python3 -m pytest -ra -q tests/integration "$@"
# The same container tests once more on cgroup v2 semantics (the unified hierarchy bound over
# /sys/fs/cgroup in a private mount namespace); a no-op where there is no hybrid layout.
bash scripts/test-v2-sim.sh
