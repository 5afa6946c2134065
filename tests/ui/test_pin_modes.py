"""The PIN pad and the modes: each role's menu, wrong PINs and the lockout,
a volunteer kept out of staff screens, « Quitter » and the short idle."""

from __future__ import annotations

from kivyhelp import screen_text, tap, texts
from modehelp import STAFF_PIN, VOLUNTEER_PIN, add_people, sign_in, type_pin

from kiosk.ui.mode import STAFF_SCREENS


def last_audit(app) -> dict:
    return app.centre.staff.audit_log(limit=1)[0]


def test_a_volunteer_pin_opens_the_volunteer_menu_with_the_banner(app):
    volunteer, _staff = add_people(app.centre)
    sign_in(app, VOLUNTEER_PIN)
    assert app.sm.current == "volunteer"
    assert app.pin_mode and app.mode.actor == volunteer
    assert "Mode bénévole : Martine Dupuis" in texts(app.root.ids.mode_banner)
    assert last_audit(app)["action"] == "staff.login"


def test_a_staff_pin_opens_the_staff_menu_with_the_version(app):
    _volunteer, staff = add_people(app.centre)
    sign_in(app, STAFF_PIN)
    assert app.sm.current == "staff_home"
    assert app.mode.role == "staff"
    assert "Mode salarié : Karim Haddad" in texts(app.root.ids.mode_banner)
    assert "Accueil, version 0.1.0" in screen_text(app)


def test_the_pad_masks_digits_and_erases(app):
    add_people(app.centre)
    tap(app.screen("home").ids.pin)
    pad = app.screen("pin")
    digits = {c.digit: c for c in pad.ids.pad.children if hasattr(c, "digit")}
    tap(digits["2"])
    tap(digits["4"])
    assert pad.ids.dots.text == "● ●"
    tap(pad.ids.erase)
    assert pad.digits == "2"


def test_a_wrong_pin_says_so_and_stays_on_the_pad(app):
    add_people(app.centre)
    sign_in(app, "9999")
    assert app.sm.current == "pin"
    assert not app.pin_mode
    assert "Code incorrect." in screen_text(app)


def test_five_wrong_pins_lock_the_pad_with_the_time_left(app, clock):
    add_people(app.centre)
    tap(app.screen("home").ids.pin)
    for _attempt in range(5):
        type_pin(app, "9999")
    pad = app.screen("pin")
    assert pad.locked
    assert "Trop d'essais. Réessayez dans 30 secondes." in screen_text(app)
    type_pin(app, STAFF_PIN)  # even the right PIN waits
    assert app.sm.current == "pin" and not app.pin_mode
    clock.advance(seconds=31)
    pad._check_lock()
    assert not pad.locked
    type_pin(app, STAFF_PIN)
    assert app.sm.current == "staff_home"


def test_a_volunteer_cannot_open_a_staff_screen_even_by_calling_the_switch(app):
    add_people(app.centre)
    sign_in(app, VOLUNTEER_PIN)
    for name in sorted(STAFF_SCREENS):
        app.go(name)
        assert app.sm.current == "volunteer", name
    assert not any(s.name in STAFF_SCREENS for s in app.sm.screens)  # never even built


def test_a_staff_screen_entered_behind_the_switch_sends_a_volunteer_back(app):
    from kiosk.ui import offscreen

    add_people(app.centre)
    sign_in(app, STAFF_PIN)
    app.go("staff_sync")
    app.go("home")
    app.mode.end()
    sign_in(app, VOLUNTEER_PIN)
    app.sm.current = "staff_sync"  # bypassing app.go
    offscreen.frames(2)
    assert app.sm.current == "volunteer"


def test_a_staff_screen_under_another_name_still_refuses_a_volunteer(app):
    from kiosk.ui import offscreen

    add_people(app.centre)
    app.register_screen("sync_alias", "kiosk.ui.staff_sync:StaffSyncScreen")
    sign_in(app, VOLUNTEER_PIN)
    app.go("sync_alias")  # not in STAFF_SCREENS: the screen itself refuses
    offscreen.frames(2)
    assert app.sm.current == "volunteer"
    assert app.screen("sync_alias").waiting == ""  # it never read the sync state


def test_residents_never_reach_mode_screens(app):
    app.go("volunteer")
    assert app.sm.current == "home"
    app.go("staff_home")
    assert app.sm.current == "home"


def test_quitter_ends_the_mode(app):
    add_people(app.centre)
    sign_in(app, STAFF_PIN)
    tap(app.root.ids.mode_banner.ids.leave)
    assert app.sm.current == "home" and not app.pin_mode
    assert app.mode.actor is None
    app.go("staff_home")
    assert app.sm.current == "home"


def test_the_mode_ends_on_the_shorter_idle(app, mono):
    add_people(app.centre)
    app.centre.settings.set("pin_idle_timeout_s", 20)
    sign_in(app, VOLUNTEER_PIN)
    mono.advance(19)
    app.mode.check_idle()
    app.tick()
    assert app.pin_mode
    mono.advance(2)
    app.mode.check_idle()
    assert not app.pin_mode and app.sm.current == "home"
    assert app.idle_timeout == 60  # the residents' idle time is back


def test_escape_and_closing_work_only_in_a_pin_mode(app):
    add_people(app.centre)
    app.kiosk_mode = True
    assert app._request_close() is True
    assert app._key_down(None, 27) is True
    sign_in(app, VOLUNTEER_PIN)
    assert app._request_close() is False
    assert app._key_down(None, 27) is False
    app.kiosk_mode = False
