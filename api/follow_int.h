/*
 * follow_int - what the files of the follow module share, and nothing
 * outside it uses.
 *
 * follow.c: the hub and its listening connection, which turns each
 * notification into work for the other two;
 * follow_logs.c: a job's log followers, grouped by job (topics);
 * follow_events.c: the subscribers of the event streams.
 */
#ifndef GW_API_FOLLOW_INT_H
#define GW_API_FOLLOW_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include "db.h"
#include "follow.h"

typedef struct topic topic_t; /* follow_logs.c */
typedef struct sub sub_t;     /* follow_events.c */

LIST_HEAD(follow_topic_list, topic);
LIST_HEAD(follow_sub_list, sub);

struct follow {
    struct event_base *base;
    const gw_config_t *cfg;
    dbconn_t *db;
    pg_conn_t *listen; /* LISTENs; also reads the events (in order with them) */
    struct event *keepalive;
    bool was_ready;                  /* the listening connection has been up before */
    struct follow_topic_list topics; /* follow_logs.c */
    struct follow_sub_list subs;     /* follow_events.c */
    int nsubs;
};

/* ---- follow_logs.c ---- */

/* gitweave_logs: job's log is stored up to next_offset; its followers read on. */
void follow_logs_announce(follow_t *hub, const char *job, long long next_offset);

/* Job's status is final: its followers read the last chunks, then end. */
void follow_logs_job_final(follow_t *hub, const char *job);

/* The listening connection is back: every topic reads what it missed. */
void follow_logs_catch_up(follow_t *hub);

/* Write line (len bytes) to every log follower. */
void follow_logs_keepalive(follow_t *hub, const char *line, size_t len);

/* Close every log stream and free the topics (at shutdown). */
void follow_logs_close_all(follow_t *hub);

/* ---- follow_events.c ---- */

/* The SQL prepared on the listening connection, by name. */
#define FOLLOW_EVENT_RUN "event_run"
#define FOLLOW_EVENT_JOB "event_job"

/* A status change of a run or job (is_run) id: read it and send it to the subscribers. */
void follow_events_changed(follow_t *hub, bool is_run, const char *id, const char *status);

/* The listening connection is back: each one-run subscriber reads its run again. */
void follow_events_catch_up(follow_t *hub);

/* Write line (len bytes) to every subscriber. */
void follow_events_keepalive(follow_t *hub, const char *line, size_t len);

/* Close every event stream (at shutdown). */
void follow_events_close_all(follow_t *hub);

#endif
