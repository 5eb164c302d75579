#!/usr/bin/env bash
# The main job end to end on the committed fixtures:
# import → partition → (merge → staff as built) → maps → export. Prints where everything is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/gridsvc demo --out "${1:-out/demo}"
