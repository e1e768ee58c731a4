/*
 * retention - removing the logs of runs older than the retention
 * (GITWEAVE_LOG_RETENTION_DAYS, or a repo's own), in the background, on
 * a connection of its own so that claims, log writes and reads never wait
 * for it (docs/retention.md).
 *
 * Every sweep marks a batch of expired runs (logs_expired_at), then
 * removes the chunks of marked runs a few hundred at a time, one short
 * statement after another, until none is left; then it sleeps until the
 * next sweep. Only runs in a final status that ended longer ago than
 * their retention are touched: a live run's logs never are. Several
 * workers may sweep at once (the runs are taken with SKIP LOCKED).
 */
#ifndef GW_WORKER_RETENTION_H
#define GW_WORKER_RETENTION_H

#include <event2/event.h>

#include "config.h"

typedef struct retention retention_t;

/* Start sweeping on base (the first sweep soon after start); cfg is
 * borrowed for the retention's life. Free with retention_free (NULL is a
 * no-op). */
retention_t *retention_new(struct event_base *base, const gw_config_t *cfg);
void retention_free(retention_t *r);

#endif
