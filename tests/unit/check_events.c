/*
 * check_events - ties every notification to the event table of
 * common/events.h, against a real Postgres with the project's migrations
 * (tests/lib/pg_cluster.sh).
 *
 * One connection LISTENs on both channels while another takes runs through
 * their lives with the statements that notify: the API's (api/queries.h),
 * the worker's (worker/queue.c, read back with q_statement_sql) and the
 * logs trigger (db/migrations/0002_log_follow.sql, which cannot include the
 * header). Every statement must notify, every payload must have exactly
 * the keys of its type, in order, on its type's channel, and every type
 * must be heard. docs/events.md must show exactly the types and keys of
 * the table. So the test fails when the table, a statement, the trigger or
 * the page changes alone.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "check_case.h"
#include "pg_cluster.h"
#include "queries.h"
#include "queue.h"
#include "util.h"

static void
cluster_start(void)
{
    cluster_start_named("gwcheckev");
    cluster_migrate();
}

static const ev_type_t *
ev_find(const char *type)
{
    for (size_t i = 0; i < ev_ntypes; i++)
        if (strcmp(ev_types[i].type, type) == 0)
            return &ev_types[i];
    return NULL;
}

/* ---- the payloads heard ------------------------------------------------- */

static bool heard[16];

/* A payload has its type first, then exactly its type's keys in order. */
static void
payload_check(const char *what, const char *channel, const char *payload)
{
    cJSON *o = cJSON_Parse(payload);
    const cJSON *k;
    const ev_type_t *t;
    int i = 0;

    ck_assert_msg(cJSON_IsObject(o), "%s: %s is not a JSON object", what, payload);
    k = o->child;
    ck_assert_msg(k != NULL && strcmp(k->string, EV_KEY_TYPE) == 0 && cJSON_IsString(k),
                  "%s: %s does not start with its type", what, payload);
    t = ev_find(k->valuestring);
    ck_assert_msg(t != NULL, "%s: type %s is not in common/events.h", what, k->valuestring);
    ck_assert_msg(strcmp(channel, t->channel) == 0, "%s: %s came on %s, not %s", what, payload,
                  channel, t->channel);
    for (k = k->next; k != NULL; k = k->next, i++)
        ck_assert_msg(t->keys[i] != NULL && strcmp(k->string, t->keys[i]) == 0,
                      "%s: key %d of %s is %s, common/events.h says %s", what, i + 1, payload,
                      k->string, t->keys[i] ? t->keys[i] : "none");
    ck_assert_msg(t->keys[i] == NULL, "%s: %s lacks %s", what, payload, t->keys[i]);
    heard[t - ev_types] = true;
    cJSON_Delete(o);
}

/* Wait for the notifications of a statement just committed (delivered
 * together at its commit), check them, and return how many came. */
static int
listen_drain(PGconn *listener, const char *what)
{
    struct pollfd p = {.fd = PQsocket(listener), .events = POLLIN};
    int n = 0;
    int wait_ms = 5000;

    for (;;) {
        PGnotify *nt;

        ck_assert(PQconsumeInput(listener));
        while ((nt = PQnotifies(listener)) != NULL) {
            payload_check(what, nt->relname, nt->extra);
            PQfreemem(nt);
            n++;
        }
        if (n > 0)
            wait_ms = 100;
        if (poll(&p, 1, wait_ms) <= 0)
            return n;
    }
}

/* ---- the statements ----------------------------------------------------- */

#define REPO_ID "00000000-0000-4000-8000-000000000020"
#define TEMPLATE_ID "00000000-0000-4000-8000-000000000021"
#define RUNNER_ID "00000000-0000-4000-8000-000000000002"
#define OTHER_RUNNER_ID "00000000-0000-4000-8000-000000000003"
#define RUN1 "00000000-0000-4000-8000-000000000001"
#define RUN2 "00000000-0000-4000-8000-000000000002"
#define RUN3 "00000000-0000-4000-8000-000000000003"
#define RUN4 "00000000-0000-4000-8000-000000000004"
#define RUN5 "00000000-0000-4000-8000-000000000005"
#define RUN6 "00000000-0000-4000-8000-000000000006"

#define FIXTURE_SQL                                                                                \
    "INSERT INTO repos (id, name) VALUES ('" REPO_ID "', 'r');"                                    \
    "INSERT INTO templates (id, name, kind, document, source)"                                     \
    " VALUES ('" TEMPLATE_ID "', 't', 'build', '{}', '{}');"                                       \
    "INSERT INTO runners (id, name, hostname, engine, lease_seconds)"                              \
    " VALUES ('" RUNNER_ID "', 'w', 'h', 'local', 60)"

