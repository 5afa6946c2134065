"""Packaging: the Linux installer run into a staging root, its systemd units
checked by systemd-analyze, the hub's units, database set-up, backup and
restore on a real PostgreSQL, the bundle and Android specs, and the user
data folder the kiosk uses when no --db is given."""

from __future__ import annotations

import ast
import configparser
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import kiosk
from kiosk import paths

REPO = Path(__file__).resolve().parent.parent
LINUX = REPO / "packaging" / "linux"
HUB = REPO / "packaging" / "hub"
KIOSK_UNITS = [
    "accueil-kiosk.service",
    "accueil-sync.service",
    "accueil-sync.timer",
    "accueil-daily.service",
    "accueil-daily.timer",
]
HUB_UNITS = [
    "accueil-hub@8081.service",
    "accueil-hub.target",
    "accueil-hub-backup.service",
    "accueil-hub-backup.timer",
    "accueil-hub-base-backup.service",
    "accueil-hub-base-backup.timer",
]
SHELL_SCRIPTS = sorted([*REPO.glob("packaging/**/*.sh"), *REPO.glob("docs/*.sh")])


def sh(*command: str | Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=300, **kwargs
    )
    if check and done.returncode:  # what the script said, in the failure
        raise AssertionError(f"{command[0]} exited {done.returncode}:\n{done.stderr}\n{done.stdout}")
    return done


def needs(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        pytest.skip(f"{tool} is not installed: run scripts/system-deps.sh test")
    return found


def make_verifiable(root: Path, *binaries: str) -> None:
    """systemd-analyze --root resolves everything inside the root: give it the
    host's own system units and the real programs the units start."""
    units = root / "usr/lib/systemd/system"
    if not units.exists():
        shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    for binary in binaries:
        target = root / binary.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, target)


def verify(root: Path, units: list[str]) -> subprocess.CompletedProcess:
    needs("systemd-analyze")
    return sh("systemd-analyze", "verify", "--man=no", f"--root={root}", *units, check=False)


# ---------------------------------------------------------------- the kiosk's installer


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """This source tree as a wheel, built once for every install below."""
    out = tmp_path_factory.mktemp("wheel")
    sh(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, REPO)
    return next(out.glob("accueil-*.whl"))


def install(root: Path, wheel: Path) -> subprocess.CompletedProcess:
    # a real venv and pip install; the dependencies are left out (a kiosk
    # gets them from PyPI), so the installed package is checked by metadata
    return sh(LINUX / "install.sh", "--root", root, "--from", wheel, "--pip-args", "--no-deps")


def installed_version(venv: Path) -> str:
    code = "import importlib.metadata as m; print(m.version('accueil'))"
    return sh(venv / "bin/python", "-c", code).stdout.strip()


@pytest.fixture(scope="module")
def kiosk_root(tmp_path_factory, wheel) -> tuple[Path, subprocess.CompletedProcess]:
    """install.sh --root into a staging folder that looks like a Raspberry Pi."""
    root = tmp_path_factory.mktemp("kiosk-root")
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/cmdline.txt").write_text("console=tty1 root=PARTUUID=1234 rootwait\n")
    return root, install(root, wheel)


def test_shell_scripts_pass_shellcheck():
    needs("shellcheck")
    assert SHELL_SCRIPTS, "no scripts found under packaging/"
    result = sh("shellcheck", "--severity=style", *SHELL_SCRIPTS, check=False)
    assert result.returncode == 0, result.stdout


def test_install_into_a_root_lays_out_program_data_and_units(kiosk_root):
    root, _ = kiosk_root
    assert installed_version(root / "opt/accueil/venv") == kiosk.__version__
    assert os.access(root / "opt/accueil/venv/bin/kiosk", os.X_OK)
    for unit in KIOSK_UNITS:
        assert (root / "etc/systemd/system" / unit).is_file()
    assert (root / "etc/pam.d/accueil-kiosk").is_file()
    env = (root / "etc/accueil/kiosk.env").read_text()
    assert "ACCUEIL_DATA_DIR=/var/lib/accueil" in env
    data = root / "var/lib/accueil"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert (data / "backups").is_dir()


