# shellcheck shell=bash
#
# debian_image.sh - the tests' images without a container registry: the
# Debian base of scripts/debian_image.sh (gw_debian_image, gw_docker_build,
# ...), and
#
#   gw_build_cache DOCKERFILE...
#                               the base image GW_DEBIAN_IMAGE, and in the
#                               engine's build cache what each stage of the
#                               Dockerfiles does from its FROM through its
#                               first RUN (the apt-get install of its
#                               packages): saved in the cache by the first
#                               run (in the background), loaded by later ones
#   gw_build_cache_saved        wait for that save (before the engine stops);
#                               GW_BUILD_CACHE_SAVE=0 saves nothing (.ci/run)
#   gw_postgres_image [NAME]    build compose/ci/Dockerfile.postgres, a
#                               postgres:15 stand-in, as NAME unless the engine
#                               has it (default gitweave-ci/postgres:15)
#
# The cache (GW_CI_CACHE) then also holds those layers with the base they
# start from, one tarball of about 800 MB for the compose stack's images.

source "${GW_SOURCE_DIR:?GW_SOURCE_DIR is not set}/scripts/debian_image.sh"
GW_POSTGRES_IMAGE=${GW_POSTGRES_IMAGE:-gitweave-ci/postgres:15}
GW_BUILD_CACHE_REPO=gitweave-ci/build-cache

