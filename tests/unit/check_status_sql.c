/*
 * check_status_sql - ties the SQL of both programs to the status table of
 * common/status.c, against a real Postgres with the project's migrations
 * (tests/lib/pg_cluster.sh).
 *
 * Every statement that changes a run's or a job's status (the worker's in
 * worker/queue.c, read back with q_statement_sql; the API's in
 * api/queries.h) runs from every combination of run status and job
 * statuses, with every status its parameters can name. Whatever it moves
 * must be a transition status_can_transition allows, and every transition
 * the table allows must be made by some statement: so the test fails when
 * either the table or a statement changes alone. The SQL functions the
 * statements use for their parameters (gw_run_may, gw_job_may) are held to
 * the table pair by pair, and the retry rule (docs/queue.md: a repeated
 * write finds its row already in the status it sets, and succeeds without
 * a transition) is checked statement by statement.
 */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_case.h"
#include "pg_cluster.h"
#include "queries.h"
#include "queue.h"
#include "status.h"
#include "util.h"

static void
cluster_start(void)
{
    cluster_start_named("gwchecksql");
    cluster_migrate();
}

/* ---- the fixture: one run with a target job and six others ------------- */

#define RUN_ID "00000000-0000-4000-8000-000000000001"
#define RUNNER_ID "00000000-0000-4000-8000-000000000002"
#define OTHER_RUNNER_ID "00000000-0000-4000-8000-000000000003"
#define JOB_ID "00000000-0000-4000-8000-000000000010"
#define NEW_RUN_ID "00000000-0000-4000-8000-000000000099"
#define NJOBS 7 /* the target job (position 0) and one per job status */

/* Inserted once per connection and kept under the savepoint f; every case
 * starts from it. The run is claimed by RUNNER_ID, attempt 1, its lease
 * expired an hour ago (so the reaper takes it when it is running). */
#define FIXTURE_SQL                                                                                \
    "BEGIN;"                                                                                       \
    "INSERT INTO repos (id, name) VALUES ('00000000-0000-4000-8000-000000000020', 'r');"           \
    "INSERT INTO templates (id, name, kind, document, source)"                                     \
    " VALUES ('00000000-0000-4000-8000-000000000021', 't', 'build', '{}', '{}');"                  \
    "INSERT INTO runners (id, name, hostname, engine, lease_seconds)"                              \
    " VALUES ('" RUNNER_ID "', 'w', 'h', 'local', 60);"                                            \
    "INSERT INTO pipeline_runs (id, repo_id, template_id, template_version, spec, runner_id,"      \
    " attempt, lease_expires_at) VALUES ('" RUN_ID "', '00000000-0000-4000-8000-000000000020',"    \
    " '00000000-0000-4000-8000-000000000021', 1, '[]', '" RUNNER_ID "', 1,"                        \
    " now() - interval '1 hour');"                                                                 \
    "INSERT INTO jobs (id, run_id, position, name) VALUES ('" JOB_ID "', '" RUN_ID "', 0, 'j');"   \
    "INSERT INTO jobs (id, run_id, position, name, status)"                                        \
    " SELECT gen_random_uuid(), '" RUN_ID "', n, 'o' || n, s"                                      \
    " FROM unnest(enum_range(NULL::job_status)) WITH ORDINALITY AS e (s, n);"                      \
    "SAVEPOINT f"

/* The statuses of the run (index 0) and its jobs (1 + position). */
typedef struct {
    int run;
    int jobs[NJOBS];
    bool present[NJOBS];
} snapshot_t;

#define SNAPSHOT_SQL                                                                               \
    "SELECT -1, status::text FROM pipeline_runs WHERE id = '" RUN_ID "'"                           \
    " UNION ALL SELECT position, status::text FROM jobs WHERE run_id = '" RUN_ID "' AND retry = 0"

static void
snapshot_read(const PGresult *res, snapshot_t *s)
{
    memset(s, 0, sizeof(*s));
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "snapshot: %s",
                  PQresultErrorMessage(res));
    for (int i = 0; i < PQntuples(res); i++) {
        int pos = atoi(PQgetvalue(res, i, 0));
        int st = status_parse(pos < 0 ? ST_KIND_RUN : ST_KIND_JOB, PQgetvalue(res, i, 1));

        ck_assert_msg(st >= 0, "status %s is not in common/status.c", PQgetvalue(res, i, 1));
        if (pos < 0) {
            s->run = st;
        } else {
            ck_assert(pos < NJOBS);
            s->jobs[pos] = st;
            s->present[pos] = true;
        }
    }
}

