"""The bundle's entry point (PyInstaller runs this as ``ved``): the same command line as the
``ved`` console script of a source install."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen app's child processes (ved serve from the designer)
    from app.cli import main

    sys.exit(main())
