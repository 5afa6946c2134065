#!/usr/bin/env bash
# Turn a Debian 12 / Raspberry Pi OS (bookworm) machine into an Accueil kiosk.
#
#   sudo packaging/linux/install.sh                 install from this source tree
#   sudo packaging/linux/install.sh --from accueil-0.1.0-py3-none-any.whl
#   packaging/linux/install.sh --dry-run            print what would be done
#   packaging/linux/install.sh --root /tmp/stage    lay the files out under a
#                                                   folder (tests, inspection)
#   sudo packaging/linux/install.sh --rotate 90     a screen mounted turned (a
#                                                   portrait totem): picture and
#                                                   touch turned together
#
# What it does: installs the system packages (cage, GL, fonts), creates the
# unprivileged `accueil` user, puts the application in its own virtualenv in
# /opt/accueil/venv, keeps the data in /var/lib/accueil, and enables the
# systemd units: the kiosk full screen at boot, the sync timer and the daily
# backup + retention purge. Running it again upgrades the application and
# keeps the data, /etc/accueil/kiosk.env and the rotation. The French guide
# is docs/installer-une-borne.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE_TREE=$(cd "$HERE/../.." && pwd)

APP_USER=accueil
APP_DIR=/opt/accueil
DATA_DIR=/var/lib/accueil
CONF_DIR=/etc/accueil
UNIT_DIR=/etc/systemd/system
UNITS=(accueil-kiosk.service accueil-sync.service accueil-sync.timer accueil-daily.service accueil-daily.timer)
ENABLE=(accueil-kiosk.service accueil-sync.timer accueil-daily.timer)
PACKAGES=(python3 python3-venv python3-pip cage xwayland dbus libegl1 libgl1 libgles2
          libgl1-mesa-dri libegl-mesa0 libmtdev1 fonts-noto-core fonts-droid-fallback
          fonts-material-design-icons-iconfont sqlite3 espeak-ng)

ROOT=""
DRY_RUN=0
WITH_APT=1
KEEP_DESKTOP=0
FROM=""
PIP_ARGS=()
ROTATE=0
ROTATE_GIVEN=0  # without --rotate, keep the rotation an earlier run set, if any
ROTATION_DROPIN=$UNIT_DIR/accueil-kiosk.service.d/rotation.conf
TOUCH_RULE=/etc/udev/rules.d/90-accueil-touch-rotation.rules

usage() {
    sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    cat <<'EOF'
Options:
  --from SOURCE     source tree, wheel file or pip requirement to install
                    (default: the source tree holding this script)
  --root DIR        install under DIR instead of /; skips apt, the user,
                    ownership and systemctl (they are printed instead)
  --dry-run         print every step, change nothing
  --no-apt          do not install Debian packages
  --keep-desktop    leave the desktop's display manager enabled
  --pip-args ARGS   extra arguments for pip (e.g. "--no-index --find-links DIR")
  --rotate ANGLE    a screen mounted turned by 90, 180 or 270 degrees: the
                    picture and the touchscreen turn together (kept across
                    upgrades); 0 puts them back upright
  -h, --help        this help
EOF
}

parse_args() {
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --from) FROM=${2:?--from needs a value}; shift 2 ;;
            --root) ROOT=$(realpath -m "${2:?--root needs a folder}"); shift 2 ;;
            --dry-run) DRY_RUN=1; shift ;;
            --no-apt) WITH_APT=0; shift ;;
            --keep-desktop) KEEP_DESKTOP=1; shift ;;
            --pip-args) read -r -a PIP_ARGS <<<"${2:?--pip-args needs a value}"; shift 2 ;;
            --rotate) ROTATE=${2?--rotate needs an angle: 90, 180 or 270 (0 to undo)}; ROTATE_GIVEN=1; shift 2 ;;
            -h|--help) usage; exit 0 ;;
            *) echo "install.sh: unknown option: $1 (see --help)" >&2; exit 2 ;;
        esac
    done
    if [[ -z "$FROM" ]]; then
        FROM=$SOURCE_TREE
    fi
    if [[ $ROTATE_GIVEN -eq 1 ]] && ! touch_matrix "$ROTATE" >/dev/null; then
        echo "install.sh: --rotate '$ROTATE' : l'angle doit être 90, 180 ou 270 (0 pour remettre l'écran droit)" >&2
        echo "install.sh: --rotate '$ROTATE': the angle must be 90, 180 or 270 (0 undoes it)" >&2
        exit 2
    fi
}

# say, run (--dry-run) and system (--root): shared by the install scripts
# shellcheck source=packaging/steps.sh
source "$(dirname "${BASH_SOURCE[0]}")/../steps.sh"

check_privileges() {
    if [[ -z "$ROOT" && $DRY_RUN -eq 0 && $(id -u) -ne 0 ]]; then
        echo "install.sh: run it as root (sudo), or with --dry-run / --root DIR" >&2
        exit 1
    fi
}

