"""The `federation` command, run for real in a subprocess on real databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from federation import centres, store
from tests.conftest_hub import FEDERATION, run_federation, start_hub


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'federation.db'}"


def federation(
    *args: str, cwd=None, stdin: str | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the command and return the result whatever its exit status (in a
    fresh folder unless told, so no QR code image lands in the checkout)."""
    return subprocess.run(
        [*FEDERATION, *args],
        capture_output=True,
        text=True,
        cwd=cwd or tempfile.mkdtemp(prefix="federation-cwd-"),
        input=stdin,
        env=(os.environ | env) if env else None,
        timeout=60,
    )


def rows(db_url: str, table: sa.Table) -> list:
    engine = store.create_engine(db_url)
    with engine.connect() as conn:
        found = conn.execute(sa.select(table)).all()
    engine.dispose()
    return found


def test_add_centre_json_prints_exactly_the_id_and_code(db_url):
    out = run_federation("add-centre", "Centre social Les Tilleuls", "--json", db_url=db_url)
    answer = json.loads(out.stdout)
    assert set(answer) == {"centre_id", "enrolment_code"}
    [centre] = rows(db_url, store.centres)
    assert (centre.id, centre.name) == (answer["centre_id"], "Centre social Les Tilleuls")
    [code] = rows(db_url, store.enrolment_codes)
    assert answer["enrolment_code"] not in code.code_hash  # only its hash is kept


def test_add_centre_prints_the_code_with_a_qr_image_and_terminal_rendering(db_url, tmp_path):
    out = run_federation("add-centre", "Maison pour tous", db_url=db_url, cwd=tmp_path).stdout
    code = next(line.split(": ")[1] for line in out.splitlines() if line.startswith("Enrolment code"))
    centre_id = next(line.split(": ")[1] for line in out.splitlines() if line.startswith("Centre id"))
    png = tmp_path / f"enrolment-{centre_id}.png"
    assert f"QR code image: {png}" in out
    assert sum("█" in line for line in out.splitlines()) > 10  # the terminal rendering
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp (the ui extra) decodes the QR")
    from PIL import Image

    [found] = zxingcpp.read_barcodes(Image.open(png))
    assert found.text == code


def test_the_printed_code_enrols_a_device_once(db_url):
    answer = json.loads(run_federation("add-centre", "Centre A", "--json", db_url=db_url).stdout)
    engine = store.open_engine(db_url)
    with store.writer(engine) as conn, conn.begin():
        device = centres.enrol(conn, answer["enrolment_code"].lower().replace("-", " "), "Borne")
    assert device["centre_id"] == answer["centre_id"]
    with pytest.raises(centres.EnrolmentRefused), store.writer(engine) as conn, conn.begin():
        centres.enrol(conn, answer["enrolment_code"], "Borne")
    engine.dispose()


def test_add_centre_without_a_name_says_so(db_url):
    result = federation("add-centre", "  ", "--db", db_url)
    assert result.returncode == 2
    assert "name" in result.stderr and "Traceback" not in result.stderr


def test_new_code_for_a_centre_and_for_none(db_url):
    centre_id = json.loads(run_federation("add-centre", "Centre A", "--json", db_url=db_url).stdout)[
        "centre_id"
    ]
    second = json.loads(run_federation("new-code", centre_id, "--json", db_url=db_url).stdout)
    assert second["centre_id"] == centre_id
    assert len(rows(db_url, store.enrolment_codes)) == 2
    result = federation("new-code", "no-such-centre", "--db", db_url)
    assert result.returncode == 1 and "no centre" in result.stderr


def test_revoke_device_and_list_centres(db_url):
    answer = json.loads(run_federation("add-centre", "Centre A", "--json", db_url=db_url).stdout)
    engine = store.open_engine(db_url)
    with store.writer(engine) as conn, conn.begin():
        device = centres.enrol(conn, answer["enrolment_code"], "Borne accueil")
    engine.dispose()
    listing = run_federation("list-centres", db_url=db_url).stdout
    assert "Centre A" in listing and "Borne accueil" in listing and "never" in listing
    out = run_federation("revoke-device", device["device_id"], db_url=db_url).stdout
    assert "revoked" in out
    [held] = rows(db_url, store.devices)
    assert held.revoked_at is not None
    listed = json.loads(run_federation("list-centres", "--json", db_url=db_url).stdout)
    assert listed[0]["devices"][0]["revoked_at"] == held.revoked_at
    assert "token_hash" not in listed[0]["devices"][0]
    again = federation("revoke-device", device["device_id"], "--db", db_url)
    assert again.returncode == 1 and "device_id" in again.stderr


def test_stats_on_an_empty_hub(db_url):
    figures = json.loads(run_federation("stats", "--json", db_url=db_url).stdout)
    # the projections' sections (voice, families, volunteering) have tests of their own
    assert {key: figures[key] for key in ("centres", "events_total", "children")} == {
        "centres": [],
        "events_total": 0,
        "children": [],
    }


def test_the_database_comes_from_the_environment(tmp_path):
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    result = federation("add-centre", "Centre B", "--json", env={"FEDERATION_DB": url})
    assert result.returncode == 0, result.stderr
    assert [c.name for c in rows(url, store.centres)] == ["Centre B"]


def test_an_unsupported_database_url_is_a_clear_error():
    result = federation("stats", "--db", "mysql://localhost/hub")
    assert result.returncode == 2
    assert "--db" in result.stderr and "Traceback" not in result.stderr


def test_add_user_reads_the_password_from_stdin(db_url):
    result = federation(
        "add-user", "marie@federation.example", "--db", db_url, stdin="un mot de passe solide\n"
    )
    assert result.returncode == 0, result.stderr
    from federation import users

    engine = store.open_engine(db_url)
    assert users.authenticate(engine, "marie@federation.example", "un mot de passe solide") is not None
    engine.dispose()
    short = federation("add-user", "paul@federation.example", "--db", db_url, stdin="court\n")
    assert short.returncode == 2 and "password" in short.stderr


def test_every_command_has_help(capsys):
    from federation.cli import main

    for command in ("serve", "add-centre", "new-code", "revoke-device", "list-centres", "stats", "add-user"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0 and "--db" in capsys.readouterr().out


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "federation"
    assert subprocess.run([str(script), "--help"], capture_output=True, text=True).returncode == 0


@pytest.mark.postgres
def test_two_hub_processes_serve_one_postgresql(postgres_url, tmp_path):
    first, second = start_hub(postgres_url, tmp_path), start_hub(postgres_url, tmp_path)
    try:
        device = first.new_device()
        from tests.test_hub_api import batch, visit

        auth = {"Authorization": f"Bearer {device['device_token']}"}
        events = [visit(), visit()]
        assert (
            httpx.post(f"{first.url}/api/v1/batches", json=batch(events[0]), headers=auth).status_code == 200
        )
        answer = httpx.post(f"{second.url}/api/v1/batches", json=batch(*events), headers=auth).json()
        assert answer["duplicates"] == [events[0]["id"]] and answer["stored"] == [events[1]["id"]]
        assert httpx.get(f"{first.url}/api/v1/status", headers=auth).json()["events_total"] == 2
    finally:
        first.stop()
        second.stop()
