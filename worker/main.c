/*
 * gitweave-worker - the runner: claims queued runs from Postgres and runs
 * their jobs (see worker.h).
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "worker.h"

static void
usage(void)
{
    printf("usage: gitweave-worker\n"
           "\n"
           "Claims queued pipeline runs from Postgres and runs their jobs.\n"
           "\n");
    config_usage(stdout, CONFIG_WORKER);
}

int
main(int argc, char **argv)
{
    gw_config_t cfg;

    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            usage();
            return 0;
        }
        fprintf(stderr, "gitweave-worker: unknown argument \"%s\" (try --help)\n", argv[1]);
        return 2;
    }
    gw_log_init();
    if (config_load(&cfg) != 0) {
        config_free(&cfg);
        return 2;
    }
    worker_t *w = worker_new(&cfg);
    if (w == NULL) {
        config_free(&cfg);
        return 1;
    }
    int rc = worker_run(w);
    worker_free(w);
    config_free(&cfg);
    return rc;
}
