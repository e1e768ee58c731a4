# shellcheck shell=bash
#
# other_user.sh - a second, unprivileged local user for tests (source this).
#
#   gw_other_user NAME   create user NAME unless it exists (retrying while
#                        another process holds the passwd lock); prints
#                        nothing, returns non-zero when it cannot
#   as_other CMD...      run CMD as that user (runuser), after gw_other_user

GW_OTHER_USER=${GW_OTHER_USER:-}

gw_other_user() {
    local name=$1 i
    GW_OTHER_USER=$name
    for ((i = 0; i < 50; i++)); do
        id -u "$name" >/dev/null 2>&1 && return 0
        useradd -M -s /bin/sh "$name" 2>/dev/null && return 0
        sleep 0.2
    done
    id -u "$name" >/dev/null 2>&1
}

as_other() { runuser -u "$GW_OTHER_USER" -- "$@"; }
