/*
 * queue - the worker's statements: register, claim, lease, fenced writes,
 * reap. See queue.h and docs/queue.md.
 *
 * Longer than most files: it holds every statement the worker sends, each
 * with the comment that says why it reads as it does, so that one file
 * shows all the worker asks of the database (check_status_sql and
 * check_events run them all).
 */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "db.h"
#include "events.h"
#include "job_secrets.h"
#include "log.h"
#include "spec.h"

/* The SQL is laid out by hand, a clause per line. */
/* clang-format off */

/* The fence every write about a claimed run carries: $1 run, $2 runner,
 * $3 attempt. FOR SHARE holds the run row until the write commits, so a
 * reaper (FOR UPDATE SKIP LOCKED) cannot end the run between the check and
 * the write; one that got there first makes the check fail. */
#define FENCE                                                                                  \
    "EXISTS (SELECT 1 FROM pipeline_runs WHERE id = $1 AND runner_id = $2"                     \
    " AND attempt = $3::int AND status = 'running' FOR SHARE)"

/* The advisory lock of a runner: the one-key form with a 64-bit hash of its
 * name (seeded, so that it is no other hash of the name), which pg_locks
 * shows as classid (high half), objid (low half) and objsubid 1. Two names
 * share a lock with a chance of 2^-64 (a 32-bit hashtext made pairs of
 * runner names collide among a few tens of thousands). */
#define LOCK_SEED "1735549298" /* "gwlr" */
#define LOCK_KEY(name) "hashtextextended(" name ", " LOCK_SEED ")"
/* Whether l (a row of pg_locks) is the granted lock of runner name. */
#define LOCK_IS(l, name)                                                                           \
    l ".locktype = 'advisory' AND " l ".granted AND " l ".objsubid = 1"                            \
      " AND " l ".database = (SELECT oid FROM pg_database WHERE datname = current_database())"     \
      " AND ((" l ".classid::bigint << 32) | " l ".objid::bigint) = " LOCK_KEY(name)
#define LOCK_HELD(name) "EXISTS (SELECT 1 FROM pg_locks l WHERE " LOCK_IS("l", name) ")"

/* The lock taken ("t") or not, and then who holds it: the runner whose
 * name has its key, its host, and the database session. */
#define SQL_LOCK                                                                                   \
    "WITH l AS (SELECT pg_try_advisory_lock(" LOCK_KEY("$1") ") AS ok),"                           \
    " u AS (UPDATE runners SET lost_at = NULL WHERE name = $1 AND (SELECT ok FROM l))"             \
    " SELECT ok, CASE WHEN NOT ok THEN"                                                            \
    "   (SELECT format('runner %s on host %s, database session pid %s from %s since %s',"          \
    "                  COALESCE(rn.name, 'unknown'), COALESCE(rn.hostname, 'unknown'), h.pid,"     \
    "                  COALESCE(host(a.client_addr), 'a local socket'),"                           \
    "                  COALESCE(a.backend_start::text, 'an unknown time'))"                        \
    "      FROM pg_locks h LEFT JOIN pg_stat_activity a ON a.pid = h.pid"                          \
    "      LEFT JOIN runners rn ON " LOCK_KEY("rn.name") " = " LOCK_KEY("$1")                      \
    "     WHERE " LOCK_IS("h", "$1") " AND h.pid <> pg_backend_pid()"                              \
    "     ORDER BY rn.name = $1 DESC LIMIT 1) END"                                                 \
    " FROM l"

#define SQL_REGISTER                                                                               \
    "INSERT INTO runners (id, name, hostname, engine, lease_seconds, slots, status, labels,"       \
    "                     run_unlabeled)"                                                          \
    " VALUES ($1, $2, $3, $4, $5::int, $6::int, 'idle',"                                           \
    "         ARRAY(SELECT DISTINCT l FROM unnest(string_to_array($7, ',')) l ORDER BY 1),"        \
    "         $8::boolean)"                                                                        \
    " ON CONFLICT (name) DO UPDATE SET hostname = EXCLUDED.hostname,"                              \
    "   engine = EXCLUDED.engine, lease_seconds = EXCLUDED.lease_seconds,"                         \
    "   labels = EXCLUDED.labels, run_unlabeled = EXCLUDED.run_unlabeled,"                         \
    "   slots = EXCLUDED.slots, lost_at = NULL,"                                                   \
    "   status = 'idle', status_detail = NULL, started_at = now(), last_seen_at = now()"           \
    " RETURNING id"

#define SQL_HEARTBEAT                                                                          \
    "WITH hb AS (UPDATE runners SET last_seen_at = now(), status = $2, status_detail = $3,"    \
    "                   slots = $4::int, lost_at = NULL"                                       \
    "             WHERE id = $1 RETURNING id),"                                                \
    " rn AS (UPDATE pipeline_runs p"                                                           \
    "           SET lease_expires_at = now() + $5::int * interval '1 second'"                  \
    "          FROM unnest($6::uuid[], $7::int[]) AS h (id, attempt)"                          \
    "         WHERE p.id = h.id AND p.attempt = h.attempt AND p.runner_id = $1"                \
    "           AND p.status = 'running'"                                                      \
    "        RETURNING p.id, p.cancel_requested_at IS NOT NULL AS cancel)"                     \
    " SELECT 'runner', NULL::text, NULL::boolean FROM hb"                                      \
    " UNION ALL SELECT 'run', rn.id::text, rn.cancel FROM rn"

