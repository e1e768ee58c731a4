/*
 * worker - the runner process (see worker.h): start-up, the claim loop,
 * heartbeat and lease renewal, the reaper, engine health, drain and stop.
 *
 * Start-up is a chain of answers: the connection is READY -> the runner's
 * advisory lock is taken -> the runner is registered -> the runs of an
 * earlier life are ended -> claims start. After a reconnect the lock is
 * taken again, runs of this runner that it does not hold (a claim whose
 * answer was lost) are given back to the queue, and each run sends again
 * what the connection lost.
 *
 * Longer than most files: every part below (start-up, claims, runs ending,
 * heartbeat, reaper, drain) reads and changes the one struct worker; the
 * statements are in queue.c and each run's life in run.c.
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
#include "events.h"
#include "later.h"
#include "log.h"
#include "pg.h"
#include "queue.h"
#include "retention.h"
#include "run.h"
#include "workspace.h"

/* How often the reaper looks for runs of dead runners. With the grace of
 * q_reap (two ticks), a dead runner's runs end within 1.5 s and a statement. */
#define WORKER_REAP_MS 500
/* A run whose lease could not be renewed stops its job this long before
 * the lease runs out as the worker counts it (from the time the claim or
 * renewal was sent, so never later than the database's lease_expires_at):
 * the reaper may then retry the run elsewhere, and its job must not still
 * be running here. */
#define WORKER_LEASE_MARGIN_MS 500

/* Runs given up lately (their lease could not be renewed), remembered so
 * that the reaper of the worker's own runs leaves them to the lease
 * reaper: a job of theirs may have run while its log could not be stored,
 * so they must not go back to the queue as never started. */
#define WORKER_GIVEN_UP_MAX 64

/* How long a stopping worker waits for its last heartbeat's answer. */
#define WORKER_EXIT_WAIT_S 3

struct worker {
    const gw_config_t *cfg;
    struct event_base *base;
    engine_t *engine; /* runs the jobs */
    engine_t *local;  /* runs checkouts on this host */
    pg_conn_t *db;
    retention_t *retention; /* expired logs, on a connection of its own */
    run_env_t env;
    run_t **runs; /* cfg->concurrency slots */
    bool *ended;  /* the run of the slot said it is over */
    int nruns;
    char runner_id[37];
    char hostname[256];
    bool registered;  /* the runner row is ours and the claim loop runs */
    bool lock_waited; /* start-up: waited one lease for another holder */
    bool claiming;    /* a claim is in flight */
    int64_t claim_sent_ms;
    struct {
        char id[37];
        int64_t at; /* gw_now_ms(); 0: free */
    } given_up[WORKER_GIVEN_UP_MAX];
    int given_up_next;
    bool claim_again; /* work was announced while it was */
    bool hb_inflight;
    bool reap_inflight;
    bool draining; /* SIGTERM: no new runs; exit when the runs are over */
    bool stopping; /* stop the runs, then exit */
    bool exiting;
    int signals;
    bool engine_ok;
    bool engine_asking; /* a ping or the start-up cleanup is in flight */
    int engine_backoff; /* seconds, while the engine is unreachable */
    int64_t engine_retry_at;
    int64_t engine_checked_at;
    char *engine_problem;
    struct event *lock_ev;
    struct event *claim_ev;
    struct event *heartbeat_ev;
    struct event *reap_ev;
    struct event *poll_ev;
    struct event *cleanup_ev;
    struct event *collect_ev;
    struct event *drain_ev;
    struct event *lease_ev; /* the first lease that would run out unrenewed */
    struct event *exit_ev;
    struct event *sigterm_ev;
    struct event *sigint_ev;
    int exit_status;
};

static void worker_schedule_claim(worker_t *w);
static void worker_heartbeat(worker_t *w);

static void
worker_fail(worker_t *w)
{
    w->exit_status = 1;
    event_base_loopexit(w->base, NULL);
}

static void worker_lease_arm(worker_t *w);

static void
add_ms(struct event *ev, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(ev, &tv);
}

