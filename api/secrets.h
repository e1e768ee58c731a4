/*
 * secrets - what triggers ask of secrets: whether every secret the jobs of
 * a run name is set (the handlers themselves are in handlers.h).
 */
#ifndef GW_API_SECRETS_H
#define GW_API_SECRETS_H

#include <cjson/cJSON.h>

#include "spec.h"
#include "util.h"

/* Whether every secret named by the expanded jobs (spec_expand's "secrets"
 * of each job) is in available (a JSON array of names). Returns 0, or -1
 * with err naming the first env entry whose secret is not set. */
int secrets_check_set(const cJSON *jobs, const cJSON *available, const char *repo,
                      spec_error_t *err) GW_MUST_CHECK;

#endif
