#!/usr/bin/env bash
# Set up everything ved needs on a Debian/Ubuntu machine, then run the given command
# inside the project's virtual environment. Safe to run again: it only installs what is
# missing. Used by packaging/ved.sh and packaging/test.sh (the README's two commands).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VED_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

# System libraries: EGL/Mesa (reference world), xkbcommon/fontconfig/dbus/glib (Qt), the
# xcb libraries Qt 6.5+ needs to open windows on an X display (its "xcb" platform plugin;
# check with QT_DEBUG_PLUGINS=1), PortAudio (sound devices).
SYSTEM_PACKAGES=(libegl1 libgl1 libgl1-mesa-dri libxkbcommon0 libxkbcommon-x11-0 libfontconfig1
                 libdbus-1-3 libglib2.0-0
                 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
                 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0
                 libxcb-xkb1
                 libportaudio2)
if command -v dpkg >/dev/null 2>&1; then
  missing=()
  for p in "${SYSTEM_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "ved: installing system packages: ${missing[*]}" >&2
    if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
             --no-install-recommends "${missing[@]}" >/dev/null; }; then
      echo "ved: could not install ${missing[*]}; install them with your package manager and retry" >&2
      exit 1
    fi
  fi
fi

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "ved: Python 3.11 or newer is needed (found: $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "ved: creating virtual environment in $VENV" >&2
  "$PY" -m venv "$VENV" || { echo "ved: 'python3 -m venv' failed; on Debian install python3-venv" >&2; exit 1; }
fi
STAMP="$VENV/.ved-installed"
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
  echo "ved: installing Python packages (first run takes a few minutes)" >&2
  # torch is pinned in pyproject.toml (torch==2.13.0, CPU build) and installed in this same
  # pip command as everything else, so pip never pulls a different torch build.
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[test]"
  touch "$STAMP"
fi
cd "$ROOT"
exec "$@"
