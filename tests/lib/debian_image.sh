# shellcheck shell=bash
#
# debian_image.sh - the tests' images without a container registry: the
# Debian base of scripts/debian_image.sh (gw_debian_image, gw_docker_build,
# ...), and
#
#   gw_postgres_image [NAME]    build compose/ci/Dockerfile.postgres, a
#                               postgres:15 stand-in, as NAME unless the engine
#                               has it (default gitweave-ci/postgres:15); saved
#                               in the cache and loaded by later runs
#
# The cache (GW_CI_CACHE) then also holds the saved postgres image, about
# 380 MB.

source "${GW_SOURCE_DIR:?GW_SOURCE_DIR is not set}/scripts/debian_image.sh"
GW_POSTGRES_IMAGE=${GW_POSTGRES_IMAGE:-gitweave-ci/postgres:15}

# gw_postgres_image [NAME]: the postgres:15 stand-in. Its inputs are only
# compose/ci/* and the base tarball, so a built image is saved in GW_CI_CACHE
# under a key of those and loaded on later runs instead of rebuilt.
gw_postgres_image() {
    local name=${1:-$GW_POSTGRES_IMAGE} src=${GW_SOURCE_DIR:?GW_SOURCE_DIR is not set}
    local tar key saved rc
    docker image inspect "$name" >/dev/null 2>&1 && return 0
    tar=$(gw_debian_rootfs_tar) || return 1
    key=$( {
        echo "$name"
        stat -c '%s %Y' "$tar"
        cat "$src/compose/ci/Dockerfile.postgres" "$src/compose/ci/postgres-entrypoint.sh"
    } | sha256sum | cut -c1-16)
    saved=$GW_CI_CACHE/postgres-image-$key.tar
    if [ -s "$saved" ] && docker load -q -i "$saved" >/dev/null &&
        docker image inspect "$name" >/dev/null 2>&1; then
        return 0
    fi
    gw_debian_image "$GW_DEBIAN_IMAGE" || return 1
    gw_docker_build --build-arg "BASE_IMAGE=$GW_DEBIAN_IMAGE" -t "$name" \
        -f "$src/compose/ci/Dockerfile.postgres" "$src/compose/ci" >/dev/null || return 1
    # Best effort: a failed save costs the next run a build, nothing else.
    (
        flock -w 600 9 || exit 0
        rm -f "$GW_CI_CACHE"/postgres-image-*.tar
        docker save -o "$saved.tmp" "$name" && mv -f "$saved.tmp" "$saved"
        rc=$?
        rm -f "$saved.tmp"
        exit $rc
    ) 9>"$GW_CI_CACHE/lock" ||
        echo "debian_image.sh: could not save $name to $saved (ignored)" >&2
    return 0
}
