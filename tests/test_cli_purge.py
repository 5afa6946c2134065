"""`kiosk purge`: the retention purge the daily systemd timer runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kiosk.cli import main
from kiosk.core.centre import Centre


@pytest.fixture
def old_and_recent(db_path, clock):
    """Two members: one registered in 2020 and never seen since, one today."""
    clock.set(datetime(2020, 3, 2, 9, 0, tzinfo=UTC))
    with Centre.open(db_path, clock=clock) as centre:
        old = centre.members.register(first_name="Odile", last_name="Ancienne", consent_data=True)
    with Centre.open(db_path) as centre:
        recent = centre.members.register(first_name="Rémi", last_name="Récent", consent_data=True)
    return old["id"], recent["id"]


def names(db_path, member_id):
    with Centre.open(db_path) as centre:
        row = centre.store.one("SELECT first_name, erased_at FROM members WHERE id = ?", (member_id,))
    return row["first_name"], row["erased_at"]


def test_purge_erases_members_unseen_for_the_retention_period(db_path, old_and_recent, capsys):
    old, recent = old_and_recent
    assert main(["purge", "--db", str(db_path)]) == 0
    assert "1 adhérent(s) effacé(s)" in capsys.readouterr().out
    first_name, erased_at = names(db_path, old)
    assert first_name is None and erased_at is not None
    assert names(db_path, recent) == ("Rémi", None)


def test_purge_dry_run_counts_and_erases_nothing(db_path, old_and_recent, capsys):
    old, _ = old_and_recent
    assert main(["purge", "--db", str(db_path), "--dry-run"]) == 0
    assert "1 adhérent(s) seraient effacé(s)" in capsys.readouterr().out
    assert names(db_path, old) == ("Odile", None)


def test_purge_refuses_a_bad_period_naming_it(db_path, old_and_recent, capsys):
    old, _ = old_and_recent
    assert main(["purge", "--db", str(db_path), "--months", "0"]) == 2
    assert "months" in capsys.readouterr().err
    assert names(db_path, old) == ("Odile", None)


def test_purge_of_a_missing_database_creates_nothing(tmp_path):
    missing = tmp_path / "absent.db"
    with pytest.raises(SystemExit, match="Base introuvable"):
        main(["purge", "--db", str(missing)])
    assert not missing.exists()
