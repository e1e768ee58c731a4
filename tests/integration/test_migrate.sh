#!/usr/bin/env bash
# Integration test of `gitweave-api migrate`: idempotent, safe when run
# concurrently, and failing loudly; plus the command line of gitweave-api.
source "$GW_SOURCE_DIR/tests/lib/postgres.sh"

BIN=$GW_BUILD_DIR/gitweave-api
nmig=$(ls "$GW_SOURCE_DIR"/db/migrations/[0-9]*.sql | wc -l)

gw_log "command line"
"$BIN" --help >"$GW_TMP/help.out" 2>&1
expect_eq "--help exits 0" 0 "$?"
check "--help mentions migrate" grep -q migrate "$GW_TMP/help.out"
"$BIN" bogus >/dev/null 2>&1
expect_eq "unknown argument exits 2" 2 "$?"
GITWEAVE_API_MAX_BODY_BYTES=lots "$BIN" migrate >"$GW_TMP/cfg.out" 2>&1
expect_eq "configuration error exits 2" 2 "$?"
check "configuration error is reported" grep -q GITWEAVE_API_MAX_BODY_BYTES "$GW_TMP/cfg.out"

# gw_pg_start migrates once.
gw_pg_start || exit 1

gw_log "migrate twice"
expect_eq "schema_migrations after the first migrate" "$nmig" \
    "$(gw_psql -c 'SELECT count(*) FROM schema_migrations')"
check "0001 recorded" test "$(gw_psql -c "SELECT count(*) FROM schema_migrations WHERE name = '0001_init.sql'")" = 1
"$BIN" migrate >"$GW_TMP/again.out" 2>&1
expect_eq "second migrate exits 0" 0 "$?"
check "second migrate applies nothing" grep -q "applied=0" "$GW_TMP/again.out"
expect_eq "schema_migrations unchanged" "$nmig" "$(gw_psql -c 'SELECT count(*) FROM schema_migrations')"

gw_log "concurrent migrates on a fresh database"
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U gitweave fresh || exit 1
fresh="postgresql://gitweave@127.0.0.1:$PGPORT/fresh"
DATABASE_URL=$fresh "$BIN" migrate >"$GW_TMP/m1.out" 2>&1 &
p1=$!
DATABASE_URL=$fresh "$BIN" migrate >"$GW_TMP/m2.out" 2>&1 &
p2=$!
wait "$p1"
expect_eq "first concurrent migrate exits 0" 0 "$?"
wait "$p2"
expect_eq "second concurrent migrate exits 0" 0 "$?"
expect_eq "each migration applied once" "$nmig" \
    "$(psql -X -q -A -t -d "$fresh" -c 'SELECT count(*) FROM schema_migrations')"
expect_eq "the schema is there" 7 "$(psql -X -q -A -t -d "$fresh" -c "SELECT count(*) FROM information_schema.tables
    WHERE table_schema = 'public' AND table_name IN ('repos', 'templates', 'repo_templates',
    'runners', 'pipeline_runs', 'jobs', 'logs')")"
expect_eq "between them the two applied everything once" "$nmig" \
    "$(cat "$GW_TMP/m1.out" "$GW_TMP/m2.out" | grep -c 'applied migration')"

gw_log "failures"
DATABASE_URL="postgresql://gitweave@127.0.0.1:$PGPORT/no_such_db" "$BIN" migrate >"$GW_TMP/bad.out" 2>&1
rc=$?
check "migrate against a missing database fails" test "$rc" -ne 0
check "and says why" grep -q "could not connect" "$GW_TMP/bad.out"
mkdir -p "$GW_TMP/badmig"
cp "$GW_SOURCE_DIR"/db/migrations/*.sql "$GW_TMP/badmig/"
printf 'CREATE TABLE broken (;\n' >"$GW_TMP/badmig/9999_broken.sql"
GITWEAVE_MIGRATIONS_DIR=$GW_TMP/badmig "$BIN" migrate >"$GW_TMP/broken.out" 2>&1
rc=$?
check "a broken migration fails the command" test "$rc" -ne 0
check "the broken migration is named" grep -q 9999_broken.sql "$GW_TMP/broken.out"
expect_eq "a broken migration is not recorded" 0 \
    "$(gw_psql -c "SELECT count(*) FROM schema_migrations WHERE name = '9999_broken.sql'")"

gw_finish
