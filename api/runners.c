/*
 * runners - the registered workers and what they are doing.
 */
#include <libpq-fe.h>

#include "handlers.h"
#include "queries.h"

void
runners_list(http_req_t *r)
{
    PGresult *res = http_db(r, "list runners", SQL_RUNNERS_LIST, 0, NULL);

    if (res == NULL) {
        http_reply_db_failure(r);
        return;
    }
    http_reply_rows(r, res, "runners");
}
