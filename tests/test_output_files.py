"""`kiosk export` and `kiosk cards` write only a whole regular file: a full or
read-only disk is a French message (no traceback), and a target that is a
device, a fifo, a folder or a link is refused and left as it was.

The full and read-only disks are real: small tmpfs mounts (root only)."""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from pathlib import Path

import centre_rows as rows
import pytest

from kiosk.core import card_print, exports
from kiosk.core.errors import InvalidInput
from tests.helpers import kiosk

COMMANDS = {
    "export": lambda db, out: ("export", "--db", db, "--what", "members", "--out", out),
    "cards": lambda db, out: ("cards", "--db", db, "--out", out),
}


@pytest.fixture
def centre_db(store, db_path):
    rows.fill(store)
    store.close()
    return db_path


def _mount(where: Path, options: str) -> None:
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")


@pytest.fixture
def disk(tmp_path):
    """A 64 kB file system; unmounted afterwards."""
    where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    _mount(where, "size=64k,mode=0777")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def fill_up(disk: Path) -> None:
    with open(disk / "filler", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
                os.fsync(handle.fileno())
        except OSError:
            pass


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_full_disk_is_explained_in_french_and_the_old_file_stays_whole(command, centre_db, disk):
    out = disk / ("sortie.csv" if command == "export" else "cartes.pdf")
    out.write_bytes(b"the previous file")
    fill_up(disk)
    done = kiosk(*COMMANDS[command](centre_db, out))
    assert done.returncode == 2, done.stderr
    assert "n'a pas pu être écrit" in done.stderr and "pleine" in done.stderr and str(out) in done.stderr
    assert "Traceback" not in done.stderr
    assert out.read_bytes() == b"the previous file"
    assert sorted(p.name for p in disk.iterdir()) == sorted(["filler", out.name])  # no temporary file left


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_read_only_disk_is_explained_in_french(command, centre_db, disk):
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    done = kiosk(*COMMANDS[command](centre_db, disk / "sortie"))
    assert done.returncode == 2 and "n'a pas pu être écrit" in done.stderr and "protégée" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(disk.iterdir()) == []


def _device(tmp_path: Path) -> Path:
    """A null device node of the test's own (never the real /dev/null: a
    faulty writer would replace it for the whole machine)."""
    node = tmp_path / "null-device"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    return node


def _targets(tmp_path: Path) -> dict[str, Path]:
    fifo = tmp_path / "tube"
    os.mkfifo(fifo)
    folder = tmp_path / "dossier"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("someone else's file")
    link = tmp_path / "lien.csv"
    link.symlink_to(elsewhere)
    return {"device": _device(tmp_path), "fifo": fifo, "folder": folder, "symlink": link}


def _state(path: Path) -> tuple:
    info = os.lstat(path)
    return stat.S_IFMT(info.st_mode), info.st_rdev, info.st_ino


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("kind", ["device", "fifo", "folder", "symlink"])
def test_a_target_that_is_not_a_regular_file_is_refused_and_left_alone(command, kind, centre_db, tmp_path):
    target = _targets(tmp_path)[kind]
    before = _state(target)
    done = kiosk(*COMMANDS[command](centre_db, target))
    assert done.returncode == 2 and "n'est pas un fichier ordinaire" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert _state(target) == before
    assert (tmp_path / "elsewhere.txt").read_text() == "someone else's file"
    assert not [p for p in target.parent.iterdir() if p.name.startswith(f".{target.name}.")]


def test_a_regular_file_is_replaced_and_a_new_path_created(store, tmp_path):
    rows.fill(store)
    old = tmp_path / "adherents.csv"
    old.write_text("old export")
    assert exports.export_members(store, old) > 0 and "Prénom" in old.read_text(encoding="utf-8-sig")
    assert card_print.cards_pdf(store, tmp_path / "new.pdf") > 0
    assert (tmp_path / "new.pdf").read_bytes().startswith(b"%PDF")


def test_the_library_refuses_a_device_before_writing_anything(store, tmp_path):
    rows.fill(store)
    device = _device(tmp_path)
    with pytest.raises(InvalidInput) as refused:
        exports.export_visits(store, device)
    assert refused.value.field == "out_path" and str(device) in refused.value.message_fr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "kiosk.db",
        "kiosk.db-shm",
        "kiosk.db-wal",
        "null-device",
    ]
    assert stat.S_ISCHR(os.lstat(device).st_mode)
