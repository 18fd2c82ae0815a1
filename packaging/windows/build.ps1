# Build the Windows bundle and installer of ved. Written to the tools' documentation
# (PyInstaller 6, Inno Setup 6) and NOT run on the build machine, which has no Windows:
# treat the first run on Windows as its test.
#
# Needs: Python 3.11 (python.org, "py" launcher), Inno Setup 6 (iscc.exe on PATH).
# Usage (PowerShell, from the repository root):  .\packaging\windows\build.ps1
$ErrorActionPreference = "Stop"
$root = Resolve-Path "$PSScriptRoot\..\.."
Set-Location $root
if (-not (Test-Path .venv-win)) { py -3.11 -m venv .venv-win }
$py = ".venv-win\Scripts\python.exe"
# torch==2.13.0 from PyPI is the CPU build on Windows; a GPU user installs the CUDA build
# into a source install instead (see the README).
& $py -m pip install --disable-pip-version-check -e ".[test]" "pyinstaller>=6.10"
& $py -m PyInstaller --noconfirm --distpath dist --workpath build\pyinstaller packaging\ved.spec
Copy-Item -Recurse -Force scenarios dist\ved\scenarios
iscc packaging\windows\ved.iss
Write-Host "ved: installer in dist\ved-setup.exe"
