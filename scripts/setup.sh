#!/usr/bin/env bash
# Install everything gridsvc needs on a fresh Debian machine: system packages, then a virtualenv
# in .venv with the project and its test tools. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium runs the browser tests (never a downloaded browser); fonts-wqy-microhei draws Chinese
# labels in its screenshots; nodejs + npm install the map and editor assets (Leaflet) below.
# postgresql-postgis is the server extension: `postgis` only recommends it, and we install
# without recommends, so a machine without it had the tools but no CREATE EXTENSION postgis.
DEBIAN_PACKAGES=(libsqlite3-mod-spatialite postgresql postgis postgresql-postgis gdal-bin chromium
  fonts-wqy-microhei)
command -v npm >/dev/null || DEBIAN_PACKAGES+=(nodejs npm)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >/dev/null
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    echo "setup: installing Debian packages with sudo: ${missing[*]}"
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >/dev/null
  else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run as root:  $cmd" >&2
    exit 1
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.gridsvc-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python packages into .venv (first run takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[test]"
  echo "$want" > "$stamp"
fi

# Browser assets (Leaflet, leaflet.markercluster, leaflet-geoman) from the npm registry into
# node_modules: gridsvc serves them itself, so map pages never load a public CDN. Reinstalled
# when node_modules is missing or package-lock.json changed.
lock_stamp=node_modules/.gridsvc-lock
want_lock=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ ! -f "$lock_stamp" ] || [ "$(cat "$lock_stamp")" != "$want_lock" ]; then
  echo "setup: installing browser assets from npm (npm ci)"
  npm ci --omit=dev --no-audit --no-fund >/dev/null
  echo "$want_lock" > "$lock_stamp"
fi
