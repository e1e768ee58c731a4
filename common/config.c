/*
 * config - a declarative table of environment variables: each one's name,
 * the programs that read it, its type, default and bounds, and its line of
 * --help. docs/configuration.md lists the same variables for users; the
 * unit test check_config holds the two together.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* CF_ELSEWHERE: listed here for --help and the docs, read by the module
 * that needs it before (or without) the rest: log.c, migrate.c. */
typedef enum { CF_STR, CF_INT, CF_ELSEWHERE } cf_type_t;

typedef struct {
    config_setting_t pub; /* name, used by, default (NULL: computed), help */
    cf_type_t type;
    size_t offset;
    long min, max;
} cf_entry_t;

#define API CONFIG_API
#define WORKER CONFIG_WORKER
#define BOTH CONFIG_BOTH
#define STR(n, u, f, d, h)                                                                         \
    {                                                                                              \
        {n, u, d, h}, CF_STR, offsetof(gw_config_t, f), 0, 0                                       \
    }
#define INT(n, u, f, d, lo, hi, h)                                                                 \
    {                                                                                              \
        {n, u, d, h}, CF_INT, offsetof(gw_config_t, f), lo, hi                                     \
    }
#define ELSEWHERE(n, u, d, h)                                                                      \
    {                                                                                              \
        {n, u, d, h}, CF_ELSEWHERE, 0, 0, 0                                                        \
    }

