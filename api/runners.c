/*
 * runners - the registered workers and what they are doing; pausing and
 * resuming one, and removing one that is gone.
 *
 * Pausing is a flag on the runner's row: the worker's claim skips a paused
 * runner, so it takes no new run while the one it runs goes on to the end,
 * and the flag outlives a restart of the worker (registering keeps it).
 * Both notify a runner event in the same statement (docs/events.md), so a
 * resumed worker claims at once rather than at its fallback poll.
 */
#include <libpq-fe.h>

#include "handlers.h"
#include "queries.h"

void
runners_list(http_req_t *r)
{
    http_db_reply_rows(r, "list runners", STMT_RUNNERS_LIST, 0, NULL, "runners");
}

/* Whether the statement found the runner; if not, the reply is sent. */
static bool
runners_found(http_req_t *r, const PGresult *res)
{
    if (res == NULL)
        return false;
    if (PQntuples(res) == 0) {
        http_reply_error(r, 404, "runner not found", "there is no runner named \"%s\"",
                         r->params[0]);
        return false;
    }
    return true;
}

static void
runners_pause_done(http_req_t *r, const PGresult *res, void *ctx)
{
    if (runners_found(r, res))
        http_reply_db_json(r, 200, PQgetvalue(res, 0, 0));
}

void
runners_pause(http_req_t *r)
{
    const char *params[] = {r->params[0], "t"};

    http_db_async(r, "pause runner", STMT_RUNNER_PAUSE, 2, params, runners_pause_done, NULL);
}

void
runners_resume(http_req_t *r)
{
    const char *params[] = {r->params[0], "f"};

    http_db_async(r, "resume runner", STMT_RUNNER_PAUSE, 2, params, runners_pause_done, NULL);
}

static void
runners_delete_done(http_req_t *r, const PGresult *res, void *ctx)
{
    if (!runners_found(r, res))
        return;
    if (PQgetvalue(res, 0, 1)[0] == '0') {
        http_reply_error(r, 409, "runner is live",
                         "runner \"%s\" is %s; only an offline or stopped runner can be removed",
                         r->params[0], PQgetvalue(res, 0, 0));
        return;
    }
    http_reply_empty(r, 204);
}

/* Remove a runner row that is offline or stopped, in one statement, so a
 * runner that comes back meanwhile is left alone. */
void
runners_delete(http_req_t *r)
{
    const char *params[] = {r->params[0]};

    http_db_async(r, "delete runner", STMT_RUNNER_DELETE, 1, params, runners_delete_done, NULL);
}
