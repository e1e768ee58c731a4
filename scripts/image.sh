#!/usr/bin/env bash
# Make a job image for the docker engine from Debian, without a registry:
# a minbase bookworm root filesystem made with mmdebstrap (from the Debian
# mirror this machine's apt uses) is imported as the base, the packages
# named are installed into it with apt, and a Dockerfile, when given, is
# built on top with `docker build`. Nothing is pulled.
#
#   scripts/image.sh NAME [PACKAGE...]
#       NAME: the base with these Debian packages (none: the base alone)
#   scripts/image.sh NAME [PACKAGE...] -f Dockerfile [CONTEXT]
#       then the Dockerfile (CONTEXT: its directory by default), built FROM
#       the image with the packages: write `ARG BASE_IMAGE` and
#       `FROM ${BASE_IMAGE}` (or FROM debian:bookworm-slim, which is there)
#
#   scripts/image.sh gitweave-job:cmake cmake g++ make git
#   RUNNER_DEFAULT_IMAGE=gitweave-job:cmake RUNNER_CONTAINER_ENGINE=docker build/gitweave-worker
#
# It talks to the engine of DOCKER_HOST (default unix:///var/run/docker.sock)
# with the docker command, and needs root for mmdebstrap the first time
# (installed with apt when missing). The root filesystem is cached in
# GITWEAVE_IMAGE_CACHE (default /var/cache/gitweave-images, about 80 MB) and
# made again after 14 days; the base is imported as debian:bookworm-slim
# (GITWEAVE_IMAGE_BASE) unless the engine has an image of that name. An
# image NAME that exists is built again (apt then fetches the packages
# again: the classic builder caches the layer only while the base is the
# same). See README.md, "Engines: where jobs run".
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
export GW_CI_CACHE=${GITWEAVE_IMAGE_CACHE:-/var/cache/gitweave-images}
export GW_DEBIAN_IMAGE=${GITWEAVE_IMAGE_BASE:-debian:bookworm-slim}
# shellcheck source=debian_image.sh
source "$SRC/scripts/debian_image.sh"

die() { echo "image.sh: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

name= dockerfile= context=
packages=()
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help) usage; exit 0 ;;
    -f) [ $# -ge 2 ] || die "-f needs a Dockerfile"
        dockerfile=$2; shift 2
        if [ $# -gt 0 ]; then context=$1; shift; fi
        [ $# = 0 ] || die "nothing may follow -f FILE [CONTEXT] (packages come before -f)"
        ;;
    -*) die "unknown option \"$1\" (see --help)" ;;
    *) if [ -z "$name" ]; then name=$1; else packages+=("$1"); fi; shift ;;
    esac
done
[ -n "$name" ] || { usage >&2; exit 2; }
# A reference as docker takes it: [registry/]path[:tag], lower case.
[[ $name =~ ^[a-z0-9]+([._/:-][a-z0-9]+)*$ ]] || die "\"$name\" is not an image name (lower case, e.g. gitweave-job:cmake)"
for p in "${packages[@]}"; do
    # Debian package names (and name=version): they go into a RUN line.
    [[ $p =~ ^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$ ]] || die "\"$p\" is not a Debian package name"
done
if [ -n "$dockerfile" ]; then
    [ -f "$dockerfile" ] || die "no Dockerfile \"$dockerfile\""
    context=${context:-$(dirname "$dockerfile")}
    [ -d "$context" ] || die "no build context directory \"$context\""
fi
command -v docker >/dev/null || die "no docker command (Debian: apt-get install docker.io)"
docker version >/dev/null 2>&1 || die "no Docker engine answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}"

echo "image.sh: base $GW_DEBIAN_IMAGE (minbase $GW_DEBIAN_SUITE, cached in $GW_CI_CACHE)" >&2
gw_debian_image "$GW_DEBIAN_IMAGE" || die "could not make the base image $GW_DEBIAN_IMAGE"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The packages' image: NAME itself, or the base of the Dockerfile.
with=$name
[ -z "$dockerfile" ] || with=$name-packages
if [ -z "$dockerfile" ] || [ ${#packages[@]} -gt 0 ]; then
    {
        echo 'ARG BASE_IMAGE'
        echo 'FROM ${BASE_IMAGE}'
        if [ ${#packages[@]} -gt 0 ]; then
            echo "RUN apt-get update && apt-get install -y --no-install-recommends ${packages[*]} && rm -rf /var/lib/apt/lists/*"
        fi
        echo 'WORKDIR /workspace'
    } >"$tmp/Dockerfile"
    echo "image.sh: $with: ${packages[*]:-(no packages)}" >&2
    gw_docker_build --build-arg "BASE_IMAGE=$GW_DEBIAN_IMAGE" -t "$with" "$tmp" >/dev/null ||
        die "could not build $with"
else
    with=$GW_DEBIAN_IMAGE
fi
if [ -n "$dockerfile" ]; then
    echo "image.sh: $name: docker build -f $dockerfile $context (BASE_IMAGE=$with)" >&2
    gw_docker_build --build-arg "BASE_IMAGE=$with" -t "$name" -f "$dockerfile" "$context" >/dev/null ||
        die "could not build $name from $dockerfile"
fi
echo "image.sh: $name is ready: RUNNER_DEFAULT_IMAGE=$name, or image: $name in a template" >&2
echo "$name"