static const cf_entry_t config_table[] = {
    STR("DATABASE_URL", BOTH, database_url, "",
        "libpq conninfo or URI (default: libpq's PG* variables)"),
    ELSEWHERE("GITWEAVE_LOG_LEVEL", BOTH, "info", "debug, info, warn or error"),
    STR("GITWEAVE_API_ADDR", API, api_addr, "127.0.0.1:8080",
        "host:port to listen on; port 0 picks a free one"),
    STR("GITWEAVE_API_PORT_FILE", API, api_port_file, "",
        "write the port listened on to this file"),
    STR("GITWEAVE_API_TOKEN", API, api_token, "",
        "if set, requests but /healthz and /readyz need \"Authorization: Bearer <token>\""),
    STR("GITWEAVE_METRICS_PUBLIC", API, metrics_public, "false",
        "true: GET /metrics without the token"),
    INT("GITWEAVE_API_MAX_BODY_BYTES", API, api_max_body, "1048576", 1024, 64 << 20,
        "largest request body"),
    INT("GITWEAVE_API_BODY_BUDGET_BYTES", API, api_body_budget, "16777216", 1024, 1 << 30,
        "request bodies held at once, in all; past it 503"),
    INT("GITWEAVE_API_MAX_CONNECTIONS", API, api_max_connections, "0", 0, 1000000,
        "open connections at most; 0: ulimit -n less 32, at most 1024"),
    INT("GITWEAVE_API_HEADER_TIMEOUT_SECONDS", API, api_header_timeout, "10", 1, 3600,
        "deadline of a request head"),
    INT("GITWEAVE_API_BODY_TIMEOUT_SECONDS", API, api_body_timeout, "30", 1, 3600,
        "deadline of a request body"),
    INT("GITWEAVE_API_IDLE_TIMEOUT_SECONDS", API, api_idle_timeout, "60", 1, 3600,
        "idle keep-alive connections are closed"),
    INT("GITWEAVE_API_MAX_STREAMS", API, api_max_streams, "0", 0, 1000000,
        "live streams at most; 0: 3/4 of the connections"),
    INT("GITWEAVE_API_KEEPALIVE_SECONDS", API, api_keepalive, "15", 1, 3600,
        "a comment line on open streams this often"),
    STR("GITWEAVE_ALLOWED_ORIGINS", API, allowed_origins, "",
        "web origins allowed to call the API (comma-separated)"),
    INT("GITWEAVE_API_DB_CONNECTIONS", API, api_db_connections, "0", 0, 64,
        "database connections; 0: twice the cores, 2 to 8"),
    INT("GITWEAVE_API_STATEMENT_TIMEOUT_SECONDS", API, api_statement_timeout, "10", 1, 3600,
        "longest a statement may hold a connection (a lock wait, say)"),
    STR("GITWEAVE_SECRETS_PUBLIC_KEY_FILE", API, secrets_public_key_file, "",
        "public key secrets are sealed to (default: no secrets can be set)"),
    ELSEWHERE("GITWEAVE_MIGRATIONS_DIR", API, NULL,
              "where the migrations are (default: the installed ones)"),
    STR("RUNNER_NAME", WORKER, runner_name, NULL, "the runner's identity (default: the host name)"),
    STR("RUNNER_CONTAINER_ENGINE", WORKER, engine, "docker", "docker or local"),
    STR("RUNNER_LABELS", WORKER, labels_text, "",
        "the runner's labels, comma-separated (name or key=value); its engine's name is one too"),
    STR("RUNNER_RUN_UNLABELED", WORKER, run_unlabeled_text, "true",
        "false: take only runs whose template says runs-on"),
    STR("DOCKER_HOST", WORKER, docker_host, "unix:///var/run/docker.sock", "the engine's socket"),
    STR("RUNNER_DEFAULT_IMAGE", WORKER, default_image, "debian:bookworm-slim",
        "image of jobs that name none"),
    STR("RUNNER_WORKDIR", WORKER, workdir, "/tmp/gitweave-runs", "where workspaces live"),
    INT("RUNNER_LEASE_SECONDS", WORKER, lease_seconds, "30", 2, 3600, "lease on a claimed run"),
    INT("RUNNER_POLL_SECONDS", WORKER, poll_seconds, "5", 1, 3600, "fallback poll for queued runs"),
    INT("RUNNER_JOB_TIMEOUT_SECONDS", WORKER, job_timeout, "3600", 1, 7 * 86400,
        "timeout of jobs that set none"),
    INT("RUNNER_CHECKOUT_TIMEOUT_SECONDS", WORKER, checkout_timeout, "600", 1, 7 * 86400,
        "timeout of a checkout"),
    INT("RUNNER_STOP_GRACE_SECONDS", WORKER, stop_grace, "10", 0, 600,
        "between TERM and KILL of a stopped job"),
    INT("RUNNER_CONCURRENCY", WORKER, concurrency, "1", 1, 64, "runs at once"),
    INT("RUNNER_DRAIN_SECONDS", WORKER, drain_seconds, "600", 0, 7 * 86400,
        "how long SIGTERM lets runs finish before stopping them; 0: as long as they take"),
    INT("RUNNER_LOG_CHUNK_BYTES", WORKER, log_chunk_bytes, "65536", 64, 8 << 20,
        "size bound of a log chunk"),
    INT("RUNNER_LOG_FLUSH_MS", WORKER, log_flush_ms, "500", 10, 60000, "time bound of a log chunk"),
    INT("RUNNER_LOG_FIRST_MS", WORKER, log_first_ms, "5", 0, 60000,
        "how long a job's first lines wait to be stored"),
    /* Offsets are stored as integers: the cap keeps them far below 2^31. */
    INT("RUNNER_LOG_MAX_BYTES", WORKER, log_max_bytes, "16777216", 1024, 1 << 30,
        "log cap of a job"),
    INT("GITWEAVE_LOG_RETENTION_DAYS", WORKER, log_retention_days, "0", 0, 36500,
        "logs of runs that ended longer ago are removed; 0: kept forever"),
    INT("GITWEAVE_LOG_RETENTION_SWEEP_SECONDS", WORKER, log_retention_sweep, "60", 1, 86400,
        "how often expired logs are looked for"),
    INT("RUNNER_ENGINE_BACKOFF_MAX_SECONDS", WORKER, engine_backoff_max, "60", 1, 3600,
        "longest wait between checks of an unreachable engine"),
    INT("RUNNER_JOB_PIDS_LIMIT", WORKER, job_pids_limit, "1024", 16, 1 << 22,
        "processes of a job container"),
    STR("RUNNER_JOB_MEMORY", WORKER, job_memory_text, "",
        "memory of a job container, e.g. 512m (default: no limit)"),
    STR("RUNNER_JOB_CPUS", WORKER, job_cpus_text, "",
        "CPUs of a job container, e.g. 1.5 (default: no limit)"),
    STR("RUNNER_JOB_USER", WORKER, job_user, "",
        "user[:group] of job containers (default: the image's)"),
    STR("RUNNER_SECRETS_KEY_FILE", WORKER, secrets_key_file, "",
        "secret keys that open secrets, 0600 (default: jobs naming one fail)"),
};

#undef API
#undef WORKER
#undef BOTH

const config_setting_t *
config_setting(size_t i)
{
    return i < GW_ARRAY_LEN(config_table) ? &config_table[i].pub : NULL;
}

void
config_usage(FILE *out, config_user_t program)
{
    fputs("environment (docs/configuration.md):\n", out);
    for (size_t i = 0; i < GW_ARRAY_LEN(config_table); i++) {
        const config_setting_t *s = &config_table[i].pub;

        if (!(s->used_by & program))
            continue;
        fprintf(out, "  %-35s %s", s->name, s->help);
        if (s->def != NULL && s->def[0] != '\0')
            fprintf(out, " (default %s)", s->def);
        fputc('\n', out);
    }
}