static PGconn *
fixture_connect(void)
{
    PGconn *conn = PQconnectdb(conninfo);
    PGresult *res;

    ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "connect: %s", PQerrorMessage(conn));
    res = PQexec(conn, FIXTURE_SQL);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "fixture: %s",
                  PQresultErrorMessage(res));
    PQclear(res);
    return conn;
}

/* The fixture state of a case: $1 run status, $2 target job status, $3
 * whether the other jobs stay, $4 whether the jobs say retry (max 3, on
 * runner_lost). The snapshot reads the fixture's try only: a retry adds
 * the rows of the next try, which no status moved. */
/* clang-format off */
#define RETRY_RULE(on)                                                                             \
    "retry_max = CASE WHEN " on " THEN 3 ELSE 0 END,"                                              \
    " retry_when = CASE WHEN " on " THEN '{runner_lost}'::text[] ELSE '{}' END"
#define SET_SQL                                                                                    \
    "WITH r AS (UPDATE pipeline_runs SET status = $1::run_status WHERE id = '" RUN_ID "'),"        \
    " j AS (UPDATE jobs SET status = $2::job_status, " RETRY_RULE("$4::boolean")                   \
    "  WHERE id = '" JOB_ID "'),"                                                                  \
    " k AS (UPDATE jobs SET " RETRY_RULE("$4::boolean")                                            \
    "  WHERE run_id = '" RUN_ID "' AND position > 0 AND $3::boolean),"                             \
    " d AS (DELETE FROM jobs WHERE run_id = '" RUN_ID "' AND position > 0 AND NOT $3::boolean)"    \
    " SELECT 1"
/* clang-format on */

/* Back to the fixture, then the run in run_st, the target job in job_st,
 * and the other jobs kept (others) or removed; the snapshot goes to *s. */
static void
fixture_set_retry(PGconn *conn, int run_st, int job_st, bool others, bool retry, snapshot_t *s)
{
    const char *set[] = {status_name((gw_status_t)run_st), status_name((gw_status_t)job_st),
                         others ? "t" : "f", retry ? "t" : "f"};
    PGresult *res = PQexec(conn, "ROLLBACK TO SAVEPOINT f");

    PQclear(res);
    res = PQexecParams(conn, SET_SQL, 4, NULL, set, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "set: %s", PQresultErrorMessage(res));
    PQclear(res);
    res = PQexec(conn, SNAPSHOT_SQL);
    snapshot_read(res, s);
    PQclear(res);
}

static void
fixture_set(PGconn *conn, int run_st, int job_st, bool others, snapshot_t *s)
{
    fixture_set_retry(conn, run_st, job_st, others, false, s);
}

/* ---- the statements and their parameters ------------------------------- */

/* A parameter naming a status: every run status, or every job status. */
#define ANY_RUN_STATUS "@run"
#define ANY_JOB_STATUS "@job"
#define MAX_PARAMS 14

typedef struct {
    const char *name;
    const char *worker; /* the name the worker prepares it under, or NULL */
    const char *sql;    /* the API's; the worker's are read with q_statement_sql */
    int nparams;
    const char *params[MAX_PARAMS]; /* NULL is SQL NULL */
    bool retry;                     /* the fixture's jobs say retry */
} statement_t;

