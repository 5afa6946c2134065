# shellcheck shell=bash
# The steps' helpers of the install scripts (linux/install.sh, linux/uninstall.sh,
# hub/install-hub.sh), sourced by each; they set DRY_RUN and ROOT from their options.

say() { printf '==> %s\n' "$*"; }

# Run a command, or only print it in --dry-run mode.
run() {
    if [[ $DRY_RUN -eq 1 ]]; then
        printf '+'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}

# Commands that change the machine itself (packages, users, services):
# skipped with a note when staging under --root.
system() {
    if [[ -n "$ROOT" ]]; then
        printf 'skipped (--root):'; printf ' %q' "$@"; printf '\n'
    else
        run "$@"
    fi
}
