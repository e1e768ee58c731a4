/*
 * gw_sql - print one of the API's statements (api/queries.h) or the
 * worker's (worker/queue.c, q_*) by name, so that benchmarks can run the
 * very same SQL through pgbench.
 *   gw_sql trigger_read | trigger_insert | run_get | q_claim | q_...
 */
#include <stdio.h>
#include <string.h>

#include "queries.h"
#include "queue.h"

int
main(int argc, char **argv)
{
    static const struct {
        const char *name;
        const char *sql;
    } statements[] = {
        {"trigger_read", SQL_TRIGGER_READ},
        {"trigger_insert", SQL_TRIGGER_INSERT},
        {"run_get", SQL_RUN_GET},
    };

    for (size_t i = 0; argc == 2 && i < sizeof(statements) / sizeof(statements[0]); i++)
        if (strcmp(argv[1], statements[i].name) == 0) {
            printf("%s\n", statements[i].sql);
            return 0;
        }
    if (argc == 2 && q_statement_sql(argv[1]) != NULL) {
        printf("%s\n", q_statement_sql(argv[1]));
        return 0;
    }
    fprintf(stderr, "usage: gw_sql trigger_read|trigger_insert|run_get|q_claim|q_...\n");
    return 2;
}
