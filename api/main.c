/*
 * gitweave-api - the REST API of GitWeave Runner.
 *
 *   gitweave-api            serve (see server.h)
 *   gitweave-api migrate    apply pending database migrations, then exit
 *   gitweave-api --help
 *
 * Exit status: 0 done, 1 failure, 2 bad usage or configuration.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "secret_box.h"
#include "server.h"

static void
usage(FILE *out)
{
    fputs("usage: gitweave-api [migrate | --help]\n"
          "\n"
          "  (no argument)  serve the REST API on GITWEAVE_API_ADDR\n"
          "  migrate        apply pending database migrations and exit\n"
          "  --help         show this text\n"
          "\n",
          out);
    config_usage(out, CONFIG_API);
}

static int
run_migrate(const gw_config_t *cfg)
{
    const char *dir = migrate_default_dir();
    PGconn *conn = db_connect(cfg->database_url, "gitweave-api migrate");
    int applied;

    if (conn == NULL) {
        fprintf(stderr, "gitweave-api: migrate: could not connect to the database\n");
        return 1;
    }
    applied = migrate_run(conn, dir);
    PQfinish(conn);
    if (applied < 0) {
        fprintf(stderr, "gitweave-api: migrate: migrations from \"%s\" failed\n", dir);
        return 1;
    }
    log_info("migrate", "schema up to date applied=%d dir=%s", applied, dir);
    return 0;
}

static int
run_server(const gw_config_t *cfg)
{
    server_t *srv;
    int rc;

    /* A bad key file is a configuration error, found at start. */
    if (cfg->secrets_public_key_file[0] != '\0') {
        char err[256], id[SECRET_BOX_KEY_ID_LEN + 1];
        unsigned char pk[32];
        if (secret_box_load_public(cfg->secrets_public_key_file, pk, id, err, sizeof(err)) < 0) {
            fprintf(stderr, "configuration error: GITWEAVE_SECRETS_PUBLIC_KEY_FILE: %s\n", err);
            return 2;
        }
        log_info("api", "secrets are sealed to key %s", id);
    }
    srv = server_new(cfg);
    if (srv == NULL)
        return 1;
    rc = server_run(srv) < 0 ? 1 : 0;
    server_free(srv);
    log_info("api", "stopped");
    return rc;
}

int
main(int argc, char **argv)
{
    gw_config_t cfg;
    int rc;

    if (argc > 2) {
        usage(stderr);
        return 2;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "migrate") != 0) {
        fprintf(stderr, "gitweave-api: unknown argument \"%s\"\n", argv[1]);
        usage(stderr);
        return 2;
    }
    gw_log_init();
    if (config_load(&cfg) < 0) {
        config_free(&cfg);
        return 2;
    }
    /* A client gone mid-reply must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    rc = argc == 2 ? run_migrate(&cfg) : run_server(&cfg);
    config_free(&cfg);
    return rc;
}
