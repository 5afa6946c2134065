"""First visit: the form step by step, consent yes or no, the card."""

from __future__ import annotations

from kivyhelp import screen_text, tap, type_text

from kiosk.ui import camera_scan


def choose(app, label):
    tiles = app.screen("first_visit").ids.choices.children
    tap(next(t for t in tiles if t.text == label))


def give_the_name(app):
    """« Première visite » opened and Fatou Diallo's name given: the year is asked next."""
    tap(app.screen("home").ids.first_visit)
    form = app.screen("first_visit")
    type_text(app, "fatou")
    tap(form.ids.next)
    type_text(app, "diallo")
    tap(form.ids.next)
    return form


def fill_form(app, phone="0612345678"):
    form = give_the_name(app)
    choose(app, "De 1970 à 1979")  # the decade, then the year: two taps
    choose(app, "1975")
    choose(app, "Boulogne-sur-Mer")
    assert "Votre quartier" in screen_text(app)
    choose(app, "Chemin Vert")
    if phone:
        type_text(app, phone)
    tap(form.ids.next)
    assert app.sm.current == "consent"


def test_yes_registers_the_member_and_shows_the_card(app, centre):
    fill_form(app)
    assert "24 mois" in screen_text(app)  # how long, in plain words
    tap(app.screen("consent").ids.yes)
    rows = centre.store.query(
        "SELECT first_name, last_name, birth_year, commune, neighbourhood, phone, "
        "consent_data, card_code FROM members"
    )
    assert len(rows) == 1
    row = rows[0]
    assert (row["first_name"], row["last_name"], row["birth_year"]) == ("Fatou", "Diallo", 1975)
    assert (row["commune"], row["neighbourhood"], row["consent_data"]) == (
        "Boulogne-sur-Mer",
        "Chemin Vert",
        1,
    )
    assert row["phone"]
    assert app.sm.current == "card"
    assert "Bienvenue, Fatou !" in screen_text(app)
    # the QR on screen is the card code: read it back from the screen's texture
    texture = app.screen("card").ids.qr.texture
    assert camera_scan.decode_rgba(bytes(texture.pixels), texture.size) == row["card_code"]


def test_a_resident_who_gives_no_year_may_give_an_age_band(app, centre):
    form = give_the_name(app)
    assert form.ids.next.text == "Passer"  # the year is optional
    tap(form.ids.next)
    assert "Votre âge, à peu près" in screen_text(app)
    assert "Je ne sais pas, ou je préfère ne pas dire" in screen_text(app)
    choose(app, "De 55 à 64 ans")
    choose(app, "Boulogne-sur-Mer")
    choose(app, "Chemin Vert")
    tap(form.ids.next)
    tap(app.screen("consent").ids.yes)
    (row,) = centre.store.query("SELECT birth_year, age_band, age_band_year FROM members")
    assert (row["birth_year"], row["age_band"]) == (None, "55-64")
    assert row["age_band_year"] == centre.store.now().year


def test_a_resident_may_keep_their_age_to_themselves(app, centre):
    form = give_the_name(app)
    tap(form.ids.next)
    choose(app, "Je ne sais pas, ou je préfère ne pas dire")
    choose(app, "Boulogne-sur-Mer")
    choose(app, "Chemin Vert")
    tap(form.ids.next)
    tap(app.screen("consent").ids.yes)
    (row,) = centre.store.query("SELECT birth_year, age_band FROM members")
    assert (row["birth_year"], row["age_band"]) == (None, None)


def test_no_keeps_nothing(app, centre):
    fill_form(app, phone="")
    tap(app.screen("consent").ids.no)
    assert centre.store.query("SELECT * FROM members") == []
    assert app.sm.current == "confirmation"
    assert "Sans carte" in screen_text(app)
    assert app.screen("first_visit").values == {}


