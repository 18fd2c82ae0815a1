"""The bundle's entry point (PyInstaller runs this as ``ved``): the same command line as the
``ved`` console script of a source install."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    if len(sys.argv) > 2 and sys.argv[1] == "--run-module":  # a child process (app.ved_command)
        import runpy

        module = sys.argv[2]
        sys.argv = [sys.argv[0], *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        sys.exit(0)
    from app.cli import main

    sys.exit(main())