static statement_t statements[] = {
    {"worker claim", "q_claim", NULL, 3, {RUNNER_ID, "60", "1"}, false},
    {"worker job start", "q_job_start", NULL, 4, {RUN_ID, RUNNER_ID, "1", JOB_ID}, false},
    {"worker job end",
     "q_job_end",
     NULL,
     11,
     {RUN_ID, RUNNER_ID, "1", JOB_ID, ANY_JOB_STATUS, "0", NULL, NULL, NULL, "0", "x\n"},
     false},
    {"worker run end",
     "q_run_end",
     NULL,
     6,
     {RUN_ID, RUNNER_ID, "1", ANY_RUN_STATUS, ANY_JOB_STATUS, NULL},
     false},
    {"worker job and run end",
     "q_job_run_end",
     NULL,
     14,
     {RUN_ID, RUNNER_ID, "1", JOB_ID, ANY_JOB_STATUS, "0", NULL, ANY_RUN_STATUS, ANY_JOB_STATUS,
      NULL, NULL, NULL, "0", "x\n"},
     false},
    {"worker requeue", "q_run_requeue", NULL, 3, {RUN_ID, RUNNER_ID, "1"}, false},
    {"worker reap", "q_reap", NULL, 1, {OTHER_RUNNER_ID}, false},
    {"worker reap own, restarted",
     "q_reap_own",
     NULL,
     4,
     {RUNNER_ID, "was restarted", "{}", "t"},
     false},
    {"worker reap own, reconnected",
     "q_reap_own",
     NULL,
     4,
     {RUNNER_ID, "lost the run", "{}", "f"},
     false},
    {"worker run lost", "q_run_lost", NULL, 4, {RUN_ID, RUNNER_ID, "1", "was stopped"}, false},
    {"worker reap, retried", "q_reap", NULL, 1, {OTHER_RUNNER_ID}, true},
    {"worker reap own, retried",
     "q_reap_own",
     NULL,
     4,
     {RUNNER_ID, "was restarted", "{}", "t"},
     true},
    {"worker run lost, retried",
     "q_run_lost",
     NULL,
     4,
     {RUN_ID, RUNNER_ID, "1", "was stopped"},
     true},
    {"api cancel", NULL, SQL_RUN_CANCEL, 1, {RUN_ID}, false},
};

static void
statements_load(void)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(statements); i++) {
        if (statements[i].worker == NULL)
            continue;
        statements[i].sql = q_statement_sql(statements[i].worker);
        ck_assert_msg(statements[i].sql != NULL, "no statement %s", statements[i].worker);
    }
}

/* Which (kind, from, to) some statement made, over the whole test. */
static bool made[2][ST__COUNT][ST__COUNT];

/* Every status change between before and after must be allowed. */
static void
compare(const char *what, const snapshot_t *before, const snapshot_t *after)
{
    if (after->run != before->run) {
        ck_assert_msg(status_can_transition(ST_KIND_RUN, before->run, after->run),
                      "%s moved the run %s -> %s, which common/status.c does not allow", what,
                      status_name(before->run), status_name(after->run));
        made[ST_KIND_RUN][before->run][after->run] = true;
    }
    for (int p = 0; p < NJOBS; p++) {
        ck_assert(before->present[p] == after->present[p]);
        if (!before->present[p] || after->jobs[p] == before->jobs[p])
            continue;
        ck_assert_msg(status_can_transition(ST_KIND_JOB, before->jobs[p], after->jobs[p]),
                      "%s moved job %d %s -> %s, which common/status.c does not allow", what, p,
                      status_name(before->jobs[p]), status_name(after->jobs[p]));
        made[ST_KIND_JOB][before->jobs[p]][after->jobs[p]] = true;
    }
}

/* One execution: a fixture state and the parameters' values. */
typedef struct {
    int run_st, job_st;
    bool others;
    const char *params[MAX_PARAMS];
} case_t;

typedef struct {
    case_t *v;
    size_t n, cap;
} cases_t;

/* Add a case per value of st's status parameters (the k-th of them from
 * index k on): every job status, the run's included (one that is not a run
 * status must be refused by the cast). */
static void
cases_add(cases_t *cs, const statement_t *st, case_t *c, int k)
{
    for (; k < st->nparams; k++) {
        const char *p = st->params[k];
        if (p == NULL || (strcmp(p, ANY_RUN_STATUS) != 0 && strcmp(p, ANY_JOB_STATUS) != 0))
            continue;
        for (int v = 0; v < ST__COUNT; v++) {
            c->params[k] = status_name((gw_status_t)v);
            cases_add(cs, st, c, k + 1);
        }
        c->params[k] = p;
        return;
    }
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? 2 * cs->cap : 256;
        cs->v = xrealloc(cs->v, cs->cap * sizeof(*cs->v));
    }
    cs->v[cs->n++] = *c;
}

static void
case_describe(const statement_t *st, const case_t *c, char *what, size_t size)
{
    snprintf(what, size, "%s (run %s, job %s, %s other jobs; params", st->name,
             status_name((gw_status_t)c->run_st), status_name((gw_status_t)c->job_st),
             c->others ? "six" : "no");
    for (int i = 0; i < st->nparams; i++) {
        size_t n = strlen(what);
        snprintf(what + n, size - n, " %s", c->params[i] ? c->params[i] : "NULL");
    }
    strncat(what, ")", size - strlen(what) - 1);
}

