

def ved_command(module: str = "app.cli") -> list[str]:
    """The command line that runs ``module`` (``app.cli``: the ``ved`` command) in a child
    process: ``python -m module`` from a source install, the bundle's own executable when
    frozen (PyInstaller), whose entry point dispatches other modules by
    ``--run-module MODULE``."""
    import sys

    if getattr(sys, "frozen", False):
        return [sys.executable] if module == "app.cli" else [sys.executable, "--run-module", module]
    return [sys.executable, "-m", module]