install_packages() {
    [[ $WITH_APT -eq 1 ]] || return 0
    say "Installing Debian packages"
    system apt-get update -qq
    system env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
}

create_user() {
    say "Creating the '$APP_USER' user"
    if [[ -z "$ROOT" ]] && id "$APP_USER" >/dev/null 2>&1; then
        echo "user $APP_USER exists"
    else
        system useradd --system --user-group --home-dir "$DATA_DIR" --shell /usr/sbin/nologin \
            --comment "Accueil kiosk" "$APP_USER"
    fi
    # the screen, GPU, touchscreen and sound card (« Écouter », espeak-ng),
    # for when logind does not hand them over
    local group
    for group in video render input audio; do
        if getent group "$group" >/dev/null; then
            system usermod -a -G "$group" "$APP_USER"
        fi
    done
}

make_folders() {
    say "Making $APP_DIR, $DATA_DIR and $CONF_DIR"
    run install -d -m 0755 "$ROOT$APP_DIR" "$ROOT$CONF_DIR" "$ROOT$UNIT_DIR" "$ROOT/etc/pam.d"
    # members' names live in the database: the kiosk user alone may read it
    run install -d -m 0700 "$ROOT$DATA_DIR" "$ROOT$DATA_DIR/backups" "$ROOT$DATA_DIR/kivy"
    system chown -R "$APP_USER:$APP_USER" "$DATA_DIR"
}

# pip builds a source tree in place, leaving build/ and accueil.egg-info/
# owned by root in what is often its owner's clone (their next `make run` or
# `pip install -e .` then fails). Build the wheel in a copy instead: the
# source tree is only read. Sets WHEEL.
BUILD_DIR=""
build_wheel() {
    local tree=$1 venv=$2
    say "Building a wheel of $tree in a temporary copy"
    if [[ $DRY_RUN -eq 1 ]]; then
        BUILD_DIR=/tmp/accueil-build.XXXXXX
        WHEEL="$BUILD_DIR/wheel/accueil-*.whl"
    else
        BUILD_DIR=$(mktemp -d -t accueil-build.XXXXXX)
        trap 'rm -rf "$BUILD_DIR"' EXIT
    fi
    run mkdir "$BUILD_DIR/src" "$BUILD_DIR/wheel"
    # what a build reads; not the clone's history, venv, builds or data
    run tar -C "$tree" --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist \
        --exclude=./demo --exclude='*.egg-info' --exclude=__pycache__ --exclude='*.db' \
        --exclude='*.db-wal' --exclude='*.db-shm' -cf "$BUILD_DIR/src.tar" .
    run tar -C "$BUILD_DIR/src" -xf "$BUILD_DIR/src.tar"
    run "$venv/bin/pip" wheel --quiet --disable-pip-version-check --no-deps "${PIP_ARGS[@]}" \
        --wheel-dir "$BUILD_DIR/wheel" "$BUILD_DIR/src"
    if [[ $DRY_RUN -eq 0 ]]; then
        WHEEL=$(echo "$BUILD_DIR"/wheel/accueil-*.whl)
    fi
}

install_app() {
    local venv="$ROOT$APP_DIR/venv" spec=$FROM wheel=""
    say "Installing Accueil from $FROM into $APP_DIR/venv"
    if [[ ! -x "$venv/bin/python" ]]; then
        run python3 -m venv "$venv"
    fi
    if [[ -d "$FROM" ]]; then
        build_wheel "$FROM" "$venv"
        wheel=$WHEEL
    elif [[ "$FROM" == *.whl ]]; then
        wheel=$FROM
    fi
    # a wheel gets the kiosk's UI extra; a requirement is used as given
    if [[ -n "$wheel" ]]; then
        spec="${wheel}[ui]"
    fi
    run "$venv/bin/pip" install --quiet --disable-pip-version-check "${PIP_ARGS[@]}" "$spec"
    if [[ -n "$wheel" ]]; then
        # pip keeps an installed wheel of the same version: replace it anyway
        run "$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps \
            "${PIP_ARGS[@]}" "$wheel"
    fi
    if [[ -d "$SOURCE_TREE/docs" ]]; then
        run install -d -m 0755 "$ROOT$APP_DIR/docs"
        run cp -r "$SOURCE_TREE/docs/." "$ROOT$APP_DIR/docs/"
    fi
}

install_config() {
    say "Installing the systemd units and their configuration"
    # keep a centre's own edits of kiosk.env across upgrades
    if [[ ! -e "$ROOT$CONF_DIR/kiosk.env" ]]; then
        run install -m 0644 "$HERE/kiosk.env" "$ROOT$CONF_DIR/kiosk.env"
    fi
    run install -m 0644 "$HERE/pam-accueil-kiosk" "$ROOT/etc/pam.d/accueil-kiosk"
    local unit
    for unit in "${UNITS[@]}"; do
        run install -m 0644 "$HERE/systemd/$unit" "$ROOT$UNIT_DIR/$unit"
    done
}

