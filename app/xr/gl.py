"""The OpenGL context an OpenXR session renders with, made through ctypes.

OpenXR's OpenGL binding needs the platform's native handles, which Qt does not hand out on
another thread, so the presenter makes its own context on its frame-loop thread:

- :class:`EglContext` — surfaceless EGL (Mesa), for runtimes with ``XR_MNDX_egl_enable``
  (Monado). Needs no display. Tested here against Monado's null compositor.
- :class:`GlxContext` — Xlib/GLX with a 1×1 pbuffer, for ``XR_KHR_opengl_enable``'s Xlib
  binding (SteamVR on Linux). Needs an X display. Written to the GLX 1.3 and OpenXR specs;
  not run here (no X server with GLX and no runtime that takes it).
- :class:`WglContext` — a hidden window and WGL, for the Windows binding (SteamVR, Meta
  Quest Link, WMR). Written to the Win32 and OpenXR specs; not run here.

Each has ``make_current()``, ``destroy()`` and the handles its binding needs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_vp = ctypes.c_void_p


class GlContextError(RuntimeError):
    """An OpenGL context could not be made (the message says which call failed)."""


# ------------------------------------------------------------------ EGL
_EGL_NONE = 0x3038
_EGL_PLATFORM_SURFACELESS_MESA = 0x31DD
_EGL_RENDERABLE_TYPE, _EGL_OPENGL_BIT = 0x3040, 0x0008
_EGL_SURFACE_TYPE, _EGL_PBUFFER_BIT = 0x3033, 0x0001
_EGL_RED, _EGL_GREEN, _EGL_BLUE, _EGL_ALPHA = 0x3024, 0x3023, 0x3022, 0x3021
_EGL_OPENGL_API = 0x30A2
_EGL_CONTEXT_MAJOR, _EGL_CONTEXT_MINOR = 0x3098, 0x30FB


class EglContext:
    """A surfaceless EGL display and an OpenGL 3.3 context on it, current on the calling
    thread. ``display``, ``config``, ``context`` and ``get_proc_address`` (the address of
    ``eglGetProcAddress``) are what ``XrGraphicsBindingEGLMNDX`` takes."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(ctypes.util.find_library("EGL") or "libEGL.so.1")
        self._lib = lib
        lib.eglGetProcAddress.restype, lib.eglGetProcAddress.argtypes = _vp, [ctypes.c_char_p]
        lib.eglGetPlatformDisplay.restype, lib.eglGetPlatformDisplay.argtypes = _vp, [ctypes.c_uint, _vp, _vp]
        lib.eglGetDisplay.restype, lib.eglGetDisplay.argtypes = _vp, [_vp]
        lib.eglInitialize.argtypes = [_vp, _vp, _vp]
        lib.eglChooseConfig.argtypes = [_vp, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(_vp), ctypes.c_int,
                                        ctypes.POINTER(ctypes.c_int)]
        lib.eglBindAPI.argtypes = [ctypes.c_uint]
        lib.eglCreateContext.restype = _vp
        lib.eglCreateContext.argtypes = [_vp, _vp, _vp, ctypes.POINTER(ctypes.c_int)]
        lib.eglMakeCurrent.argtypes = [_vp, _vp, _vp, _vp]
        lib.eglDestroyContext.argtypes = [_vp, _vp]
        lib.eglTerminate.argtypes = [_vp]
        lib.eglGetError.restype = ctypes.c_int
        self.display = lib.eglGetPlatformDisplay(_EGL_PLATFORM_SURFACELESS_MESA, None, None) or lib.eglGetDisplay(None)
        if not self.display or not lib.eglInitialize(self.display, None, None):
            raise GlContextError(f"EGL: no display (error 0x{lib.eglGetError():x})")
        attrs = (ctypes.c_int * 13)(_EGL_RENDERABLE_TYPE, _EGL_OPENGL_BIT, _EGL_SURFACE_TYPE, _EGL_PBUFFER_BIT,
                                    _EGL_RED, 8, _EGL_GREEN, 8, _EGL_BLUE, 8, _EGL_ALPHA, 8, _EGL_NONE)
        config, count = _vp(), ctypes.c_int(0)
        if not lib.eglChooseConfig(self.display, attrs, ctypes.byref(config), 1, ctypes.byref(count)) or not count.value:
            raise GlContextError(f"EGL: no RGBA8 OpenGL config (error 0x{lib.eglGetError():x})")
        self.config = config.value
        if not lib.eglBindAPI(_EGL_OPENGL_API):
            raise GlContextError("EGL: eglBindAPI(EGL_OPENGL_API) failed")
        cattrs = (ctypes.c_int * 5)(_EGL_CONTEXT_MAJOR, 3, _EGL_CONTEXT_MINOR, 3, _EGL_NONE)
        self.context = lib.eglCreateContext(self.display, self.config, None, cattrs)
        if not self.context:
            raise GlContextError(f"EGL: eglCreateContext failed (error 0x{lib.eglGetError():x})")
        self.get_proc_address = ctypes.cast(lib.eglGetProcAddress, _vp).value
        self.make_current()

    def make_current(self) -> None:
        if not self._lib.eglMakeCurrent(self.display, None, None, self.context):
            raise GlContextError(f"EGL: eglMakeCurrent failed (error 0x{self._lib.eglGetError():x})")

    def destroy(self) -> None:
        if self.context:
            self._lib.eglMakeCurrent(self.display, None, None, None)
            self._lib.eglDestroyContext(self.display, self.context)
            self.context = None
        if self.display:
            self._lib.eglTerminate(self.display)
            self.display = None


