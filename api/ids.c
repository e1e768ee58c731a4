/*
 * ids - GET /ids?prefix=: the runs and jobs whose id starts with a prefix,
 * so that a client may take a unique prefix of an id, as git takes one of
 * a commit's.
 *
 * A prefix is 8 to 32 hex digits (dashes anywhere are ignored). It is
 * looked up as the range of uuids it starts (padded with 0s, then with fs)
 * on each table's primary key, so a lookup reads a few index entries.
 */
#include <ctype.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "queries.h"

#define IDS_PREFIX_MIN 8
#define IDS_HEX 32

/* The uuid of the 32 hex digits hex, in out. */
static void
ids_uuid(const char hex[IDS_HEX], char out[37])
{
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static void
ids_find_done(http_req_t *r, const PGresult *res, void *ctx)
{
    cJSON *reply, *list;
    int n;

    if (res == NULL)
        return;
    reply = cJSON_CreateObject();
    list = cJSON_AddArrayToObject(reply, "matches");
    n = PQntuples(res);
    for (int i = 0; i < n && i < IDS_MATCHES_MAX; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "kind", PQgetvalue(res, i, 0));
        cJSON_AddStringToObject(m, "id", PQgetvalue(res, i, 1));
        cJSON_AddStringToObject(m, "run_id", PQgetvalue(res, i, 2));
        cJSON_AddItemToArray(list, m);
    }
    cJSON_AddBoolToObject(reply, "more", n > IDS_MATCHES_MAX);
    http_reply_json(r, 200, reply);
}

void
ids_find(http_req_t *r)
{
    const char *prefix = request_query_get(&r->query, "prefix");
    char lo[IDS_HEX], hi[IDS_HEX], lo_id[37], hi_id[37];
    size_t n = 0;

    for (const char *p = prefix; p != NULL && *p != '\0'; p++) {
        if (*p == '-')
            continue;
        if (!isxdigit((unsigned char)*p) || n == IDS_HEX) {
            n = 0;
            break;
        }
        lo[n] = hi[n] = (char)tolower((unsigned char)*p);
        n++;
    }
    if (n < IDS_PREFIX_MIN) {
        http_reply_error(r, 400, "invalid id prefix",
                         "an id prefix is %d to %d hex digits of a run's or job's id (dashes "
                         "may be left in)",
                         IDS_PREFIX_MIN, IDS_HEX);
        return;
    }
    memset(lo + n, '0', IDS_HEX - n);
    memset(hi + n, 'f', IDS_HEX - n);
    ids_uuid(lo, lo_id);
    ids_uuid(hi, hi_id);
    const char *params[] = {lo_id, hi_id};
    http_db_async(r, "find ids", STMT_IDS_FIND, 2, params, ids_find_done, NULL);
}