/* The ids of the runs held (not over), as SQL array literals. */
static void
worker_live_runs(worker_t *w, buf_t *ids, buf_t *attempts)
{
    for (int i = 0; i < w->cfg->concurrency; i++) {
        run_t *r = w->runs[i];
        if (r == NULL || run_over(r))
            continue;
        q_array_append(ids, run_id(r));
        if (attempts)
            q_array_append(attempts, run_attempt(r));
    }
    q_array_end(ids);
    if (attempts)
        q_array_end(attempts);
}

static run_t *
worker_find_run(worker_t *w, const char *id)
{
    for (int i = 0; i < w->cfg->concurrency; i++)
        if (w->runs[i] && strcmp(run_id(w->runs[i]), id) == 0)
            return w->runs[i];
    return NULL;
}

static void
reap_own_cb(const PGresult *res, void *arg)
{
    int requeued = 0, failed = 0, retried = 0;

    if (res == NULL || q_failed(res, "end the runs this runner lost"))
        return;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *kind = PQgetvalue(res, i, 0);
        requeued += strcmp(kind, "requeued") == 0;
        failed += strcmp(kind, "failed") == 0;
        retried += strcmp(kind, "retried") == 0;
    }
    if (requeued > 0)
        log_warn("worker", "gave back to the queue runs claimed but not started count=%d",
                 requeued);
    if (failed > 0 || retried > 0)
        log_warn("worker", "ended runs this runner lost failed=%d retried=%d", failed, retried);
    (void)arg;
}

/* End (or requeue) the running runs of this runner that it does not hold,
 * nor gave up lately (those are the lease reaper's). */
static void
worker_reap_own(worker_t *w, bool restarted)
{
    buf_t ids;

    int64_t keep = gw_now_ms() - 2000LL * w->cfg->lease_seconds;

    buf_init(&ids);
    for (int i = 0; i < w->cfg->concurrency; i++)
        if (w->runs[i] && !run_over(w->runs[i]))
            q_array_append(&ids, run_id(w->runs[i]));
    for (int i = 0; i < WORKER_GIVEN_UP_MAX; i++)
        if (w->given_up[i].at > keep)
            q_array_append(&ids, w->given_up[i].id);
    q_array_end(&ids);
    if (q_reap_own(w->db, w->runner_id, restarted, ids.data, reap_own_cb, w) != 0)
        log_debug("worker", "database down; the runs left are ended after the reconnect");
    buf_free(&ids);
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

/* ---- start-up: lock, register ---- */

static void worker_lock(worker_t *w);

static void
register_cb(const PGresult *res, void *arg)
{
    worker_t *w = arg;
    const gw_config_t *cfg = w->cfg;
    char *err = NULL;

    if (res == NULL)
        return; /* READY again starts over */
    if (!pg_result_ok(res) || PQntuples(res) != 1) {
        err = pg_result_error(res);
        log_error("worker", "could not register the runner: %s", err);
        free(err);
        worker_fail(w);
        return;
    }
    bool first = w->runner_id[0] == '\0';
    snprintf(w->runner_id, sizeof(w->runner_id), "%s", PQgetvalue(res, 0, 0));
    if (!first || w->registered)
        return; /* registered again after its row went away */
    if (w->engine == NULL) {
        engine_docker_limits_t limits = {
            .pids_limit = cfg->job_pids_limit,
            .memory = cfg->job_memory,
            .nano_cpus = cfg->job_nano_cpus,
            .user = cfg->job_user,
        };
        /* The runner id labels the containers: known only now. */
        w->engine = engine_docker_new(w->base, cfg->docker_host, cfg->default_image, w->runner_id,
                                      &limits, &err);
        if (w->engine == NULL) {
            log_error("worker", "could not set up the docker engine: %s", err);
            free(err);
            worker_fail(w);
            return;
        }
    }
    w->env.engine = w->engine;
    /* Runs of an earlier life of this runner died with it. */
    worker_reap_own(w, true);
    /* What an earlier life left behind goes before the first claim. */
    w->engine_asking = true;
    engine_cleanup_start(w->engine, NULL, worker_on_first_cleanup, w);
    log_info("worker", "registered runner=%s id=%s engine=%s slots=%d", cfg->runner_name,
             w->runner_id, cfg->engine, cfg->concurrency);
    w->registered = true;
    int hb_ms = cfg->lease_seconds * 1000 / 3;
    struct timeval hb = {hb_ms / 1000, (hb_ms % 1000) * 1000};
    struct timeval poll = {cfg->poll_seconds, 0};
    struct timeval reap = {0, WORKER_REAP_MS * 1000};
    struct timeval every_minute = {60, 0};
    event_add(w->heartbeat_ev, &hb);
    event_add(w->poll_ev, &poll);
    event_add(w->reap_ev, &reap);
    event_add(w->cleanup_ev, &every_minute);
    worker_schedule_claim(w);
}

static void
worker_register(worker_t *w)
{
    const gw_config_t *cfg = w->cfg;
    if (q_register(w->db, cfg->runner_name, w->hostname, cfg->engine, cfg->labels,
                   cfg->run_unlabeled, cfg->lease_seconds, cfg->concurrency, register_cb, w) != 0)
        log_debug("worker", "database down; registering after the reconnect");
}

static void
lock_cb(const PGresult *res, void *arg)
{
    worker_t *w = arg;

    if (res == NULL)
        return; /* READY again takes it */
    if (!pg_result_ok(res) || PQntuples(res) != 1) {
        char *err = pg_result_error(res);
        log_error("worker", "could not take the runner's lock: %s", err);
        free(err);
        add_ms(w->lock_ev, 1000);
        return;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        if (!w->registered)
            worker_register(w);
        return;
    }
    if (w->registered) {
        /* Our earlier session's lock is still held: the server has not
         * noticed yet that it is gone. */
        add_ms(w->lock_ev, 1000);
        return;
    }
    const char *holder =
        PQgetisnull(res, 0, 1) ? "a session that has just let go" : PQgetvalue(res, 0, 1);
    if (w->lock_waited) {
        log_error("worker",
                  "another runner named %s is alive: its lock is held by %s; give each runner "
                  "its own RUNNER_NAME",
                  w->cfg->runner_name, holder);
        worker_fail(w);
        return;
    }
    /* A session that holds it may be one the server has not yet found
     * dead: wait one lease and look again. */
    log_warn("worker",
             "runner name %s is held by a live database session (%s); waiting %d s to be sure "
             "it is gone",
             w->cfg->runner_name, holder, w->cfg->lease_seconds);
    w->lock_waited = true;
    add_ms(w->lock_ev, (w->cfg->lease_seconds + 1) * 1000);
}

static void
worker_lock(worker_t *w)
{
    if (q_runner_lock(w->db, w->cfg->runner_name, lock_cb, w) != 0)
        log_debug("worker", "database down; taking the lock after the reconnect");
}

static void
lock_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_lock(arg);
}

