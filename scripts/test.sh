#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, a real local PostGIS, lint, types, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
url=$(bash scripts/postgis.sh start)
export GRIDSVC_TEST_POSTGIS_URL="$url"
echo "test: PostGIS at $url"
.venv/bin/ruff check gridsvc tests bench fixtures scripts
.venv/bin/ruff format --check gridsvc tests bench fixtures scripts
.venv/bin/mypy gridsvc
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$rc"
