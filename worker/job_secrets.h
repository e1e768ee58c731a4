/*
 * job_secrets - the secrets a job receives: read at its start (only those
 * its env names, a repo's own winning over one of every repo), opened with
 * the runner's keys, put into its environment and handed to the masker of
 * its log. Values live in this process's memory only while the job starts
 * and runs, and are wiped when freed; never logged, stored in the clear or
 * put on a command line.
 */
#ifndef GW_JOB_SECRETS_H
#define GW_JOB_SECRETS_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "queue.h"

typedef struct job_secrets job_secrets_t;

/* Whether a job's "secrets" of the frozen spec is {ENV: NAME}, each ENV in
 * env and each NAME a secret name. */
bool job_secrets_valid(const cJSON *secrets, const cJSON *env);

/* Whether job j names secrets. */
bool job_secrets_wanted(const q_job_t *j);

/*
 * Record on the job's row the names it receives and read their sealed
 * values, fenced. fn gets one row per name (name, key id, sealed value in
 * base64; NULL when it is not set), or none when the fence refused.
 */
int job_secrets_fetch(pg_conn_t *c, const q_fence_t *f, const q_job_t *j, pg_result_fn fn,
                      void *arg) GW_MUST_CHECK;

/* The values of res (job_secrets_fetch's answer) opened with the keys of
 * key_file. Returns them (free with job_secrets_free), or NULL with *error
 * (caller frees) saying which secret is not set or cannot be opened. */
job_secrets_t *job_secrets_open(const PGresult *res, const q_job_t *j, const char *key_file,
                                char **error);
/* Wipes the values and frees; NULL is a no-op. */
void job_secrets_free(job_secrets_t *s);

/* Each entry ENV=... of env (NULL-terminated, from job_env_new) that names
 * a secret gets its value. */
void job_secrets_apply(const job_secrets_t *s, const q_job_t *j, char **env);
/* Wipe every entry of env (before job_env_free). */
void job_secrets_wipe_env(char **env);

/* The number of values, and the i-th (borrowed), for the log's masker. */
size_t job_secrets_count(const job_secrets_t *s);
const char *job_secrets_value(const job_secrets_t *s, size_t i, size_t *len);

#endif