/*
 * Claims the oldest queued runs that the runner may take by their labels
 * (gw_claimable, db/migrations/0011: none while it is paused), each with
 * its jobs (in position order) as JSON, and says so on the event channel.
 * The first job of each run starts in the same statement: the worker starts
 * it as soon as the claim is answered, so its "running" would always follow
 * the claim (one round trip less before a job runs). Its id is returned
 * (NULL when that job was not queued), and its event follows its run's.
 */
#define SQL_CLAIM                                                                                  \
    "WITH c AS ("                                                                                  \
    "  UPDATE pipeline_runs r SET status = 'running', runner_id = $1,"                             \
    "         attempt = r.attempt + 1, started_at = now(),"                                        \
    "         lease_expires_at = now() + $2::int * interval '1 second'"                            \
    "   WHERE r.id IN (SELECT q.id FROM gw_claimable($1, $3::int) AS c (id)"                       \
    "                   JOIN pipeline_runs q ON q.id = c.id WHERE q.status = 'queued'"             \
    "                   ORDER BY q.created_at LIMIT $3::int FOR UPDATE OF q SKIP LOCKED)"          \
    "  RETURNING r.id, r.attempt, r.repo_id, r.ref, r.commit_sha, r.spec, r.clean,"                \
    "            r.created_at, cardinality(r.retries) AS retry, r.inputs),"                        \
    " fj AS ("                                                                                     \
    "  UPDATE jobs j SET status = 'running', started_at = now()"                                   \
    "    FROM c WHERE j.run_id = c.id AND j.retry = c.retry AND j.status = 'queued'"               \
    "     AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.run_id = j.run_id"                          \
    "                        AND p.retry = j.retry AND p.position < j.position)"                   \
    "  RETURNING j.id, j.run_id)"                                                                  \
    " SELECT c.id, c.attempt, repos.name, repos.clone_url, c.ref, c.commit_sha,"                   \
    "        c.spec::text, c.clean,"                                                               \
    "        (SELECT json_agg(json_build_object('id', j.id, 'name', j.name, 'kind', j.kind,"       \
    "                                           'image', j.image) ORDER BY j.position)"            \
    "           FROM jobs j WHERE j.run_id = c.id AND j.retry = c.retry)::text,"                   \
    "        " EV_RUN_SQL("c.id", "'running'") ", fj.id,"                                          \
    "        CASE WHEN fj.id IS NOT NULL"                                                          \
    "             THEN " EV_JOB_SQL("fj.id", "fj.run_id", "'running'") " END,"                     \
    "        c.repo_id, c.inputs::text"                                                            \
    "   FROM c JOIN repos ON repos.id = c.repo_id LEFT JOIN fj ON fj.run_id = c.id"                \
    "  ORDER BY c.created_at"

/* 'running' is accepted too so that a retry after a lost reply is safe. */
#define SQL_JOB_START                                                                          \
    "WITH j AS (UPDATE jobs SET status = 'running',"                                           \
    "                  started_at = COALESCE(started_at, now())"                               \
    "            WHERE id = $4 AND run_id = $1"                                                \
    "              AND status IN ('queued', 'running') AND " FENCE                             \
    "           RETURNING id, run_id)"                                                         \
    " SELECT " EV_JOB_SQL("j.id", "j.run_id", "'running'") " FROM j"

/* The job's end as CTE j: $1-$3 the fence, $4 job, $5 status, $6 exit
 * code, $7 error. The gw_*_may functions (db/migrations/0007) refuse an
 * end that common/status.c does not allow from running. */
#define JOB_END_CTE                                                                            \
    "j AS (UPDATE jobs SET status = $5::job_status,"                                           \
    "                  exit_code = $6::int, error = $7,"                                       \
    "                  ended_at = COALESCE(ended_at, now())"                                   \
    "            WHERE id = $4 AND run_id = $1"                                                \
    "              AND status IN ('running', $5::job_status) AND " FENCE                       \
    "              AND gw_job_may('running', $5::job_status)"                                  \
    "           RETURNING id, run_id)"

/* What a job's end adds to its run's row, as the SET of an UPDATE of it:
 * the commit the checkout resolved, the name of a job allowed to fail that
 * failed (each NULL when none; a name is added once, so a retry is safe). */
#define RUN_MARKS(commit, allowed)                                                             \
    " commit_sha = COALESCE(" commit "::text, commit_sha),"                                    \
    " allowed_failures = CASE WHEN " allowed "::text IS NULL"                                  \
    "                           OR " allowed "::text = ANY (allowed_failures)"                 \
    "                         THEN allowed_failures"                                           \
    "                         ELSE allowed_failures || " allowed "::text END"

/* The job's last log chunk (`chunk`, at `offset`; none when NULL), stored
 * with the end of CTE j in one statement when that end passes the fence:
 * one transaction less per job than an insert of its own (SQL_LOG_INSERT),
 * and the chunk is stored when the end is. A retry after a lost reply
 * finds it stored (DO NOTHING). */
#define LOG_LAST_CTE(offset, chunk)                                                            \
    "     lg AS (INSERT INTO logs (job_id, \"offset\", chunk)"                                  \
    "            SELECT j.id, " offset "::int, " chunk "::text FROM j"                         \
    "             WHERE " chunk "::text IS NOT NULL"                                           \
    "            ON CONFLICT (job_id, \"offset\") DO NOTHING),"

/* $1-$7 as JOB_END_CTE, $8 and $9 as RUN_MARKS, $10 and $11 as
 * LOG_LAST_CTE. The run is updated only after the job, as in
 * SQL_JOB_RUN_END. */
#define SQL_JOB_END                                                                            \
    "WITH " JOB_END_CTE "," LOG_LAST_CTE("$10", "$11")                                         \
    "     m AS (UPDATE pipeline_runs SET" RUN_MARKS("$8", "$9")                                \
    "            WHERE id = $1 AND ($8::text IS NOT NULL OR $9::text IS NOT NULL)"             \
    "              AND EXISTS (SELECT 1 FROM j))"                                              \
    " SELECT " EV_JOB_SQL("j.id", "j.run_id", "$5") " FROM j"