def test_install_into_a_root_leaves_the_machine_itself_alone(kiosk_root):
    _, done = kiosk_root
    for step in ("apt-get install", "useradd", "chown", "systemctl enable"):
        assert any(
            line.startswith("skipped (--root):") and step in line for line in done.stdout.splitlines()
        ), step


def test_install_turns_console_blanking_off_on_a_raspberry_pi(kiosk_root):
    root, _ = kiosk_root
    cmdline = (root / "boot/firmware/cmdline.txt").read_text()
    assert cmdline == "console=tty1 root=PARTUUID=1234 rootwait consoleblank=0\n"


def test_kiosk_units_pass_systemd_analyze_verify(kiosk_root):
    root, _ = kiosk_root
    make_verifiable(root, "/usr/bin/cage")
    result = verify(root, KIOSK_UNITS)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_verify_reports_a_unit_whose_program_is_missing(kiosk_root, tmp_path):
    # the check above would be worthless if verify let this through
    root, _ = kiosk_root
    make_verifiable(root, "/usr/bin/cage")
    broken = root / "etc/systemd/system/accueil-broken.service"
    broken.write_text(
        (LINUX / "systemd/accueil-sync.service")
        .read_text()
        .replace("/opt/accueil/venv/bin/kiosk", "/opt/accueil/venv/bin/kiosque")
    )
    try:
        result = verify(root, ["accueil-broken.service"])
    finally:
        broken.unlink()
    assert result.returncode != 0
    assert "kiosque" in result.stderr


def test_kiosk_session_restarts_always_and_runs_as_the_kiosk_user():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(LINUX / "systemd/accueil-kiosk.service")
    service = unit["Service"]
    assert service["Restart"] == "always"
    assert service["User"] == "accueil"
    assert service["ExecStart"].startswith("/usr/bin/cage ")
    assert "kiosk run --db /var/lib/accueil/accueil.db" in service["ExecStart"]


def test_daily_job_backs_up_before_it_purges():
    text = (LINUX / "systemd/accueil-daily.service").read_text()
    starts = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    assert "kiosk backup --db /var/lib/accueil/accueil.db --to /var/lib/accueil/backups" in starts[0]
    assert "kiosk purge --db /var/lib/accueil/accueil.db" in starts[1]


def unit_commands(unit: str) -> list[list[str]]:
    """The kiosk command lines a unit runs, as argument lists."""
    text = (LINUX / "systemd" / unit).read_text()
    commands = []
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            words = line.removeprefix("ExecStart=").split()
            commands.append(words[words.index("/opt/accueil/venv/bin/kiosk") + 1 :])
    return commands


@pytest.mark.parametrize("unit", ["accueil-kiosk.service", "accueil-sync.service", "accueil-daily.service"])
def test_units_run_commands_the_kiosk_has(unit):
    from kiosk.cli import build_parser

    for command in unit_commands(unit):
        args = build_parser().parse_args(command)
        assert args.db == "/var/lib/accueil/accueil.db"


def test_daily_job_command_lines_back_up_then_purge_a_real_database(tmp_path):
    # the unit's own command lines, run against a demo centre in place of /var/lib/accueil
    from kiosk.core import demo

    data = tmp_path / "var-lib-accueil"
    (data / "backups").mkdir(parents=True)  # as install.sh makes it
    demo.build(data / "accueil.db", members=30, visits=40, seed=3)
    kiosk_cli = [sys.executable, "-m", "kiosk.cli"]
    for command in unit_commands("accueil-daily.service"):
        words = [word.replace("/var/lib/accueil", str(data)) for word in command]
        result = sh(*kiosk_cli, *words, check=False)
        assert result.returncode == 0, result.stderr
    backups = list((data / "backups").glob("*.db"))
    assert len(backups) == 1 and backups[0].stat().st_size > 0