/* The queries of one case, sent in a pipeline and answered in order. */
enum { Q_ROLLBACK, Q_SET, Q_BEFORE, Q_STATEMENT, Q_AFTER, Q__COUNT };
/* Cases sent before their results are read: few enough that the results
 * never fill the socket's buffers while the client is still sending. */
#define CHUNK 32

static void
send_case(PGconn *conn, const statement_t *st, const case_t *c)
{
    const char *set[] = {status_name((gw_status_t)c->run_st), status_name((gw_status_t)c->job_st),
                         c->others ? "t" : "f", st->retry ? "t" : "f"};

    ck_assert(PQsendQueryParams(conn, "ROLLBACK TO SAVEPOINT f", 0, NULL, NULL, NULL, NULL, 0));
    ck_assert(PQsendQueryPrepared(conn, "set", 4, set, NULL, NULL, 0));
    ck_assert(PQsendQueryPrepared(conn, "snapshot", 0, NULL, NULL, NULL, 0));
    ck_assert(PQsendQueryPrepared(conn, "statement", st->nparams, c->params, NULL, NULL, 0));
    ck_assert(PQsendQueryPrepared(conn, "snapshot", 0, NULL, NULL, NULL, 0));
    ck_assert(PQpipelineSync(conn));
}

/* Read a case's results and compare what moved with the table. */
static void
read_case(PGconn *conn, const statement_t *st, const case_t *c)
{
    snapshot_t before, after;
    char what[256];
    bool failed = false;
    PGresult *res;

    case_describe(st, c, what, sizeof(what));
    for (int q = 0; q < Q__COUNT; q++) {
        res = PQgetResult(conn);
        ck_assert(res != NULL);
        if (q == Q_STATEMENT && PQresultStatus(res) == PGRES_FATAL_ERROR) {
            /* Only a status that is not one of the column's type may fail. */
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            ck_assert_msg(state != NULL && strcmp(state, "22P02") == 0, "%s failed: %s", what,
                          PQresultErrorMessage(res));
            failed = true;
        } else if (q == Q_BEFORE || (q == Q_AFTER && !failed)) {
            snapshot_read(res, q == Q_BEFORE ? &before : &after);
        } else if (!failed) {
            ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK ||
                              PQresultStatus(res) == PGRES_TUPLES_OK,
                          "%s: query %d: %s", what, q, PQresultErrorMessage(res));
        }
        PQclear(res);
        ck_assert(PQgetResult(conn) == NULL);
    }
    res = PQgetResult(conn);
    ck_assert(PQresultStatus(res) == PGRES_PIPELINE_SYNC);
    PQclear(res);
    if (!failed)
        compare(what, &before, &after);
}

static void
prepare(PGconn *conn, const char *name, const char *sql)
{
    PGresult *res = PQprepare(conn, name, sql, 0, NULL);

    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "prepare %s: %s", name,
                  PQresultErrorMessage(res));
    PQclear(res);
}

START_TEST(test_statements_make_only_table_transitions)
{
    PGconn *conn = fixture_connect();

    statements_load();
    for (size_t i = 0; i < GW_ARRAY_LEN(statements); i++) {
        const statement_t *st = &statements[i];
        cases_t cs = {0};
        case_t c = {0};
        PGresult *res;

        memcpy(c.params, st->params, sizeof(c.params));
        for (c.run_st = 0; c.run_st < ST__COUNT; c.run_st++) {
            if (status_parse(ST_KIND_RUN, status_name((gw_status_t)c.run_st)) < 0)
                continue;
            for (c.job_st = 0; c.job_st < ST__COUNT; c.job_st++)
                for (int others = 0; others <= 1; others++) {
                    c.others = others;
                    cases_add(&cs, st, &c, 0);
                }
        }
        /* Prepared with the types inferred, as the worker and the API do. */
        res = PQexec(conn, "ROLLBACK TO SAVEPOINT f; DEALLOCATE ALL");
        PQclear(res);
        prepare(conn, "set", SET_SQL);
        prepare(conn, "snapshot", SNAPSHOT_SQL);
        prepare(conn, "statement", st->sql);
        ck_assert(PQenterPipelineMode(conn));
        for (size_t done = 0; done < cs.n; done += CHUNK) {
            size_t n = cs.n - done < CHUNK ? cs.n - done : CHUNK;
            for (size_t k = 0; k < n; k++)
                send_case(conn, st, &cs.v[done + k]);
            for (size_t k = 0; k < n; k++)
                read_case(conn, st, &cs.v[done + k]);
        }
        ck_assert(PQexitPipelineMode(conn));
        free(cs.v);
    }
    PQfinish(conn);

    /* And every transition of the table is made by some statement. */
    for (int kind = ST_KIND_RUN; kind <= ST_KIND_JOB; kind++)
        for (int from = 0; from < ST__COUNT; from++)
            for (int to = 0; to < ST__COUNT; to++)
                ck_assert_msg(!status_can_transition(kind, from, to) || made[kind][from][to],
                              "common/status.c allows %s %s -> %s, but no statement makes it",
                              kind == ST_KIND_RUN ? "run" : "job", status_name(from),
                              status_name(to));
}
END_TEST