/*
 * What ends with the run of CTE r: its jobs not started get `status` (CTE
 * q), and a job still running ends failed, or canceled with a canceled run
 * (CTE rj): a job whose start committed but whose reply was lost, or the
 * first job the claim started when the run ends before it reached the
 * engine (its workspace could not be made). Its error is `error` (an SQL
 * expression and a comma, or nothing) or says so. `except` leaves out the
 * job that ended the run, or is empty.
 */
#define RUN_END_JOBS(status, error, except)                                                    \
    "     q AS (UPDATE jobs SET status = " status "::job_status,"                              \
    "                  ended_at = CASE WHEN " status " = 'skipped' THEN NULL ELSE now() END"   \
    "            WHERE run_id IN (SELECT id FROM r) AND status = 'queued'" except              \
    "              AND gw_job_may('queued', " status "::job_status)"                           \
    "           RETURNING id, run_id),"                                                        \
    "     rj AS (UPDATE jobs SET status = CASE WHEN " status " = 'canceled' THEN 'canceled'"   \
    "                                          ELSE 'failed' END::job_status,"                 \
    "                   ended_at = now(),"                                                     \
    "                   error = COALESCE(error, " error                                        \
    "                                    'the run ended while the job was starting')"          \
    "             WHERE run_id IN (SELECT id FROM r) AND status = 'running'" except            \
    "            RETURNING id, run_id, status)"

/* The events of the run's end, `first` (branches of the UNION ALL, each
 * ending with UNION ALL, or nothing; a kind named again after them is
 * ignored), then RUN_END_JOBS's
 * with `status` and the run's with `run_status`; one row per run ended.
 * Materialized, so that every NOTIFY of it runs: a filter on a UNION ALL
 * subquery would prune the job branches, and their NOTIFYs. */
#define RUN_END_EVENTS(first, status, run_status)                                              \
    "     e AS MATERIALIZED (" first                                                           \
    "   SELECT 'job' AS kind, " EV_JOB_SQL("rj.id", "rj.run_id", "rj.status") " FROM rj"       \
    "   UNION ALL"                                                                             \
    "   SELECT 'job', " EV_JOB_SQL("q.id", "q.run_id", status) " FROM q"                       \
    "   UNION ALL"                                                                             \
    "   SELECT 'run', " EV_RUN_SQL("r.id", run_status) " FROM r)"                              \
    " SELECT kind FROM e WHERE kind = 'run'"

/* The error of a run that ends with status (an SQL expression): error,
 * or, when it ends canceled after a cancel that gave its reason (the run
 * was superseded in its concurrency group: db/migrations/0013), that. */
#define RUN_END_ERROR(status, error)                                                           \
    " error = CASE WHEN " status " = 'canceled' AND cancel_reason IS NOT NULL"                 \
    "              THEN cancel_reason ELSE " error " END"

/* 'running' or already $4: a retry after a lost reply is safe. $5 the
 * status of the jobs not started, $6 the run's error (RUN_END_ERROR). */
#define SQL_RUN_END                                                                            \
    "WITH r AS (UPDATE pipeline_runs SET status = $4::run_status,"                             \
    "                  ended_at = COALESCE(ended_at, now()),"                                  \
    RUN_END_ERROR("$4::run_status", "$6") ", lease_expires_at = NULL"                          \
    "            WHERE id = $1 AND runner_id = $2 AND attempt = $3::int"                       \
    "              AND status IN ('running', $4::run_status)"                                  \
    "              AND gw_run_may('running', $4::run_status)"                                  \
    "           RETURNING id)," RUN_END_JOBS("$5", "$6,", "") ","                              \
    RUN_END_EVENTS("", "$5", "$4")

/* A job's end and its run's end in one statement, when the run ends with
 * the job: $1-$7 as SQL_JOB_END, $8 run status, $9 status of the jobs not
 * started, $10 the run's error (RUN_END_ERROR), $11 and $12 as RUN_MARKS,
 * $13 and $14 as LOG_LAST_CTE. One row when the
 * run ended now or had ended so already (a retry after a lost reply). The run is updated only
 * after the job (EXISTS j makes j run first): the fence's FOR SHARE would
 * not see a run row this very statement had already updated. */
#define SQL_JOB_RUN_END                                                                        \
    "WITH " JOB_END_CTE "," LOG_LAST_CTE("$13", "$14")                                         \
    "     r AS (UPDATE pipeline_runs SET status = $8::run_status,"                             \
    "                  ended_at = COALESCE(ended_at, now()),"                                  \
    RUN_END_ERROR("$8::run_status", "$10") ", lease_expires_at = NULL,"                        \
    RUN_MARKS("$11", "$12")                                                                    \
    "            WHERE id = $1 AND runner_id = $2 AND attempt = $3::int"                       \
    "              AND status = 'running' AND EXISTS (SELECT 1 FROM j)"                        \
    "              AND gw_run_may('running', $8::run_status)"                                  \
    "           RETURNING id)," RUN_END_JOBS("$9", "", " AND id <> $4") ","                    \
    RUN_END_EVENTS("   SELECT 'job' AS kind, " EV_JOB_SQL("j.id", "j.run_id", "$5") " FROM j"  \
                   "   UNION ALL", "$9", "$8")                                                 \
    " UNION ALL SELECT 'run' FROM pipeline_runs WHERE id = $1 AND runner_id = $2"              \
    "   AND attempt = $3::int AND status = $8::run_status"