static void
db_state_cb(pg_conn_t *c, pg_state_t state, void *arg)
{
    worker_t *w = arg;

    if (state != PG_READY)
        return;
    worker_lock(w);
    if (!w->registered)
        return;
    worker_heartbeat(w);
    /* A claim whose answer was lost with the connection. */
    worker_reap_own(w, false);
    for (int i = 0; i < w->cfg->concurrency; i++)
        if (w->runs[i])
            run_resume(w->runs[i]);
    worker_schedule_claim(w);
}

/* ---- claims ---- */

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
    worker_heartbeat(w);
    add_ms(w->claim_ev, w->engine_backoff * 1000);
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

/* The lowest workspace index of the repo repo_id that no run held uses. */
static int
worker_workspace_index(worker_t *w, const char *repo_id)
{
    for (int index = 0;; index++) {
        bool used = false;
        for (int i = 0; i < w->cfg->concurrency && !used; i++)
            used = w->runs[i] && strcmp(run_repo_id(w->runs[i]), repo_id) == 0 &&
                   run_workspace_index(w->runs[i]) == index;
        if (!used)
            return index;
    }
}

static void worker_exit(worker_t *w);

/* A draining or stopping worker with no run left exits; true when it does. */
static bool
worker_exit_if_idle(worker_t *w)
{
    if (!(w->draining || w->stopping) || w->nruns > 0)
        return false;
    worker_exit(w);
    return true;
}

