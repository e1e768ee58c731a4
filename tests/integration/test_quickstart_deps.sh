#!/usr/bin/env bash
# What the quickstart installs: only what building and running need, never
# the test tools (prometheus, clang, nodejs, npm packages, mmdebstrap,
# docker-compose), and nothing at all once it is installed, so a restart
# runs neither apt-get nor npm. scripts/deps.sh alone installs both. Checked
# by the commands run: apt-get, npm and sudo are shims on PATH that record
# their arguments; dpkg-query is a shim that says which packages are there.
source "$(dirname "$0")/../lib/postgres.sh"

SHIMS=$GW_TMP/shims CALLS=$GW_TMP/calls
mkdir -p "$SHIMS"
for tool in apt-get npm sudo; do
    printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$tool" "$CALLS" >"$SHIMS/$tool"
done
# dpkg-query: every package installed when $ALL_INSTALLED is 1, none otherwise.
cat >"$SHIMS/dpkg-query" <<'SH'
#!/bin/sh
[ "$ALL_INSTALLED" = 1 ] && printf 'install ok installed'
exit 0
SH
chmod +x "$SHIMS"/*
deps() { : >"$CALLS"; ALL_INSTALLED=$1 PATH=$SHIMS:$PATH bash "$GW_SOURCE_DIR/scripts/deps.sh" "${@:2}"; }
installed() { sed -n 's/^apt-get install .*--no-install-recommends //p' "$CALLS" | tr ' ' '\n'; }

deps 0 --runtime >"$GW_TMP/out" 2>&1
check "runtime, nothing there: apt-get installs" grep -q '^apt-get install' "$CALLS"
for p in build-essential cmake libpq-dev libevent-dev postgresql-15 git curl; do
    check "runtime installs $p" grep -qx "$p" <(installed)
done
for p in prometheus clang nodejs npm mmdebstrap docker-compose busybox-static; do
    check "runtime does not install $p" bash -c "! grep -qx '$p' <(sed -n 's/^apt-get install .*--no-install-recommends //p' '$CALLS' | tr ' ' '\n')"
done
check "runtime runs no npm" bash -c "! grep -q '^npm' '$CALLS'"

deps 1 --runtime >"$GW_TMP/out" 2>&1
expect_eq "runtime, everything there (a restart): no apt-get, no npm" "" "$(cat "$CALLS")"

deps 0 >"$GW_TMP/out" 2>&1
for p in build-essential prometheus clang nodejs mmdebstrap; do
    check "for the tests: installs $p" grep -qx "$p" <(installed)
done
check "for the tests: npm ci of the test tools" grep -q '^npm ci' "$CALLS"

# The quickstart asks for the runtime only.
check "the quickstart installs with --runtime" grep -q '^bash scripts/deps.sh --runtime$' \
    "$GW_SOURCE_DIR/scripts/quickstart.sh"

gw_finish