/* The first job, started by the claim, goes back to queued with its run
 * (REQUEUE_JOBS); the worker asks only when no job reached its engine. */
#define REQUEUE_JOBS(runs)                                                                     \
    " rqj AS (UPDATE jobs SET status = 'queued', started_at = NULL"                            \
    "          WHERE run_id IN (SELECT id FROM " runs ") AND status = 'running'"               \
    "         RETURNING id, run_id)"
#define REQUEUE_JOB_EVENTS                                                                     \
    " UNION ALL SELECT 'job', " EV_JOB_SQL("rqj.id", "rqj.run_id", "'queued'") " FROM rqj"

#define SQL_RUN_REQUEUE                                                                            \
    "WITH r AS (UPDATE pipeline_runs SET status = 'queued', runner_id = NULL,"                     \
    "                  started_at = NULL, lease_expires_at = NULL"                                 \
    "            WHERE id = $1 AND runner_id = $2 AND attempt = $3::int"                           \
    "              AND status = 'running'"                                                         \
    "              AND NOT EXISTS (SELECT 1 FROM jobs WHERE run_id = $1"                           \
    "                                AND retry = cardinality(pipeline_runs.retries)"               \
    "                                AND status NOT IN ('queued', 'running'))"                     \
    "           RETURNING id)," REQUEUE_JOBS("r") ","                                              \
    " e AS MATERIALIZED (SELECT 'run' AS kind, " EV_RUN_SQL("r.id", "'queued'") " FROM r"          \
    REQUEUE_JOB_EVENTS ")"                                                                         \
    " SELECT kind FROM e WHERE kind = 'run'"

#define SQL_LOG_INSERT                                                                         \
    "INSERT INTO logs (job_id, \"offset\", chunk)"                                             \
    " SELECT $4, $5::int, $6 WHERE " FENCE " ON CONFLICT (job_id, \"offset\") DO NOTHING"

/*
 * Whether the run r, lost with its runner, is to be retried: not when a
 * cancel was asked for; else by the rule of the job it was at (the first of
 * its current try's jobs that has not ended): `when` names runner_lost and
 * the run has had fewer retries than `max`. Such a run is retried only
 * once its lease has expired: a runner that is alive but cut off from the
 * database stops its jobs when it could not renew their lease in time
 * (worker.c), so a job never runs twice at once. Until then it waits,
 * running; a run that is not retried ends at once.
 */
#define LOST_RETRY(r)                                                                              \
    "(" r ".cancel_requested_at IS NULL AND EXISTS ("                                              \
    "   SELECT 1 FROM (SELECT j.retry_max, j.retry_when FROM jobs j"                               \
    "                   WHERE j.run_id = " r ".id AND j.retry = cardinality(" r ".retries)"        \
    "                     AND j.status IN ('queued', 'running')"                                   \
    "                   ORDER BY j.position LIMIT 1) cj"                                           \
    "    WHERE 'runner_lost' = ANY (cj.retry_when)"                                                \
    "      AND cj.retry_max > cardinality(" r ".retries)))"

/*
 * Ends the runs of CTE lost (id, why, retry), locked by it: their running
 * job fails ("runner lost"), their queued jobs are skipped. A run to retry
 * goes back to the queue as its next try (CTE rt), `why` added to its
 * retries, with fresh job rows for that try (CTE nj): the earlier try's
 * rows and logs stay as they ended, and no write of the lost runner can
 * reach the new rows (the next claim is a new attempt). The others end
 * failed with `why` as their error (CTE runs).
 */
#define LOST_END                                                                                   \
    " runs AS ("                                                                                   \
    "  UPDATE pipeline_runs p SET status = 'failed', ended_at = now(),"                            \
    "         lease_expires_at = NULL, error = lost.why"                                           \
    "    FROM lost WHERE p.id = lost.id AND NOT lost.retry RETURNING p.id),"                       \
    " rt AS ("                                                                                     \
    "  UPDATE pipeline_runs p SET status = 'queued', runner_id = NULL, started_at = NULL,"         \
    "         lease_expires_at = NULL, allowed_failures = '{}',"                                   \
    "         retries = p.retries || lost.why"                                                     \
    "    FROM lost WHERE p.id = lost.id AND lost.retry"                                            \
    "  RETURNING p.id, cardinality(p.retries) AS retry),"                                          \
    " ended AS (SELECT id FROM runs UNION ALL SELECT id FROM rt),"                                 \
    " fj AS ("                                                                                     \
    "  UPDATE jobs SET status = 'failed', ended_at = now(), error = 'runner lost'"                 \
    "   WHERE run_id IN (SELECT id FROM ended) AND status = 'running'"                             \
    "  RETURNING id, run_id),"                                                                     \
    " sj AS ("                                                                                     \
    "  UPDATE jobs SET status = 'skipped'"                                                         \
    "   WHERE run_id IN (SELECT id FROM ended) AND status = 'queued'"                              \
    "  RETURNING id, run_id),"                                                                     \
    " nj AS ("                                                                                     \
    "  INSERT INTO jobs (id, run_id, position, name, kind, image, status, retry, retry_max,"       \
    "                    retry_when)"                                                              \
    "  SELECT gen_random_uuid(), j.run_id, j.position, j.name, j.kind, j.image, 'queued',"         \
    "         rt.retry, j.retry_max, j.retry_when"                                                 \
    "    FROM rt JOIN jobs j ON j.run_id = rt.id AND j.retry = rt.retry - 1"                       \
    "  RETURNING id, run_id)"
/* The events of LOST_END, as branches of a UNION ALL of (kind, notify):
 * kind 'failed' or 'retried' per run, 'job' per job. */
