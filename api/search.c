/*
 * search - GET /api/v1/logs/search: the lines of every job's log that hold
 * a string (or match a regular expression), newest or oldest first, a page
 * at a time.
 *
 * Two statements: the arguments Postgres must judge (times, a regular
 * expression) are checked first, so that a bad one is a 400 or 422 with
 * its reason, not a failed search; then gitweave_log_search
 * (db/migrations/0012_log_search_retention.sql, docs/search.md) reads the page.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "queries.h"
#include "search_query.h"
#include "status.h"

#define SEARCH_LIMIT_DEFAULT 20
#define SEARCH_LIMIT_MAX 100
#define SEARCH_PARAMS 14

/* What a search travels with between its statements. */
typedef struct {
    long long limit;
    char *values[SEARCH_PARAMS]; /* the statement's parameters (NULL: SQL NULL) */
} search_t;

static void
search_free(search_t *s)
{
    for (int i = 0; i < SEARCH_PARAMS; i++)
        free(s->values[i]);
    free(s);
}

static void
search_done(http_req_t *r, const PGresult *res, void *arg)
{
    search_t *s = arg;
    long long limit = s->limit;
    cJSON *reply;
    int n;

    search_free(s);
    if (res == NULL)
        return;
    n = PQntuples(res);
    reply = http_rows_object(res, 4, n < limit ? n : (int)limit, "matches");
    if (reply == NULL) {
        http_reply_error(r, 500, "internal error", "a match could not be read");
        return;
    }
    if (n > limit) {
        int last = (int)limit - 1;
        search_cursor_t c;
        char *next;

        c.micros = strtoll(PQgetvalue(res, last, 0), NULL, 10);
        snprintf(c.job, sizeof(c.job), "%s", PQgetvalue(res, last, 1));
        c.offset = strtoll(PQgetvalue(res, last, 2), NULL, 10);
        c.line = strtoll(PQgetvalue(res, last, 3), NULL, 10);
        next = search_cursor_encode(&c);
        cJSON_AddStringToObject(reply, "next", next);
        free(next);
    } else {
        cJSON_AddNullToObject(reply, "next");
    }
    http_reply_json(r, 200, reply);
}

static void
search_checked(http_req_t *r, const PGresult *res, void *arg)
{
    search_t *s = arg;

    if (res == NULL) {
        search_free(s);
        return;
    }
    if (PQntuples(res) > 0) {
        const char *field = PQgetvalue(res, 0, 0);
        cJSON *e;

        if (strcmp(field, "re") == 0) {
            e = http_error_new("invalid regular expression", PQgetvalue(res, 0, 1));
            cJSON_AddStringToObject(e, "field", "q");
            search_free(s);
            http_reply_json(r, 422, e);
            return;
        }
        e = http_error_new(strcmp(field, "since") == 0 ? "invalid since" : "invalid until",
                           "a time such as 2026-12-01T12:00:00Z, or a date");
        cJSON_AddStringToObject(e, "field", field);
        search_free(s);
        http_reply_json(r, 400, e);
        return;
    }
    http_db_async(r, "search logs", STMT_LOG_SEARCH, SEARCH_PARAMS, (const char *const *)s->values,
                  search_done, s);
}

/* The value of an optional query parameter, copied (NULL when absent). */
static char *
search_opt(http_req_t *r, const char *name)
{
    const char *v = request_query_get(&r->query, name);
    return v != NULL ? xstrdup(v) : NULL;
}

void
search_logs(http_req_t *r)
{
    const char *q = request_query_get(&r->query, "q");
    const char *re_s = request_query_get(&r->query, "re");
    const char *order = request_query_get(&r->query, "order");
    const char *limit_s = request_query_get(&r->query, "limit");
    const char *before = request_query_get(&r->query, "before");
    const char *repo = request_query_get(&r->query, "repo");
    const char *template = request_query_get(&r->query, "template");
    const char *status = request_query_get(&r->query, "status");
    const char *ref = request_query_get(&r->query, "ref");
    long long limit = SEARCH_LIMIT_DEFAULT;
    search_cursor_t cur;
    const char *why;
    search_t *s;
    bool re;

    if (q == NULL) {
        http_reply_error(r, 400, "missing q", "q is the string to search for");
        return;
    }
    if (re_s != NULL && strcmp(re_s, "true") != 0 && strcmp(re_s, "false") != 0) {
        http_reply_error(r, 400, "invalid re", "re is true or false");
        return;
    }
    re = re_s != NULL && strcmp(re_s, "true") == 0;
    why = re ? search_regex_unindexable(q) : search_literal_invalid(q);
    if (why != NULL) {
        cJSON *e = http_error_new(re ? "regular expression refused" : "invalid q", why);
        cJSON_AddStringToObject(e, "field", "q");
        http_reply_json(r, re ? 422 : 400, e);
        return;
    }
    if (order != NULL && strcmp(order, "newest") != 0 && strcmp(order, "oldest") != 0) {
        http_reply_error(r, 400, "invalid order", "order is newest or oldest");
        return;
    }
    if (limit_s != NULL && request_parse_int(limit_s, 1, SEARCH_LIMIT_MAX, &limit) < 0) {
        http_reply_error(r, 400, "invalid limit", "limit is an integer from 1 to %d",
                         SEARCH_LIMIT_MAX);
        return;
    }
    if (before != NULL && search_cursor_decode(before, &cur) < 0) {
        http_reply_error(r, 400, "invalid cursor",
                         "before takes the \"next\" value of a previous page as is");
        return;
    }
    if ((repo != NULL && !gw_name_valid(repo)) || (template != NULL && !gw_name_valid(template))) {
        http_reply_error(r, 400,
                         repo != NULL && !gw_name_valid(repo) ? "invalid repo name"
                                                              : "invalid template name",
                         "a name is 1 to 100 characters of [A-Za-z0-9._-], starting with a "
                         "letter or digit");
        return;
    }
    if (status != NULL && status_parse(ST_KIND_RUN, status) < 0) {
        http_reply_error(r, 400, "invalid status",
                         "status is one of queued, running, success, failed, canceled");
        return;
    }
    s = xcalloc(1, sizeof(*s));
    s->limit = limit;
    s->values[0] = xstrdup(q);
    s->values[1] = xstrdup(re ? "t" : "f");
    s->values[2] = xstrdup(order != NULL && strcmp(order, "oldest") == 0 ? "f" : "t");
    /* One more than asked for tells whether there is a next page. */
    s->values[3] = xasprintf("%lld", limit + 1);
    s->values[4] = search_opt(r, "repo");
    s->values[5] = search_opt(r, "template");
    s->values[6] = search_opt(r, "status");
    s->values[7] = ref != NULL ? xstrdup(ref) : NULL;
    s->values[8] = search_opt(r, "since");
    s->values[9] = search_opt(r, "until");
    if (before != NULL) {
        s->values[10] = xasprintf("%lld", cur.micros);
        s->values[11] = xstrdup(cur.job);
        s->values[12] = xasprintf("%lld", cur.offset);
        s->values[13] = xasprintf("%lld", cur.line);
    }
    const char *check[] = {re ? q : NULL, s->values[8], s->values[9]};
    http_db_async(r, "check search", STMT_LOG_SEARCH_CHECK, 3, check, search_checked, s);
}
