/*
 * worker - the runner process: connection, LISTEN, claim loop, heartbeat,
 * lease renewal, reaper, engine health, shutdown.
 */
#include "worker.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "db.h"
#include "log.h"
#include "worker_internal.h"
#include "workspace.h"

static void db_read_cb(evutil_socket_t fd, short what, void *arg);

/* Connect and LISTEN. Returns 0 or -1 (logged). */
static int
worker_connect(worker_t *w)
{
    w->conn = db_connect(w->cfg->database_url, "gitweave-worker");
    if (w->conn == NULL)
        return -1;
    if (db_command(w->conn, "listen", "LISTEN " DB_EVENTS_CHANNEL, 0, NULL) < 0) {
        PQfinish(w->conn);
        w->conn = NULL;
        return -1;
    }
    PQsetnonblocking(w->conn, 0);
    w->db_ev = event_new(w->base, PQsocket(w->conn), EV_READ | EV_PERSIST, db_read_cb, w);
    event_add(w->db_ev, NULL);
    return 0;
}

void
worker_db_lost(worker_t *w)
{
    if (w->conn == NULL)
        return;
    log_warn("worker", "lost the database connection; reconnecting");
    if (w->db_ev) {
        event_free(w->db_ev);
        w->db_ev = NULL;
    }
    PQfinish(w->conn);
    w->conn = NULL;
    w->reconnect_delay = 1;
    struct timeval tv = {w->reconnect_delay, 0};
    evtimer_add(w->reconnect_ev, &tv);
}

void
worker_db_failed(worker_t *w)
{
    if (w->conn != NULL && PQstatus(w->conn) != CONNECTION_OK)
        worker_db_lost(w);
}

static void
reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;

    if (worker_connect(w) != 0) {
        if (w->reconnect_delay < 10)
            w->reconnect_delay *= 2;
        struct timeval tv = {w->reconnect_delay, 0};
        evtimer_add(w->reconnect_ev, &tv);
        return;
    }
    log_info("worker", "database connection restored");
    if (q_heartbeat(w->conn, w->runner_id, w->run ? "busy" : "idle", NULL) == Q_FENCED) {
        char id[37];
        if (q_register(w->conn, w->cfg->runner_name, w->hostname, engine_name(w->engine),
                       w->cfg->lease_seconds, id) == Q_OK)
            memcpy(w->runner_id, id, sizeof(id));
    }
    if (w->run)
        run_exec_resume(w->run);
    else if (q_reap_own(w->conn, w->runner_id, false) > 0)
        /* A claim committed, but its reply was lost with the connection. */
        log_warn("worker", "ended a run claimed just before the connection dropped");
    worker_drain_notifies(w);
    worker_schedule_claim(w);
}

static void
handle_notify(worker_t *w, const char *payload)
{
    cJSON *ev = cJSON_Parse(payload);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "type"));
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "id"));
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "status"));

    if (type && strcmp(type, "run") == 0 && st && strcmp(st, "queued") == 0)
        worker_schedule_claim(w);
    else if (type && strcmp(type, "cancel") == 0 && id && w->run &&
             strcmp(id, run_exec_id(w->run)) == 0)
        run_exec_cancel(w->run);
    cJSON_Delete(ev);
}

void
worker_drain_notifies(worker_t *w)
{
    PGnotify *n;

    if (w->conn == NULL)
        return;
    while (w->conn != NULL && (n = PQnotifies(w->conn)) != NULL) {
        handle_notify(w, n->extra);
        PQfreemem(n);
    }
}

static void
db_read_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;

    if (!PQconsumeInput(w->conn)) {
        worker_db_lost(w);
        return;
    }
    worker_drain_notifies(w);
}

/* The answer of a ping: while the engine cannot take jobs, back off and say
 * so; once it can, claim. */
static void
worker_on_ping(void *arg, const char *problem)
{
    worker_t *w = arg;

    w->engine_asking = false;
    if (problem == NULL) {
        if (!w->engine_ok)
            log_info("worker", "container engine is reachable engine=%s", engine_name(w->engine));
        w->engine_ok = true;
        w->engine_backoff = 0;
        free(w->engine_problem);
        w->engine_problem = NULL;
        worker_schedule_claim(w);
        return;
    }
    w->engine_backoff = w->engine_backoff ? w->engine_backoff * 2 : 1;
    if (w->engine_backoff > w->cfg->engine_backoff_max)
        w->engine_backoff = w->cfg->engine_backoff_max;
    w->engine_retry_at = gw_now_ms() + (int64_t)w->engine_backoff * 1000;
    log_warn("worker", "container engine unavailable, not taking runs for %d s: %s",
             w->engine_backoff, problem);
    w->engine_ok = false;
    free(w->engine_problem);
    w->engine_problem = xasprintf("%s (retrying in %d s)", problem, w->engine_backoff);
    if (w->conn)
        (void)q_heartbeat(w->conn, w->runner_id, "degraded", w->engine_problem);
    struct timeval tv = {w->engine_backoff, 0};
    evtimer_add(w->claim_ev, &tv);
}

