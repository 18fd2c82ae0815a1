; Inno Setup 6 script: installs the PyInstaller bundle (dist\ved) per user, with a Start menu
; entry, and registers ved as an opener of scenario files. Written to the Inno
; Setup documentation (https://jrsoftware.org/ishelp/); not run on the build machine.
; Windows matches only a file's last extension, so ved is added to the "Open with" choices of
; .toml files (a scenario is a .toml file) without taking them over from other programs.
#define AppName "Virtual Experience Designer"
#define AppVersion "0.1.0"

[Setup]
AppId={{6F1C2A57-8E0B-4C7D-9E51-3B2A7D4C9F10}
AppName={#AppName}
AppVersion={#AppVersion}
DefaultDirName={localappdata}\Programs\ved
DefaultGroupName={#AppName}
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=ved-setup
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
SetupIconFile=ved.ico
ChangesAssociations=yes

[Files]
Source: "..\..\dist\ved\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\ved-app.exe"; Parameters: "design"; IconFilename: "{app}\ved-app.exe"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"

[Registry]
; ved among the openers of .toml files (user scope: no administrator rights needed)
Root: HKCU; Subkey: "Software\Classes\.toml\OpenWithProgids"; ValueType: string; ValueName: "ved.scenario"; ValueData: ""; Flags: uninsdeletevalue
Root: HKCU; Subkey: "Software\Classes\ved.scenario"; ValueType: string; ValueName: ""; ValueData: "ved scenario"; Flags: uninsdeletekey
Root: HKCU; Subkey: "Software\Classes\ved.scenario\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\ved-app.exe,0"
Root: HKCU; Subkey: "Software\Classes\ved.scenario\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\ved-app.exe"" design ""%1"""

[Run]
Filename: "{app}\ved-app.exe"; Parameters: "design"; Description: "Start {#AppName}"; Flags: nowait postinstall skipifsilent
