"""`kiosk invite` and `kiosk join`: a new device joins its centre through
the hub, the real commands as subprocesses against a real hub process."""

from __future__ import annotations

import json
import re
import subprocess

import sqlalchemy as sa

from federation import store
from kiosk.core.centre import Centre
from kiosk.core.store import Store
from tests.helpers import KIOSK, kiosk, kiosk_environment

WORD = re.compile(r"Mots de contrôle : ([a-z]+-[a-z]+-[a-z]+)")


def reception(hub, tmp_path) -> str:
    """The centre's first kiosk, enrolled with the federation's code, one member registered."""
    path = str(tmp_path / "reception.db")
    Store.open(path).close()
    _centre, code = hub.add_centre("Centre social Les Tilleuls")
    done = kiosk("enrol", "--db", path, "--hub", hub.url, "--code", code)
    assert done.returncode == 0, done.stderr
    with Centre.open(path) as centre:
        centre.members.register("Aïcha", "Benali", birth_year=1985, consent_data=True)
    return path


def invite(path: str) -> dict:
    done = kiosk("invite", "--db", path, "--json")
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert set(made) == {"invite", "expires_at", "short_code"}
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}", made["short_code"])
    return made


def test_a_new_device_joins_shows_the_check_word_and_receives_the_centre(hub, tmp_path):
    first = reception(hub, tmp_path)
    made = invite(first)
    tablet = str(tmp_path / "tablet.db")
    joining = subprocess.Popen(
        [KIOSK, "join", "--db", tablet, "--invite", made["invite"], "--label", "Tablette", "--wait", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kiosk_environment(),
    )
    try:
        line = joining.stdout.readline()
        word = WORD.search(line)
        assert word, line + joining.stderr.read() if joining.poll() is not None else line
        # a word that is not the one shown hands nothing over
        wrong = kiosk("invite", "--db", first, "--confirm", "abeille-abeille-abeille")
        assert wrong.returncode == 2 and "Aucun nouvel appareil en attente ne montre ce mot" in wrong.stderr
        confirmed = kiosk("invite", "--db", first, "--confirm", word.group(1))
        assert confirmed.returncode == 0, confirmed.stderr
        out, err = joining.communicate(timeout=60)
    finally:
        if joining.poll() is None:
            joining.kill()
    assert joining.returncode == 0, err
    assert "Appareil ajouté au centre" in out and "1 adhérent reçu." in out
    with Centre.open(tablet) as centre:
        assert [m["first_name"] for m in centre.members.search("aicha ben")] == ["Aïcha"]
    # and from now on `kiosk sync` (the app's sync too) exchanges both ways
    with Centre.open(tablet) as centre:
        centre.members.register("Zoé", "Martin", consent_data=True)
    for path in (tablet, first):
        done = kiosk("sync", "--db", path)
        assert done.returncode == 0, done.stderr
    with Centre.open(first) as centre:
        assert [m["first_name"] for m in centre.members.search("zoe mar")] == ["Zoé"]


def test_an_invite_mistyped_is_refused_in_french(tmp_path):
    done = kiosk("join", "--db", tmp_path / "new.db", "--invite", "accueil-invite:eyJodWIiOiJodHRwOi8v")
    assert done.returncode == 2
    assert "Cette invitation est illisible" in done.stderr


def test_an_invite_used_twice_is_refused_in_french(hub, tmp_path):
    first = reception(hub, tmp_path)
    made = invite(first)
    once = kiosk("join", "--db", tmp_path / "one.db", "--invite", made["invite"], "--wait", "0")
    assert "Mots de contrôle" in once.stdout  # enrolled, then gave up waiting
    again = kiosk("join", "--db", tmp_path / "two.db", "--invite", made["invite"], "--wait", "0")
    assert again.returncode == 2
    assert "Cette invitation a déjà servi pour un autre appareil" in again.stderr


def test_an_expired_invite_is_refused_in_french(hub, tmp_path):
    first = reception(hub, tmp_path)
    made = invite(first)
    engine = store.create_engine(hub.db_url)
    with store.writer(engine) as conn, conn.begin():  # eleven minutes later
        past = "2020-01-01T00:00:00.000Z"
        conn.execute(
            sa.update(store.enrolment_codes)
            .where(store.enrolment_codes.c.used_at.is_(None))
            .values(expires_at=past)
        )
        conn.execute(sa.update(store.relay_invites).values(expires_at=past))
    engine.dispose()
    done = kiosk("join", "--db", tmp_path / "late.db", "--invite", made["invite"], "--wait", "0")
    assert done.returncode == 2
    assert "Cette invitation a expiré" in done.stderr


def test_an_invite_from_a_kiosk_not_enrolled_is_refused(tmp_path):
    path = tmp_path / "alone.db"
    Store.open(path).close()
    done = kiosk("invite", "--db", path, "--json")
    assert done.returncode == 3


# ---------------------------------------------------------------- the short code to type


def test_a_new_device_joins_with_the_short_code_and_the_hub_s_address(shared_hub, tmp_path):
    first = reception(shared_hub, tmp_path)
    made = invite(first)
    tablet = tmp_path / "tablet.db"
    typed = made["short_code"].lower().replace("-", " ")  # as a person may type it
    waiting = kiosk("join", "--db", tablet, "--invite", typed, "--hub", shared_hub.url, "--wait", "0")
    word = WORD.search(waiting.stdout)
    assert word, waiting.stdout + waiting.stderr
    confirmed = kiosk("invite", "--db", first, "--confirm", word.group(1).upper().replace("-", " "))
    assert confirmed.returncode == 0, confirmed.stderr
    # the same code again: this device goes on where it was, and takes the key
    done = kiosk("join", "--db", tablet, "--invite", typed, "--hub", shared_hub.url, "--wait", "30")
    assert done.returncode == 0, done.stderr
    assert word.group(1) in done.stdout and "1 adhérent reçu." in done.stdout
    with Centre.open(tablet) as centre:
        assert [m["first_name"] for m in centre.members.search("aicha ben")] == ["Aïcha"]


def test_a_short_code_mistyped_expired_or_used_gets_its_own_french_message(shared_hub, tmp_path):
    first = reception(shared_hub, tmp_path)
    made = invite(first)
    code = made["short_code"]

    def join(name: str, text: str, *more: str):
        return kiosk("join", "--db", tmp_path / name, "--invite", text, "--hub", shared_hub.url, *more)

    typo = join("typo.db", code[:-1] + ("A" if code[-1] != "A" else "B"))
    assert typo.returncode == 2 and "Code inconnu" in typo.stderr
    form = join("form.db", code[:-1])
    assert form.returncode == 2 and "Ce code n'a pas la bonne forme" in form.stderr
    once = join("one.db", code, "--wait", "0")
    assert "Mots de contrôle" in once.stdout
    used = join("two.db", code)
    assert used.returncode == 2 and "Code déjà utilisé par un autre appareil" in used.stderr
    late = invite(first)
    engine = store.create_engine(shared_hub.db_url)
    with store.writer(engine) as conn, conn.begin():  # eleven minutes later
        conn.execute(
            sa.update(store.relay_invites)
            .where(store.relay_invites.c.short_slot == late["short_code"][:3])
            .values(expires_at="2020-01-01T00:00:00.000Z")
        )
    engine.dispose()
    expired = join("late.db", late["short_code"])
    assert expired.returncode == 2 and "Code expiré" in expired.stderr


def test_a_short_code_needs_the_right_hub(shared_hub, tmp_path):
    first = reception(shared_hub, tmp_path)
    code = invite(first)["short_code"]
    alone = kiosk("join", "--db", tmp_path / "alone.db", "--invite", code)
    assert alone.returncode == 2 and "Tapez aussi l'adresse du hub" in alone.stderr
    nowhere = kiosk("join", "--db", tmp_path / "alone.db", "--invite", code, "--hub", "http://127.0.0.1:9")
    assert nowhere.returncode == 2
    assert "Aucun hub Accueil ne répond à l'adresse http://127.0.0.1:9" in nowhere.stderr
    # a kiosk of another hub's centre is told so, and keeps its own
    (tmp_path / "other").mkdir()
    other = reception(shared_hub, tmp_path / "other")
    with Store.open(other) as kept, kept.transaction():
        kept.conn.execute(
            "UPDATE settings SET value = ? WHERE key = 'hub_url'", ('"https://autre.example.org"',)
        )
    full = invite(first)["invite"]
    elsewhere = kiosk("join", "--db", other, "--invite", full)
    assert elsewhere.returncode == 2
    assert (
        "Cet appareil est déjà inscrit auprès d'un autre hub (https://autre.example.org)" in elsewhere.stderr
    )