# The touchscreen's libinput calibration matrix for a picture turned by $1
# degrees: cage turns its output with one -r a quarter turn (the Wayland
# output transforms 90, 180, 270) and, for a touchscreen not tied to that
# output, leaves touches where the panel reports them. The matrix maps them
# as wlroots maps a touchscreen tied to a turned output (wlr_cursor's
# apply_output_transform), so a finger lands on what it touches.
touch_matrix() {
    case "$1" in
        0) echo "1 0 0 0 1 0" ;;
        90) echo "0 -1 1 1 0 0" ;;
        180) echo "-1 0 1 0 -1 1" ;;
        270) echo "0 1 0 -1 0 1" ;;
        *) return 1 ;;
    esac
}

# Write stdin into the file $1 (mode 0644), or print it in --dry-run mode.
write_file() {
    if [[ $DRY_RUN -eq 1 ]]; then
        printf '+ write %q:\n' "$1"
        sed 's/^/    /'
    else
        cat >"$1"
        chmod 0644 "$1"
    fi
}

# The picture through cage's -r (a systemd drop-in, so the shipped unit stays
# as it is) and the touchscreen through a udev rule that libinput reads when
# the device appears. A touchscreen tied to an output (udev WL_OUTPUT) is
# turned by wlroots itself: the rule leaves it alone.
rotate_screen() {
    [[ $ROTATE_GIVEN -eq 1 ]] || return 0
    if [[ $ROTATE -eq 0 ]]; then
        say "Putting the picture and the touchscreen upright"
        run rm -f "$ROOT$ROTATION_DROPIN" "$ROOT$TOUCH_RULE"
    else
        say "Turning the picture and the touchscreen by $ROTATE degrees"
        local flags="-r" turn
        for ((turn = 90; turn < ROTATE; turn += 90)); do
            flags+=" -r"
        done
        run install -d -m 0755 "$(dirname "$ROOT$ROTATION_DROPIN")" "$(dirname "$ROOT$TOUCH_RULE")"
        write_file "$ROOT$ROTATION_DROPIN" <<EOF
# Written by install.sh --rotate $ROTATE: cage turns the picture by $ROTATE degrees.
[Service]
Environment="ACCUEIL_CAGE_ROTATION=$flags"
EOF
        write_file "$ROOT$TOUCH_RULE" <<EOF
# Written by install.sh --rotate $ROTATE: touches turned with the picture.
ACTION=="add|change", SUBSYSTEM=="input", KERNEL=="event[0-9]*", ENV{ID_INPUT_TOUCHSCREEN}=="1", ENV{WL_OUTPUT}=="", ENV{LIBINPUT_CALIBRATION_MATRIX}="$(touch_matrix "$ROTATE")"
EOF
    fi
    if [[ -n "$ROOT" ]] || command -v udevadm >/dev/null; then
        system udevadm control --reload
        system udevadm trigger --subsystem-match=input --action=change
    fi
}

# The kernel blanks the console after 10 minutes unless told not to; cage
# itself never blanks. Raspberry Pi boots from cmdline.txt, a PC from GRUB.
screen_always_on() {
    local cmdline="$ROOT/boot/firmware/cmdline.txt"
    if [[ -f "$cmdline" ]] && ! grep -q 'consoleblank=' "$cmdline"; then
        say "Turning console blanking off in $cmdline"
        run sed -i '1s/$/ consoleblank=0/' "$cmdline"
    fi
    if [[ -f "$ROOT/etc/default/grub" ]]; then
        say "Turning console blanking off in GRUB"
        run install -d -m 0755 "$ROOT/etc/default/grub.d"
        run install -m 0644 "$HERE/grub-accueil.cfg" "$ROOT/etc/default/grub.d/accueil.cfg"
        if command -v update-grub >/dev/null; then
            system update-grub
        fi
    fi
}

enable_units() {
    say "Enabling the kiosk at boot, the sync and the daily jobs"
    system systemctl daemon-reload
    if [[ $KEEP_DESKTOP -eq 0 ]] && [[ -z "$ROOT" ]] && systemctl cat display-manager.service >/dev/null 2>&1; then
        # the kiosk is the only thing on screen: no desktop behind it
        system systemctl disable display-manager.service
    fi
    system systemctl set-default graphical.target
    system systemctl enable "${ENABLE[@]}"
    system systemctl start accueil-sync.timer accueil-daily.timer
}

main() {
    parse_args "$@"
    check_privileges
    install_packages
    create_user
    make_folders
    install_app
    install_config
    rotate_screen
    screen_always_on
    enable_units
    say "Done. Restart the machine (sudo reboot): the kiosk opens full screen."
    say "Data: $DATA_DIR  Program: $APP_DIR  Settings: $CONF_DIR/kiosk.env"
}

main "$@"
