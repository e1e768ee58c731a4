#!/usr/bin/env bash
# Install what building and testing GitWeave Runner needs (Debian 12).
#   scripts/deps.sh            to build, run and test (the test tools too)
#   scripts/deps.sh --runtime  to build and run only (the quickstart): no
#                              test tools, no npm
# Packages already there are not installed again: with all of them there,
# neither apt-get nor npm runs.
set -euo pipefail
runtime=false
[ "${1:-}" = --runtime ] && runtime=true
# Building and running: the libraries, the compiler, Postgres, git, curl.
pkgs=(build-essential cmake pkg-config libpq-dev libevent-dev libcjson-dev uuid-dev
      check libyaml-dev libcurl4-openssl-dev libsodium-dev postgresql-15 postgresql-client-15 git curl jq python3
      ca-certificates)
# Testing: engines, images without a registry, fuzzing, metrics, OpenAPI
# checks, the web page's browser tests, and ninja (the tie test builds faster).
$runtime || pkgs+=(docker.io busybox-static docker-compose mmdebstrap
                   clang clang-format libclang-rt-14-dev prometheus nodejs chromium ninja-build)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
$runtime && exit 0
# npm comes with nodejs from some sources and as its own package in Debian's.
if ! command -v npm >/dev/null; then
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
fi
# The OpenAPI checks' tools (linter, YAML reader, JSON Schema validator) and
# playwright-core (drives chromium in the web page's tests), at the versions
# of tests/package-lock.json.
(cd "$(dirname "$0")/../tests" && npm ci --no-audit --no-fund --loglevel=error)
