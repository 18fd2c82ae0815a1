"""The thin layer over pyopenxr: the only module of ``ved`` that imports ``xr``.

:class:`XrRuntime` opens an instance with an OpenGL graphics binding, the head-mounted
display's system, a session, a LOCAL reference space (and the VIEW space for the head), one
RGBA8 swapchain the size of the world model's frame, and the presenter's action set with
suggested bindings (:mod:`app.xr.bindings`). The presenter (:mod:`app.xr.presenter`) drives it
one call at a time from its own thread: events, wait/begin frame, the head pose, the
controllers, the frame upload, end frame with one quad layer.

Graphics bindings, picked from what the runtime offers: ``XR_MNDX_egl_enable`` (EGL,
headless; Monado), else on Linux the Xlib/GLX binding of ``XR_KHR_opengl_enable`` (SteamVR;
needs an X display), on Windows its WGL binding. EGL was run here against Monado; GLX and
WGL are written to the specification and were not run (see the README).
"""

from __future__ import annotations

import ctypes
import sys
import time

import numpy as np

from .bindings import ACTIONS, SUGGESTED_BINDINGS
from .lifecycle import STATES

#: What a user without a runtime is told to install.
INSTALL_HINT = ("install an OpenXR runtime and make it the active one: SteamVR, the Meta Quest Link (Oculus) app, "
                "Windows Mixed Reality or Monado")


class XrUnavailable(RuntimeError):
    """No OpenXR runtime, or no headset, is there: the message is one line naming what to
    install or plug in."""