@pytest.mark.slow
def test_reinstall_keeps_the_data_and_local_settings(tmp_path, wheel):
    root = tmp_path / "root"
    install(root, wheel)
    database = root / "var/lib/accueil/accueil.db"
    database.write_bytes(b"members and visits")
    env = root / "etc/accueil/kiosk.env"
    env.write_text(env.read_text() + "KIVY_ROTATION=90\n")
    program = next((root / "opt/accueil/venv/lib").glob("python3*/site-packages/kiosk/__init__.py"))
    program.write_text("broken = True\n")
    install(root, wheel)
    assert "__version__" in program.read_text(), "the upgrade left the old program in place"
    assert database.read_bytes() == b"members and visits"
    assert "KIVY_ROTATION=90" in env.read_text()

    sh(LINUX / "uninstall.sh", "--root", root)
    assert not (root / "opt/accueil").exists()
    assert not (root / "etc/systemd/system/accueil-kiosk.service").exists()
    assert database.read_bytes() == b"members and visits"

    sh(LINUX / "uninstall.sh", "--root", root, "--purge-data")
    assert not (root / "var/lib/accueil").exists()


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path):
    root = tmp_path / "root"
    done = sh(LINUX / "install.sh", "--dry-run", "--root", root)
    assert not root.exists()
    assert "+ python3 -m venv " in done.stdout
    assert "accueil-kiosk.service" in done.stdout


def tree_state(tree: Path) -> dict[str, tuple[int, int, int, int]]:
    """Every path under ``tree`` with its owner, group, mode and mtime (a
    folder's mtime moves when anything is made or removed in it)."""
    state = {}
    for path in [tree, *tree.rglob("*")]:
        info = path.lstat()
        state[str(path.relative_to(tree))] = (info.st_uid, info.st_gid, info.st_mode, info.st_mtime_ns)
    return state


@pytest.mark.skipif(os.geteuid() != 0, reason="the installer runs as root on someone else's clone")
def test_install_as_root_leaves_the_owners_clone_as_it_was(tmp_path):
    # the owner's clone: this tree's files (committed or not), owned by someone else
    clone = tmp_path / "clone"
    listed = sh("git", "-C", REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, clone / name)
    sh("chown", "-R", "nobody:nogroup", clone)
    before = tree_state(clone)

    root = tmp_path / "root"
    # no --from: the clone's own source tree, as `sudo packaging/linux/install.sh` runs
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    done = sh(
        clone / "packaging/linux/install.sh",
        "--root",
        root,
        "--pip-args",
        "--no-deps",
        env={**os.environ, "TMPDIR": str(temporary)},
    )
    assert installed_version(root / "opt/accueil/venv") == kiosk.__version__

    assert not list(clone.glob("build")) and not list(clone.rglob("*.egg-info"))
    assert tree_state(clone) == before
    assert "temporary copy" in done.stdout
    assert not list(temporary.iterdir()), "the temporary copy was left behind"


# Where wlroots puts a touch (x, y in 0..1 of the panel) on an output turned
# by the Wayland transform 90, 180 or 270, for a touchscreen tied to that
# output (wlr_cursor.c, apply_output_transform, wlroots 0.11 and later).
WLROOTS_TOUCH = {90: lambda x, y: (1 - y, x), 180: lambda x, y: (1 - x, 1 - y), 270: lambda x, y: (y, 1 - x)}
ROTATION_DROPIN = "etc/systemd/system/accueil-kiosk.service.d/rotation.conf"
TOUCH_RULE = "etc/udev/rules.d/90-accueil-touch-rotation.rules"


def udev_assignments(rule: str) -> tuple[dict[str, str], dict[str, str]]:
    """The rule's matches (==) and assignments (=)."""
    lines = [line for line in rule.splitlines() if line and not line.startswith("#")]
    assert len(lines) == 1
    matches, assigned = {}, {}
    for part in lines[0].split(", "):
        key, op, value = part.partition("==") if "==" in part else part.partition("=")
        (matches if op == "==" else assigned)[key] = value.strip('"')
    return matches, assigned


