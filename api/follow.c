/*
 * follow - the hub of the live streams: one dedicated connection LISTENs
 * on gitweave_logs (one notification per job per statement that stored
 * chunks, from a trigger) and gitweave_events (status changes), and turns
 * each notification into work for the log followers (follow_logs.c) and
 * the event subscribers (follow_events.c). After the connection comes back
 * from an outage, both read again, so a notification lost meanwhile costs
 * a read, not a chunk or an event. A keep-alive comment goes to every
 * stream. See follow.h, and docs/streams.md for the formats.
 */
#include "follow_int.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "events.h"
#include "log.h"
#include "queries.h"
#include "status.h"

/* A gitweave_events payload: a run's or job's new status. */
static void
follow_on_events(follow_t *hub, const char *payload)
{
    cJSON *o = cJSON_Parse(payload);
    const char *type, *id, *status;

    if (o == NULL)
        return;
    type = cJSON_GetStringValue(cJSON_GetObjectItem(o, EV_KEY_TYPE));
    id = cJSON_GetStringValue(cJSON_GetObjectItem(o, EV_KEY_ID));
    status = cJSON_GetStringValue(cJSON_GetObjectItem(o, EV_KEY_STATUS));
    if (type == NULL || id == NULL || status == NULL || !gw_uuid_valid(id) ||
        (strcmp(type, EV_RUN) != 0 && strcmp(type, EV_JOB) != 0))
        goto done;
    if (strcmp(type, EV_JOB) == 0) {
        int st = status_parse(ST_KIND_JOB, status);
        /* The last chunk is stored before the final status. */
        if (st >= 0 && status_is_final((gw_status_t)st))
            follow_logs_job_final(hub, id);
    }
    follow_events_changed(hub, strcmp(type, EV_RUN) == 0, id, status);
done:
    cJSON_Delete(o);
}

/* A gitweave_logs payload: a job's log is stored up to next_offset. */
static void
follow_on_logs(follow_t *hub, const char *payload)
{
    cJSON *o = cJSON_Parse(payload);
    const char *job;
    cJSON *next;

    if (o == NULL)
        return;
    job = cJSON_GetStringValue(cJSON_GetObjectItem(o, EV_KEY_JOB_ID));
    next = cJSON_GetObjectItem(o, EV_KEY_NEXT_OFFSET);
    if (job != NULL && cJSON_IsNumber(next))
        follow_logs_announce(hub, job, (long long)next->valuedouble);
    cJSON_Delete(o);
}

static void
follow_on_notify(const char *channel, const char *payload, int be_pid, void *arg)
{
    if (strcmp(channel, EV_LOGS_CHANNEL) == 0)
        follow_on_logs(arg, payload);
    else if (strcmp(channel, EV_CHANNEL) == 0)
        follow_on_events(arg, payload);
}

/* Back after an outage: what was announced meanwhile is lost, so read. */
static void
follow_on_state(pg_conn_t *c, pg_state_t state, void *arg)
{
    follow_t *hub = arg;

    if (state != PG_READY)
        return;
    if (!hub->was_ready) {
        hub->was_ready = true;
        return;
    }
    log_info("follow", "listening again; catching up on every stream");
    follow_logs_catch_up(hub);
    follow_events_catch_up(hub);
}

/* A comment line on every stream, so that proxies keep them open. */
static void
follow_on_keepalive(evutil_socket_t fd, short what, void *arg)
{
    static const char line[] = ": keepalive\n\n";

    follow_logs_keepalive(arg, line, sizeof(line) - 1);
    follow_events_keepalive(arg, line, sizeof(line) - 1);
}

follow_t *
follow_new(struct event_base *base, const gw_config_t *cfg, dbconn_t *db)
{
    follow_t *hub = xcalloc(1, sizeof(*hub));
    pg_conn_config_t pc = {.conninfo = cfg->database_url,
                           .application_name = "gitweave-api-listen",
                           .on_notify = follow_on_notify,
                           .on_state = follow_on_state,
                           .arg = hub};
    struct timeval tv = {.tv_sec = cfg->api_keepalive, .tv_usec = 0};

    hub->base = base;
    hub->cfg = cfg;
    hub->db = db;
    LIST_INIT(&hub->topics);
    LIST_INIT(&hub->subs);
    hub->listen = pg_conn_new(base, &pc);
    pg_conn_prepare(hub->listen, FOLLOW_EVENT_RUN, SQL_EVENT_RUN, 0);
    pg_conn_prepare(hub->listen, FOLLOW_EVENT_JOB, SQL_EVENT_JOB, 0);
    pg_conn_listen(hub->listen, EV_LOGS_CHANNEL);
    pg_conn_listen(hub->listen, EV_CHANNEL);
    hub->keepalive = event_new(base, -1, EV_PERSIST, follow_on_keepalive, hub);
    if (hub->keepalive == NULL || event_add(hub->keepalive, &tv) < 0) {
        log_error("follow", "could not start the keep-alive timer");
        abort();
    }
    return hub;
}

void
follow_free(follow_t *hub)
{
    if (hub == NULL)
        return;
    /* Statements of the listening connection fail now (their callbacks
     * answer and free their subscribers); those of the pool have failed
     * already (dbconn_free comes first), so no read is in flight. */
    pg_conn_free(hub->listen);
    event_free(hub->keepalive);
    follow_events_close_all(hub);
    follow_logs_close_all(hub);
    free(hub);
}