class XrRuntime:
    """One OpenXR instance, session and swapchain (see the module docstring). Make it on the
    thread that runs the frame loop: the OpenGL context is current there.

    Raises :class:`XrUnavailable` from :meth:`open` when no runtime or no headset answers.
    """

    def __init__(self, app_name: str = "ved") -> None:
        self.app_name = app_name
        self.runtime_name = self.system_name = ""
        self.graphics = ""
        self.instance = self.session = self.space = self.view_space = self.swapchain = None
        self.action_set = None
        self._actions: dict[str, object] = {}
        self._hands: list = []
        self._gl = None
        self._textures: list[int] = []
        self._size = (0, 0)
        self._convert_time = False

    # ------------------------------------------------------------ setup
    def open(self, resolution: int) -> None:
        """Instance, system, GL context, session, spaces, a ``resolution``² swapchain and the
        action set. Raises :class:`XrUnavailable` (no runtime, no headset, no usable
        graphics binding) or ``xr`` errors for anything else."""
        import os

        # The OpenXR loader prints its own errors on stderr when there is no runtime; the
        # one line below says it for the user (XR_LOADER_DEBUG=error brings them back).
        os.environ.setdefault("XR_LOADER_DEBUG", "none")
        import xr

        try:
            offered = {e.extension_name.decode() for e in xr.enumerate_instance_extension_properties()}
        except xr.XrException as exc:
            raise XrUnavailable(f"no OpenXR runtime found ({exc}); {INSTALL_HINT}") from None
        exts = ["XR_KHR_opengl_enable"]
        if "XR_KHR_opengl_enable" not in offered:
            raise XrUnavailable("the OpenXR runtime offers no OpenGL support (XR_KHR_opengl_enable); "
                                "use SteamVR, the Oculus app or Monado")
        if "XR_MNDX_egl_enable" in offered:
            self.graphics = "egl"
            exts.append("XR_MNDX_egl_enable")
        elif sys.platform == "win32":
            self.graphics = "wgl"
        else:
            self.graphics = "glx"
        if sys.platform != "win32" and "XR_KHR_convert_timespec_time" in offered:
            exts.append("XR_KHR_convert_timespec_time")  # XrTime → the monotonic clock, for motion-to-photon
            self._convert_time = True
        try:
            self.instance = xr.create_instance(xr.InstanceCreateInfo(
                application_info=xr.ApplicationInfo(application_name=self.app_name, application_version=1,
                                                    engine_name="ved", api_version=xr.Version(1, 0, 0)),
                enabled_extension_names=exts))
        except xr.XrException as exc:
            raise XrUnavailable(f"the OpenXR runtime would not start ({exc}); {INSTALL_HINT}") from None
        props = xr.get_instance_properties(self.instance)
        self.runtime_name = f"{props.runtime_name.decode()} {props.runtime_version}"
        try:
            system = xr.get_system(self.instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
        except xr.XrException as exc:
            raise XrUnavailable(f"no headset found by {self.runtime_name} ({exc}): plug it in and switch it on") from None
        self.system_name = xr.get_system_properties(self.instance, system).system_name.decode()
        xr.get_opengl_graphics_requirements_khr(self.instance, system)  # required before the session
        self.session = xr.create_session(self.instance, xr.SessionCreateInfo(system_id=system,
                                                                               next=self._binding(xr)))
        local = xr.ReferenceSpaceCreateInfo(reference_space_type=xr.ReferenceSpaceType.LOCAL)
        self.space = xr.create_reference_space(self.session, local)
        self.view_space = xr.create_reference_space(self.session, xr.ReferenceSpaceCreateInfo(
            reference_space_type=xr.ReferenceSpaceType.VIEW))
        self._make_swapchain(xr, resolution)
        self._make_actions(xr)

    def _binding(self, xr):
        from .gl import EglContext, GlxContext, WglContext

        if self.graphics == "egl":
            self._gl = EglContext()
            fields = dict(xr.GraphicsBindingEGLMNDX._fields_)

            def cast(name, handle):
                return ctypes.cast(ctypes.c_void_p(handle), fields[name])

            return xr.GraphicsBindingEGLMNDX(get_proc_address=cast("get_proc_address", self._gl.get_proc_address),
                                             display=cast("display", self._gl.display),
                                             config=cast("config", self._gl.config),
                                             context=cast("context", self._gl.context))
        if self.graphics == "glx":
            self._gl = GlxContext()
            fields = dict(xr.GraphicsBindingOpenGLXlibKHR._fields_)
            return xr.GraphicsBindingOpenGLXlibKHR(
                x_display=ctypes.cast(ctypes.c_void_p(self._gl.x_display), fields["x_display"]),
                visualid=self._gl.visualid,
                glx_fbconfig=ctypes.cast(ctypes.c_void_p(self._gl.glx_fb_config), fields["glx_fbconfig"]),
                glx_drawable=self._gl.glx_drawable,
                glx_context=ctypes.cast(ctypes.c_void_p(self._gl.glx_context), fields["glx_context"]))
        self._gl = WglContext()
        fields = dict(xr.GraphicsBindingOpenGLWin32KHR._fields_)
        return xr.GraphicsBindingOpenGLWin32KHR(h_dc=ctypes.cast(ctypes.c_void_p(self._gl.h_dc), fields["h_dc"]),
                                                h_glrc=ctypes.cast(ctypes.c_void_p(self._gl.h_glrc), fields["h_glrc"]))

    def _make_swapchain(self, xr, resolution: int) -> None:
        from OpenGL import GL

        formats = list(xr.enumerate_swapchain_formats(self.session))
        fmt = next((f for f in (GL.GL_SRGB8_ALPHA8, GL.GL_RGBA8) if f in formats), None)
        if fmt is None:
            raise XrUnavailable(f"the runtime offers no RGBA8 swapchain format (it offers {formats})")
        self.swapchain = xr.create_swapchain(self.session, xr.SwapchainCreateInfo(
            usage_flags=xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT | xr.SwapchainUsageFlags.SAMPLED_BIT
            | xr.SwapchainUsageFlags.TRANSFER_DST_BIT,
            format=fmt, sample_count=1, width=resolution, height=resolution, face_count=1, array_size=1, mip_count=1))
        self._textures = [img.image for img in xr.enumerate_swapchain_images(self.swapchain, xr.SwapchainImageOpenGLKHR)]
        self._size = (resolution, resolution)

    def _make_actions(self, xr) -> None:
        self.action_set = xr.create_action_set(self.instance, xr.ActionSetCreateInfo(
            action_set_name="ved", localized_action_set_name="ved", priority=0))
        self._hands = [xr.string_to_path(self.instance, p) for p in ("/user/hand/left", "/user/hand/right")]
        kinds = {"vector2f": xr.ActionType.VECTOR2F_INPUT, "boolean": xr.ActionType.BOOLEAN_INPUT}
        for name, kind, label in ACTIONS:
            self._actions[name] = xr.create_action(self.action_set, xr.ActionCreateInfo(
                action_name=name, action_type=kinds[kind], localized_action_name=label,
                count_subaction_paths=len(self._hands), subaction_paths=self._hands))
        for profile, pairs in SUGGESTED_BINDINGS.items():
            bindings = [xr.ActionSuggestedBinding(action=self._actions[a], binding=xr.string_to_path(self.instance, p))
                        for a, p in pairs]
            try:
                xr.suggest_interaction_profile_bindings(self.instance, xr.InteractionProfileSuggestedBinding(
                    interaction_profile=xr.string_to_path(self.instance, profile), suggested_bindings=bindings))
            except xr.XrException:  # a runtime that does not know a profile: the others still bind
                pass
        xr.attach_session_action_sets(self.session, xr.SessionActionSetsAttachInfo(action_sets=[self.action_set]))

    # ------------------------------------------------------------ the loop's calls
    def poll_states(self) -> list[str]:
        """The session states reported since the last call, oldest first."""
        import xr

        states = []
        while True:
            try:
                event = xr.poll_event(self.instance)
            except xr.EventUnavailable:
                return states
            kind = xr.StructureType(event.type)
            if kind == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                changed = ctypes.cast(ctypes.byref(event), ctypes.POINTER(xr.EventDataSessionStateChanged)).contents
                states.append(STATES[int(changed.state)])
            elif kind == xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING:
                states.append("LOSS_PENDING")

    def begin_session(self) -> None:
        import xr

        xr.begin_session(self.session, xr.SessionBeginInfo(
            primary_view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO))

    def end_session(self) -> None:
        import xr

        xr.end_session(self.session)

    def request_exit(self) -> None:
        import xr

        xr.request_exit_session(self.session)

    def wait_frame(self) -> tuple[int, bool, float]:
        """``(predicted display time (XrTime, ns), should render, display period (s))``;
        blocks until the runtime's frame timing says so (xrWaitFrame), then begins the frame."""
        import xr

        state = xr.wait_frame(self.session, xr.FrameWaitInfo())
        xr.begin_frame(self.session, xr.FrameBeginInfo())
        return int(state.predicted_display_time), bool(state.should_render), state.predicted_display_period / 1e9

    def head(self, display_time: int):
        """``(yaw, pitch, (x, y, z))`` of the head (VIEW space in LOCAL) at ``display_time``,
        radians and metres, or None while not tracked."""
        import xr

        from .head import yaw_pitch

        loc = xr.locate_space(self.view_space, self.space, display_time)
        need = xr.SpaceLocationFlags.ORIENTATION_VALID_BIT
        if (loc.location_flags & need) != need:
            return None
        p = loc.pose.position
        yaw, pitch = yaw_pitch(loc.pose.orientation)
        return yaw, pitch, (p.x, p.y, p.z)

    def controllers(self) -> tuple[tuple[float, float], tuple[float, float], bool]:
        """``(walk stick (x, y), turn stick (x, y), forward held)``, each hand's strongest;
        zeros when the session is not focused (the runtime then reports no input)."""
        import xr

        try:
            xr.sync_actions(self.session, xr.ActionsSyncInfo(
                active_action_sets=[xr.ActiveActionSet(action_set=self.action_set, subaction_path=xr.NULL_PATH)]))
        except xr.XrException:
            return (0.0, 0.0), (0.0, 0.0), False
        out = []
        for name in ("walk", "turn"):
            best = (0.0, 0.0)
            for hand in self._hands:
                st = xr.get_action_state_vector2f(self.session, xr.ActionStateGetInfo(action=self._actions[name],
                                                                                     subaction_path=hand))
                if st.is_active and np.hypot(st.current_state.x, st.current_state.y) > np.hypot(*best):
                    best = (float(st.current_state.x), float(st.current_state.y))
            out.append(best)
        forward = any(xr.get_action_state_boolean(self.session, xr.ActionStateGetInfo(
            action=self._actions["forward"], subaction_path=hand)).current_state for hand in self._hands)
        return out[0], out[1], bool(forward)

    def upload(self, frame: np.ndarray) -> None:
        """Copy uint8 ``(H, W, 3)`` (the swapchain's size) into the next swapchain image."""
        import xr
        from OpenGL import GL

        h, w = frame.shape[:2]
        if (w, h) != self._size:
            raise ValueError(f"frame of {w}×{h} for a {self._size[0]}×{self._size[1]} swapchain")
        index = xr.acquire_swapchain_image(self.swapchain, xr.SwapchainImageAcquireInfo())
        xr.wait_swapchain_image(self.swapchain, xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION))
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._textures[index])
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        # OpenGL's rows go bottom-up; the frame's top-down
        GL.glTexSubImage2D(GL.GL_TEXTURE_2D, 0, 0, 0, w, h, GL.GL_RGB, GL.GL_UNSIGNED_BYTE,
                           np.ascontiguousarray(frame[::-1]))
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        GL.glFinish()
        xr.release_swapchain_image(self.swapchain, xr.SwapchainImageReleaseInfo())

    def end_frame(self, display_time: int, layer) -> None:
        """End the frame; ``layer`` is None (nothing to show yet) or ``(orientation (x, y, z,
        w), position (x, y, z), width m, height m)`` of the quad showing the swapchain."""
        import xr

        layers = []
        if layer is not None:
            (qx, qy, qz, qw), (px, py, pz), width, height = layer
            quad = xr.CompositionLayerQuad(
                space=self.space, eye_visibility=xr.EyeVisibility.BOTH,
                sub_image=xr.SwapchainSubImage(swapchain=self.swapchain, image_rect=xr.Rect2Di(
                    offset=xr.Offset2Di(0, 0), extent=xr.Extent2Di(*self._size))),
                pose=xr.Posef(orientation=xr.Quaternionf(qx, qy, qz, qw), position=xr.Vector3f(px, py, pz)),
                size=xr.Extent2Df(width, height))
            layers = [ctypes.byref(quad)]
        xr.end_frame(self.session, xr.FrameEndInfo(display_time=display_time,
                                                   environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE,
                                                   layers=layers))

    def to_monotonic(self, display_time: int) -> float:
        """An XrTime as ``time.monotonic()`` seconds (through XR_KHR_convert_timespec_time
        where the runtime has it; else the runtime's clock is taken to be the monotonic
        clock, which it is for Monado and SteamVR on Linux)."""
        if self._convert_time:
            import xr

            ts = xr.convert_time_to_timespec_time_khr(self.instance, display_time)
            return ts.tv_sec + ts.tv_nsec / 1e9
        return display_time / 1e9 if sys.platform != "win32" else time.monotonic()

    def close(self) -> None:
        """Destroy everything in the order the runtime needs: swapchain, spaces, action set
        and session before the GL context, the context before the instance."""
        import xr

        if self._gl is not None:
            try:
                self._gl.make_current()
            except Exception:  # noqa: BLE001 - destroying anyway
                pass
        for handle, destroy in ((self.swapchain, xr.destroy_swapchain), (self.view_space, xr.destroy_space),
                                (self.space, xr.destroy_space), (self.action_set, xr.destroy_action_set),
                                (self.session, xr.destroy_session)):
            if handle is not None:
                try:
                    destroy(handle)
                except Exception:  # noqa: BLE001 - a lost runtime may refuse; carry on
                    pass
        self.swapchain = self.view_space = self.space = self.action_set = self.session = None
        if self._gl is not None:
            self._gl.destroy()
            self._gl = None
        if self.instance is not None:
            try:
                xr.destroy_instance(self.instance)
            except Exception:  # noqa: BLE001
                pass
            self.instance = None