static void
claim_cb(const PGresult *res, void *arg)
{
    worker_t *w = arg;

    w->claiming = false;
    if (res == NULL) {
        worker_exit_if_idle(w);
        return; /* after the reconnect, worker_reap_own gives it back */
    }
    if (q_failed(res, "claim runs")) {
        worker_exit_if_idle(w);
        return; /* the poll timer tries again */
    }
    int n = PQntuples(res);
    for (int row = 0; row < n; row++) {
        int slot = 0;
        while (slot < w->cfg->concurrency && w->runs[slot] != NULL)
            slot++;
        q_run_t *q = q_claim_row(res, row, w->runner_id);
        if (slot == w->cfg->concurrency) {
            /* Never happens: a claim asks for the free slots only. */
            log_error("worker", "claimed more runs than slots; dropping run=%s", q->fence.run_id);
            q_run_free(q);
            continue;
        }
        int index = worker_workspace_index(w, q->repo_id);
        w->ended[slot] = false;
        w->runs[slot] = run_new(&w->env, q, index);
        run_lease_renewed(w->runs[slot], w->claim_sent_ms + w->cfg->lease_seconds * 1000);
        w->nruns++;
        /* Claimed while the worker was told to stop: it goes back to the
         * queue before its first job reaches the engine. */
        if (w->stopping || w->draining)
            run_shutdown(w->runs[slot]);
    }
    worker_lease_arm(w);
    if (!worker_exit_if_idle(w) && (n > 0 || w->claim_again))
        worker_schedule_claim(w);
}

static void
worker_try_claim(worker_t *w)
{
    int free_slots = w->cfg->concurrency - w->nruns;

    if (!w->registered || w->draining || w->stopping || free_slots <= 0 ||
        pg_conn_state(w->db) != PG_READY)
        return;
    if (w->claiming) {
        w->claim_again = true;
        return;
    }
    if (!worker_engine_ready(w))
        return;
    w->claim_sent_ms = gw_now_ms();
    if (q_claim(w->db, w->runner_id, w->cfg->lease_seconds, free_slots, claim_cb, w) != 0)
        return;
    w->claiming = true;
    w->claim_again = false;
}

static void
claim_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_try_claim(arg);
}

/* Look for work on the next loop turn. */
static void
worker_schedule_claim(worker_t *w)
{
    if (w->claiming) {
        w->claim_again = true;
        return;
    }
    if (!evtimer_pending(w->claim_ev, NULL) || gw_now_ms() >= w->engine_retry_at)
        add_ms(w->claim_ev, 0);
}

/* ---- notifications ---- */

static void
notify_cb(const char *channel, const char *payload, int be_pid, void *arg)
{
    worker_t *w = arg;
    cJSON *ev = cJSON_Parse(payload);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, EV_KEY_TYPE));
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, EV_KEY_ID));
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, EV_KEY_STATUS));

    /* A new run, or this runner resumed: look for work now, not at the poll. */
    bool wake = (type && strcmp(type, EV_RUN) == 0 && st && strcmp(st, "queued") == 0) ||
                (type && strcmp(type, EV_RUNNER) == 0 && id && strcmp(id, w->runner_id) == 0 &&
                 cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(ev, EV_KEY_PAUSED)));

    if (wake) {
        if (w->nruns < w->cfg->concurrency)
            worker_schedule_claim(w);
    } else if (type && strcmp(type, EV_CANCEL) == 0 && id) {
        run_t *r = worker_find_run(w, id);
        if (r)
            run_cancel(r);
    }
    cJSON_Delete(ev);
}

/* ---- runs ending ---- */

static void
worker_on_run_ended(run_t *r, void *arg)
{
    worker_t *w = arg;

    for (int i = 0; i < w->cfg->concurrency; i++)
        if (w->runs[i] == r)
            w->ended[i] = true;
    add_ms(w->collect_ev, 0);
}

/* Free the runs that are over (on the loop turn after they said so). Not
 * later_free (common/later.h): ending a run is a step of the worker, which
 * records a given-up run, frees its slot and looks for work; the free is
 * the least of it. */
static void
collect_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;

    for (int i = 0; i < w->cfg->concurrency; i++) {
        if (w->runs[i] == NULL || !w->ended[i])
            continue;
        if (run_given_up(w->runs[i])) {
            int k = w->given_up_next++ % WORKER_GIVEN_UP_MAX;
            snprintf(w->given_up[k].id, sizeof(w->given_up[k].id), "%s", run_id(w->runs[i]));
            w->given_up[k].at = gw_now_ms();
        }
        run_free(w->runs[i]);
        w->runs[i] = NULL;
        w->ended[i] = false;
        w->nruns--;
    }
    if (!worker_exit_if_idle(w))
        worker_schedule_claim(w);
}