/* Whether the engine can take jobs; when its last answer is stale, ask
 * again and claim once it answers. */
static bool
worker_engine_ready(worker_t *w)
{
    if (w->engine_asking || gw_now_ms() < w->engine_retry_at)
        return false;
    /* A known-good engine is asked again at most every few seconds. */
    if (w->engine_ok && gw_now_ms() - w->engine_checked_at < 5000)
        return true;
    w->engine_checked_at = gw_now_ms();
    w->engine_asking = true;
    engine_ping_start(w->engine, worker_on_ping, w);
    return false;
}

static void
worker_try_claim(worker_t *w)
{
    q_run_t *q = NULL;

    if (w->stop_signals || w->run != NULL || w->conn == NULL)
        return;
    if (!worker_engine_ready(w))
        return;
    q_result_t res = q_claim(w->conn, w->runner_id, w->cfg->lease_seconds, &q);
    if (res == Q_ERROR) {
        worker_db_failed(w);
        return;
    }
    worker_drain_notifies(w);
    if (q == NULL)
        return;
    (void)q_heartbeat(w->conn, w->runner_id, "busy", NULL);
    w->run = run_exec_start(w, q);
}

static void
claim_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_try_claim(arg);
}

void
worker_schedule_claim(worker_t *w)
{
    if (w->run != NULL || w->stop_signals)
        return;
    struct timeval tv = {0, 0};
    if (!evtimer_pending(w->claim_ev, NULL) || gw_now_ms() >= w->engine_retry_at)
        evtimer_add(w->claim_ev, &tv);
}

void
worker_run_finished(worker_t *w)
{
    run_exec_free(w->run);
    w->run = NULL;
    if (w->stop_signals) {
        event_base_loopexit(w->base, NULL);
        return;
    }
    if (w->conn)
        (void)q_heartbeat(w->conn, w->runner_id, "idle", NULL);
    worker_schedule_claim(w);
}

static void
heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;

    if (w->conn == NULL)
        return;
    const char *status = w->run ? "busy" : (w->engine_ok ? "idle" : "degraded");
    if (q_heartbeat(w->conn, w->runner_id, status, w->engine_ok ? NULL : w->engine_problem) ==
        Q_ERROR) {
        worker_db_failed(w);
        return;
    }
    if (w->run)
        run_exec_renew(w->run);
    if (w->conn == NULL)
        return;
    int n = q_reap(w->conn);
    if (n > 0)
        log_warn("worker", "ended runs whose runner was lost count=%d", n);
    else if (n < 0)
        worker_db_failed(w);
    worker_drain_notifies(w);
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_try_claim(arg);
}

static void
worker_on_cleanup(void *arg, int removed)
{
    if (removed > 0)
        log_info("worker", "removed containers left behind count=%d", removed);
}

/* The start-up cleanup is over: runs may be claimed. */
static void
worker_on_first_cleanup(void *arg, int removed)
{
    worker_t *w = arg;

    worker_on_cleanup(w, removed);
    w->engine_asking = false;
    worker_schedule_claim(w);
}

/* Remove containers of this runner whose job is not running any more (a
 * job whose removal failed, or one started by an earlier life). */
static void
cleanup_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    const char *live[2] = {w->run ? run_exec_job_id(w->run) : NULL, NULL};

    if (!w->engine_ok)
        return;
    engine_cleanup_start(w->engine, live, worker_on_cleanup, w);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
    worker_t *w = arg;

    w->stop_signals++;
    if (w->stop_signals > 1 || w->run == NULL) {
        log_info("worker", "stopping signal=%d", (int)sig);
        event_base_loopexit(w->base, NULL);
        return;
    }
    log_info("worker", "stopping: ending the current run first signal=%d", (int)sig);
    run_exec_shutdown(w->run);
}

/* Make sure no other live runner uses this name: if its row looks alive,
 * wait one lease and look again (a restart after a crash finds it stale). */
static int
worker_check_name(worker_t *w)
{
    bool exists, live;
    int64_t seen1, seen2;

    if (q_runner_state(w->conn, w->cfg->runner_name, &exists, &live, &seen1) != Q_OK)
        return -1;
    if (!exists || !live)
        return 0;
    log_warn("worker",
             "runner name %s was seen alive less than a lease ago; waiting %d s to be sure "
             "it is gone",
             w->cfg->runner_name, w->cfg->lease_seconds);
    sleep((unsigned)w->cfg->lease_seconds + 1);
    if (q_runner_state(w->conn, w->cfg->runner_name, &exists, &live, &seen2) != Q_OK)
        return -1;
    if (exists && live && seen2 != seen1) {
        log_error("worker",
                  "another runner named %s is alive; give each runner its own RUNNER_NAME",
                  w->cfg->runner_name);
        return -1;
    }
    return 0;
}

