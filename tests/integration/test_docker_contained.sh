#!/usr/bin/env bash
# Jobs in containers are contained (a dockerd of the test's own, busybox):
# no new privileges, a reduced capability set (no mknod), a pids limit, the
# memory and CPU limits asked for; a setuid file a job leaves in its
# workspace is out of reach of other local users; a job printing without end
# leaves no log on the engine's disk and ends on its timeout on time.
source "$(dirname "$0")/../lib/postgres.sh"
source "$GW_SOURCE_DIR/tests/lib/dockerd.sh"
source "$GW_SOURCE_DIR/tests/lib/other_user.sh"

gw_other_user gwtest-other || { fail "could not create a second local user"; exit 1; }
IMAGE=gwtest-busybox
gw_dockerd_busybox "$IMAGE"
gw_pg_start
gw_api_start
export RUNNER_CONTAINER_ENGINE=docker RUNNER_DEFAULT_IMAGE=$IMAGE RUNNER_STOP_GRACE_SECONDS=1 \
    RUNNER_JOB_PIDS_LIMIT=64 RUNNER_JOB_MEMORY=64m RUNNER_JOB_CPUS=0.5
gw_worker_start d1
W=$GW_TMP/work/d1/docker

gw_template probe '{"kind": "test", "jobs": [{"name": "p", "script": [
  "grep -E \"^(CapEff|NoNewPrivs)\" /proc/self/status",
  "if mknod node c 1 3 2>/dev/null; then echo MKNOD-OK; else echo MKNOD-DENIED; fi",
  "cp /bin/busybox suid; chown 0:0 suid; chmod 4755 suid; echo SUID-MADE",
  "echo memory=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)",
  "echo cpu=$(cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)"]}]}' || exit 1
gw_template forker '{"kind": "test", "jobs": [{"name": "f", "timeout": 30, "script": [
  "i=0; while [ $i -lt 100 ]; do sleep 20 & i=$((i+1)); done", "echo ALL-STARTED"]}]}' || exit 1
gw_template chatty '{"kind": "test", "jobs": [{"name": "c", "timeout": 4, "script": [
  "yes gitweave-says-this-line-again-and-again-and-again-and-again-and-again"]}]}' || exit 1
for t in probe forker chatty; do gw_repo "$t" "$t" || exit 1; done

run=$(gw_trigger probe)
check "probe run finishes" wait_for 60 run_is_final "$run"
expect_eq "probe run succeeded" success "$(run_status "$run")"
log=$(gw_logs "$(api GET "/pipelines/runs/$run" | jq -r '.jobs[0].id')")
gw_log "probe said: $(tr '\n' ' ' <<<"$log")"
check "no new privileges" grep -Eq '^NoNewPrivs:[[:space:]]+1$' <<<"$log"
# CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID NET_BIND_SERVICE
expect_eq "reduced capability set" "00000000000004fb" "$(sed -n 's/^CapEff:[[:space:]]*//p' <<<"$log")"
check "mknod fails" grep -q MKNOD-DENIED <<<"$log"
check "no device node on the host" test ! -e "$W/$(gw_repo_id probe)/node"
check "the job made a setuid file" test -u "$W/$(gw_repo_id probe)/suid"
check "another local user cannot reach it" bash -c "! runuser -u gwtest-other -- test -e '$W/$(gw_repo_id probe)/suid'"
check "memory limit 64m" grep -q "^memory=67108864$" <<<"$log"
check "cpu limit 0.5" grep -Eq "^cpu=(50000|50000 100000)$" <<<"$log"

run=$(gw_trigger forker)
check "forker run finishes" wait_for 60 run_is_final "$run"
log=$(gw_logs "$(api GET "/pipelines/runs/$run" | jq -r '.jobs[0].id')")
expect_eq "the pids limit fails the forker" failed "$(run_status "$run")"
check "it could not start 100 processes" bash -c "! grep -q ALL-STARTED <<<\"\$1\"" _ "$log"
check "fork was refused ($(grep -m1 -i fork <<<"$log"))" grep -qi "fork" <<<"$log"

# A job that prints without end: nothing grows on the engine's disk, and its
# 4 s timeout (grace 1 s) ends it on time.
du_containers() { du -sb "$GW_DOCKERD_DIR/data/containers" | cut -f1; }
before=$(du_containers)
run=$(gw_trigger chatty)
job_running() { [ "$(gw_psql -c "SELECT status FROM jobs WHERE run_id = '$run'")" = running ]; }
check "chatty job starts" wait_for 30 job_running
max=0
for _ in $(seq 80); do
    n=$(du_containers)
    [ "$n" -gt "$max" ] && max=$n
    run_is_final "$run" && break
    sleep 0.2
done
check "chatty run finishes" wait_for 30 run_is_final "$run"
gw_log "engine's container directory: $before bytes before, at most $max during the chatty job"
check "the engine keeps no log of the job (grew $((max - before)) bytes < 1 MiB)" test $((max - before)) -lt 1048576
body=$(api GET "/pipelines/runs/$run")
expect_eq "chatty job failed on its timeout" "failed timed out after 4 s" "$(echo "$body" | jq -r '.jobs[0] | "\(.status) \(.error)"')"
secs=$(gw_psql -c "SELECT round(extract(epoch FROM ended_at - started_at)::numeric, 2) FROM jobs WHERE run_id = '$run'")
stored=$(gw_psql -c "SELECT coalesce(sum(octet_length(chunk)), 0) FROM logs l JOIN jobs j ON j.id = l.job_id WHERE j.run_id = '$run'")
gw_log "chatty job ran $secs s (timeout 4 s, grace 1 s); $stored bytes of its output stored"
# Without the timeout it would print for ever; 10 s is the room left for a
# loaded machine (tests run side by side), far below "for ever".
check "it ended on its timeout ($secs s <= 4 + 1 + 10)" awk "BEGIN{exit !($secs <= 15)}"
check "its output was read ($stored bytes)" test "$stored" -gt 100000

expect_eq "no container left behind" 0 "$(docker ps -aq | wc -l)"
gw_finish