/* ---- heartbeat, leases, reaper ---- */

typedef struct {
    worker_t *w;
    char *ids; /* the runs renewed: an SQL array literal */
    int64_t sent_ms;
} heartbeat_t;

/* Arm lease_ev for the first held run whose lease would run out. */
static void
worker_lease_arm(worker_t *w)
{
    int64_t first = INT64_MAX;

    for (int k = 0; k < w->cfg->concurrency; k++)
        if (w->runs[k] && !run_over(w->runs[k]) && run_lease_until(w->runs[k]) < first)
            first = run_lease_until(w->runs[k]);
    evtimer_del(w->lease_ev);
    if (first != INT64_MAX) {
        int64_t ms = first - WORKER_LEASE_MARGIN_MS - gw_now_ms();
        add_ms(w->lease_ev, ms > 0 ? (int)ms : 0);
    }
}

/* A lease is about to run out unrenewed (the database is unreachable or
 * does not answer): stop the run's job and give the run up. */
static void
lease_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    int64_t now = gw_now_ms();

    for (int k = 0; k < w->cfg->concurrency; k++) {
        run_t *r = w->runs[k];
        if (r == NULL || run_over(r) || run_lease_until(r) - WORKER_LEASE_MARGIN_MS > now)
            continue;
        log_warn("worker", "could not renew the run's lease in time; stopping its job run=%s",
                 run_id(r));
        run_lost(r);
    }
    worker_lease_arm(w);
}

static void
heartbeat_cb(const PGresult *res, void *arg)
{
    heartbeat_t *hb = arg;
    worker_t *w = hb->w;
    bool runner = false;

    w->hb_inflight = false;
    if (res == NULL || w->exiting || q_failed(res, "send the heartbeat"))
        goto done;
    for (int i = 0; i < PQntuples(res); i++)
        runner |= strcmp(PQgetvalue(res, i, 0), "runner") == 0;
    if (!runner) {
        log_warn("worker", "the runner's row is gone; registering again");
        worker_register(w);
    }
    /* Each run renewed: a held run not in the answer is not ours any more. */
    for (int k = 0; k < w->cfg->concurrency; k++) {
        run_t *r = w->runs[k];
        if (r == NULL || run_over(r) || strstr(hb->ids, run_id(r)) == NULL)
            continue;
        bool found = false, cancel = false;
        for (int i = 0; i < PQntuples(res) && !found; i++) {
            if (strcmp(PQgetvalue(res, i, 1), run_id(r)) != 0)
                continue;
            found = true;
            cancel = strcmp(PQgetvalue(res, i, 2), "t") == 0;
        }
        if (!found) {
            run_lost(r);
            continue;
        }
        run_lease_renewed(r, hb->sent_ms + w->cfg->lease_seconds * 1000);
        if (cancel)
            run_cancel(r);
    }
    worker_lease_arm(w);
done:
    free(hb->ids);
    free(hb);
}

static const char *
worker_status(const worker_t *w)
{
    if (w->exiting)
        return "stopped";
    if (w->draining || w->stopping)
        return "draining";
    if (w->nruns > 0)
        return "busy";
    return w->engine_ok ? "idle" : "degraded";
}

/* Say the runner is alive (and how), and renew the lease of its runs. */
static void
worker_heartbeat(worker_t *w)
{
    buf_t ids, attempts;

    if (!w->registered || w->hb_inflight)
        return;
    buf_init(&ids);
    buf_init(&attempts);
    worker_live_runs(w, &ids, &attempts);
    heartbeat_t *hb = xcalloc(1, sizeof(*hb));
    hb->w = w;
    hb->ids = buf_steal(&ids);
    hb->sent_ms = gw_now_ms();
    if (q_heartbeat(w->db, w->runner_id, worker_status(w), w->engine_ok ? NULL : w->engine_problem,
                    w->cfg->concurrency, w->cfg->lease_seconds, hb->ids, attempts.data,
                    heartbeat_cb, hb) == 0)
        w->hb_inflight = true;
    else {
        free(hb->ids);
        free(hb);
    }
    buf_free(&attempts);
}

