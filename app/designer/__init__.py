"""The scenario designer (``ved design``): the app's main window. See :mod:`.window`."""

from .window import DesignerWindow, run_designer

__all__ = ["DesignerWindow", "run_designer"]
