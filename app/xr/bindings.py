"""The presenter's actions and their suggested bindings per interaction profile.

Actions (one action set, ``ved``): ``walk`` (2-D: left thumbstick, or the left trackpad of a
Vive wand), ``turn`` (2-D: right thumbstick or trackpad; its x snaps turns), ``forward``
(boolean: walk ahead while held, for controllers without a stick — the Khronos simple
controller's select button). Paths follow the OpenXR 1.0 interaction profiles (§6.4).
"""

from __future__ import annotations

#: (action name, kind, localized name); kind is "vector2f" or "boolean".
ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("walk", "vector2f", "Walk"),
    ("turn", "vector2f", "Snap turn"),
    ("forward", "boolean", "Walk ahead"),
)

#: interaction profile -> [(action, binding path)]
SUGGESTED_BINDINGS: dict[str, list[tuple[str, str]]] = {
    "/interaction_profiles/khr/simple_controller": [
        ("forward", "/user/hand/left/input/select/click"),
        ("forward", "/user/hand/right/input/select/click"),
    ],
    "/interaction_profiles/oculus/touch_controller": [
        ("walk", "/user/hand/left/input/thumbstick"),
        ("turn", "/user/hand/right/input/thumbstick"),
    ],
    "/interaction_profiles/valve/index_controller": [
        ("walk", "/user/hand/left/input/thumbstick"),
        ("turn", "/user/hand/right/input/thumbstick"),
    ],
    "/interaction_profiles/htc/vive_controller": [
        ("walk", "/user/hand/left/input/trackpad"),
        ("turn", "/user/hand/right/input/trackpad"),
    ],
}