@pytest.mark.slow
def test_rotate_turns_the_picture_and_the_touch_together_and_is_kept_until_undone(tmp_path, wheel):
    root = tmp_path / "root"
    # what the kiosk's unit does with the drop-in: cage's -r, once a quarter turn
    service = (LINUX / "systemd/accueil-kiosk.service").read_text()
    assert "/usr/bin/cage -d -s $ACCUEIL_CAGE_ROTATION -- " in service
    for angle in (90, 180, 270):
        done = sh(
            LINUX / "install.sh",
            "--root",
            root,
            "--from",
            wheel,
            "--pip-args",
            "--no-deps",
            "--rotate",
            str(angle),
        )
        dropin = (root / ROTATION_DROPIN).read_text()
        assert f'Environment="ACCUEIL_CAGE_ROTATION={" ".join(["-r"] * (angle // 90))}"' in dropin
        matches, assigned = udev_assignments((root / TOUCH_RULE).read_text())
        assert matches == {
            "ACTION": "add|change",
            "SUBSYSTEM": "input",
            "KERNEL": "event[0-9]*",
            "ENV{ID_INPUT_TOUCHSCREEN}": "1",
            "ENV{WL_OUTPUT}": "",
        }
        a, b, c, d, e, f = map(float, assigned["ENV{LIBINPUT_CALIBRATION_MATRIX}"].split())
        for x, y in [(0, 0), (1, 0), (0, 1), (1, 1), (0.25, 0.1)]:
            assert (a * x + b * y + c, d * x + e * y + f) == pytest.approx(WLROOTS_TOUCH[angle](x, y)), (
                angle,
                x,
                y,
            )
        assert "skipped (--root): udevadm trigger --subsystem-match=input --action=change" in done.stdout
    make_verifiable(root, "/usr/bin/cage")
    verified = verify(root, ["accueil-kiosk.service"])
    assert verified.returncode == 0 and verified.stderr.strip() == "", verified.stderr

    install(root, wheel)  # an upgrade keeps the screen as it is mounted
    assert "-r -r -r" in (root / ROTATION_DROPIN).read_text()
    assert (root / TOUCH_RULE).exists()
    plan = sh(LINUX / "uninstall.sh", "--root", root, "--dry-run").stdout
    assert f"rm -f {root / TOUCH_RULE}" in plan
    assert f"rm -rf {(root / ROTATION_DROPIN).parent}" in plan
    sh(LINUX / "install.sh", "--root", root, "--from", wheel, "--pip-args", "--no-deps", "--rotate", "0")
    assert not (root / ROTATION_DROPIN).exists() and not (root / TOUCH_RULE).exists()


@pytest.mark.parametrize("angle", ["45", "-90", "360", "", "90x", "quatre-vingt-dix"])
def test_rotate_refuses_an_angle_it_cannot_turn_to(tmp_path, angle):
    root = tmp_path / "root"
    result = sh(LINUX / "install.sh", "--root", root, "--rotate", angle, check=False)
    assert result.returncode == 2
    assert f"--rotate '{angle}' : l'angle doit être 90, 180 ou 270" in result.stderr
    assert not root.exists(), "nothing is installed with a wrong angle"


def test_installer_refuses_an_unknown_option():
    result = sh(LINUX / "install.sh", "--prefix", "/tmp/x", check=False)
    assert result.returncode == 2
    assert "unknown option: --prefix" in result.stderr


# ---------------------------------------------------------------- the hub


@pytest.fixture(scope="module")
def hub_root(tmp_path_factory, wheel) -> Path:
    root = tmp_path_factory.mktemp("hub-root")
    sh(HUB / "install-hub.sh", "--root", root, "--from", wheel, "--pip-args", "--no-deps", "--processes", "3")
    return root


def test_hub_install_lays_out_units_scripts_and_config(hub_root):
    assert installed_version(hub_root / "opt/accueil-hub/venv") == kiosk.__version__
    assert os.access(hub_root / "opt/accueil-hub/venv/bin/federation", os.X_OK)
    for script in ("backup.sh", "restore.sh", "archive-wal.sh", "base-backup.sh", "restore-pitr.sh"):
        assert (hub_root / "opt/accueil-hub/packaging" / script).stat().st_mode & stat.S_IXUSR
    assert (hub_root / "var/backups/accueil-hub/wal").is_dir()
    assert "FEDERATION_DB=postgresql://" in (hub_root / "etc/accueil-hub/hub.env").read_text()
    for unit in ("accueil-hub@.service", "accueil-hub.target", "accueil-hub-backup.timer"):
        assert (hub_root / "etc/systemd/system" / unit).is_file()


