/*
 * workspace - where a run's jobs work: RUNNER_WORKDIR/<runner>/<repo>.
 *
 * The directory is kept between runs of the repo on this runner, so a clone
 * is made once and later runs fetch into it. Only validated names (runner and
 * repo names match [A-Za-z0-9][A-Za-z0-9._-]*, see gw_name_valid) become path
 * components, so no name can step outside RUNNER_WORKDIR.
 *
 * The checkout itself is a job like the others: a short shell script run by
 * the local engine on this host (the workspace is a host directory for both
 * engines), whose commands and output are the checkout's log.
 */
#ifndef GW_WORKSPACE_H
#define GW_WORKSPACE_H

#include "util.h"

/* Create (if needed) and return the workspace of repo for runner; the caller
 * frees it. Returns NULL with *err set (caller frees) when it cannot. */
char *workspace_prepare(const char *workdir, const char *runner, const char *repo,
                        char **err) GW_MUST_CHECK;

/* The checkout script. It reads GW_CLONE_URL, GW_REF (may be empty),
 * GW_COMMIT (may be empty) and GW_CLEAN ("1" to remove untracked files) from
 * its environment, so no value is ever spliced into shell text. Borrowed. */
const char *workspace_checkout_script(void);

#endif
