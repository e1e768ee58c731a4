#!/usr/bin/env bash
# Benchmarks of GitWeave Runner on this machine; results go to stdout (copy
# them into tests/bench/README.md with the date and the machine).
#   tests/bench/bench.sh [build-dir]
# 1. API: wrk on GET /healthz, GET /pipelines/runs/{id}, GET /jobs/{id}/logs
# 2. queue: 500 trivial runs through 2 workers (local engine): throughput and
#    pickup latency (created_at -> started_at)
# 3. logs: one job printing 64 MiB: stored bytes/s, chunks
# 4. docker: per-job overhead against `docker run --rm` (needs root: own dockerd)
# 5. memory: peak RSS of the API and a worker over the runs above
set -u
GW_SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
GW_BUILD_DIR=${1:-$GW_SOURCE_DIR/build}
export GW_SOURCE_DIR GW_BUILD_DIR
source "$GW_SOURCE_DIR/tests/lib/postgres.sh"
for tool in wrk hyperfine; do command -v $tool >/dev/null || apt-get install -y -qq $tool >/dev/null 2>&1; done

gw_pg_start
gw_api_start
gw_template tiny '{"kind": "test", "jobs": [{"name": "t", "script": ["true"]}]}'
gw_template flood '{"kind": "test", "jobs": [{"name": "f", "script": ["head -c 67108864 /dev/urandom | base64 -w 100"]}]}'
gw_repo bench tiny
gw_repo flood flood
echo "## $(date -u +%F) on $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB"

# --- 2. queue throughput and pickup latency
N=500
for i in $(seq $N); do gw_trigger bench >/dev/null; done
gw_worker_start b1
gw_worker_start b2
t0=$(date +%s%3N)
done_all() { [ "$(gw_psql -c "SELECT count(*) FROM pipeline_runs WHERE status = 'success'")" = $N ]; }
wait_for 300 done_all
t1=$(date +%s%3N)
echo "queue: $N queued runs (1 job each) through 2 local workers in $((t1 - t0)) ms: $(( N * 1000 / (t1 - t0) )) runs/s"
# pickup latency of runs triggered while the workers are idle
for i in $(seq 50); do gw_trigger bench >/dev/null; sleep 0.1; done
sleep 2
gw_psql -c "SELECT 'pickup latency, idle workers, 50 runs: avg ' || round(avg(ms)::numeric, 1) || ' ms, p95 ' ||
                   round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 1) || ' ms, max ' || round(max(ms)::numeric, 1) || ' ms'
              FROM (SELECT extract(epoch FROM started_at - created_at) * 1000 AS ms FROM pipeline_runs
                     ORDER BY created_at DESC LIMIT 50) s"

# --- 1. API (after the runs above; autovacuum may not have caught up, so analyze once)
gw_psql -c "VACUUM ANALYZE" >/dev/null
run=$(gw_psql -c "SELECT id FROM pipeline_runs LIMIT 1")
job=$(gw_psql -c "SELECT id FROM jobs LIMIT 1")
for path in /healthz "/pipelines/runs/$run" "/jobs/$job/logs"; do
    out=$(wrk -t2 -c32 -d5s "$API$path" 2>&1)
    echo "api: GET $path: $(echo "$out" | awk '/Requests\/sec/ {print $2}') req/s, latency $(echo "$out" | awk '/Latency/ {print "avg " $2 ", max " $4}')"
done

# --- 3. log throughput
t0=$(date +%s%3N)
frun=$(gw_trigger flood)
wait_for 300 run_is_final "$frun"
t1=$(date +%s%3N)
gw_psql -c "SELECT 'logs: 64 MiB of output stored as ' || count(*) || ' chunks, ' || pg_size_pretty(sum(octet_length(chunk))) ||
                   ' in ' || ($((t1 - t0)))::text || ' ms trigger-to-end ('
                   || round(sum(octet_length(chunk)) / 1048576.0 / ($((t1 - t0)) / 1000.0), 1) || ' MiB/s)'
              FROM logs l JOIN jobs j ON j.id = l.job_id WHERE j.run_id = '$frun'"
echo "logs: run status $(run_status "$frun") (cap RUNNER_LOG_MAX_BYTES=16 MiB: the rest is counted, not stored)"

# --- 5. memory
for pid in "$GW_API_PID" "${GW_PIDS[@]}"; do
    [ -r "/proc/$pid/status" ] || continue
    echo "memory: $(tr '\0' ' ' </proc/$pid/cmdline | awk '{print $1}' | xargs basename) pid $pid peak RSS $(awk '/VmHWM/ {print $2 " " $3}' /proc/$pid/status)"
done | sort -u

# --- 4. docker overhead
if [ "$(id -u)" = 0 ]; then
    source "$GW_SOURCE_DIR/tests/lib/dockerd.sh"
    gw_dockerd_start >/dev/null && gw_busybox_image gwbench-busybox >/dev/null
    for pid in "${GW_PIDS[@]}"; do [ "$pid" != "$GW_API_PID" ] && kill "$pid" 2>/dev/null; done
    gw_worker_start d1 RUNNER_CONTAINER_ENGINE=docker RUNNER_DEFAULT_IMAGE=gwbench-busybox
    gw_repo dbench tiny
    for i in $(seq 20); do r=$(gw_trigger dbench); wait_for 60 run_is_final "$r"; done
    gw_psql -c "SELECT 'docker: 20 one-job runs: trigger->job running avg ' || round(avg(extract(epoch FROM j.started_at - r.created_at)) * 1000) ||
                       ' ms; job running->success avg ' || round(avg(extract(epoch FROM j.ended_at - j.started_at)) * 1000) || ' ms'
                  FROM pipeline_runs r JOIN jobs j ON j.run_id = r.id JOIN repos p ON p.id = r.repo_id WHERE p.name = 'dbench'"
    hf=$(hyperfine -w 2 -r 20 -N "docker run --rm gwbench-busybox sh -e -c true" --export-json "$GW_TMP/hf.json" >/dev/null 2>&1 && jq -r '.results[0] | "avg \(.mean * 1000 | round) ms, sd \(.stddev * 1000 | round) ms"' "$GW_TMP/hf.json")
    echo "docker: docker run --rm of the same command: $hf"
fi