def test_hub_units_pass_systemd_analyze_verify(hub_root):
    make_verifiable(hub_root)
    result = verify(hub_root, HUB_UNITS)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_hub_unit_runs_a_serve_the_hub_has():
    from federation.cli import build_parser

    line = next(
        line
        for line in (HUB / "accueil-hub@.service").read_text().splitlines()
        if line.startswith("ExecStart=")
    )
    words = line.replace("%i", "8081").split()
    assert words[0] == "ExecStart=/opt/accueil-hub/venv/bin/federation"
    args = build_parser().parse_args(words[1:])
    assert (args.command, args.host, args.port, args.db) == ("serve", "127.0.0.1", 8081, None)


def test_proxies_send_to_every_hub_port():
    caddy = (HUB / "Caddyfile").read_text()
    nginx = (HUB / "nginx-accueil-hub.conf").read_text()
    for port in (8081, 8082):
        assert f"127.0.0.1:{port}" in caddy
        assert f"server 127.0.0.1:{port}" in nginx
    assert "health_uri /api/v1/health" in caddy
    assert "listen 443 ssl" in nginx


def test_nginx_site_parses_in_the_http_context(tmp_path):
    # crossplane is nginx's own parser in Python: directive names, where each
    # may appear and how many arguments it takes
    crossplane = pytest.importorskip("crossplane")
    main_conf = tmp_path / "nginx.conf"
    main_conf.write_text(f"events {{}}\nhttp {{\n    include {HUB / 'nginx-accueil-hub.conf'};\n}}\n")
    result = crossplane.parse(str(main_conf), check_ctx=True, check_args=True)
    assert result["errors"] == []
    site = result["config"][1]["parsed"]
    assert [d["directive"] for d in site] == ["upstream", "server", "server"]


@pytest.mark.postgres
def test_postgres_setup_backup_and_restore_round_trip(postgres_cluster, tmp_path):
    from tests.conftest_hub import run_federation

    superuser = postgres_cluster.url()
    sh(
        "psql",
        "--quiet",
        "-v",
        "ON_ERROR_STOP=1",
        "-v",
        "role=hub_owner",
        "-v",
        "dbname=hub_restore",
        "-v",
        "password=s3cret-pass",
        "-f",
        HUB / "postgres-setup.sql",
        superuser,
    )
    hub_url = f"postgresql://hub_owner:s3cret-pass@127.0.0.1:{postgres_cluster.port}/hub_restore"
    run_federation("add-centre", "Centre social Les Tilleuls", "--json", db_url=hub_url)

    backups = tmp_path / "backups"
    dump = Path(sh(HUB / "backup.sh", "--db", hub_url, "--to", backups, "--keep", "2").stdout.strip())
    assert dump.is_file() and not list(backups.glob("*.partial"))

    run_federation("add-centre", "Centre social Après la sauvegarde", db_url=hub_url)
    sh(HUB / "restore.sh", "--db", hub_url, "--yes", dump)
    listing = run_federation("list-centres", db_url=hub_url).stdout
    assert "Tilleuls" in listing and "Après la sauvegarde" not in listing


@pytest.mark.postgres
def test_backup_keeps_only_the_newest_dumps(postgres_cluster, tmp_path):
    database = postgres_cluster.new_database()
    backups = tmp_path / "backups"
    for stamp in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z"):
        (backups).mkdir(exist_ok=True)
        (backups / f"hub-{stamp}.dump").write_bytes(b"old")
    newest = Path(sh(HUB / "backup.sh", "--db", database, "--to", backups, "--keep", "2").stdout.strip())
    assert sorted(p.name for p in backups.iterdir()) == ["hub-20260103T000000Z.dump", newest.name]


