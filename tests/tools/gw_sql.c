/*
 * gw_sql - print the statements of both programs by the names they are
 * prepared under: the API's pool (api/queries.h, API_STATEMENTS), the
 * API's listening connection (the event reads) and the worker's
 * (worker/queue.c, q_*), so that benchmarks run the very same SQL through
 * pgbench and test_statements prepares each against the schema.
 *   gw_sql NAME      the text of one statement
 *   gw_sql --list    every name, one per line
 *   gw_sql --all     every statement: "-- NAME" and its text ending in ";"
 */
#include <stdio.h>
#include <string.h>

#include "dbconn.h"
#include "queries.h"
#include "queue.h"

/* The i-th statement of both programs, its name in *name; NULL past the
 * last. */
static const char *
gw_sql_at(size_t i, const char **name)
{
    static const struct {
        const char *name;
        const char *sql;
    } events[] = {{"event_run", SQL_EVENT_RUN}, {"event_job", SQL_EVENT_JOB}};

    if (i < STMT_COUNT) {
        *name = dbconn_stmt_name((dbconn_stmt_t)i);
        return dbconn_stmt_sql((dbconn_stmt_t)i);
    }
    i -= STMT_COUNT;
    if (i < sizeof(events) / sizeof(events[0])) {
        *name = events[i].name;
        return events[i].sql;
    }
    return q_statement_at(i - sizeof(events) / sizeof(events[0]), name);
}

int
main(int argc, char **argv)
{
    const char *name, *sql;

    if (argc == 2 && (strcmp(argv[1], "--list") == 0 || strcmp(argv[1], "--all") == 0)) {
        bool all = strcmp(argv[1], "--all") == 0;
        for (size_t i = 0; (sql = gw_sql_at(i, &name)) != NULL; i++)
            if (all)
                printf("-- %s\n%s;\n", name, sql);
            else
                printf("%s\n", name);
        return 0;
    }
    for (size_t i = 0; argc == 2 && (sql = gw_sql_at(i, &name)) != NULL; i++)
        if (strcmp(argv[1], name) == 0) {
            printf("%s\n", sql);
            return 0;
        }
    fprintf(stderr, "usage: gw_sql NAME | --list | --all   (names: gw_sql --list)\n");
    return 2;
}
