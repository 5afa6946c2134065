"""`kiosk staff add|list|reset-pin`, run as real processes (PINs typed on a
real pseudo-terminal through getpass, or piped with --pin-stdin)."""

from __future__ import annotations

import fcntl
import os
import pty
import subprocess
import termios
import time

import pytest

from kiosk.core.errors import InvalidInput
from kiosk.core.staff import Staff
from kiosk.core.store import Store
from tests.helpers import KIOSK, kiosk, kiosk_environment


def on_terminal(args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run ``kiosk`` with a pseudo-terminal as its controlling terminal and
    type each answer after the next prompt ending in ': ' appears."""
    master, slave = pty.openpty()

    def take_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [KIOSK, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=take_terminal,
        close_fds=True,
        env=kiosk_environment(),
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        for number, answer in enumerate(answers, start=1):
            while seen.count(b": ") < number and time.monotonic() < deadline:
                seen += os.read(master, 1024)
            time.sleep(0.05)
            os.write(master, answer.encode() + b"\n")
        while True:
            try:
                chunk = os.read(master, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    return process.wait(30), seen.decode(errors="replace")


def test_add_list_and_reset_pin_from_a_script(db_path):
    added = kiosk(
        "staff", "add", "--db", str(db_path), "Nadia Ferhat", "--role", "staff", "--pin-stdin", stdin="4821\n"
    )
    assert added.returncode == 0, added.stderr
    assert "Nadia Ferhat ajouté(e) comme salarié" in added.stdout
    assert (
        kiosk(
            "staff",
            "add",
            "--db",
            str(db_path),
            "Paul Martin",
            "--role",
            "volunteer",
            "--pin-stdin",
            stdin="1357\n",
        ).returncode
        == 0
    )
    listing = kiosk("staff", "list", "--db", str(db_path))
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert lines[0].startswith("Nadia Ferhat") and "salarié" in lines[0]
    assert lines[1].startswith("Paul Martin") and "bénévole" in lines[1]
    reset = kiosk("staff", "reset-pin", "--db", str(db_path), "paul martin", "--pin-stdin", stdin="97531\n")
    assert reset.returncode == 0 and "Nouveau code enregistré pour Paul Martin" in reset.stdout
    with Store.open(db_path) as store:
        staff = Staff(store)
        assert staff.authenticate("97531")["name"] == "Paul Martin"
        assert staff.authenticate("4821")["role"] == "staff"
        with pytest.raises(InvalidInput):
            staff.authenticate("1357")
        assert [row["action"] for row in store.query("SELECT action FROM audit_log ORDER BY seq")][:3] == [
            "staff.add",
            "staff.add",
            "staff.reset_pin",
        ]


def test_the_pin_is_asked_twice_without_echo_on_a_terminal(db_path):
    code, seen = on_terminal(
        ["staff", "add", "--db", str(db_path), "Awa Diallo", "--role", "volunteer"], ["2468", "2468"]
    )
    assert code == 0, seen
    assert "Code (4 à 8 chiffres" in seen and "encore une fois" in seen and "2468" not in seen
    with Store.open(db_path) as store:
        assert Staff(store).authenticate("2468")["name"] == "Awa Diallo"


def test_two_different_pins_typed_change_nothing(db_path):
    code, seen = on_terminal(
        ["staff", "add", "--db", str(db_path), "Awa Diallo", "--role", "volunteer"], ["2468", "2469"]
    )
    assert code == 2 and "les deux codes tapés sont différents" in seen
    if db_path.exists():
        with Store.open(db_path) as store:
            assert Staff(store).list() == []


def test_bad_input_is_named_with_exit_code_2(db_path):
    kiosk(
        "staff", "add", "--db", str(db_path), "Nadia Ferhat", "--role", "staff", "--pin-stdin", stdin="4821\n"
    )
    short = kiosk("staff", "add", "--db", str(db_path), "Léa", "--role", "staff", "--pin-stdin", stdin="12\n")
    assert short.returncode == 2 and "Erreur (pin) : Le code doit avoir de 4 à 8 chiffres." in short.stderr
    shared = kiosk(
        "staff", "add", "--db", str(db_path), "Léa", "--role", "staff", "--pin-stdin", stdin="4821\n"
    )
    assert shared.returncode == 2 and "déjà pris" in shared.stderr
    role = kiosk("staff", "add", "--db", str(db_path), "Léa", "--role", "boss", "--pin-stdin", stdin="5555\n")
    assert role.returncode == 2 and "--role" in role.stderr and "boss" in role.stderr
    nobody = kiosk("staff", "reset-pin", "--db", str(db_path), "Inconnu", "--pin-stdin", stdin="5555\n")
    assert nobody.returncode == 2 and "« Inconnu »" in nobody.stderr
    missing = kiosk("staff", "list", "--db", str(db_path.with_name("absent.db")))
    assert missing.returncode == 2 and "absent.db" in missing.stderr
    assert not db_path.with_name("absent.db").exists()


def test_the_help_is_in_english_and_the_messages_follow_the_locale(db_path):
    shown = kiosk("staff", "--help")
    assert shown.returncode == 0
    assert "usage: kiosk staff" in shown.stdout and "change a person's PIN" in shown.stdout
    added = kiosk(
        "staff",
        "add",
        "--db",
        db_path,
        "Nadia Ferhat",
        "--role",
        "staff",
        "--pin-stdin",
        stdin="4821\n",
        env={"LANG": "en_GB.UTF-8"},
    )
    assert added.returncode == 0, added.stderr
    assert "Nadia Ferhat added as staff" in added.stdout