# gw_build_stages DIR DOCKERFILE...: each stage of the Dockerfiles from its
# FROM through the end of its first RUN, after the ARG lines before the first
# FROM, into DIR/stage.N, one file per distinct text (stages without a RUN
# left out).
gw_build_stages() {
    local dir=$1 f n=0 h
    shift
    for f in "$@"; do
        awk -v dir="$dir" -v first="$n" -v n="$n" '
            /^[ \t]*FROM[ \t]/ { n++; file = dir "/part." n; printf "%s", pre >file; state = 1 }
            state == 0 { if ($0 ~ /^[ \t]*ARG[ \t]/) pre = pre $0 "\n"; next }
            state == 1 || state == 2 {
                print >file
                if (state == 1 && $0 ~ /^[ \t]*RUN[ \t]/) state = 2
                if (state == 2 && $0 !~ /\\[ \t]*$/ && $0 !~ /^[ \t]*#/) { state = 3; close(file); ran[n] = 1 }
            }
            END { for (i = first + 1; i <= n; i++) if (!(i in ran)) print dir "/part." i; print n >(dir "/count") }
        ' "$f" | xargs -r rm -f || return 1
        n=$(cat "$dir/count")
    done
    rm -f "$dir/count"
    # One file per text, named by the order of the texts' hashes.
    n=0
    for h in $(sha256sum "$dir"/part.* | sort -u -k1,1 | awk '{ print $2 }'); do
        n=$((n + 1))
        mv "$h" "$dir/stage.$n"
    done
    rm -f "$dir"/part.*
}

# gw_cache_save SAVED IMAGE...: save the images into the cache file SAVED
# (replacing any other of its kind, SAVED with the key left out), best effort:
# a failed save costs the next run a build, nothing else.
gw_cache_save() {
    local saved=$1 rc
    shift
    (
        flock -w 600 9 || exit 0
        rm -f "${saved%-*}"-*.tar
        docker save -o "$saved.tmp" "$@" && mv -f "$saved.tmp" "$saved"
        rc=$?
        rm -f "$saved.tmp"
        exit $rc
    ) 9>"$GW_CI_CACHE/lock" ||
        echo "debian_image.sh: could not save $* to $saved (ignored)" >&2
    return 0
}

# gw_build_cache DOCKERFILE...: see above. The layers depend only on the base
# tarball and those lines, which make the key of the cache file. The saved
# images are the base and each stage's image with every image between them:
# `docker load` then restores the parent links that the classic builder's
# cache follows. Loaded only into an engine without GW_DEBIAN_IMAGE, whose
# name the load would take over; built there otherwise (or when nothing is
# saved yet) and saved.
gw_build_cache() {
    local tar dir key saved f tags=() ids=() id rc=0
    tar=$(gw_debian_rootfs_tar) || return 1
    dir=$(mktemp -d /tmp/gwc.XXXX) || return 1
    mkdir "$dir/empty"
    gw_build_stages "$dir" "$@" || { rm -rf "$dir"; return 1; }
    key=$( {
        echo "$GW_DEBIAN_IMAGE"
        stat -c '%s %Y' "$tar"
        cat "$dir"/stage.*
    } | sha256sum | cut -c1-16)
    saved=$GW_CI_CACHE/build-cache-$key.tar
    for f in "$dir"/stage.*; do tags+=("$GW_BUILD_CACHE_REPO:$key-${f##*.}"); done
    if ! docker image inspect "$GW_DEBIAN_IMAGE" >/dev/null 2>&1 && [ -s "$saved" ] &&
        docker load -q -i "$saved" >/dev/null && docker image inspect "${tags[@]}" >/dev/null 2>&1; then
        rm -rf "$dir"
        return 0
    fi
    gw_debian_image "$GW_DEBIAN_IMAGE" || { rm -rf "$dir"; return 1; }
    # The stages side by side: each mostly waits on apt's downloads and
    # dpkg's writes.
    local pids=()
    for f in "$dir"/stage.*; do
        gw_docker_build -t "$GW_BUILD_CACHE_REPO:$key-${f##*.}" -f "$f" "$dir/empty" \
            >"$f.log" 2>&1 &
        pids+=($!)
    done
    for id in "${pids[@]}"; do wait "$id" || rc=1; done
    [ "$rc" = 0 ] || tail -n 20 "$dir"/stage.*.log >&2
    rm -rf "$dir"
    [ "$rc" = 0 ] || return 1
    # GW_BUILD_CACHE_SAVE=0: nothing saved (a machine that runs the tests
    # once, as CI's, would load nothing of it; the save writes 800 MB).
    [ "${GW_BUILD_CACHE_SAVE:-1}" = 0 ] && return 0
    # The stages' images and their ancestors, down to the base.
    for f in "${tags[@]}"; do
        id=$(docker image inspect --format '{{.Id}}' "$f") || return 1
        while [ -n "$id" ]; do
            ids+=("$id")
            id=$(docker image inspect --format '{{.Parent}}' "$id") || return 1
        done
    done
    mapfile -t ids < <(printf '%s\n' "${ids[@]}" | sort -u)
    # In the background: the caller goes on with its builds meanwhile, and
    # waits with gw_build_cache_saved before its engine stops (a run that
    # stops it earlier just leaves the cache empty).
    gw_cache_save "$saved" "$GW_DEBIAN_IMAGE" "${tags[@]}" "${ids[@]}" &
    GW_BUILD_CACHE_SAVE_PID=$!
}

gw_build_cache_saved() {
    [ -n "${GW_BUILD_CACHE_SAVE_PID:-}" ] || return 0
    wait "$GW_BUILD_CACHE_SAVE_PID"
    GW_BUILD_CACHE_SAVE_PID=
}

# gw_postgres_image [NAME]: the postgres:15 stand-in. Its one costly step,
# the apt-get install of postgresql-15, is in the engine's build cache after
# gw_build_cache with compose/ci/Dockerfile.postgres among its files.
gw_postgres_image() {
    local name=${1:-$GW_POSTGRES_IMAGE} src=${GW_SOURCE_DIR:?GW_SOURCE_DIR is not set}
    docker image inspect "$name" >/dev/null 2>&1 && return 0
    gw_debian_image "$GW_DEBIAN_IMAGE" || return 1
    gw_docker_build --build-arg "BASE_IMAGE=$GW_DEBIAN_IMAGE" -t "$name" \
        -f "$src/compose/ci/Dockerfile.postgres" "$src/compose/ci" >/dev/null
}
