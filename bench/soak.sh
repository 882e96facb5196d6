#!/usr/bin/env bash
# Soak: N virtual cards in a row (default 500), each personalized, read, verified (with a live
# finger) and signed through pcscd + vpcd by one long-running host process, the cards from one
# long-running `melli card feed`; prints peak and current RSS at card 50 and at the last card,
# and open file descriptors, for the host, the feeder and pcscd, and every error.
# Starts its own private pcscd (as the tests do); needs root for it.
set -euo pipefail
cd "$(dirname "$0")/.."
MELLI_SOAK_CARDS="${1:-500}" cargo bench --bench soak
