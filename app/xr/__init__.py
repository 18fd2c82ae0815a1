"""The trainee in a headset (OpenXR): the presenter, its frame loop, input and lifecycle.

Only :mod:`app.xr.runtime` imports pyopenxr (``xr``); the rest is plain Python and numpy, so
the logic around the runtime (head pose → look, where the frame's layer goes, locomotion
and snap turns, the comfort vignette, the session state machine, motion-to-photon figures)
is tested without one. :mod:`app.xr.gl` makes the OpenGL context the runtime needs (EGL,
GLX or WGL, through ctypes).
"""