def test_a_required_answer_is_asked_for(app, centre):
    tap(app.screen("home").ids.first_visit)
    tap(app.screen("first_visit").ids.next)
    assert app.screen("first_visit").step == 0
    assert "Répondez à cette question" in screen_text(app)


def test_a_refused_value_brings_back_its_question(app, centre):
    form = give_the_name(app)
    choose(app, "De 1950 à 1959")
    choose(app, "1952")
    choose(app, "Outreau")
    choose(app, "Un autre quartier, ou je ne sais pas")
    type_text(app, "0012345678")  # ten digits, but no French number
    tap(form.ids.next)
    tap(app.screen("consent").ids.yes)
    assert centre.store.query("SELECT * FROM members") == []
    assert app.sm.current == "first_visit"
    assert form.field_name == "phone"
    assert form.error


def test_the_new_card_checks_in_at_once(app, centre):
    fill_form(app)
    tap(app.screen("consent").ids.yes)
    tap(app.screen("card").ids.checkin)
    assert app.sm.current == "reason"
    tile = next(t for t in app.screen("reason").ids.grid.children if t.reason == "accueil")
    tap(tile)
    assert len(centre.store.query("SELECT * FROM visits WHERE member_id IS NOT NULL")) == 1


def test_the_card_is_printed_where_a_printer_is_set_up(app, centre, tmp_path):
    import time

    from kiosk.ui import offscreen

    printer = tmp_path / "lp0"  # a receipt printer's device file, as /dev/usb/lp0
    printer.write_bytes(b"")
    centre.settings.set("printer", str(printer))
    fill_form(app)
    tap(app.screen("consent").ids.yes)
    code = centre.store.one("SELECT card_code FROM members")["card_code"]
    deadline = time.monotonic() + 10
    while "imprimée" not in screen_text(app) and time.monotonic() < deadline:
        offscreen.frames(1)
        time.sleep(0.05)
    assert "Votre carte est prête." in screen_text(app)
    assert code.encode() in printer.read_bytes()  # the QR payload sent to the printer


def test_a_scan_during_the_form_is_ignored(app, centre, mono):
    from kivyhelp import scan

    other = centre.members.register("Bernard", "Martin", 1970, commune="Outreau", consent_data=True)
    tap(app.screen("home").ids.first_visit)
    type_text(app, "fa")
    scan(mono, other["card_code"])
    assert app.sm.current == "first_visit"
    assert app.screen("first_visit").values["first_name"] == "Fa"


def test_accented_names_can_be_typed(app, centre):
    tap(app.screen("home").ids.first_visit)
    type_text(app, "françoise")
    assert app.screen("first_visit").values["first_name"] == "Françoise"
    tap(app.screen("first_visit").ids.next)
    type_text(app, "noël")
    tap(app.screen("first_visit").ids.next)
    assert app.screen("first_visit").values["last_name"] == "Noël"
    assert app.screen("first_visit").ids.keyboard.disabled  # the year: tiles, no keyboard
    assert "De 1970 à 1979" in screen_text(app)


def test_the_year_is_picked_in_two_taps_with_a_way_back_to_the_decades(app, centre):
    form = give_the_name(app)
    assert "Votre année de naissance" in screen_text(app)
    choose(app, "De 1980 à 1989")
    assert "1984" in screen_text(app) and "1979" not in screen_text(app)
    choose(app, "Autres années")
    choose(app, "De 1960 à 1969")
    tap(form.ids.back)  # from the years back to the decades, not to the name
    assert form.field_name == "birth_year" and "De 2000 à 2009" in screen_text(app)
    choose(app, "De 1960 à 1969")
    choose(app, "1963")
    assert form.values["birth_year"] == "1963" and form.field_name == "commune"
    # the current decade stops at this year
    tap(form.ids.back)
    this_year = centre.store.now().year
    choose(app, f"De {this_year // 10 * 10} à {this_year // 10 * 10 + 9}")
    shown = {tile.text for tile in form.ids.choices.children}
    assert str(this_year) in shown and str(this_year + 1) not in shown