static void
heartbeat_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_heartbeat(arg);
}

static void
reap_cb(const PGresult *res, void *arg)
{
    worker_t *w = arg;

    w->reap_inflight = false;
    if (res == NULL || q_failed(res, "end the runs of lost runners"))
        return;
    int failed = 0, retried = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        failed += strcmp(PQgetvalue(res, i, 0), "failed") == 0;
        retried += strcmp(PQgetvalue(res, i, 0), "retried") == 0;
    }
    if (failed > 0 || retried > 0)
        log_warn("worker", "ended runs whose runner was lost failed=%d retried=%d", failed,
                 retried);
}

static void
reap_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;

    if (!w->registered || w->reap_inflight)
        return;
    if (q_reap(w->db, w->runner_id, reap_cb, w) == 0)
        w->reap_inflight = true;
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_try_claim(arg);
}

/* Remove containers of this runner whose job is not running any more (a
 * job whose removal failed, or one started by an earlier life). */
static void
cleanup_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    const char **live = xcalloc((size_t)w->cfg->concurrency + 1, sizeof(char *));
    size_t n = 0;

    for (int i = 0; i < w->cfg->concurrency; i++)
        if (w->runs[i] && run_job_id(w->runs[i]))
            live[n++] = run_job_id(w->runs[i]);
    if (w->engine_ok)
        engine_cleanup_start(w->engine, live, worker_on_cleanup, w);
    free(live);
}

/* ---- drain, stop, exit ---- */

static void
exit_cb(const PGresult *res, void *arg)
{
    worker_t *w = arg;
    event_base_loopexit(w->base, NULL);
}

static void
exit_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    event_base_loopexit(w->base, NULL);
}

/* The runs are over: say the runner stopped, then leave the loop. */
static void
worker_exit(worker_t *w)
{
    buf_t ids;

    if (w->exiting)
        return;
    /* A claim in flight is answered first: claim_cb gives its runs back. */
    if (w->claiming && pg_conn_state(w->db) == PG_READY)
        return;
    w->exiting = true;
    log_info("worker", "stopped");
    if (!w->registered) {
        event_base_loopexit(w->base, NULL);
        return;
    }
    buf_init(&ids);
    q_array_end(&ids);
    if (q_heartbeat(w->db, w->runner_id, "stopped", NULL, w->cfg->concurrency,
                    w->cfg->lease_seconds, ids.data, ids.data, exit_cb, w) != 0)
        event_base_loopexit(w->base, NULL);
    buf_free(&ids);
    add_ms(w->exit_ev, WORKER_EXIT_WAIT_S * 1000);
}

/* Stop every run: their jobs are stopped and they end failed, or go back
 * to the queue when no job of theirs started. */
static void
worker_stop_runs(worker_t *w)
{
    w->stopping = true;
    if (w->nruns == 0) {
        worker_exit(w);
        return;
    }
    log_info("worker", "stopping the running runs count=%d", w->nruns);
    for (int i = 0; i < w->cfg->concurrency; i++)
        if (w->runs[i])
            run_shutdown(w->runs[i]);
}

static void
drain_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    log_warn("worker", "the drain took longer than RUNNER_DRAIN_SECONDS=%d", w->cfg->drain_seconds);
    worker_stop_runs(w);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
    worker_t *w = arg;

    w->signals++;
    if (w->exiting || w->stopping) {
        log_warn("worker", "exiting at once with runs in progress signal=%d", (int)sig);
        event_base_loopexit(w->base, NULL);
        return;
    }
    if (sig == SIGTERM && !w->draining) {
        w->draining = true;
        if (w->nruns == 0) {
            log_info("worker", "stopping signal=%d", (int)sig);
            worker_exit(w);
            return;
        }
        log_info("worker",
                 "draining: taking no new runs, waiting for the running ones "
                 "count=%d signal=%d",
                 w->nruns, (int)sig);
        worker_heartbeat(w);
        if (w->cfg->drain_seconds > 0)
            add_ms(w->drain_ev, w->cfg->drain_seconds * 1000);
        return;
    }
    log_info("worker", "stopping signal=%d", (int)sig);
    worker_stop_runs(w);
}

