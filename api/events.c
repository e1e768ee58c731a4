/*
 * events - the event stream: run and job status changes as Server-Sent
 * Events, for everything (filtered by ?repo= and ?run=) or for one run
 * until it ends. The subscribers live in follow_events.c; the listening
 * connection that feeds them in follow.c.
 */
#include "follow.h"
#include "handlers.h"

void
events_stream(http_req_t *r)
{
    follow_events(r);
}

void
events_run(http_req_t *r)
{
    follow_run_events(r);
}
