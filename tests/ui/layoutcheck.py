"""What the layout test looks for on a drawn screen, widget by widget.

``problems(root, dpi, resident)`` walks the widget tree as laid out and
names, in words, each: label whose text is cut or spills out of its box (an
ellipsis only on a ``ShortLabel``, whose whole text is one tap away), word
broken across lines, touch targets overlapping, widget outside the window,
and target or text under theme's physical minimums at ``dpi``.
"""

from __future__ import annotations

from kivy.core.window import Window
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput

from kiosk.ui import theme
from kiosk.ui.widgets import AzertyKeyboard, IconLabel, KeyButton, ShortLabel, TileButton, text_fits

SLACK = 1.5  # pixels of rounding allowed on every comparison


def problems(root, dpi: float, resident: bool) -> list[str]:
    found: list[str] = []
    targets: list[tuple[object, tuple[float, float, float, float]]] = []
    win_w, win_h = Window.size
    for widget in root.walk(restrict=True):
        if not _shown(widget):
            if isinstance(widget, Label) and widget.text and _squeezed(widget):
                found.append(
                    f"{_name(widget)} is squeezed out of sight ({widget.width:.0f}x{widget.height:.0f})"
                )
            continue
        rect = _window_rect(widget)
        clip = _clip(widget)
        if clip is not None:
            rect = _intersect(rect, clip)
            if rect is None:
                continue  # scrolled out of view
        x0, y0, x1, y1 = rect
        if x0 < -SLACK or y0 < -SLACK or x1 > win_w + SLACK or y1 > win_h + SLACK:
            found.append(
                f"{_name(widget)} lies outside the {win_w}x{win_h} window at "
                f"({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f})"
            )
        if isinstance(widget, Label) and widget.text:
            found += _label_problems(widget, dpi, resident)
        if _is_target(widget):
            found += _target_problems(widget, dpi)
            targets.append((widget, rect))
    found += _overlaps(targets)
    return found


def _label_problems(label: Label, dpi: float, resident: bool) -> list[str]:
    found = []
    name = _name(label)
    tex_w, tex_h = label.texture_size
    if tex_w > label.width + SLACK or tex_h > label.height + SLACK:
        found.append(
            f"{name} spills out of its box: text {tex_w:.0f}x{tex_h:.0f} in "
            f"{label.width:.0f}x{label.height:.0f}"
        )
    if isinstance(label, IconLabel):
        return found
    wraps = label.text_size[0] is not None
    if label.shorten and not isinstance(label, ShortLabel):
        if not text_fits(label, label.font_size):
            found.append(f"{name} is shortened with an ellipsis")
    elif wraps and not label.shorten and not text_fits(label, label.font_size, height=float("inf")):
        found.append(f"{name} breaks a word across lines")
    elif wraps and label.text_size[1] is not None and not text_fits(label, label.font_size):
        found.append(f"{name} is cut: not every line fits its {label.height:.0f} px")
    least = theme.font_for_mm(theme.TEXT_MM if resident else theme.STAFF_TEXT_MM, dpi)
    if label.font_size < least - 0.5:
        found.append(f"{name} is {label.font_size:.0f} px, under {least:.0f} px at {dpi:.0f} dpi")
    return found


def _target_problems(widget, dpi: float) -> list[str]:
    found = []
    key = isinstance(widget, KeyButton) or any(isinstance(up, AzertyKeyboard) for up in _ancestors(widget))
    least_mm = theme.KEY_MM if key else theme.TARGET_MM
    least = theme.mm_px(least_mm, dpi)
    if min(widget.size) < least - 0.5:
        found.append(
            f"{_name(widget)} is {widget.width:.0f}x{widget.height:.0f}, under "
            f"{least_mm:g} mm ({least:.0f} px at {dpi:.0f} dpi)"
        )
    if isinstance(widget, TileButton) and widget.main:
        tile = theme.mm_px(theme.TILE_MM, dpi)
        if min(widget.size) < tile - 0.5:
            found.append(
                f"{_name(widget)}, a main tile, is {widget.width:.0f}x{widget.height:.0f}, "
                f"under {theme.TILE_MM:g} mm ({tile:.0f} px)"
            )
    return found


def _overlaps(targets) -> list[str]:
    found = []
    for i, (first, a) in enumerate(targets):
        for second, b in targets[i + 1 :]:
            if _related(first, second):
                continue
            common = _intersect(a, b)
            if common and common[2] - common[0] > SLACK and common[3] - common[1] > SLACK:
                found.append(f"{_name(first)} and {_name(second)} overlap")
    return found


def _is_target(widget) -> bool:
    return isinstance(widget, (ButtonBehavior, TextInput)) and not widget.disabled


def _shown(widget) -> bool:
    while widget is not None:
        if widget.opacity == 0 or widget.width <= 0 or widget.height <= 0:
            return False
        parent = widget.parent
        widget = parent if parent is not widget and parent is not Window else None
    return True


def _squeezed(label) -> bool:
    """Text meant to be seen (nothing up its tree made transparent) with no room."""
    node = label
    while node is not None and node is not Window:
        if node.opacity == 0:
            return False
        parent = node.parent
        node = parent if parent is not node else None
    return min(label.size) < 2


def _clip(widget):
    """The window rectangle of the innermost ScrollView around ``widget``."""
    parent = widget.parent
    while parent is not None and parent is not Window:
        if isinstance(parent, ScrollView):
            return _window_rect(parent)
        parent = parent.parent
    return None


def _window_rect(widget) -> tuple[float, float, float, float]:
    x0, y0 = widget.to_window(widget.x, widget.y)
    x1, y1 = widget.to_window(widget.right, widget.top)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _intersect(a, b):
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def _ancestors(widget):
    node = widget.parent
    while node is not None and node is not Window and node is not node.parent:
        yield node
        node = node.parent


def _related(a, b) -> bool:
    return _inside(a, b) or _inside(b, a)


def _inside(child, ancestor) -> bool:
    node = child.parent
    while node is not None and node is not Window:
        if node is ancestor:
            return True
        node = node.parent
    return False


def _name(widget) -> str:
    text = getattr(widget, "text", "") or ""
    text = text if isinstance(text, str) else ""
    short = (text[:40] + "…") if len(text) > 40 else text
    return f"{type(widget).__name__} {short!r}" if short else type(widget).__name__