#define LOST_END_EVENTS                                                                            \
    " SELECT 'failed' AS kind, " EV_RUN_SQL("runs.id", "'failed'") " FROM runs"                    \
    " UNION ALL SELECT 'retried', " EV_RUN_SQL("rt.id", "'queued'") " FROM rt"                     \
    " UNION ALL SELECT 'job', " EV_JOB_SQL("fj.id", "fj.run_id", "'failed'") " FROM fj"            \
    " UNION ALL SELECT 'job', " EV_JOB_SQL("sj.id", "sj.run_id", "'skipped'") " FROM sj"           \
    " UNION ALL SELECT 'job', " EV_JOB_SQL("nj.id", "nj.run_id", "'queued'") " FROM nj"

/* $1 this runner. A runner whose lock is free is marked lost_at; two ticks
 * of the reaper later (a second: time for a worker that merely reconnected
 * to take its lock again) its runs end, or are retried (LOST_END). The
 * grace is 900 ms, not 1 s, so that the tick a second after the mark ends
 * them even when it started a little early, not the tick after it: death to
 * end takes at most a tick, the grace and a statement, 1.5 s and not 2. */
#define SQL_REAP                                                                                   \
    "WITH dead AS ("                                                                               \
    "  SELECT rn.id FROM runners rn"                                                               \
    "   WHERE rn.id <> $1::uuid"                                                                   \
    "     AND EXISTS (SELECT 1 FROM pipeline_runs r WHERE r.runner_id = rn.id"                     \
    "                    AND r.status = 'running')"                                                \
    "     AND NOT " LOCK_HELD("rn.name") "),"                                                      \
    " mark AS ("                                                                                   \
    "  UPDATE runners SET lost_at = COALESCE(lost_at, now())"                                      \
    "   WHERE id IN (SELECT id FROM dead) RETURNING id, lost_at),"                                 \
    " lost AS ("                                                                                   \
    "  SELECT r.id, " LOST_RETRY("r") " AS retry,"                                                 \
    "         format('runner lost: %s %s',"                                                        \
    "           COALESCE((SELECT name FROM runners WHERE id = r.runner_id), 'a runner'),"          \
    "           CASE WHEN m.id IS NOT NULL"                                                        \
    "                THEN 'ended its database session (it died or lost the database)'"             \
    "                ELSE 'stopped renewing its lease (it died or lost the database)' END)"        \
    "           AS why"                                                                            \
    "    FROM pipeline_runs r"                                                                     \
    "    LEFT JOIN mark m ON m.id = r.runner_id"                                                   \
    "                    AND m.lost_at <= now() - interval '900 milliseconds'"                     \
    "   WHERE r.status = 'running' AND (r.lease_expires_at < now()"                                \
    "                                   OR m.id IS NOT NULL AND NOT " LOST_RETRY("r") ")"          \
    "   FOR UPDATE OF r SKIP LOCKED),"                                                             \
    LOST_END                                                                                       \
    " SELECT kind FROM (" LOST_END_EVENTS ") e"

/* $1 this runner, $2 why, $3 the runs it holds (and those it gave up
 * lately, which are the lease reaper's), $4 whether an earlier life
 * of the worker held them. After a reconnect (not $4) the runs it does not
 * hold are claims whose reply was lost, whose first job the claim started
 * but nothing ran: they go back to the queue. A run it gave up on (its
 * statements kept failing) is not: one of its jobs ended, or its running
 * job wrote to its log (each script job first logs its step). Those, and
 * an earlier life's, end or are retried (LOST_END); one to retry whose
 * lease has not expired is left to the reaper (SQL_REAP), which takes it
 * when it has. */
#define SQL_REAP_OWN                                                                               \
    "WITH own AS ("                                                                                \
    "  SELECT r.id, " LOST_RETRY("r") " AS retry, r.lease_expires_at < now() AS expired,"          \
    "         EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = r.id"                                  \
    "                  AND j.retry = cardinality(r.retries)"                                       \
    "                  AND (j.status NOT IN ('queued', 'running')"                                 \
    "                       OR j.status = 'running' AND ($4::bool"                                 \
    "                          OR EXISTS (SELECT 1 FROM logs l WHERE l.job_id = j.id))))"          \
    "         AS started"                                                                          \
    "    FROM pipeline_runs r"                                                                     \
    "   WHERE r.runner_id = $1::uuid AND r.status = 'running' AND r.id <> ALL ($3::uuid[])"        \
    "   FOR UPDATE OF r SKIP LOCKED),"                                                             \
    " rq AS ("                                                                                     \
    "  UPDATE pipeline_runs p SET status = 'queued', runner_id = NULL, started_at = NULL,"         \
    "         lease_expires_at = NULL"                                                             \
    "    FROM own WHERE p.id = own.id AND NOT own.started RETURNING p.id),"                        \
    " lost AS ("                                                                                   \
    "  SELECT own.id, own.retry, format('runner lost: %s %s',"                                     \
    "           (SELECT name FROM runners WHERE id = $1::uuid), $2::text) AS why"                  \
    "    FROM own WHERE own.started AND (own.expired OR NOT own.retry)),"                          \
    LOST_END "," REQUEUE_JOBS("rq")                                                                \
    " SELECT kind FROM (SELECT 'requeued' AS kind, " EV_RUN_SQL("rq.id", "'queued'") " FROM rq"    \
    " UNION ALL" LOST_END_EVENTS REQUEUE_JOB_EVENTS ") e"

/* The runner stops the run (its drain ran out, or a second signal) once
 * its job has ended: the run is retried or ends failed, as a lost one
 * (LOST_END), with $4 as the reason. $1-$3 the fence; no row when fenced. */