/* gw_run_may and gw_job_may (db/migrations/0007) against the table, and
 * the enum types against the statuses C knows. */
START_TEST(test_sql_functions_match_table)
{
    static const char *const sql[2] = {
        "SELECT f::text, t::text, gw_run_may(f, t) FROM unnest(enum_range(NULL::run_status)) f,"
        " unnest(enum_range(NULL::run_status)) t",
        "SELECT f::text, t::text, gw_job_may(f, t) FROM unnest(enum_range(NULL::job_status)) f,"
        " unnest(enum_range(NULL::job_status)) t"};
    PGconn *conn = PQconnectdb(conninfo);

    for (int kind = ST_KIND_RUN; kind <= ST_KIND_JOB; kind++) {
        PGresult *res = PQexec(conn, sql[kind]);
        int statuses = 0;

        ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
        for (int s = 0; s < ST__COUNT; s++)
            statuses += status_parse(kind, status_name((gw_status_t)s)) >= 0;
        ck_assert_int_eq(PQntuples(res), statuses * statuses);
        for (int i = 0; i < PQntuples(res); i++) {
            int from = status_parse(kind, PQgetvalue(res, i, 0));
            int to = status_parse(kind, PQgetvalue(res, i, 1));
            bool sql_may = strcmp(PQgetvalue(res, i, 2), "t") == 0;

            ck_assert(from >= 0 && to >= 0);
            ck_assert_msg(sql_may == status_can_transition(kind, from, to),
                          "%s %s -> %s: the SQL says %d, common/status.c says %d",
                          kind == ST_KIND_RUN ? "run" : "job", status_name(from), status_name(to),
                          sql_may, !sql_may);
        }
        PQclear(res);
    }
    PQfinish(conn);
}
END_TEST

/* The rows a worker's statement returns from a fixture state, which it
 * must leave as it was (a retry, or a refusal). */
static int
rows_from(PGconn *conn, const char *name, int run_st, int job_st, int nparams,
          const char *const *params)
{
    snapshot_t before, after;
    PGresult *res;
    int n;

    fixture_set(conn, run_st, job_st, false, &before);
    res = PQexecParams(conn, q_statement_sql(name), nparams, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", name,
                  PQresultErrorMessage(res));
    n = PQntuples(res);
    PQclear(res);
    res = PQexec(conn, SNAPSHOT_SQL);
    snapshot_read(res, &after);
    PQclear(res);
    ck_assert_msg(memcmp(&before, &after, sizeof(before)) == 0, "%s changed a status", name);
    return n;
}

/*
 * The retry rule: a worker's write repeated after a lost reply finds its
 * row in the status it sets, changes nothing and succeeds (one row), so the
 * worker goes on. A claim is not a write that repeats: a running run is
 * never claimed again as running (it goes back to queued first, and the
 * next claim is a new attempt).
 */
START_TEST(test_retries)
{
    PGconn *conn = fixture_connect();
    const char *start[] = {RUN_ID, RUNNER_ID, "1", JOB_ID};
    const char *job_end[] = {RUN_ID, RUNNER_ID, "1",  JOB_ID, "success", "0",
                             NULL,   NULL,      NULL, "0",    "x\n"};
    const char *run_end[] = {RUN_ID, RUNNER_ID, "1", "success", "skipped", NULL};
    const char *job_run_end[] = {RUN_ID,    RUNNER_ID, "1",  JOB_ID, "success", "0", NULL,
                                 "success", "skipped", NULL, NULL,   NULL,      "0", "x\n"};
    const char *claim[] = {RUNNER_ID, "60", "1"};

    ck_assert_int_eq(rows_from(conn, "q_job_start", ST_RUNNING, ST_RUNNING, 4, start), 1);
    ck_assert_int_eq(rows_from(conn, "q_job_end", ST_RUNNING, ST_SUCCESS, 11, job_end), 1);
    ck_assert_int_eq(rows_from(conn, "q_run_end", ST_SUCCESS, ST_SUCCESS, 6, run_end), 1);
    ck_assert_int_eq(rows_from(conn, "q_job_run_end", ST_SUCCESS, ST_SUCCESS, 14, job_run_end), 1);
    /* A different end is no retry: refused. */
    job_end[4] = "failed";
    ck_assert_int_eq(rows_from(conn, "q_job_end", ST_RUNNING, ST_SUCCESS, 11, job_end), 0);
    ck_assert_int_eq(rows_from(conn, "q_claim", ST_RUNNING, ST_RUNNING, 3, claim), 0);
    PQfinish(conn);
}
END_TEST

