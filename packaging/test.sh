#!/usr/bin/env bash
# The tests: set up if needed, then run pytest. "No tests collected" (pytest exit 5) fails.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/bootstrap.sh" "${VED_VENV:-$HERE/../.venv}/bin/python" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "ved: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$rc"
