#!/usr/bin/env bash
# scripts/setup.sh: the whole set-up on a fresh Debian machine: installs the dependencies,
# builds vsrv, and runs a demo server. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
bash scripts/demo.sh
