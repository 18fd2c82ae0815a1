"""*Host session…*: serve the open scenario to other computers and show the join codes.

The session runs in a child process (``ved serve``: the world model, the clock and the
recording), so the designer stays responsive and a crash of either leaves the other
running. The dialog reads the server's first stdout line (URL, certificate fingerprint,
codes) and shows them with a *Copy* button per seat; *Stop session* ends the server (SIGTERM:
the recording is closed properly). Closing the dialog stops it too.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QProcess, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QGridLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QPushButton, QVBoxLayout, QWidget)


class HostSessionDialog(QDialog):
    """Hosts the scenario saved at ``scenario_path`` with ``model`` (a folder, ``"reference"``
    or None for the shipped model), recorded into ``record_dir``.

    :attr:`url`, :attr:`fingerprint` and :attr:`codes` are set once the server is up
    (:attr:`ready`); :attr:`code_fields` maps each seat to the field showing its code.
    """

    def __init__(self, scenario_path: str | Path, *, model: str | None = None, record_dir: str | Path | None = None,
                 parent: QWidget | None = None, device: str = "auto", path: str = "auto"):
        super().__init__(parent)
        self.setWindowTitle("Host session")
        self.scenario_path, self.model, self.record_dir = Path(scenario_path), model, record_dir
        self.device, self.path = device, path  # where the server's world model runs, on which inference path
        self.url: str | None = None
        self.fingerprint: str | None = None
        self.codes: dict[str, str] = {}
        self.code_fields: dict[str, QLineEdit] = {}
        self.ready = False
        self.process: QProcess | None = None
        self._stdout = b""

        intro = QLabel(f"Serve <b>{self.scenario_path.name}</b> so that trainees, game masters and observers "
                       "join from their own computers with <code>ved join URL --code CODE</code>. "
                       "Hand each person only their own code.", self)
        intro.setWordWrap(True)
        self.lan_box = QCheckBox("Let other computers on the network join (listen on all interfaces)", self)
        self.start_button = QPushButton("Start session", self)
        self.start_button.clicked.connect(self.start)
        self.status = QLabel("Not started.", self)
        self.status.setWordWrap(True)
        self.url_field = QLineEdit(self)
        self.url_field.setReadOnly(True)
        self.url_field.setPlaceholderText("the session URL appears here")
        self.codes_grid = QGridLayout()
        self.log = QPlainTextEdit(self)
        self.log.setReadOnly(True)
        self.log.setMaximumHeight(90)
        self.log.setPlaceholderText("messages from the server")
        self.stop_button = QPushButton("Stop session", self)
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.lan_box)
        layout.addWidget(self.start_button)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("Session URL (everyone needs it):", self))
        layout.addWidget(self.url_field)
        layout.addLayout(self.codes_grid)
        layout.addWidget(self.log)
        layout.addWidget(self.stop_button)
        layout.addWidget(buttons)
        self.resize(620, 420)

    # ------------------------------------------------------------ the server process
    def command(self) -> list[str]:
        """The ``ved serve`` command line this dialog runs."""
        from .. import ved_command

        cmd = [*ved_command(), "serve", str(self.scenario_path)]
        if self.lan_box.isChecked():
            cmd += ["--host", "0.0.0.0"]
        if self.model:
            cmd += ["--model", str(self.model)]
        if self.record_dir:
            cmd += ["--record", str(self.record_dir)]
        return cmd + ["--device", self.device, "--path", self.path]

    def start(self) -> None:
        if self.process is not None:
            return
        cmd = self.command()
        self.process = QProcess(self)
        self.process.setWorkingDirectory(str(Path(__file__).resolve().parents[2]))
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._finished)
        self.process.start(cmd[0], cmd[1:])
        self.start_button.setEnabled(False)
        self.lan_box.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText("Starting the session (loading the world model)…")

    def _read_stdout(self) -> None:
        self._stdout += bytes(self.process.readAllStandardOutput())
        if self.ready or b"\n" not in self._stdout:
            return
        first = self._stdout.split(b"\n", 1)[0]
        try:
            hello = json.loads(first)
            self.url, self.fingerprint, self.codes = hello["url"], hello["fingerprint"], dict(hello["codes"])
        except (ValueError, KeyError, TypeError):
            self.status.setText(f"The server said something unexpected: {first[:200]!r}")
            return
        self.ready = True
        self.url_field.setText(self.url)
        for row, (seat, code) in enumerate(self.codes.items()):
            field = QLineEdit(code, self)
            field.setReadOnly(True)
            copy = QPushButton("Copy", self)
            copy.setToolTip(f"Copy the join command for {seat}")
            copy.clicked.connect(lambda _=False, c=code: self._copy(c))
            self.codes_grid.addWidget(QLabel(f"{seat}:", self), row, 0, Qt.AlignmentFlag.AlignRight)
            self.codes_grid.addWidget(field, row, 1)
            self.codes_grid.addWidget(copy, row, 2)
            self.code_fields[seat] = field
        where = "on the network" if self.lan_box.isChecked() else "on this computer only"
        self.status.setText(f"The session is running {where}. Stop it here when it is over.")

    def join_command(self, code: str) -> str:
        return f'ved join "{self.url}" --code {code}'

    def _copy(self, code: str) -> None:
        QGuiApplication.clipboard().setText(self.join_command(code))

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace").strip()
        if text:
            self.log.appendPlainText(text)

    def _finished(self, exit_code: int, _status) -> None:
        self.stop_button.setEnabled(False)
        self.status.setText("The session has ended." if exit_code == 0
                            else f"The server stopped (exit code {exit_code}); see the messages below.")

    def stop(self, timeout_ms: int = 30_000) -> None:
        """End the session (SIGTERM; the server closes its recording) and wait for it."""
        if self.process is None or self.process.state() == QProcess.ProcessState.NotRunning:
            return
        self.status.setText("Stopping the session and closing its recording…")
        self.process.terminate()
        if not self.process.waitForFinished(timeout_ms):
            self.process.kill()
            self.process.waitForFinished(5000)

    def done(self, result: int) -> None:  # closing the dialog ends the session
        self.stop()
        super().done(result)