def test_restore_refuses_a_file_that_is_not_a_dump(tmp_path):
    needs("pg_restore")
    fake = tmp_path / "hub.dump"
    fake.write_text("not a dump")
    result = sh(
        HUB / "restore.sh", "--db", "postgresql://nobody@127.0.0.1:1/none", "--yes", fake, check=False
    )
    assert result.returncode == 2
    assert "not a pg_dump custom-format file" in result.stderr


@pytest.mark.slow
@pytest.mark.postgres
def test_several_hub_processes_start_together_on_one_database(postgres_cluster, tmp_path):
    # what accueil-hub@8081 and @8082 do after an upgrade: both migrate at once
    from tests.conftest_hub import start_hub

    database = postgres_cluster.new_database()
    servers, errors = [], []

    def start() -> None:
        try:
            servers.append(start_hub(database, tmp_path))
        except Exception as error:  # noqa: BLE001 - reported below, with the hub's log
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors, errors
        first, second = servers
        device = first.new_device()
        with second.client(device["device_token"]) as client:
            assert client.get("/api/v1/status").status_code == 200
    finally:
        for server in servers:
            server.stop()


# ---------------------------------------------------------------- bundle and Android specs


def test_pyinstaller_spec_is_python_naming_the_kiosk_entry_point():
    spec = REPO / "packaging/pyinstaller/accueil-kiosk.spec"
    tree = ast.parse(spec.read_text())
    names = {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
    }
    assert names["NAME"] == "accueil-kiosk"
    entry = spec.parent / names["ENTRY_POINT"]
    assert "from kiosk.cli import main" in entry.read_text()
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert {"Analysis", "EXE", "COLLECT", "collect_data_files"} <= calls


def test_buildozer_spec_parses_and_names_the_kiosk_requirements():
    spec = configparser.ConfigParser(interpolation=None)
    spec.read(REPO / "packaging/android/buildozer.spec")
    app = spec["app"]
    assert app["version"] == kiosk.__version__
    requirements = {item.split("==")[0].strip().lower() for item in app["requirements"].split(",")}
    # the core dependencies and the UI's, as pyproject names them (less zxing-cpp: no recipe)
    assert {
        "python3",
        "kivy",
        "sqlite3",
        "sqlite-utils",
        "requests",
        "urllib3",
        "qrcode",
        "pillow",
        "babel",
        "fpdf2",
        "platformdirs",
        "arabic-reshaper",
        "python-bidi",
    } <= requirements
    assert "CAMERA" in app["android.permissions"] and "INTERNET" in app["android.permissions"]


# ---------------------------------------------------------------- guides

GUIDES = ["installer-une-borne.md", "guide-benevoles.md", "guide-salaries.md", "deploy-hub.md"]


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_images_exist(guide):
    import re

    text = (REPO / "docs" / guide).read_text()
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (REPO / "docs" / image).is_file(), image


@pytest.mark.parametrize("guide", GUIDES)
def test_guides_name_only_commands_that_exist(guide):
    # a guide must not send a volunteer to a command the kiosk does not have
    import re

    from kiosk.cli import build_parser

    commands = set(build_parser()._subparsers._group_actions[0].choices)
    text = (REPO / "docs" / guide).read_text()
    # commands are written as code (a span or a block); prose may say « each kiosk has… »
    code = re.findall(r"```[^\n]*\n(.*?)```", text, re.S) + re.findall(r"`([^`\n]+)`", text)
    named = set(re.findall(r"\bkiosk (?!--)([a-z]+)\b", "\n".join(code)))
    assert named <= commands, named - commands


# ---------------------------------------------------------------- where data lives


def test_data_dir_follows_the_environment_override(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "data"))
    assert paths.default_db() == tmp_path / "data" / "accueil.db"
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700


def test_data_dir_defaults_to_the_user_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert paths.default_db() == tmp_path / "share" / "accueil" / "accueil.db"
    assert paths.backups_dir() == tmp_path / "share" / "accueil" / "backups"
    assert Path(sys.executable).parent not in paths.default_db().parents