#define SQL_RUN_LOST                                                                               \
    "WITH lost AS ("                                                                               \
    "  SELECT r.id, " LOST_RETRY("r") " AS retry, $4::text AS why FROM pipeline_runs r"            \
    "   WHERE r.id = $1 AND r.runner_id = $2 AND r.attempt = $3::int AND r.status = 'running'"     \
    "   FOR UPDATE),"                                                                              \
    LOST_END                                                                                       \
    " SELECT kind FROM (" LOST_END_EVENTS ") e"

/* clang-format on */

static const struct {
    const char *name;
    const char *sql;
    int nparams;
} statements[] = {
    {"q_lock", SQL_LOCK, 1},
    {"q_register", SQL_REGISTER, 8},
    {"q_heartbeat", SQL_HEARTBEAT, 7},
    {"q_claim", SQL_CLAIM, 3},
    {"q_job_start", SQL_JOB_START, 4},
    {"q_job_end", SQL_JOB_END, 11},
    {"q_run_end", SQL_RUN_END, 6},
    {"q_job_run_end", SQL_JOB_RUN_END, 14},
    {"q_run_requeue", SQL_RUN_REQUEUE, 3},
    {"q_run_lost", SQL_RUN_LOST, 4},
    {"q_log_insert", SQL_LOG_INSERT, 6},
    {"q_reap", SQL_REAP, 1},
    {"q_reap_own", SQL_REAP_OWN, 4},
};

void
q_prepare(pg_conn_t *c)
{
    for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++)
        pg_conn_prepare(c, statements[i].name, statements[i].sql, statements[i].nparams);
}

const char *
q_statement_sql(const char *name)
{
    for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++)
        if (strcmp(name, statements[i].name) == 0)
            return statements[i].sql;
    return NULL;
}

const char *
q_statement_at(size_t i, const char **name)
{
    if (i >= sizeof(statements) / sizeof(statements[0]))
        return NULL;
    *name = statements[i].name;
    return statements[i].sql;
}

bool
q_failed(const PGresult *res, const char *what)
{
    char *err;

    if (pg_result_ok(res))
        return false;
    err = pg_result_error(res);
    log_error("worker", "could not %s: %s", what, err);
    free(err);
    return true;
}

q_result_t
q_fenced(const PGresult *res, const char *what)
{
    if (res == NULL || q_failed(res, what))
        return Q_ERROR;
    return PQntuples(res) >= 1 ? Q_OK : Q_FENCED;
}

void
q_array_append(buf_t *b, const char *value)
{
    buf_puts(b, b->len == 0 ? "{" : ",");
    buf_puts(b, value);
}

void
q_array_end(buf_t *b)
{
    buf_puts(b, b->len == 0 ? "{}" : "}");
}

int
q_runner_lock(pg_conn_t *c, const char *name, pg_result_fn fn, void *arg)
{
    const char *p[] = {name};
    return pg_conn_query_prepared(c, "q_lock", 1, p, fn, arg);
}

int
q_register(pg_conn_t *c, const char *name, const char *hostname, const char *engine,
           const char *labels, bool run_unlabeled, int lease_seconds, int slots, pg_result_fn fn,
           void *arg)
{
    char id[37], lease[16], n[16];

    gw_uuid_new(id);
    snprintf(lease, sizeof(lease), "%d", lease_seconds);
    snprintf(n, sizeof(n), "%d", slots);
    const char *p[] = {id, name, hostname, engine, lease, n, labels, run_unlabeled ? "t" : "f"};
    return pg_conn_query_prepared(c, "q_register", 8, p, fn, arg);
}

int
q_heartbeat(pg_conn_t *c, const char *runner_id, const char *status, const char *detail, int slots,
            int lease_seconds, const char *run_ids, const char *attempts, pg_result_fn fn,
            void *arg)
{
    char n[16], lease[16];

    snprintf(n, sizeof(n), "%d", slots);
    snprintf(lease, sizeof(lease), "%d", lease_seconds);
    const char *p[] = {runner_id, status, detail, n, lease, run_ids, attempts};
    return pg_conn_query_prepared(c, "q_heartbeat", 7, p, fn, arg);
}

void
q_run_free(q_run_t *run)
{
    if (run == NULL)
        return;
    for (size_t i = 0; i < run->njobs; i++) {
        q_job_t *j = &run->jobs[i];
        free(j->name);
        free(j->kind);
        free(j->image);
        for (size_t k = 0; k < j->nscript; k++)
            free(j->script[k]);
        free(j->script);
        for (char **e = j->env; e && *e; e++)
            free(*e);
        free(j->env);
        cJSON_Delete(j->deferred);
        cJSON_Delete(j->secrets);
    }
    free(run->jobs);
    free(run->repo);
    free(run->repo_id);
    free(run->clone_url);
    free(run->ref);
    free(run->commit);
    free(run->inputs);
    free(run->spec_error);
    free(run);
}

static char *
dup_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

static char *
json_dup(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s ? xstrdup(s) : NULL;
}

/* Whether segs are deferred segments (spec_deferred_join), when present. */
static bool
deferred_segs_valid(const cJSON *segs)
{
    char *v = segs != NULL ? spec_deferred_join(segs, NULL) : NULL;

    free(v);
    return segs == NULL || v != NULL;
}

/* Whether a job's deferred object is well formed: {"image"?: SEGS,
 * "env"?: {NAME: SEGS}} with each NAME in the job's env. */
