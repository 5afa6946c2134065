"""The audit screen names the device of the centre a line was written on."""

from __future__ import annotations

from kiosk.ui.staff_audit import describe


def line(**extra):
    return {
        "at": "2026-12-01T08:00:00.000Z",
        "action": "staff.login",
        "detail": {},
        "actor_name": "Claire",
    } | extra


def test_a_line_from_another_device_names_it():
    assert "Claire (Tablette atelier) :" in describe(line(device="a1b2", device_label="Tablette atelier"))


def test_a_line_written_here_names_no_device():
    assert "Claire :" in describe(line(device=None, device_label=None))
