#!/usr/bin/env bash
# Push to first line: from the start of `git push` to the first log line a
# live follower reads, local engine, idle worker.
#   tests/bench/push_first_line.sh [build-dir] [pushes]   (default 30)
# For each hook (HOOKS, default "program shell": gitweave-hook as
# hooks/post-receive, a symlink as the README installs it, and the shell
# fallback post-receive.sh) a bare repository, registered with its clone URL
# (so each run starts with its checkout), one template `echo built`; one
# worker (RUNNER_LOG_FLUSH_MS=500, the default). The pushes take turns
# between the hooks, so both see the same load. For each push
# (an empty commit, 0.5 s apart, the worker idle) push_first_line.py
# follows the run's first job from the moment the run is announced; the
# split comes from the rows (Postgres and the client share this host's
# clock):
#   hook         push start -> the run's created_at (git push, the hook up
#                to its POST, the API's insert)
#   pickup       created_at -> the first job's started_at (claim)
#   first chunk  started_at -> the created_at of the chunk at offset 0
#   delivery     that chunk's created_at -> the follower read it
# and the whole: push start -> the follower read the first line; also when
# `git push` returned (the hook prints the runs after its POST).
set -u
GW_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
GW_BUILD_DIR=$(cd "${1:-$GW_SOURCE_DIR/build}" && pwd)
N=${2:-30}
export GW_SOURCE_DIR GW_BUILD_DIR
source "$GW_SOURCE_DIR/tests/lib/postgres.sh"

gw_pg_start || exit 1
gw_api_start || exit 1
API_ROOT=${API%/api/v1}
gw_template quick '{"kind": "build", "jobs": [{"name": "b", "script": ["echo built"]}]}' || exit 1
HOOKS=${HOOKS:-program shell}
clone=$GW_TMP/clone
git init -q -b main "$clone"
git -C "$clone" config user.email bench@example.com
git -C "$clone" config user.name bench
git -C "$clone" commit -q --allow-empty -m first
gw_worker_start p1 RUNNER_LOG_FLUSH_MS=500
idle() { [ "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status IN ('queued', 'running')")" = 0 ]; }
for hook in $HOOKS; do
    bare=$GW_TMP/git/app-$hook.git
    git init -q --bare -b main "$bare"
    case $hook in
    program) ln -s "$GW_BUILD_DIR/gitweave-hook" "$bare/hooks/post-receive" ;;
    shell) install -m 755 "$GW_SOURCE_DIR/docs/examples/git-hooks/post-receive.sh" "$bare/hooks/post-receive" ;;
    *) echo "unknown hook $hook (program, shell)"; exit 1 ;;
    esac
    git -C "$bare" config gitweave.url "$API_ROOT"
    git -C "$bare" config gitweave.repo "app-$hook"
    api PUT "/repos/app-$hook" -H 'Content-Type: application/json' -d "{\"clone_url\": \"$bare\"}" >/dev/null
    api PUT "/repos/app-$hook/templates/quick" >/dev/null
    # A first push warms the clone, the workspace and the caches; not counted.
    git -C "$clone" push -q "$bare" main 2>/dev/null
    sleep 1
    wait_for 30 idle || { echo "the warm-up run did not finish"; exit 1; }
    [ "$(gw_psql -c "SELECT count(*) FROM pipeline_runs r JOIN repos p ON p.id = r.repo_id WHERE p.name = 'app-$hook'")" = 1 ] ||
        { echo "the $hook hook's warm-up push started no run"; exit 1; }
done
echo "## $(date -u '+%F %H:%M') UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $N pushes per hook ($HOOKS)"

for hook in $HOOKS; do : >"$GW_TMP/samples-$hook"; done
for i in $(seq "$N"); do
    for hook in $HOOKS; do
        git -C "$clone" commit -q --allow-empty -m "push $i"
        python3 "$GW_SOURCE_DIR/tests/bench/push_first_line.py" "$API_ROOT" "$clone" "$GW_TMP/git/app-$hook.git" \
            >>"$GW_TMP/samples-$hook" || { echo "push $i ($hook): no first line"; exit 1; }
        run=$(tail -n 1 "$GW_TMP/samples-$hook" | jq -r .run)
        wait_for 30 run_is_final "$run" || { echo "run $run did not finish"; exit 1; }
        sleep 0.5
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
for hook in $HOOKS; do
    echo
    echo "### $hook hook"
    echo "first line read: $(jq -r .line "$GW_TMP/samples-$hook" | sed 's/, run .*//' | sort | uniq -c | sed 's/^ *//' | tr '\n' ';')"

    # One row per push: the stages in ms.
    jq -r '[.run, .job, .push, .pushed, .first] | @tsv' "$GW_TMP/samples-$hook" | while IFS=$'\t' read -r run job push pushed first; do
        gw_psql -F ' ' -c "SELECT round(((extract(epoch FROM r.created_at) - $push) * 1000)::numeric, 1),
                round((extract(epoch FROM j.started_at - r.created_at) * 1000)::numeric, 1),
                round((extract(epoch FROM l.created_at - j.started_at) * 1000)::numeric, 1),
                round((($first - extract(epoch FROM l.created_at)) * 1000)::numeric, 1),
                round((($first - $push) * 1000)::numeric, 1),
                round((($pushed - $push) * 1000)::numeric, 1)
           FROM pipeline_runs r JOIN jobs j ON j.id = '$job' JOIN logs l ON l.job_id = j.id AND l.\"offset\" = 0
          WHERE r.id = '$run'"
    done >"$GW_TMP/rows"
    # pct FIELD P: the P-th percentile (nearest rank) of column FIELD.
    pct() { cut -d' ' -f"$1" "$GW_TMP/rows" | sort -n | awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i] }'; }
    printf '| stage | p50 ms | p90 ms | max ms |\n|---|---|---|---|\n'
    col=1
    for stage in "hook (push start -> run created)" "pickup (-> job started)" "first chunk (-> stored)" \
        "delivery (-> follower read it)" "**push start -> first line read**" "git push returned"; do
        printf '| %s | %s | %s | %s |\n' "$stage" "$(pct $col 50)" "$(pct $col 90)" "$(pct $col 100)"
        col=$((col + 1))
    done
done
