"""The camera view of the check-in screen, where the kiosk has a camera.

Twice a second the current frame is decoded with zxing-cpp off the UI
thread (camera_scan.decode_in_background); the first code read closes the
view and identifies the member. Kivy opens the camera only here, so a kiosk
without one never pays for it.
"""

from __future__ import annotations

from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.modalview import ModalView

from kiosk.ui import camera_scan

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

DECODE_EVERY_S = 0.5
GIVE_UP_S = 30


class CameraPopup(ModalView):
    def __init__(self, on_code, **kwargs):
        super().__init__(**kwargs)
        self.on_code = on_code
        self._busy = False
        self._done = False

    def on_open(self) -> None:
        from kivy.uix.camera import Camera

        try:
            self.camera = Camera(play=True, resolution=(640, 480))
        except Exception:  # noqa: BLE001 - any camera provider's failure: back to the other ways
            self.dismiss()
            return
        self.ids.frame.add_widget(self.camera)
        self._poll = Clock.schedule_interval(self._grab, DECODE_EVERY_S)
        Clock.schedule_once(lambda *_a: self.dismiss(), GIVE_UP_S)

    def _grab(self, *_args) -> None:
        texture = self.camera.texture
        if self._busy or texture is None:
            return
        self._busy = True
        camera_scan.decode_in_background(bytes(texture.pixels), texture.size, self._decoded)

    def _decoded(self, code: str | None) -> None:
        Clock.schedule_once(lambda *_a: self._on_ui_thread(code))

    def _on_ui_thread(self, code: str | None) -> None:
        self._busy = False
        if code and not self._done:
            self._done = True
            self.dismiss()
            self.on_code(code)

    def on_dismiss(self) -> None:
        if getattr(self, "_poll", None):
            self._poll.cancel()
        if getattr(self, "camera", None):
            self.camera.play = False
