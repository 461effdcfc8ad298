#!/usr/bin/env bash
# scripts/build.sh [BUILD_TYPE]: configures and builds into build/ (or $BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="${1:-Release}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