def test_data_dir_can_be_named_without_being_made(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "later"))
    paths.default_db(create=False)
    assert not (tmp_path / "later").exists()


# ---------------------------------------------------------------- the bundle itself

# CI builds the bundle; a developer in a hurry may skip its ~2 minutes
bundle_only = pytest.mark.skipif(
    bool(os.environ.get("ACCUEIL_SKIP_BUNDLE")), reason="ACCUEIL_SKIP_BUNDLE is set: the bundle is not built"
)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The one-folder bundle, built by PyInstaller from the spec; in a folder
    every user may read, since the cage test runs it as `nobody`."""
    pytest.importorskip("PyInstaller")
    work = tmp_path_factory.mktemp("bundle-build")
    dist = Path(os.environ.get("ACCUEIL_BUNDLE_DIST") or tempfile.mkdtemp(prefix="accueil-bundle-"))
    dist.mkdir(parents=True, exist_ok=True)
    dist.chmod(0o755)
    sh(
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        dist,
        "--workpath",
        work,
        REPO / "packaging/pyinstaller/accueil-kiosk.spec",
    )
    yield dist / "accueil-kiosk"
    if not os.environ.get("ACCUEIL_BUNDLE_DIST"):
        shutil.rmtree(dist, ignore_errors=True)


@pytest.mark.slow
@bundle_only
def test_bundle_builds_and_draws_the_home_screen_offscreen(bundle, tmp_path):
    program = bundle / "accueil-kiosk"
    assert sh(program, "--version").stdout.strip() == f"Accueil {kiosk.__version__}"

    database = tmp_path / "demo.db"
    sh(program, "demo", "--db", database, "--members", "20", "--visits", "30")
    out = tmp_path / "home.png"
    sh(program, "screenshot", "--db", database, "--out", out, cwd=tmp_path)
    from PIL import Image

    with Image.open(out) as image:
        assert image.size == (1280, 800)
        # a drawn screen, not a blank one
        assert len(set(image.convert("RGB").getdata())) > 50
    assert not list(bundle.rglob("*.db")), "data written beside the program"


@pytest.mark.slow
@bundle_only
def test_bundle_runs_full_screen_under_cage_as_an_unprivileged_user(bundle):
    """What accueil-kiosk.service does, short of systemd: cage (headless
    wlroots backend, no screen needed) runs `run` with no --db as a user who
    is not root; the kiosk must reach its main loop, stay up, and make its
    database in the user data folder."""
    needs("cage")
    if not shutil.which("Xwayland"):
        pytest.skip("Xwayland is not installed: run scripts/system-deps.sh test")
    home = Path(tempfile.mkdtemp(prefix="accueil-cage-"))
    try:
        shutil.chown(home, "nobody")
        log = home / "kiosk.log"
        env = {
            "PATH": "/usr/bin:/bin",
            "XDG_RUNTIME_DIR": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "KIVY_HOME": str(home / "kivy"),
            "WLR_BACKENDS": "headless",
            "WLR_RENDERER": "pixman",
            "WLR_LIBINPUT_NO_DEVICES": "1",
            "LANG": "C.UTF-8",
        }
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [
                    "runuser",
                    "-u",
                    "nobody",
                    "--",
                    "env",
                    "-i",
                    *(f"{k}={v}" for k, v in env.items()),
                    "cage",
                    "-d",
                    "--",
                    str(bundle / "accueil-kiosk"),
                    "run",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "Start application main loop" not in log.read_text(
                errors="replace"
            ):
                assert process.poll() is None, log.read_text(errors="replace")
                time.sleep(0.5)
            time.sleep(5)  # the screens load in the background: they must not crash it
            text = log.read_text(errors="replace")
            assert process.poll() is None, text
            assert "Start application main loop" in text
            assert "Traceback" not in text, text
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        assert (home / "data" / "accueil" / "accueil.db").is_file()
        assert not list(bundle.rglob("*.db")), "data written beside the program"
    finally:
        shutil.rmtree(home, ignore_errors=True)