/* ---- life ---- */

worker_t *
worker_new(const gw_config_t *cfg)
{
    worker_t *w = xcalloc(1, sizeof(*w));
    char *err = NULL;

    w->cfg = cfg;
    if (gethostname(w->hostname, sizeof(w->hostname)) != 0)
        snprintf(w->hostname, sizeof(w->hostname), "unknown");
    /* Before anything else: a work directory others control is a way in. */
    if (workspace_init(cfg->workdir, cfg->runner_name, cfg->engine, &err) != 0) {
        log_error("worker", "%s", err);
        free(err);
        free(w);
        return NULL;
    }
    w->base = event_base_new();
    w->local = engine_local_new(w->base);
    /* The docker engine labels containers with the runner id: it is made
     * once registered. */
    if (strcmp(cfg->engine, "local") == 0)
        w->engine = w->local;
    w->runs = xcalloc((size_t)cfg->concurrency, sizeof(run_t *));
    w->ended = xcalloc((size_t)cfg->concurrency, sizeof(bool));
    pg_conn_config_t pc = {
        .conninfo = cfg->database_url,
        .application_name = "gitweave-worker",
        .pipeline = true,
        .on_notify = notify_cb,
        .on_state = db_state_cb,
        .arg = w,
    };
    w->db = pg_conn_new(w->base, &pc);
    w->retention = retention_new(w->base, cfg);
    q_prepare(w->db);
    pg_conn_listen(w->db, EV_CHANNEL);
    w->env = (run_env_t){
        .base = w->base,
        .db = w->db,
        .cfg = cfg,
        .engine = w->engine,
        .local = w->local,
        .runner_id = w->runner_id,
        .ended = worker_on_run_ended,
        .arg = w,
    };
    w->lock_ev = evtimer_new(w->base, lock_retry_cb, w);
    w->claim_ev = evtimer_new(w->base, claim_timer_cb, w);
    w->heartbeat_ev = event_new(w->base, -1, EV_PERSIST, heartbeat_timer_cb, w);
    w->reap_ev = event_new(w->base, -1, EV_PERSIST, reap_timer_cb, w);
    w->poll_ev = event_new(w->base, -1, EV_PERSIST, poll_cb, w);
    w->cleanup_ev = event_new(w->base, -1, EV_PERSIST, cleanup_cb, w);
    w->collect_ev = evtimer_new(w->base, collect_cb, w);
    w->drain_ev = evtimer_new(w->base, drain_timer_cb, w);
    w->lease_ev = evtimer_new(w->base, lease_timer_cb, w);
    w->exit_ev = evtimer_new(w->base, exit_timer_cb, w);
    w->sigterm_ev = evsignal_new(w->base, SIGTERM, signal_cb, w);
    w->sigint_ev = evsignal_new(w->base, SIGINT, signal_cb, w);
    event_add(w->sigterm_ev, NULL);
    event_add(w->sigint_ev, NULL);
    w->engine_ok = true;
    return w;
}

int
worker_run(worker_t *w)
{
    signal(SIGPIPE, SIG_IGN);
    event_base_dispatch(w->base);
    if (w->nruns > 0)
        log_warn("worker", "exiting with runs in progress count=%d", w->nruns);
    return w->exit_status;
}

void
worker_free(worker_t *w)
{
    if (w == NULL)
        return;
    /* First the connection: its statements are answered (NULL) while the
     * runs they belong to still exist. */
    pg_conn_free(w->db);
    retention_free(w->retention);
    for (int i = 0; i < w->cfg->concurrency; i++)
        run_free(w->runs[i]);
    free(w->runs);
    free(w->ended);
    struct event *evs[] = {w->lock_ev,  w->claim_ev,   w->heartbeat_ev, w->reap_ev,
                           w->poll_ev,  w->cleanup_ev, w->collect_ev,   w->drain_ev,
                           w->lease_ev, w->exit_ev,    w->sigterm_ev,   w->sigint_ev};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
    if (w->engine != w->local)
        engine_free(w->engine);
    engine_free(w->local);
    free(w->engine_problem);
    /* What pg_conn_free and the engines left for the next turn. */
    later_drain(w->base);
    event_base_free(w->base);
    free(w);
}
