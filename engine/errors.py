"""Errors caused by bad input (files, arguments), reported to the user without a traceback.

:func:`user_errors` imports lazily: call it in an ``except`` clause, which is evaluated only
when an exception is being matched.
"""

from __future__ import annotations


def user_errors() -> tuple[type[BaseException], ...]:
    from .actions import ActionError
    from .data.format import DatasetError
    from .model.io import ModelError
    from .model.runtimes import RuntimeUnavailable
    from .net.client import JoinError
    from .runtime.opening import OpeningImageError
    from .recording import RecordingError
    from .scenario import ScenarioError
    from .world.state import UnknownEventError

    return (ActionError, DatasetError, JoinError, ModelError, OpeningImageError, RecordingError, ScenarioError,
            UnknownEventError, RuntimeUnavailable, FileExistsError, FileNotFoundError, PermissionError)