/*
 * A run lost with its runner whose job says retry goes back to the queue
 * as its next try: the reason added to its retries, the earlier try's rows
 * ended (the running job failed, the queued ones skipped), and one fresh
 * queued row per job for the next try; without retry, or with a cancel
 * asked for, it fails.
 */
START_TEST(test_lost_run_retried)
{
    PGconn *conn = fixture_connect();
    const char *lost[] = {RUN_ID, RUNNER_ID, "1", "runner w was stopped"};
    static const char *const check =
        "SELECT r.status || ' ' || cardinality(r.retries) || ' ' || coalesce(r.retries[1], '-')"
        " || ' ' || (SELECT count(*) FROM jobs WHERE run_id = r.id AND retry = 1"
        "             AND status = 'queued')"
        " || ' ' || (SELECT string_agg(DISTINCT status::text, ',') FROM jobs"
        "             WHERE run_id = r.id AND retry = 0 AND position IN (0, 1))"
        " FROM pipeline_runs r WHERE r.id = '" RUN_ID "'";
    const char *want[] = {"queued 1 runner w was stopped 7 failed,skipped",
                          "failed 0 - 0 failed,skipped", "failed 0 - 0 failed,skipped"};
    snapshot_t s;

    for (int i = 0; i < 3; i++) {
        PGresult *res;

        /* The job the run is at: the target job (position 0, running);
         * position 1 is the fixture's queued job. */
        fixture_set_retry(conn, ST_RUNNING, ST_RUNNING, true, i != 1, &s);
        if (i == 2) {
            res = PQexec(conn, "UPDATE pipeline_runs SET cancel_requested_at = now()"
                               " WHERE id = '" RUN_ID "'");
            PQclear(res);
        }
        res = PQexecParams(conn, q_statement_sql("q_run_lost"), 4, NULL, lost, NULL, NULL, 0);
        ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
        PQclear(res);
        res = PQexec(conn, check);
        ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
        ck_assert_str_eq(PQgetvalue(res, 0, 0), want[i]);
        PQclear(res);
    }
    PQfinish(conn);
}
END_TEST

/* The API reruns a run that has ended: one whose status is final. */
START_TEST(test_rerun_needs_final_status)
{
    PGconn *conn = fixture_connect();
    const char *params[] = {RUN_ID, NEW_RUN_ID};

    for (int st = 0; st < ST__COUNT; st++) {
        snapshot_t s;
        PGresult *res;

        if (status_parse(ST_KIND_RUN, status_name((gw_status_t)st)) < 0)
            continue;
        fixture_set(conn, st, ST_QUEUED, true, &s);
        res = PQexecParams(conn, SQL_RUN_RERUN, 2, NULL, params, NULL, NULL, 0);
        ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1, "%s",
                      PQresultErrorMessage(res));
        ck_assert_msg(!PQgetisnull(res, 0, 1) == status_is_final((gw_status_t)st),
                      "rerun of a %s run", status_name((gw_status_t)st));
        PQclear(res);
    }
    PQfinish(conn);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("status_sql");
    SRunner *sr;
    int failed;

    suite_add_test_case(s, test_sql_functions_match_table, 120);
    suite_add_test_case(s, test_statements_make_only_table_transitions, 120);
    suite_add_test_case(s, test_retries, 120);
    suite_add_test_case(s, test_lost_run_retried, 120);
    suite_add_test_case(s, test_rerun_needs_final_status, 120);
    sr = srunner_create(s);
    /* One cluster for every case (they each reset the fixture they use). */
    cluster_start();
    srunner_run_all(sr, CK_NORMAL);
    cluster_stop();
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
