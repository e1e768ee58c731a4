# gw_initdb DATA LOG [AS_PG...]: DATA as `initdb` makes it for the tests
# (user gitweave, trust, UTF8, C.UTF-8), owned by whoever AS_PG runs as
# (`runuser -u postgres --` as root: initdb refuses root).
#
# initdb costs seconds (most of it its own sync, which a throwaway cluster
# does not need); a copy of its result costs a fraction of one. So the first
# call on a machine makes one cluster with `initdb -N` under a lock, in a
# folder keyed by the server's version and these options, and every call
# copies it. GW_INITDB_CACHE overrides the folder; a copy is taken only from
# a cluster whose initdb finished (the `ok` mark).
# shellcheck shell=bash
gw_initdb() {
    local data=$1 log=$2 version cache
    shift 2
    version=$("$PG_BIN/initdb" --version | awk '{ print $3 }')
    cache=${GW_INITDB_CACHE:-${TMPDIR:-/tmp}/gitweave-initdb-$(id -u)-$version-v1}
    gw_once "$cache" gw_initdb_make "$cache" "$log" "$@" || return 1
    cp -a "$cache/data" "$data"
}

gw_initdb_make() {
    local cache=$1 log=$2
    shift 2
    "$@" "$PG_BIN/initdb" -N -D "$cache/data" -U gitweave --auth=trust -E UTF8 \
        --locale=C.UTF-8 >"$log" 2>&1 || { cat "$log" >&2; return 1; }
}

# gw_once CACHE COMMAND...: unless CACHE/ok exists, COMMAND makes CACHE/data
# (CACHE owned by postgres when root runs it), once whatever number of
# callers wait for it under the lock file CACHE.lock; then CACHE/ok marks
# it made.
gw_once() {
    local cache=$1
    shift
    [ -e "$cache/ok" ] && return 0
    mkdir -p "$cache" || return 1
    (
        flock 9
        [ -e "$cache/ok" ] && exit 0
        rm -rf "$cache/data"
        [ "$(id -u)" = 0 ] && chown postgres "$cache"
        "$@" || exit 1
        touch "$cache/ok"
    ) 9>"$cache.lock"
}
