/*
 * gitweave-worker - the runner: claims queued runs from Postgres and runs
 * their jobs (see worker.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "secret_box.h"
#include "worker.h"

static void
usage(void)
{
    printf("usage: gitweave-worker [keygen SECRET_KEY_FILE PUBLIC_KEY_FILE | --help]\n"
           "\n"
           "Claims queued pipeline runs from Postgres and runs their jobs.\n"
           "\n"
           "  keygen   make a key pair for secrets: the secret key file for the workers\n"
           "           (RUNNER_SECRETS_KEY_FILE), the public one for the API\n"
           "           (GITWEAVE_SECRETS_PUBLIC_KEY_FILE); both new files, 0600\n"
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
        if (strcmp(argv[1], "keygen") == 0 && argc == 4) {
            char err[256];
            if (secret_box_keygen(argv[2], argv[3], err, sizeof(err)) != 0) {
                fprintf(stderr, "gitweave-worker: keygen: %s\n", err);
                return 1;
            }
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
    /* A bad key file is a configuration error, found at start. */
    if (cfg.secrets_key_file[0] != '\0') {
        char err[256];
        secret_keys_t *keys = secret_box_load_keys(cfg.secrets_key_file, err, sizeof(err));
        if (keys == NULL) {
            fprintf(stderr, "configuration error: RUNNER_SECRETS_KEY_FILE: %s\n", err);
            config_free(&cfg);
            return 2;
        }
        char *ids = secret_box_keys_ids(keys);
        log_info("worker", "secrets open with keys %s", ids);
        free(ids);
        secret_box_keys_free(keys);
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