static bool
deferred_valid(const cJSON *deferred, const cJSON *env)
{
    const cJSON *denv = cJSON_GetObjectItemCaseSensitive(deferred, "env");
    const cJSON *e;

    if (!cJSON_IsObject(deferred) ||
        !deferred_segs_valid(cJSON_GetObjectItemCaseSensitive(deferred, "image")) ||
        (denv != NULL && !cJSON_IsObject(denv)))
        return false;
    cJSON_ArrayForEach(e, denv)
    {
        if (!deferred_segs_valid(e) || cJSON_GetObjectItemCaseSensitive(env, e->string) == NULL)
            return false;
    }
    return true;
}

/* Fill a script job from its entry in the frozen spec. Returns NULL, or
 * what is wrong with the entry (caller frees); the job is filled either way
 * so that it can be freed. */
static char *
job_from_spec(q_job_t *j, const cJSON *s)
{
    const cJSON *script = cJSON_GetObjectItemCaseSensitive(s, "script");
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(s, "env");
    const cJSON *timeout = cJSON_GetObjectItemCaseSensitive(s, "timeout");
    const cJSON *e, *deferred;
    size_t n = 0;
    char *problem = NULL;

    if (!cJSON_IsObject(s))
        problem = xstrdup("it has no entry in the spec");
    else if (!cJSON_IsArray(script))
        problem = xstrdup("its script is not a list");
    else if (env != NULL && !cJSON_IsNull(env) && !cJSON_IsObject(env))
        problem = xstrdup("its env is not an object");
    else if (timeout != NULL && !cJSON_IsNull(timeout) &&
             (!cJSON_IsNumber(timeout) || timeout->valuedouble < 0 ||
              timeout->valuedouble > 7 * 86400))
        problem = xstrdup("its timeout is not a number of seconds");
    j->nscript = (size_t)cJSON_GetArraySize(script);
    j->script = xcalloc(j->nscript + 1, sizeof(char *));
    cJSON_ArrayForEach(e, script)
    {
        if (!cJSON_IsString(e) && problem == NULL)
            problem = xstrdup("its script has an entry that is not a string");
        j->script[n++] = xstrdup(cJSON_IsString(e) ? e->valuestring : "");
    }
    j->nscript = n;
    n = 0;
    j->env = xcalloc((size_t)cJSON_GetArraySize(env) + 1, sizeof(char *));
    cJSON_ArrayForEach(e, env)
    {
        if (!cJSON_IsString(e)) {
            if (problem == NULL)
                problem = xasprintf("its env value %s is not a string", e->string);
            continue;
        }
        j->env[n++] = xasprintf("%s=%s", e->string, e->valuestring);
    }
    j->timeout = cJSON_IsNumber(timeout) ? (int)timeout->valuedouble : 0;
    j->allow_failure = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "allow_failure"));
    deferred = cJSON_GetObjectItemCaseSensitive(s, "deferred");
    if (deferred != NULL) {
        j->deferred = cJSON_Duplicate(deferred, true);
        if (!deferred_valid(deferred, env) && problem == NULL)
            problem = xstrdup("its deferred values are not valid");
    }
    /* The secrets its env names ({ENV: NAME}): job_secrets.c. */
    const cJSON *secrets = cJSON_GetObjectItemCaseSensitive(s, "secrets");
    if (secrets != NULL) {
        j->secrets = cJSON_Duplicate(secrets, true);
        if (!job_secrets_valid(secrets, env) && problem == NULL)
            problem = xstrdup("its secrets are not valid");
    }
    return problem;
}

/* The run's jobs (JSON, in position order) joined with the frozen spec. */
static void
claim_jobs(q_run_t *run, const char *jobs_text, const char *spec_text)
{
    cJSON *jobs = cJSON_Parse(jobs_text);
    cJSON *spec = cJSON_Parse(spec_text);
    const cJSON *list = cJSON_IsArray(spec) ? spec : cJSON_GetObjectItemCaseSensitive(spec, "jobs");
    const cJSON *o;
    int script_index = 0;

    run->jobs = xcalloc((size_t)cJSON_GetArraySize(jobs) + 1, sizeof(q_job_t));
    cJSON_ArrayForEach(o, jobs)
    {
        q_job_t *j = &run->jobs[run->njobs++];
        char *id = json_dup(o, "id");
        snprintf(j->id, sizeof(j->id), "%s", id ? id : "");
        free(id);
        j->name = json_dup(o, "name");
        j->kind = json_dup(o, "kind");
        j->image = json_dup(o, "image");
        if (j->name == NULL)
            j->name = xstrdup("");
        if (j->kind == NULL)
            j->kind = xstrdup("script");
        if (strcmp(j->kind, "script") == 0) {
            char *problem = job_from_spec(j, cJSON_GetArrayItem(list, script_index++));
            if (problem != NULL && run->spec_error == NULL)
                run->spec_error =
                    xasprintf("the run's frozen spec is corrupt: job %s: %s", j->name, problem);
            free(problem);
        } else {
            j->script = xcalloc(1, sizeof(char *));
            j->env = xcalloc(1, sizeof(char *));
        }
    }
    cJSON_Delete(jobs);
    cJSON_Delete(spec);
}

int
q_claim(pg_conn_t *c, const char *runner_id, int lease_seconds, int n, pg_result_fn fn, void *arg)
{
    char lease[16], count[16];

    snprintf(lease, sizeof(lease), "%d", lease_seconds);
    snprintf(count, sizeof(count), "%d", n);
    const char *p[] = {runner_id, lease, count};
    return pg_conn_query_prepared(c, "q_claim", 3, p, fn, arg);
}