# ------------------------------------------------------------------ GLX
_GLX_RENDER_TYPE, _GLX_RGBA_BIT = 0x8011, 0x00000001
_GLX_DRAWABLE_TYPE, _GLX_PBUFFER_BIT = 0x8010, 0x00000004
_GLX_RED, _GLX_GREEN, _GLX_BLUE, _GLX_ALPHA, _GLX_DOUBLEBUFFER = 8, 9, 10, 11, 5
_GLX_PBUFFER_WIDTH, _GLX_PBUFFER_HEIGHT = 0x8041, 0x8040
_GLX_RGBA_TYPE = 0x8014
_GLX_VISUAL_ID = 0x800B


class GlxContext:
    """An Xlib display, a GLX 1.3 framebuffer config, a 1×1 pbuffer and a context current on
    it: ``x_display``, ``visualid``, ``glx_fb_config``, ``glx_drawable``, ``glx_context`` are
    what ``XrGraphicsBindingOpenGLXlibKHR`` takes. Raises :class:`GlContextError` without an
    X display or GLX."""

    def __init__(self) -> None:
        xlib = ctypes.util.find_library("X11")
        glx = ctypes.util.find_library("GL")
        if not xlib or not glx:
            raise GlContextError("GLX needs libX11 and libGL")
        self._x, self._gl = ctypes.CDLL(xlib), ctypes.CDLL(glx)
        self._x.XOpenDisplay.restype, self._x.XOpenDisplay.argtypes = _vp, [ctypes.c_char_p]
        self._x.XCloseDisplay.argtypes = [_vp]
        self._x.XFree.argtypes = [_vp]
        gl = self._gl
        gl.glXChooseFBConfig.restype = ctypes.POINTER(_vp)
        gl.glXChooseFBConfig.argtypes = [_vp, ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
        gl.glXGetFBConfigAttrib.argtypes = [_vp, _vp, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        gl.glXCreatePbuffer.restype, gl.glXCreatePbuffer.argtypes = ctypes.c_ulong, [_vp, _vp, ctypes.POINTER(ctypes.c_int)]
        gl.glXCreateNewContext.restype = _vp
        gl.glXCreateNewContext.argtypes = [_vp, _vp, ctypes.c_int, _vp, ctypes.c_int]
        gl.glXMakeContextCurrent.argtypes = [_vp, ctypes.c_ulong, ctypes.c_ulong, _vp]
        gl.glXDestroyContext.argtypes = [_vp, _vp]
        gl.glXDestroyPbuffer.argtypes = [_vp, ctypes.c_ulong]
        self.x_display = self._x.XOpenDisplay(None)
        if not self.x_display:
            raise GlContextError("GLX: no X display (is DISPLAY set?)")
        attrs = (ctypes.c_int * 15)(_GLX_RENDER_TYPE, _GLX_RGBA_BIT, _GLX_DRAWABLE_TYPE, _GLX_PBUFFER_BIT,
                                    _GLX_RED, 8, _GLX_GREEN, 8, _GLX_BLUE, 8, _GLX_ALPHA, 8, _GLX_DOUBLEBUFFER, 0, 0)
        n = ctypes.c_int(0)
        configs = gl.glXChooseFBConfig(self.x_display, 0, attrs, ctypes.byref(n))  # screen 0
        if not configs or not n.value:
            self._x.XCloseDisplay(self.x_display)
            raise GlContextError("GLX: no RGBA8 pbuffer framebuffer config")
        self.glx_fb_config = configs[0]
        self._x.XFree(configs)
        visual = ctypes.c_int(0)
        gl.glXGetFBConfigAttrib(self.x_display, self.glx_fb_config, _GLX_VISUAL_ID, ctypes.byref(visual))
        self.visualid = visual.value
        pattrs = (ctypes.c_int * 5)(_GLX_PBUFFER_WIDTH, 1, _GLX_PBUFFER_HEIGHT, 1, 0)
        self.glx_drawable = gl.glXCreatePbuffer(self.x_display, self.glx_fb_config, pattrs)
        self.glx_context = gl.glXCreateNewContext(self.x_display, self.glx_fb_config, _GLX_RGBA_TYPE, None, 1)
        if not self.glx_drawable or not self.glx_context:
            raise GlContextError("GLX: could not create the pbuffer or the context")
        self.make_current()

    def make_current(self) -> None:
        if not self._gl.glXMakeContextCurrent(self.x_display, self.glx_drawable, self.glx_drawable, self.glx_context):
            raise GlContextError("GLX: glXMakeContextCurrent failed")

    def destroy(self) -> None:
        if self.glx_context:
            self._gl.glXMakeContextCurrent(self.x_display, 0, 0, None)
            self._gl.glXDestroyContext(self.x_display, self.glx_context)
            self._gl.glXDestroyPbuffer(self.x_display, self.glx_drawable)
            self.glx_context = None
        if self.x_display:
            self._x.XCloseDisplay(self.x_display)
            self.x_display = None


# ------------------------------------------------------------------ WGL


class _PIXELFORMATDESCRIPTOR(ctypes.Structure):
    _fields_ = [("nSize", ctypes.c_ushort), ("nVersion", ctypes.c_ushort), ("dwFlags", ctypes.c_uint32),
                ("iPixelType", ctypes.c_ubyte), ("cColorBits", ctypes.c_ubyte)] + [
                (f"_r{i}", ctypes.c_ubyte) for i in range(13)] + [
                ("cDepthBits", ctypes.c_ubyte), ("cStencilBits", ctypes.c_ubyte), ("cAuxBuffers", ctypes.c_ubyte),
                ("iLayerType", ctypes.c_ubyte), ("bReserved", ctypes.c_ubyte), ("dwLayerMask", ctypes.c_uint32),
                ("dwVisibleMask", ctypes.c_uint32), ("dwDamageMask", ctypes.c_uint32)]


class WglContext:
    """A hidden window's device context and a WGL context current on it: ``h_dc`` and
    ``h_glrc`` are what ``XrGraphicsBindingOpenGLWin32KHR`` takes. Windows only."""

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise GlContextError("WGL is for Windows")
        user32, gdi32, gl = ctypes.windll.user32, ctypes.windll.gdi32, ctypes.windll.opengl32  # type: ignore[attr-defined]
        self._user32, self._gdi32, self._gl = user32, gdi32, gl
        user32.CreateWindowExW.restype = _vp
        user32.GetDC.restype = _vp
        gl.wglCreateContext.restype = _vp
        ws_overlapped = 0x00000000
        self.h_wnd = user32.CreateWindowExW(0, "STATIC", "ved-xr", ws_overlapped, 0, 0, 1, 1, None, None, None, None)
        if not self.h_wnd:
            raise GlContextError("WGL: could not create a hidden window")
        self.h_dc = user32.GetDC(_vp(self.h_wnd))
        pfd = _PIXELFORMATDESCRIPTOR(nSize=ctypes.sizeof(_PIXELFORMATDESCRIPTOR), nVersion=1,
                                     dwFlags=0x4 | 0x20 | 0x1,  # DRAW_TO_WINDOW | SUPPORT_OPENGL | DOUBLEBUFFER
                                     iPixelType=0, cColorBits=32, cDepthBits=24)
        fmt = gdi32.ChoosePixelFormat(_vp(self.h_dc), ctypes.byref(pfd))
        if not fmt or not gdi32.SetPixelFormat(_vp(self.h_dc), fmt, ctypes.byref(pfd)):
            raise GlContextError("WGL: no RGBA pixel format")
        self.h_glrc = gl.wglCreateContext(_vp(self.h_dc))
        if not self.h_glrc:
            raise GlContextError("WGL: wglCreateContext failed")
        self.make_current()

    def make_current(self) -> None:
        if not self._gl.wglMakeCurrent(_vp(self.h_dc), _vp(self.h_glrc)):
            raise GlContextError("WGL: wglMakeCurrent failed")

    def destroy(self) -> None:
        if self.h_glrc:
            self._gl.wglMakeCurrent(None, None)
            self._gl.wglDeleteContext(_vp(self.h_glrc))
            self.h_glrc = None
        if self.h_wnd:
            self._user32.ReleaseDC(_vp(self.h_wnd), _vp(self.h_dc))
            self._user32.DestroyWindow(_vp(self.h_wnd))
            self.h_wnd = None