worker_t *
worker_new(const gw_config_t *cfg)
{
    worker_t *w = xcalloc(1, sizeof(*w));
    char *err = NULL;

    w->cfg = cfg;
    w->exit_status = 0;
    if (gethostname(w->hostname, sizeof(w->hostname)) != 0)
        snprintf(w->hostname, sizeof(w->hostname), "unknown");
    /* Before anything else: a work directory others control is a way in. */
    if (workspace_init(cfg->workdir, cfg->runner_name, &err) != 0) {
        log_error("worker", "%s", err);
        goto fail;
    }
    w->base = event_base_new();
    w->local = engine_local_new(w->base);
    if (strcmp(cfg->engine, "local") == 0) {
        w->engine = w->local;
    } else {
        /* The runner id labels containers; it is known after registering,
         * so the engine is made below. */
    }
    if (worker_connect(w) != 0)
        goto fail;
    if (worker_check_name(w) != 0)
        goto fail;
    if (q_register(w->conn, cfg->runner_name, w->hostname, cfg->engine, cfg->lease_seconds,
                   w->runner_id) != Q_OK)
        goto fail;
    if (w->engine == NULL) {
        engine_docker_limits_t limits = {
            .pids_limit = cfg->job_pids_limit,
            .memory = cfg->job_memory,
            .nano_cpus = cfg->job_nano_cpus,
            .user = cfg->job_user,
        };
        w->engine = engine_docker_new(w->base, cfg->docker_host, cfg->default_image, w->runner_id,
                                      &limits, &err);
        if (w->engine == NULL) {
            log_error("worker", "could not set up the docker engine: %s", err);
            goto fail;
        }
    }
    /* Runs of an earlier life of this runner died with it. */
    int n = q_reap_own(w->conn, w->runner_id, true);
    if (n > 0)
        log_warn("worker", "ended runs of an earlier life of this runner count=%d", n);
    /* What an earlier life left behind goes before the first claim. */
    w->engine_asking = true;
    engine_cleanup_start(w->engine, NULL, worker_on_first_cleanup, w);
    log_info("worker", "registered runner=%s id=%s engine=%s", cfg->runner_name, w->runner_id,
             cfg->engine);

    w->reconnect_ev = evtimer_new(w->base, reconnect_cb, w);
    w->claim_ev = evtimer_new(w->base, claim_cb, w);
    w->heartbeat_ev = event_new(w->base, -1, EV_PERSIST, heartbeat_cb, w);
    w->poll_ev = event_new(w->base, -1, EV_PERSIST, poll_cb, w);
    w->cleanup_ev = event_new(w->base, -1, EV_PERSIST, cleanup_cb, w);
    w->sigterm_ev = evsignal_new(w->base, SIGTERM, signal_cb, w);
    w->sigint_ev = evsignal_new(w->base, SIGINT, signal_cb, w);
    int hb_ms = cfg->lease_seconds * 1000 / 3;
    struct timeval hb = {hb_ms / 1000, (hb_ms % 1000) * 1000};
    struct timeval poll = {cfg->poll_seconds, 0};
    event_add(w->heartbeat_ev, &hb);
    event_add(w->poll_ev, &poll);
    struct timeval every_minute = {60, 0};
    event_add(w->cleanup_ev, &every_minute);
    event_add(w->sigterm_ev, NULL);
    event_add(w->sigint_ev, NULL);
    w->engine_ok = true;
    worker_schedule_claim(w);
    return w;
fail:
    free(err);
    worker_free(w);
    return NULL;
}

int
worker_run(worker_t *w)
{
    signal(SIGPIPE, SIG_IGN);
    event_base_dispatch(w->base);
    if (w->run) {
        /* A second signal: leave the run to the reaper of the next life. */
        log_warn("worker", "exiting with a run in progress run=%s", run_exec_id(w->run));
    }
    if (w->conn)
        (void)q_heartbeat(w->conn, w->runner_id, "stopped", NULL);
    return w->exit_status;
}

void
worker_free(worker_t *w)
{
    if (w == NULL)
        return;
    run_exec_free(w->run);
    if (w->engine != w->local)
        engine_free(w->engine);
    engine_free(w->local);
    if (w->db_ev)
        event_free(w->db_ev);
    if (w->reconnect_ev)
        event_free(w->reconnect_ev);
    if (w->claim_ev)
        event_free(w->claim_ev);
    if (w->heartbeat_ev)
        event_free(w->heartbeat_ev);
    if (w->poll_ev)
        event_free(w->poll_ev);
    if (w->cleanup_ev)
        event_free(w->cleanup_ev);
    if (w->sigterm_ev)
        event_free(w->sigterm_ev);
    if (w->sigint_ev)
        event_free(w->sigint_ev);
    if (w->conn)
        PQfinish(w->conn);
    free(w->engine_problem);
    if (w->base)
        event_base_free(w->base);
    free(w);
}
