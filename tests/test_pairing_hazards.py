"""Pairing's hazards, against a real hub process: a kiosk restored from a
backup (or copied) must not go on with the old device's identity and
counters, and two kiosks of one centre that each became its first device
on upgrade pair without losing what either holds."""

from __future__ import annotations

import shutil
import threading

from federation import centres, store
from kiosk import syncing
from kiosk.core import backup, replication, review
from kiosk.core.centre import Centre
from kiosk.core.settings import Settings
from kiosk.core.store import Store


def enrolled_kiosk(hub, path, code: str) -> str:
    answer = syncing.enrol(hub.url, code, "Borne")
    with Store.open(path) as kiosk:
        syncing.save_enrolment(Settings(kiosk), hub.url, answer)
    return str(path)


def another_code(hub, centre_id: str) -> str:
    engine = store.create_engine(hub.db_url)
    with store.writer(engine) as conn, conn.begin():
        code = centres.new_code(conn, centre_id)
    engine.dispose()
    return code


def invited(inviter: str, path, label: str = "Tablette", by_short_code: bool = False) -> dict:
    """``path`` joins through ``inviter``'s invite, the check words confirmed."""
    made = syncing.invite(inviter)
    text = made["short_code"] if by_short_code else made["invite"]
    words: list[str] = []
    ended: dict = {}
    failed: list[Exception] = []

    def joining() -> None:
        try:
            ended.update(syncing.join(str(path), text, label, wait_s=60, on_check_word=words.append))
        except Exception as error:  # noqa: BLE001  (the test says why the thread failed)
            failed.append(error)

    thread = threading.Thread(target=joining)
    thread.start()
    for _ in range(600):
        if words or not thread.is_alive():
            break
        threading.Event().wait(0.05)
    assert words and not failed, failed
    syncing.confirm_invite(inviter, words[0])
    thread.join(60)
    assert ended.get("device_id") and not failed, failed
    return ended


def first_names(path: str) -> list[str]:
    with Centre.open(path) as centre:
        return sorted(row["first_name"] for row in centre.store.query("SELECT first_name FROM members"))


def refused(path: str) -> int:
    with Store.open(path) as kiosk:
        return len(replication.refused(kiosk))


def rejoin_items(path: str) -> list[review.Item]:
    with Store.open(path) as kiosk:
        return [
            item
            for _kind, items in review.Review(kiosk).pending()
            for item in items
            if item.kind == "replication_rejoin"
        ]


def test_a_kiosk_restored_from_a_backup_becomes_a_new_device_of_its_centre(shared_hub, tmp_path):
    centre_id, code = shared_hub.add_centre("Centre restauré")
    reception = enrolled_kiosk(shared_hub, tmp_path / "reception.db", code)
    tablet = str(tmp_path / "tablet.db")
    old_id = invited(reception, tablet)["device_id"]
    (tmp_path / "sauvegardes").mkdir()
    with Store.open(tablet) as kiosk:
        saved = backup.backup(kiosk, tmp_path / "sauvegardes")
    # after the backup the tablet goes on: its counter moves past the backup's
    with Centre.open(tablet) as centre:
        centre.members.register("Zoé", "Martin", consent_data=True)
    assert syncing.replicate_once(tablet)["sent"] == 1
    syncing.replicate_once(reception)

    backup.restore(tablet, saved)
    with Store.open(tablet) as kiosk:
        assert not replication.enabled(kiosk.conn)
        assert replication.rejoin_reason(kiosk) == "backup"
        assert Settings(kiosk).get("device_token")  # its enrolment (for the hub's figures) stays
    (item,) = rejoin_items(tablet)
    assert item.text().startswith("Cette borne a été restaurée depuis une sauvegarde")
    assert syncing.replicate_once(tablet) == {"enabled": False}  # nothing sent with the old counters
    with Centre.open(tablet) as centre:  # staff register someone meanwhile: kept
        centre.members.register("Yasmine", "Haddad", consent_data=True)

    new_id = invited(reception, tablet, by_short_code=True)["device_id"]
    assert new_id != old_id
    assert rejoin_items(tablet) == []
    syncing.replicate_once(reception)
    assert first_names(tablet) == first_names(reception) == ["Yasmine", "Zoé"]
    assert refused(reception) == refused(tablet) == 0


def test_a_copy_of_a_kiosk_running_on_is_told_to_join_again(shared_hub, tmp_path):
    _centre_id, code = shared_hub.add_centre("Centre copié")
    reception = enrolled_kiosk(shared_hub, tmp_path / "reception.db", code)
    tablet = str(tmp_path / "tablet.db")
    invited(reception, tablet)
    copy = str(tmp_path / "copie.db")
    shutil.copyfile(tablet, copy)  # a disk cloned, a file carried to another machine
    with Centre.open(tablet) as centre:
        centre.members.register("Zoé", "Martin", consent_data=True)
    with Centre.open(copy) as centre:
        centre.members.register("Yasmine", "Haddad", consent_data=True)
    assert syncing.replicate_once(tablet)["sent"] == 1
    # the copy's blob has the same counter and another content: the relay says so
    assert syncing.replicate_once(copy) == {"enabled": False, "rejoin": "counter"}
    with Store.open(copy) as kiosk:
        assert replication.rejoin_reason(kiosk) == "counter"
    (item,) = rejoin_items(copy)
    assert item.text().startswith("Une copie de cette borne fonctionne ailleurs")
    invited(reception, copy, "Copie")
    syncing.replicate_once(tablet)
    syncing.replicate_once(reception)
    assert first_names(copy) == first_names(reception) == first_names(tablet) == ["Yasmine", "Zoé"]


def test_two_kiosks_that_each_became_the_first_device_pair_and_keep_their_data(shared_hub, tmp_path):
    centre_id, code = shared_hub.add_centre("Centre à deux premières bornes")
    reception = enrolled_kiosk(shared_hub, tmp_path / "reception.db", code)
    annexe = enrolled_kiosk(shared_hub, tmp_path / "annexe.db", another_code(shared_hub, centre_id))
    with Centre.open(reception) as centre:
        centre.members.register("Aïcha", "Benali", consent_data=True)
    with Centre.open(annexe) as centre:
        centre.members.register("Zoé", "Martin", consent_data=True)
    # each replicates with its own key: each refuses what the other sealed
    for path in (reception, annexe, reception):
        syncing.replicate_once(path)
    assert refused(reception) >= 1 and refused(annexe) >= 1
    with Store.open(annexe) as kiosk:
        annexe_id = replication.device_id(kiosk)

    joined = invited(reception, annexe, "Annexe")
    assert joined["device_id"] == annexe_id  # it joined with its own enrolment
    syncing.replicate_once(reception)
    assert first_names(reception) == first_names(annexe) == ["Aïcha", "Zoé"]
    with Centre.open(reception) as centre:
        centre.members.register("Yasmine", "Haddad", consent_data=True)
    syncing.replicate_once(reception)
    syncing.replicate_once(annexe)
    assert first_names(annexe) == ["Aïcha", "Yasmine", "Zoé"]