/* The smallest memory limit the container engines accept (Docker: 6 MiB). */
#define CONFIG_MIN_JOB_MEMORY (6LL << 20)

/* "512m"-style sizes: decimal digits, then one of k, m, g (binary units, any
 * case) or nothing for bytes. Returns the bytes, or -1 when malformed or
 * above 2^50. */
long long
config_parse_bytes(const char *text)
{
    long long n = 0;
    const char *p = text;

    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        if (n > (1LL << 50) / 10)
            return -1;
        n = n * 10 + (*p - '0');
    }
    int shift = 0;
    switch (*p) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    default:
        return -1;
    }
    if (*p != '\0' && p[1] != '\0')
        return -1;
    if (n > (1LL << 50) >> shift)
        return -1;
    return n << shift;
}

/* A decimal number of CPUs ("2", "0.5", at most 9 decimals) as billionths
 * of a CPU. Returns -1 when malformed, 0 or above 4096 CPUs. */
long long
config_parse_cpus(const char *text)
{
    long long whole = 0, frac = 0, scale = 1000000000LL;
    const char *p = text;

    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        whole = whole * 10 + (*p - '0');
        if (whole > 4096)
            return -1;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        for (; isdigit((unsigned char)*p); p++) {
            if (scale == 1)
                return -1;
            scale /= 10;
            frac += (*p - '0') * scale;
        }
    }
    if (*p != '\0')
        return -1;
    long long nano = whole * 1000000000LL + frac;
    return nano > 0 && nano <= 4096LL * 1000000000LL ? nano : -1;
}

/* cfg->labels from RUNNER_LABELS and the engine's name; -1 after saying
 * which label is not one. */
static int
config_labels(gw_config_t *cfg)
{
    buf_t b;
    char *copy = xstrdup(cfg->labels_text), *save = NULL;
    int rc = 0;

    buf_init(&b);
    for (char *l = strtok_r(copy, ",", &save); l != NULL; l = strtok_r(NULL, ",", &save)) {
        l += strspn(l, " ");
        for (size_t n = strlen(l); n > 0 && l[n - 1] == ' '; n--)
            l[n - 1] = '\0';
        if (*l == '\0')
            continue;
        if (!gw_label_valid(l)) {
            fprintf(stderr,
                    "configuration error: RUNNER_LABELS has \"%s\", which is not a label "
                    "(a name or name=value, each [A-Za-z0-9][A-Za-z0-9._-]{0,99})\n",
                    l);
            rc = -1;
        }
        buf_printf(&b, "%s,", l);
    }
    buf_puts(&b, cfg->engine);
    free(copy);
    cfg->labels = buf_steal(&b);
    return rc;
}

