/*
 * runners - the registered workers and what they are doing.
 */
#include "handlers.h"
#include "queries.h"

void
runners_list(http_req_t *r)
{
    http_db_reply_rows(r, "list runners", SQL_RUNNERS_LIST, 0, NULL, "runners");
}
