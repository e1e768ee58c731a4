/*
 * job_env - what a job runs with: its environment (its script: steps.h).
 */
#ifndef GW_JOB_ENV_H
#define GW_JOB_ENV_H

#include <stdbool.h>

#include "queue.h"

/*
 * The environment of job j of run q: its own env first (so it wins), then
 * the runner's variables that it does not set (CI, GITWEAVE_*; HOME and
 * PATH of this process for a local job; the checkout's GW_* with git_dir,
 * its git directory). NULL-terminated; the caller frees it with
 * job_env_free.
 */
char **job_env_new(const q_run_t *q, const q_job_t *j, const char *git_dir, bool local);
void job_env_free(char **env);

/* The image of job j of run q: its image, with the run's commit in place
 * when it waited for it (spec.h spec_expand); NULL when it names none.
 * Caller frees. Its env values are filled in the same way by
 * job_env_new. */
char *job_env_image(const q_run_t *q, const q_job_t *j);

/*
 * The first line of job j's log, without its newline: "[gitweave] job
 * NAME, run ID8 attempt N, runner R (E engine), image I, ref REF, commit
 * SHA, inputs {...}": what ran, since the step echoes show variables, not
 * values. The run's input values are one line of JSON (newlines and
 * control bytes escaped); any other control byte becomes '?'. Image, ref
 * and commit are "none" when the job has none (the checkout's commit, not
 * resolved yet, says so). It names no secret and no env value: inputs are
 * stored in clear on the run, and the caller writes the line through the
 * job's log sink after its secrets' masks are set, so an input that holds
 * the value of a secret the job received shows as "***". Caller frees.
 */
char *job_env_header(const q_run_t *q, const q_job_t *j, const char *runner, const char *engine,
                     const char *image);

#endif
