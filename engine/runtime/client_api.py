"""What every client of a session can ask for, in or out of process.

:class:`ClientRequests` turns the calls a view makes (``set_action``, ``fire``, ``bookmark``,
…) into protocol requests (:mod:`engine.runtime.protocol`) and passes them to ``_deliver``:
the in-process :class:`~engine.runtime.session.Client` hands them to the session, the
:class:`~engine.net.client.RemoteClient` sends them over the network. So a window works
with either, and both refuse a request the client's role may not send (``PermissionError``)
before it leaves; a server checks again on its own side.
"""

from __future__ import annotations

import threading

import numpy as np

from .protocol import (SENDERS, BookmarkRequest, FireCue, FireEvent, HeadsetStatus, Look, Mark, PauseRequest,
                       PromptRequest, Request, ResumeRequest, RewindRequest, Role, Say, SetAction)


class ClientRequests:
    """Mixin: the request helpers over ``self.role`` (a :class:`Role`) and ``self._deliver``."""

    role: Role
    #: The running number of this client's inputs (``set_action``/``look``), for latency.
    input_seq: int = 0
    #: The session's frame size (pixels): an image sent with a prompt is resized to it.
    resolution: int = 0

    def _deliver(self, request: Request) -> None:  # pragma: no cover - provided by the client class
        raise NotImplementedError

    def _next_seq(self) -> int:
        """The next input number: the window's keys and a headset presenter may share a
        client from two threads, so numbering is locked."""
        lock = self.__dict__.setdefault("_seq_lock", threading.Lock())
        with lock:
            self.input_seq += 1
            return self.input_seq

    def send(self, request: Request) -> None:
        """Pass ``request`` to the session, which carries it out at the next tick. Raises
        ``PermissionError`` when this client's role may not send it."""
        if self.role not in SENDERS[request.kind]:
            raise PermissionError(f"a {self.role.value} client cannot send {request.kind!r}")
        self._deliver(request)

    def set_action(self, action) -> int:
        """Trainee only: the action ``(forward, strafe, yaw, pitch)`` (metres, radians per
        tick) to apply from the next tick on, until the next ``set_action``. Returns the
        input's number (``seq``)."""
        if self.role is not Role.TRAINEE:
            raise PermissionError(f"a {self.role.value} client cannot move the participant")
        seq = self._next_seq()
        self.send(SetAction(action=tuple(float(v) for v in np.asarray(action, np.float64).reshape(-1)[:4]), seq=seq))
        return seq

    def look(self, yaw: float, pitch: float) -> int:
        """Trainee only: turn by ``yaw`` and look by ``pitch`` (radians) once, at the next
        tick. Returns the input's number (``seq``)."""
        seq = self._next_seq()
        self.send(Look(yaw=float(yaw), pitch=float(pitch), seq=seq))
        return seq

    def headset_status(self, state: str, worn: bool, head_yaw: float | None = None,
                       head_pitch: float | None = None) -> None:
        """Trainee only (the headset presenter): the headset session's state, whether it is
        worn, and the head's world yaw and pitch (radians)."""
        self.send(HeadsetStatus(state=state, worn=bool(worn), head_yaw=head_yaw, head_pitch=head_pitch))

    def fire(self, event: str, *, label: str | None = None, source: str = "game_master",
             seat: int | None = None) -> None:
        """Game master only: queue ``event`` for the next tick, aimed at trainee ``seat`` (an
        entering avatar stands before that trainee; None: the room, placed from seat 0). In
        process, an unknown event raises ``UnknownEventError``; across the network it comes
        back as a notice."""
        self.send(FireEvent(event=event, label=label, source=source, seat=seat))

    def say(self, text: str, seat: int | None = None) -> None:
        """Game master only: show ``text`` as a caption to the trainee in ``seat`` (None:
        every trainee) from the next tick."""
        self.send(Say(text=str(text), seat=seat))

    def fire_cue(self, index: int) -> None:
        """Game master only: fire timed cue ``index`` (its place in the scenario file) at the
        next tick instead of when it is due. A cue that has fired already is reported back
        as a "notice" message."""
        self.send(FireCue(index=int(index)))

    def mark(self, note: str = "") -> None:
        """Game master only: a marker with a short ``note`` for the debrief, at the current tick."""
        self.send(Mark(note=str(note)))

    def bookmark(self, label: str = "") -> None:
        """Game master only: remember the world as it is now (the model's state included),
        to :meth:`rewind` to later. The session answers with a "bookmark" message (its id)."""
        self.send(BookmarkRequest(label=str(label)))

    def rewind(self, bookmark_id: int) -> None:
        """Game master only: put the world back to bookmark ``bookmark_id`` at the next tick
        (model state, world state, pose and cue schedule restored; the session clock and the
        recording go on)."""
        self.send(RewindRequest(bookmark_id=int(bookmark_id)))

    def set_prompt(self, text: str, image=None) -> None:
        """Game master only: change the world prompt live; with ``image`` (a file path on this
        computer, or uint8 ``(H, W, 3)``) the image becomes the new scene's opening frame (read
        here, centre-cropped and resized to the session's frame size, and sent with the
        request). Raises :class:`~engine.runtime.opening.OpeningImageError` for an unreadable
        file; the session answers a prompt it cannot apply with a "notice" message."""
        if self.role is not Role.GAME_MASTER:
            raise PermissionError(f"a {self.role.value} client cannot change the prompt")
        pixels, name = None, None
        if isinstance(image, np.ndarray):
            pixels = image
        elif image is not None:
            from pathlib import Path

            from .opening import load_image

            pixels, name = load_image(image, self.resolution or 128), Path(image).name
        self.send(PromptRequest.with_image(str(text), pixels, name))

    def pause(self) -> None:
        """Game master only: stop the clock at the next tick boundary (the trainee's view
        stays on the last frame). Requests still work while paused."""
        self.send(PauseRequest())

    def resume(self) -> None:
        """Game master only: start the clock again after :meth:`pause`."""
        self.send(ResumeRequest())