q_run_t *
q_claim_row(const PGresult *res, int row, const char *runner_id)
{
    q_run_t *run = xcalloc(1, sizeof(*run));

    snprintf(run->fence.run_id, sizeof(run->fence.run_id), "%s", PQgetvalue(res, row, 0));
    snprintf(run->fence.runner_id, sizeof(run->fence.runner_id), "%s", runner_id);
    snprintf(run->fence.attempt, sizeof(run->fence.attempt), "%s", PQgetvalue(res, row, 1));
    run->repo = xstrdup(PQgetvalue(res, row, 2));
    run->repo_id = xstrdup(PQgetvalue(res, row, 12));
    run->clone_url = dup_or_null(res, row, 3);
    run->ref = dup_or_null(res, row, 4);
    run->commit = dup_or_null(res, row, 5);
    run->clean = strcmp(PQgetvalue(res, row, 7), "t") == 0;
    run->inputs = dup_or_null(res, row, 13);
    claim_jobs(run, PQgetvalue(res, row, 8), PQgetvalue(res, row, 6));
    run->first_started = run->njobs > 0 && !PQgetisnull(res, row, 10) &&
                         strcmp(PQgetvalue(res, row, 10), run->jobs[0].id) == 0;
    return run;
}

int
q_job_start(pg_conn_t *c, const q_fence_t *f, const char *job_id, pg_result_fn fn, void *arg)
{
    const char *p[] = {f->run_id, f->runner_id, f->attempt, job_id};
    return pg_conn_query_prepared(c, "q_job_start", 4, p, fn, arg);
}

/* The exit code as a parameter: code holds its text, NULL when none (< 0). */
#define Q_CODE_LEN 16

/* JOB_END_CTE's parameters $1-$7 into p[0..6]; p borrows code (Q_CODE_LEN). */
static void
job_end_params(const char **p, char *code, const q_fence_t *f, const char *job_id,
               gw_status_t status, int exit_code, const char *error)
{
    snprintf(code, Q_CODE_LEN, "%d", exit_code);
    p[0] = f->run_id;
    p[1] = f->runner_id;
    p[2] = f->attempt;
    p[3] = job_id;
    p[4] = status_name(status);
    p[5] = exit_code >= 0 ? code : NULL;
    p[6] = error;
}

int
q_job_end(pg_conn_t *c, const q_fence_t *f, const char *job_id, gw_status_t status, int exit_code,
          const char *error, const q_run_marks_t *marks, pg_result_fn fn, void *arg)
{
    char code[Q_CODE_LEN], off[24];
    const char *p[11];

    job_end_params(p, code, f, job_id, status, exit_code, error);
    p[7] = marks->commit;
    p[8] = marks->allowed_failure;
    snprintf(off, sizeof(off), "%lld", (long long)marks->last_offset);
    p[9] = off;
    p[10] = marks->last_chunk;
    return pg_conn_query_prepared(c, "q_job_end", 11, p, fn, arg);
}

int
q_run_end(pg_conn_t *c, const q_fence_t *f, gw_status_t run_status, gw_status_t rest_status,
          const char *error, pg_result_fn fn, void *arg)
{
    const char *p[] = {
        f->run_id, f->runner_id, f->attempt, status_name(run_status), status_name(rest_status),
        error};
    return pg_conn_query_prepared(c, "q_run_end", 6, p, fn, arg);
}

int
q_job_run_end(pg_conn_t *c, const q_fence_t *f, const char *job_id, gw_status_t status,
              int exit_code, const char *error, const q_run_marks_t *marks, gw_status_t run_status,
              gw_status_t rest_status, const char *run_error, pg_result_fn fn, void *arg)
{
    char code[Q_CODE_LEN], off[24];
    const char *p[14];

    job_end_params(p, code, f, job_id, status, exit_code, error);
    p[7] = status_name(run_status);
    p[8] = status_name(rest_status);
    p[9] = run_error;
    p[10] = marks->commit;
    p[11] = marks->allowed_failure;
    snprintf(off, sizeof(off), "%lld", (long long)marks->last_offset);
    p[12] = off;
    p[13] = marks->last_chunk;
    return pg_conn_query_prepared(c, "q_job_run_end", 14, p, fn, arg);
}

int
q_run_requeue(pg_conn_t *c, const q_fence_t *f, pg_result_fn fn, void *arg)
{
    const char *p[] = {f->run_id, f->runner_id, f->attempt};
    return pg_conn_query_prepared(c, "q_run_requeue", 3, p, fn, arg);
}

int
q_run_lost(pg_conn_t *c, const q_fence_t *f, const char *why, pg_result_fn fn, void *arg)
{
    const char *p[] = {f->run_id, f->runner_id, f->attempt, why};
    return pg_conn_query_prepared(c, "q_run_lost", 4, p, fn, arg);
}

int
q_log_insert(pg_conn_t *c, const q_fence_t *f, const char *job_id, int64_t offset,
             const char *chunk, pg_result_fn fn, void *arg)
{
    char off[24];

    snprintf(off, sizeof(off), "%lld", (long long)offset);
    const char *p[] = {f->run_id, f->runner_id, f->attempt, job_id, off, chunk};
    return pg_conn_query_prepared(c, "q_log_insert", 6, p, fn, arg);
}

int
q_reap(pg_conn_t *c, const char *runner_id, pg_result_fn fn, void *arg)
{
    const char *p[] = {runner_id};
    return pg_conn_query_prepared(c, "q_reap", 1, p, fn, arg);
}

int
q_reap_own(pg_conn_t *c, const char *runner_id, bool restarted, const char *live_ids,
           pg_result_fn fn, void *arg)
{
    const char *why = restarted ? "was restarted while the run was in progress"
                                : "lost the run when its database connection dropped";
    const char *p[] = {runner_id, why, live_ids, restarted ? "t" : "f"};
    return pg_conn_query_prepared(c, "q_reap_own", 4, p, fn, arg);
}
