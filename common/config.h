/*
 * config - the environment, read once at start into one struct.
 *
 * Every variable has a default; every problem is reported at once (one line
 * each) before the process exits. The table in config.c is the reference:
 * each program's --help is printed from it, and docs/configuration.md lists
 * the same variables for users (check_config ties it to the table).
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdio.h>

#include "util.h"

/* Which program reads a setting (a bit set). */
typedef enum { CONFIG_API = 1, CONFIG_WORKER = 2, CONFIG_BOTH = 3 } config_user_t;

typedef struct {
    const char *name;
    config_user_t used_by;
    const char *def;  /* NULL: computed at start; "": none */
    const char *help; /* one line of --help, without the default */
} config_setting_t;

/* The i-th setting of the table, or NULL past its end. */
const config_setting_t *config_setting(size_t i);
/* The settings `program` reads, one line each with its default, under a
 * heading: the "environment" part of its --help. */
void config_usage(FILE *out, config_user_t program);

typedef struct {
    /* both */
    char *database_url; /* DATABASE_URL: libpq conninfo or URI */
    /* api */
    char *api_addr;            /* GITWEAVE_API_ADDR: host:port (port 0 = any) */
    char *api_token;           /* GITWEAVE_API_TOKEN: "" = no authentication */
    char *metrics_public;      /* GITWEAVE_METRICS_PUBLIC: "true" = /metrics without the token */
    int api_max_body;          /* GITWEAVE_API_MAX_BODY_BYTES */
    int api_body_budget;       /* GITWEAVE_API_BODY_BUDGET_BYTES: all bodies held at once */
    char *api_port_file;       /* GITWEAVE_API_PORT_FILE: write the bound port here */
    int api_max_connections;   /* GITWEAVE_API_MAX_CONNECTIONS: 0 = from RLIMIT_NOFILE */
    int api_header_timeout;    /* GITWEAVE_API_HEADER_TIMEOUT_SECONDS */
    int api_body_timeout;      /* GITWEAVE_API_BODY_TIMEOUT_SECONDS */
    int api_idle_timeout;      /* GITWEAVE_API_IDLE_TIMEOUT_SECONDS */
    int api_max_streams;       /* GITWEAVE_API_MAX_STREAMS: 0 = 3/4 of the connection cap */
    int api_keepalive;         /* GITWEAVE_API_KEEPALIVE_SECONDS: comment lines on streams */
    char *allowed_origins;     /* GITWEAVE_ALLOWED_ORIGINS: comma-separated, "" = none */
    int api_db_connections;    /* GITWEAVE_API_DB_CONNECTIONS: 0 = twice the cores, 2 to 8 */
    int api_statement_timeout; /* GITWEAVE_API_STATEMENT_TIMEOUT_SECONDS */
    char *secrets_public_key_file; /* GITWEAVE_SECRETS_PUBLIC_KEY_FILE: "" = no secrets */
    /* worker */
    char *runner_name;        /* RUNNER_NAME (default: the host name) */
    char *engine;             /* RUNNER_CONTAINER_ENGINE: docker | local */
    char *labels_text;        /* RUNNER_LABELS as given */
    char *labels;             /* ... with the engine's name, comma-separated (config_load) */
    char *run_unlabeled_text; /* RUNNER_RUN_UNLABELED: "true" | "false" */
    bool run_unlabeled;       /* ... as a boolean */
    char *workdir;            /* RUNNER_WORKDIR */
    char *docker_host;        /* DOCKER_HOST */
    char *default_image;      /* RUNNER_DEFAULT_IMAGE */
    int lease_seconds;        /* RUNNER_LEASE_SECONDS */
    int poll_seconds;         /* RUNNER_POLL_SECONDS */
    int job_timeout;          /* RUNNER_JOB_TIMEOUT_SECONDS */
    int stop_grace;           /* RUNNER_STOP_GRACE_SECONDS */
    int log_chunk_bytes;      /* RUNNER_LOG_CHUNK_BYTES */
    int log_flush_ms;         /* RUNNER_LOG_FLUSH_MS */
    int log_first_ms;         /* RUNNER_LOG_FIRST_MS */
    int log_retention_days;   /* GITWEAVE_LOG_RETENTION_DAYS */
    int log_retention_sweep;  /* GITWEAVE_LOG_RETENTION_SWEEP_SECONDS */
    int log_max_bytes;        /* RUNNER_LOG_MAX_BYTES */
    int engine_backoff_max;   /* RUNNER_ENGINE_BACKOFF_MAX_SECONDS */
    int checkout_timeout;     /* RUNNER_CHECKOUT_TIMEOUT_SECONDS */
    int concurrency;          /* RUNNER_CONCURRENCY: runs at once */
    int drain_seconds;        /* RUNNER_DRAIN_SECONDS: 0 = wait for the runs however long */
    /* limits of job containers (docker engine) */
    int job_pids_limit;      /* RUNNER_JOB_PIDS_LIMIT */
    char *job_memory_text;   /* RUNNER_JOB_MEMORY as given ("" = no limit) */
    long long job_memory;    /* ... in bytes; 0 = no limit */
    char *job_cpus_text;     /* RUNNER_JOB_CPUS as given ("" = no limit) */
    long long job_nano_cpus; /* ... in billionths of a CPU; 0 = no limit */
    char *job_user;          /* RUNNER_JOB_USER: user[:group] ("" = the image's) */
    char *secrets_key_file;  /* RUNNER_SECRETS_KEY_FILE: "" = jobs get no secrets */
} gw_config_t;

/* Read the environment into cfg. Returns 0, or -1 after printing every
 * problem to stderr. Free with config_free. */
int config_load(gw_config_t *cfg) GW_MUST_CHECK;
void config_free(gw_config_t *cfg);

/* "512m"-style sizes (digits, then k, m, g in binary units, or nothing for
 * bytes) in bytes; -1 when malformed. */
long long config_parse_bytes(const char *text);
/* A decimal number of CPUs ("0.5") in billionths of a CPU; -1 when
 * malformed, not above 0, or above 4096. */
long long config_parse_cpus(const char *text);
/*
 * Split a listen address "host:port" or "[v6]:port" (port 0..65535; 0 means
 * any free port), as GITWEAVE_API_ADDR gives it. Returns 0 with *host newly
 * allocated (caller frees), or -1 for a malformed address.
 */
int config_parse_addr(const char *addr, char **host, int *port) GW_MUST_CHECK;

#endif
