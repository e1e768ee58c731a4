/*
 * gitref - the rules for the git refs and commit ids a client names.
 *
 * Shared by the bodies of the trigger, push and repo endpoints
 * (trigger_body.c, repo_body.c); pure, unit-tested in
 * tests/unit/check_api_request.c.
 */
#ifndef GW_API_GITREF_H
#define GW_API_GITREF_H

#include <stdbool.h>

/*
 * Whether s looks like a git ref or branch name: 1..255 bytes, no control
 * characters, spaces or any of ~^:?*[\, no "..", "@{" or "//", no
 * component starting with '.', not ending with '/', '.' or ".lock".
 */
bool gitref_valid(const char *s);

/*
 * Normalise a ref given by a client: "refs/..." is kept, a bare branch name
 * "main" becomes "refs/heads/main". Returns a new string (caller frees), or
 * NULL if the ref is not valid.
 */
char *gitref_normalise(const char *ref);

/* Whether s is a commit id: 4 to 64 hexadecimal digits. */
bool gitref_commit_valid(const char *s);

/* Whether s is a full object id: 40 (SHA-1) or 64 (SHA-256) hexadecimal
 * digits, as a push hook sends. */
bool gitref_object_id_valid(const char *s);

#endif
