"""Exports, summary, cards and backup over data written by the real services
(members, visits, workshops, attendance, privacy), not by hand-made rows."""

from __future__ import annotations

import csv
from datetime import date, timedelta

import pytest
from pypdf import PdfReader

from kiosk.core import backup, card_print, exports, report_pdf
from kiosk.core.centre import Centre
from tests import queries


@pytest.fixture
def centre(store):
    return Centre(store)


def read(path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=";"))


def test_a_fortnight_through_the_services(centre, clock, tmp_path):
    nadia = centre.staff.add("Nadia Ferhat", "staff", "4821")
    aicha = centre.members.register(
        "Aïcha",
        "Benali",
        birth_year=1958,
        gender="woman",
        commune="Boulogne-sur-Mer",
        neighbourhood="Transition",
        consent_data=True,
    )
    paul = centre.members.register(
        "Paul", "Martin", birth_year=1990, gender="man", commune="Outreau", consent_data=True
    )
    centre.visits.check_in("demarches", member_id=aicha["id"])
    centre.visits.check_in("accueil", actor=nadia)
    workshop = centre.workshops.create_workshop("Cuisine du monde", "parentalite", place="Cuisine")
    starts = clock() + timedelta(days=7)
    session = centre.workshops.add_session(workshop["id"], starts, starts + timedelta(hours=2), 6)
    centre.workshops.register(session["id"], aicha["id"])
    centre.workshops.register(session["id"], paul["id"])
    clock.set(starts)
    queries.check_in_by_card(centre.visits, paul["card_code"], "atelier")
    centre.workshops.mark_attendance(session["id"], aicha["id"], True, actor=nadia)
    centre.workshops.mark_attendance(session["id"], paul["id"], False, actor=nadia)
    centre.workshops.add_walk_in(session["id"], None, actor=nadia)
    centre.privacy.erase(paul["id"], actor=nadia)

    fortnight = dict(start=date(2026, 12, 1), end=date(2026, 12, 14))
    visits = tmp_path / "v.csv"
    assert exports.export_visits(centre.store, visits, **fortnight) == 3
    table = read(visits)
    assert [row[2] for row in table[1:]] == ["Aïcha Benali", "Anonyme", "Anonyme"]  # Paul was erased
    assert table[1][0] == "01/12/2026 09:00" and table[2][6:] == ["Salarié", "Nadia Ferhat"]

    attendance = tmp_path / "a.csv"
    assert exports.export_attendance(centre.store, attendance, **fortnight) == 3
    marks = {row[5]: row[8] for row in read(attendance)[1:]}
    assert marks == {"Aïcha Benali": "oui", "(adhérent effacé)": "non", "Anonyme": "oui"}

    members = tmp_path / "m.csv"
    assert exports.export_members(centre.store, members) == 1
    assert read(members)[1][13] == card_print.printable(aicha["card_code"])

    figures = report_pdf.summary_pdf(centre.store, tmp_path / "bilan.pdf", **fortnight)
    assert (figures["visits"], figures["new_members"], figures["active_members"]) == (3, 2, 1)
    assert figures["workshops"]["presences"] == 2 and figures["qpv_members"] == 1
    assert "Cuisine du monde" not in PdfReader(tmp_path / "bilan.pdf").pages[0].extract_text()

    cards = tmp_path / "cartes.pdf"
    assert card_print.cards_pdf(centre.store, cards) == 1  # the erased member has no card any more

    stick = tmp_path / "usb"
    stick.mkdir()
    made = backup.backup(centre.store, stick, actor=nadia)
    assert backup.check_backup_file(made) >= 1