int
config_load(gw_config_t *cfg)
{
    int errors = 0;

    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < GW_ARRAY_LEN(config_table); i++) {
        const cf_entry_t *e = &config_table[i];
        const char *v = getenv(e->pub.name);
        char *field = (char *)cfg + e->offset;

        if (e->type == CF_ELSEWHERE)
            continue;
        if (v == NULL || (*v == '\0' && e->pub.def != NULL && *e->pub.def != '\0'))
            v = e->pub.def;
        if (e->type == CF_STR) {
            *(char **)field = v ? xstrdup(v) : NULL;
            continue;
        }
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0' || n < e->min || n > e->max) {
            fprintf(stderr, "configuration error: %s=\"%s\" is not an integer in [%ld, %ld]\n",
                    e->pub.name, v, e->min, e->max);
            errors++;
            continue;
        }
        *(int *)field = (int)n;
    }
    if (cfg->runner_name == NULL) {
        char host[256];
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "runner");
        host[sizeof(host) - 1] = '\0';
        cfg->runner_name = xstrdup(host);
    }
    if (!gw_name_valid(cfg->runner_name)) {
        fprintf(stderr,
                "configuration error: RUNNER_NAME=\"%s\" must match "
                "[A-Za-z0-9][A-Za-z0-9._-]{0,99}\n",
                cfg->runner_name);
        errors++;
    }
    const char *level = getenv("GITWEAVE_LOG_LEVEL");
    if (level != NULL && *level != '\0' && gw_log_level_parse(level) < 0) {
        fprintf(stderr,
                "configuration error: GITWEAVE_LOG_LEVEL=\"%s\" is not one of debug, info, warn, "
                "error\n",
                level);
        errors++;
    }
    if (cfg->api_body_budget < cfg->api_max_body) {
        fprintf(stderr,
                "configuration error: GITWEAVE_API_BODY_BUDGET_BYTES=%d is smaller than "
                "GITWEAVE_API_MAX_BODY_BYTES=%d: a body of the largest size would never be read\n",
                cfg->api_body_budget, cfg->api_max_body);
        errors++;
    }
    if (strcmp(cfg->metrics_public, "true") != 0 && strcmp(cfg->metrics_public, "false") != 0) {
        fprintf(stderr,
                "configuration error: GITWEAVE_METRICS_PUBLIC=\"%s\" is not true or false\n",
                cfg->metrics_public);
        errors++;
    }
    if (strcmp(cfg->engine, "docker") != 0 && strcmp(cfg->engine, "local") != 0) {
        fprintf(stderr,
                "configuration error: RUNNER_CONTAINER_ENGINE=\"%s\" is not one of docker, local\n",
                cfg->engine);
        errors++;
    }
    if (config_labels(cfg) < 0)
        errors++;
    if (strcmp(cfg->run_unlabeled_text, "true") != 0 &&
        strcmp(cfg->run_unlabeled_text, "false") != 0) {
        fprintf(stderr, "configuration error: RUNNER_RUN_UNLABELED=\"%s\" is not true or false\n",
                cfg->run_unlabeled_text);
        errors++;
    }
    cfg->run_unlabeled = strcmp(cfg->run_unlabeled_text, "false") != 0;
    if (strncmp(cfg->docker_host, "unix://", 7) != 0) {
        fprintf(stderr, "configuration error: DOCKER_HOST=\"%s\" is not a unix:// socket address\n",
                cfg->docker_host);
        errors++;
    }
    if (cfg->workdir[0] != '/') {
        fprintf(stderr, "configuration error: RUNNER_WORKDIR=\"%s\" is not an absolute path\n",
                cfg->workdir);
        errors++;
    }
    if (cfg->job_memory_text[0] != '\0') {
        cfg->job_memory = config_parse_bytes(cfg->job_memory_text);
        if (cfg->job_memory < CONFIG_MIN_JOB_MEMORY) {
            fprintf(stderr,
                    "configuration error: RUNNER_JOB_MEMORY=\"%s\" is not a size of at least "
                    "6m (bytes, or a number with k, m or g)\n",
                    cfg->job_memory_text);
            errors++;
        }
    }
    if (cfg->job_cpus_text[0] != '\0') {
        cfg->job_nano_cpus = config_parse_cpus(cfg->job_cpus_text);
        if (cfg->job_nano_cpus < 0) {
            fprintf(stderr,
                    "configuration error: RUNNER_JOB_CPUS=\"%s\" is not a number of CPUs "
                    "above 0 (such as 2 or 0.5)\n",
                    cfg->job_cpus_text);
            errors++;
        }
    }
    for (const char *p = cfg->job_user; *p; p++)
        if (!isalnum((unsigned char)*p) && strchr("._:-", *p) == NULL) {
            fprintf(stderr,
                    "configuration error: RUNNER_JOB_USER=\"%s\" is not a user[:group] name "
                    "or id\n",
                    cfg->job_user);
            errors++;
            break;
        }
    return errors ? -1 : 0;
}

void
config_free(gw_config_t *cfg)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(config_table); i++)
        if (config_table[i].type == CF_STR) {
            char **p = (char **)((char *)cfg + config_table[i].offset);
            free(*p);
            *p = NULL;
        }
    free(cfg->labels);
    cfg->labels = NULL;
}

int
config_parse_addr(const char *addr, char **host, int *port)
{
    const char *colon, *h;
    size_t hlen;
    long p = 0;

    *host = NULL;
    if (addr == NULL || *addr == '\0')
        return -1;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        h = addr + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)) != NULL)
            return -1;
        h = addr;
        hlen = (size_t)(colon - addr);
    }
    /* The port: digits only (no sign or space), 0 to 65535. */
    if (hlen == 0 || colon[1] == '\0')
        return -1;
    for (const char *d = colon + 1; *d; d++) {
        if (!isdigit((unsigned char)*d))
            return -1;
        p = p * 10 + (*d - '0');
        if (p > 65535)
            return -1;
    }
    for (size_t i = 0; i < hlen; i++)
        if (!isgraph((unsigned char)h[i]))
            return -1;
    *host = xstrndup(h, hlen);
    *port = (int)p;
    return 0;
}
