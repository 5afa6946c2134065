"""The FSE+ situation: asked only where the centre turned it on, kept and
sent only with the member's consent, changeable, erased with the member."""

from __future__ import annotations

import pytest

from kiosk.core.errors import InvalidInput
from kiosk.core.members import Members
from kiosk.core.privacy import Privacy
from kiosk.core.settings import Settings
from sync import protocol
from tests.dbstate import add_staff, events


@pytest.fixture
def settings(store):
    return Settings(store)


@pytest.fixture
def members(store, settings):
    return Members(store, settings)


@pytest.fixture
def claire(store):
    return add_staff(store)


@pytest.fixture
def aicha(members):
    return members.register(
        first_name="Aïcha", last_name="Benali", birth_year=1985, gender="woman", consent_data=True
    )


def member_events(store):
    return [e for e in events(store) if e["type"] in ("member.created", "member.updated")]


def test_the_setting_is_off_by_default_and_takes_only_a_yes_or_no(settings):
    assert settings.get("collect_situation") is False
    with pytest.raises(InvalidInput):
        settings.set("collect_situation", "oui")
    settings.set("collect_situation", True)
    assert settings.get("collect_situation") is True


def test_setting_off_nothing_is_asked_nor_sent(store, members, aicha, claire):
    with pytest.raises(InvalidInput) as refused:
        members.update(aicha["id"], actor=claire, situation_consent=True, employment="employed")
    assert refused.value.field == "situation_consent"
    row = store.one("SELECT situation_consent_at, employment, education FROM members")
    assert row == {"situation_consent_at": None, "employment": None, "education": None}
    for event in member_events(store):
        assert "employment" not in event["data"] and "education" not in event["data"]


def test_consent_then_answers_are_kept_dated_and_sent(store, settings, members, aicha, claire):
    settings.set("collect_situation", True)
    member = members.update(
        aicha["id"], actor=claire, situation_consent=True, employment="unemployed", education="isced_3_4"
    )
    assert member["situation_consent_at"] == store.now_iso()
    assert (member["employment"], member["education"]) == ("unemployed", "isced_3_4")
    sent = member_events(store)[-1]
    assert sent["type"] == "member.updated"
    assert (sent["data"]["employment"], sent["data"]["education"]) == ("unemployed", "isced_3_4")
    assert protocol.check_event(sent) == (sent, [])


def test_answers_without_consent_are_refused_and_nothing_sent(store, settings, members, aicha, claire):
    settings.set("collect_situation", True)
    with pytest.raises(InvalidInput) as refused:
        members.update(aicha["id"], actor=claire, employment="employed")
    assert refused.value.field == "situation_consent"
    members.update(aicha["id"], actor=claire, commune="Outreau")
    for event in member_events(store):
        assert "employment" not in event["data"] and "education" not in event["data"]


def test_an_answer_outside_the_list_is_refused(settings, members, aicha, claire):
    settings.set("collect_situation", True)
    with pytest.raises(InvalidInput) as refused:
        members.update(aicha["id"], actor=claire, situation_consent=True, employment="handicap")
    assert refused.value.field == "employment"


def test_consent_given_without_answers_sends_nulls(store, settings, members, aicha, claire):
    settings.set("collect_situation", True)
    members.update(aicha["id"], actor=claire, situation_consent=True)
    data = member_events(store)[-1]["data"]
    assert data["employment"] is None and data["education"] is None


def test_answers_change_and_the_first_consent_date_stays(store, clock, settings, members, aicha, claire):
    settings.set("collect_situation", True)
    first = members.update(aicha["id"], actor=claire, situation_consent=True, employment="unemployed")
    clock.advance(days=30)
    later = members.update(aicha["id"], actor=claire, situation_consent=True, employment="employed")
    assert later["situation_consent_at"] == first["situation_consent_at"]
    assert member_events(store)[-1]["data"]["employment"] == "employed"
    cleared = members.update(aicha["id"], actor=claire, employment=None)
    assert cleared["employment"] is None and cleared["situation_consent_at"] is not None


def test_withdrawing_consent_erases_the_answers_and_stops_sending(store, settings, members, aicha, claire):
    settings.set("collect_situation", True)
    members.update(
        aicha["id"], actor=claire, situation_consent=True, employment="employed", education="isced_5_8"
    )
    # withdrawing is allowed even once the centre stopped asking
    settings.set("collect_situation", False)
    member = members.update(aicha["id"], actor=claire, situation_consent=False)
    assert (member["situation_consent_at"], member["employment"], member["education"]) == (None, None, None)
    last = member_events(store)[-1]
    assert last["type"] == "member.updated" and "employment" not in last["data"]


def test_erasure_wipes_the_situation_and_its_consent(store, settings, members, aicha, claire):
    settings.set("collect_situation", True)
    members.update(
        aicha["id"], actor=claire, situation_consent=True, employment="inactive", education="isced_0_2"
    )
    Privacy(store, settings).erase(aicha["id"], claire)
    row = store.one("SELECT situation_consent_at, employment, education FROM members")
    assert row == {"situation_consent_at": None, "employment": None, "education": None}


def test_the_members_export_holds_the_situation_and_its_consent(store, settings, members, aicha, claire):
    settings.set("collect_situation", True)
    members.update(aicha["id"], actor=claire, situation_consent=True, education="isced_3_4")
    held = Privacy(store, settings).export(aicha["id"], claire)["member"]
    assert held["education"] == "isced_3_4" and held["situation_consent_at"] == store.now_iso()
