#!/usr/bin/env bash
# Install this ved bundle for the current user: a menu entry with its icon, and ved as the
# opener of scenario files. Nothing is copied out of the bundle folder except those small
# files, and nothing needs root. Run it again after moving the folder; --uninstall removes them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$DATA/applications/ved.desktop" "$DATA/icons/hicolor/256x256/apps/ved.png" "$DATA/mime/packages/ved-scenario.xml"
  command -v update-mime-database >/dev/null && update-mime-database "$DATA/mime" || true
  echo "ved: menu entry and file association removed"
  exit 0
fi
mkdir -p "$DATA/applications" "$DATA/icons/hicolor/256x256/apps" "$DATA/mime/packages"
sed "s|@BUNDLE@|$HERE|g" "$HERE/share/ved.desktop" > "$DATA/applications/ved.desktop"
cp "$HERE/share/ved.png" "$DATA/icons/hicolor/256x256/apps/ved.png"
cp "$HERE/share/ved-scenario.xml" "$DATA/mime/packages/ved-scenario.xml"
command -v update-mime-database >/dev/null && update-mime-database "$DATA/mime" || true
command -v update-desktop-database >/dev/null && update-desktop-database "$DATA/applications" || true
command -v xdg-mime >/dev/null && xdg-mime default ved.desktop application/x-ved-scenario || true
echo "ved: installed for $(id -un): Virtual Experience Designer is in the applications menu and opens scenario files"
