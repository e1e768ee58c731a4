#!/usr/bin/env bash
# Secrets end to end with the docker engine, on a dockerd of the test's own:
# the job's container gets the values its env names, its log has "***"
# wherever it printed one (raw, base64 at three alignments, URL and JSON
# forms, split across a flush, a multi-line value line by line), and no
# command line on the host holds the value while the job runs; the
# worker's debug log and the database hold none of it either.
source "$(dirname "$0")/../lib/postgres.sh"
source "$GW_SOURCE_DIR/tests/lib/dockerd.sh"
source "$GW_SOURCE_DIR/tests/lib/secrets.sh"

IMAGE=gwtest-busybox
gw_dockerd_busybox "$IMAGE"
gw_pg_start || exit 1
gw_secrets_keys || exit 1
gw_api_start || exit 1
export RUNNER_CONTAINER_ENGINE=docker RUNNER_DEFAULT_IMAGE=$IMAGE
gw_worker_start d1 RUNNER_SECRETS_KEY_FILE="$GW_TMP/secrets.key" GITWEAVE_LOG_LEVEL=debug

gw_secrets_template || exit 1
gw_repo app leak || exit 1
gw_secret_put /repos/app/secrets/DEPLOY_TOKEN "$GW_SECRET"
expect_eq "PUT a repo's secret: 204" 204 "$(status)"
gw_secret_put /secrets/MULTI "$GW_SECRET_ML"
expect_eq "PUT a global secret: 204" 204 "$(status)"

gw_secrets_run_leak app
cp "$GW_TMP/body" "$GW_TMP/replies"
gw_secrets_clean "the run's reply" "$GW_TMP/replies"
check "no container is left with the value in its environment" \
    test "$(docker ps -aq --filter "label=io.gitweave.run=$run" | wc -l)" = 0
gw_secrets_clean "the worker's log at debug level" "$GW_TMP/worker-d1.log"
pg_dump -d "$DATABASE_URL" >"$GW_TMP/dump.sql"
gw_secrets_clean "pg_dump of the database" "$GW_TMP/dump.sql"

gw_finish