#define RUNS_JSON                                                                                  \
    "[{\"id\": \"" RUN1 "\", \"template_id\": \"" TEMPLATE_ID "\", \"template_version\": 1,"       \
    " \"inputs\": {}, \"spec\": [{\"name\": \"a\"}, {\"name\": \"b\"}]},"                          \
    " {\"id\": \"" RUN2 "\", \"template_id\": \"" TEMPLATE_ID "\", \"template_version\": 1,"       \
    " \"inputs\": {}, \"spec\": [{\"name\": \"a\"}, {\"name\": \"b\"}]}]"

static PGconn *db;

static void
exec_ok(const char *what, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = nparams == 0 ? PQexec(db, sql)
                                 : PQexecParams(db, sql, nparams, NULL, params, NULL, NULL, 0);

    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK,
                  "%s: %s", what, PQresultErrorMessage(res));
    PQclear(res);
}

/* Run a statement on its own (so committed) and check what it notified. */
static void
step(PGconn *listener, const char *what, const char *sql, int nparams, const char *const *params)
{
    exec_ok(what, sql, nparams, params);
    ck_assert_msg(listen_drain(listener, what) > 0, "%s notified nothing", what);
}

static void
worker_step(PGconn *listener, const char *name, int nparams, const char *const *params)
{
    const char *sql = q_statement_sql(name);

    ck_assert_msg(sql != NULL, "no statement %s", name);
    step(listener, name, sql, nparams, params);
}

/* The id of a run's job at a position (the API picks the ids). */
static char *
job_id(const char *run, const char *position)
{
    const char *params[] = {run, position};
    PGresult *res = PQexecParams(db, "SELECT id FROM jobs WHERE run_id = $1 AND position = $2::int",
                                 2, NULL, params, NULL, NULL, 0);
    char *id;

    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1, "job %s/%s: %s",
                  run, position, PQresultErrorMessage(res));
    id = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return id;
}

START_TEST(test_every_notification_matches_the_table)
{
    PGconn *listener = PQconnectdb(conninfo);
    PGresult *res;
    char *a, *b;

    db = PQconnectdb(conninfo);
    ck_assert_msg(PQstatus(db) == CONNECTION_OK, "connect: %s", PQerrorMessage(db));
    ck_assert_msg(PQstatus(listener) == CONNECTION_OK, "connect: %s", PQerrorMessage(listener));
    res = PQexec(listener, "LISTEN " EV_CHANNEL "; LISTEN " EV_LOGS_CHANNEL);
    ck_assert(PQresultStatus(res) == PGRES_COMMAND_OK);
    PQclear(res);
    exec_ok("fixture", FIXTURE_SQL, 0, NULL);

    {
        const char *pause[] = {"w", "t"};
        const char *resume[] = {"w", "f"};
        step(listener, "api pause runner", SQL_RUNNER_PAUSE, 2, pause);
        step(listener, "api resume runner", SQL_RUNNER_PAUSE, 2, resume);
    }

    {
        const char *p[] = {REPO_ID, "manual", "main", NULL, NULL, RUNS_JSON};
        step(listener, "api trigger", SQL_TRIGGER_INSERT, 6, p);
    }
    {
        const char *p[] = {RUN2};
        step(listener, "api cancel of a queued run", SQL_RUN_CANCEL, 1, p);
    }
    {
        const char *p[] = {RUNNER_ID, "60", "1"};
        worker_step(listener, "q_claim", 3, p);
    }
    a = job_id(RUN1, "0");
    b = job_id(RUN1, "1");
    {
        const char *p[] = {RUN1, RUNNER_ID, "1", a, "0", "hello\n"};
        worker_step(listener, "q_log_insert", 6, p);
    }
    {
        const char *p[] = {RUN1, RUNNER_ID, "1", a, "success", "0", NULL, NULL, NULL, "6", "bye\n"};
        worker_step(listener, "q_job_end", 11, p);
    }
    {
        const char *p[] = {RUN1, RUNNER_ID, "1", b};
        worker_step(listener, "q_job_start", 4, p);
    }
    {
        const char *p[] = {RUN1};
        step(listener, "api cancel of a running run", SQL_RUN_CANCEL, 1, p);
    }
    {
        const char *p[] = {RUN1,       RUNNER_ID,  "1",  b,    "canceled", NULL, NULL,
                           "canceled", "canceled", NULL, NULL, NULL,       "0",  "stopped\n"};
        worker_step(listener, "q_job_run_end", 14, p);
    }
    {
        const char *p[] = {RUN1, RUN3};
        step(listener, "api rerun", SQL_RUN_RERUN, 2, p);
    }
    {
        const char *claim[] = {RUNNER_ID, "60", "1"};
        const char *requeue[] = {RUN3, RUNNER_ID, "1"};
        const char *end[] = {RUN3, RUNNER_ID, "2", "failed", "skipped", "it failed"};
        worker_step(listener, "q_claim", 3, claim);
        worker_step(listener, "q_run_requeue", 3, requeue);
        worker_step(listener, "q_claim", 3, claim);
        worker_step(listener, "q_run_end", 6, end);
    }
    {
        const char *rerun[] = {RUN3, RUN4};
        const char *claim[] = {RUNNER_ID, "60", "1"};
        const char *own[] = {RUNNER_ID, "was restarted", "{}", "t"};
        step(listener, "api rerun", SQL_RUN_RERUN, 2, rerun);
        worker_step(listener, "q_claim", 3, claim);
        worker_step(listener, "q_reap_own", 4, own);
    }
    {
        /* After a reconnect, a claim it does not hold goes back to the queue. */
        const char *rerun[] = {RUN4, RUN6};
        const char *claim[] = {RUNNER_ID, "60", "1"};
        const char *own[] = {RUNNER_ID, "lost the run", "{}", "f"};
        step(listener, "api rerun", SQL_RUN_RERUN, 2, rerun);
        worker_step(listener, "q_claim", 3, claim);
        worker_step(listener, "q_reap_own", 4, own);
    }
    {
        const char *rerun[] = {RUN4, RUN5};
        const char *claim[] = {RUNNER_ID, "60", "1"};
        const char *reap[] = {OTHER_RUNNER_ID};
        step(listener, "api rerun", SQL_RUN_RERUN, 2, rerun);
        worker_step(listener, "q_claim", 3, claim);
        exec_ok("lease expiry",
                "UPDATE pipeline_runs SET lease_expires_at = now() - interval '1 hour'", 0, NULL);
        worker_step(listener, "q_reap", 1, reap);
    }
    for (size_t i = 0; i < ev_ntypes; i++)
        ck_assert_msg(heard[i], "no statement published a %s event", ev_types[i].type);
    free(a);
    free(b);
    PQfinish(listener);
    PQfinish(db);
}
END_TEST

