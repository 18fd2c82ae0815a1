#!/usr/bin/env bash
# The main job: set up if needed, then run `ved` (no arguments: the default scenario; in a
# window when there is a display, else headless with a recording in ./recordings/).
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$HERE/bootstrap.sh" "${VED_VENV:-$HERE/../.venv}/bin/ved" "$@"
