"""Helper scripts run as subprocesses by the tests."""