/* ---- docs/events.md ------------------------------------------------------ */

/* Every `{"type": ...}` payload of the page has the keys of its type, in
 * order, and every type of the table is on the page. */
START_TEST(test_docs_list_the_table)
{
    char *doc = NULL;
    size_t len = 0;
    FILE *f = fopen(GW_TEST_SOURCE_DIR "/docs/events.md", "r");
    bool shown[16] = {false};
    const char *p;

    ck_assert(f != NULL);
    ck_assert(getdelim(&doc, &len, '\0', f) > 0);
    fclose(f);
    for (p = doc; (p = strstr(p, "`{\"" EV_KEY_TYPE "\": \"")) != NULL;) {
        const char *end = strstr(p, "}`");
        char type[32], key[32];
        const ev_type_t *t;
        int i = 0;

        ck_assert(end != NULL);
        ck_assert(sscanf(p, "`{\"" EV_KEY_TYPE "\": \"%31[a-z_]\"", type) == 1);
        t = ev_find(type);
        ck_assert_msg(t != NULL, "docs/events.md shows type %s, not in common/events.h", type);
        /* The keys after the type: each a quoted name and a colon. */
        for (const char *q = strchr(p + 3, ',');
             q != NULL && q < end && sscanf(q, ", \"%31[a-z_]\":", key) == 1;
             q = strchr(q + 1, ','), i++)
            ck_assert_msg(t->keys[i] != NULL && strcmp(key, t->keys[i]) == 0,
                          "docs/events.md: key %d of %s is %s, common/events.h says %s", i + 1,
                          type, key, t->keys[i] ? t->keys[i] : "none");
        ck_assert_msg(t->keys[i] == NULL, "docs/events.md: %s lacks %s", type, t->keys[i]);
        shown[t - ev_types] = true;
        p = end;
    }
    for (size_t i = 0; i < ev_ntypes; i++)
        ck_assert_msg(shown[i], "docs/events.md does not show the %s event", ev_types[i].type);
    free(doc);
}
END_TEST

static Suite *
events_suite(void)
{
    Suite *s = suite_create("events");
    TCase *tc;

    suite_add_test_case(s, test_docs_list_the_table, 0);
    /* The cluster is started only when this case runs. */
    tc = tcase_create("test_every_notification_matches_the_table");
    tcase_add_unchecked_fixture(tc, cluster_start, cluster_stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_every_notification_matches_the_table);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(events_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
