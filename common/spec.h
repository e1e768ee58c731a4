/*
 * spec - the template document: parse, validate, resolve inputs, expand.
 *
 * A template is a JSON (or YAML, see spec_from_yaml) document:
 *
 *   kind:   "build" | "test" | "release"                     (required)
 *   on:     { push?: {branches?: [glob...], tags?: [glob...]} | null,
 *             manual?: {} | null,
 *             schedule?: [cron...] (five-field cron, UTC, cron.h; each
 *                        listed once) }
 *           or a list ["push", "manual"]; default: both events, all branches
 *           and no tags (a push filter without branches but with tags
 *           starts on tag pushes only), no schedule
 *   clean:  bool  (default false: untracked files survive between runs)
 *   retry:  { max: 0..SPEC_RETRY_MAX, when?: ["runner_lost"] (the default) }:
 *           how often a run whose runner was lost goes back to the queue
 *           (absent: never); a job's own retry replaces it for that job
 *   runs-on: [label...] (non-empty; labels as util.h gw_label_valid): only a
 *           runner that has every one of them takes the template's runs
 *   concurrency: { group: str (non-empty, with expressions but run.id and
 *           commit.sha), cancel_in_progress?: bool (default false) }: at
 *           most one run of a group runs at a time (spec_expand_group)
 *   inputs: { NAME: { type?: "string"|"number"|"boolean"|"choice",
 *                     options?: [str...] (choice only, required for choice),
 *                     default?: scalar, required?: bool, description?: str } }
 *   jobs:   [ { name: str, image?: str, script: [str...] (non-empty),
 *               env?: {NAME: str}, timeout?: int seconds > 0,
 *               allow_failure?: bool, retry?: {..} } ]  (non-empty, unique names)
 *
 * Input and env names match [A-Za-z_][A-Za-z0-9_]*. Job names are names
 * (util.h gw_name_valid).
 *
 * Expressions `${{ X }}` (spaces optional) are expanded in image, script lines
 * and env values, where X is one of:
 *   inputs.NAME   repo.name   run.id   commit.sha   ref
 * An unknown X, or inputs.NAME of an undeclared input, is an error when the
 * template is validated (so it is refused when it is stored).
 *
 * `${{ secrets.NAME }}` is allowed only as the whole of an env value: it is
 * never expanded here (the value stays as written), and the expanded job
 * lists it in "secrets": {ENV: NAME}, for the runner to fill in at the
 * job's start (docs/secrets.md). In a script line, an image, or as part of
 * an env value it is refused.
 *
 * In image and env values an expression is replaced by its value. In script
 * lines it is never: the value goes into a variable of the job's env
 * (GITWEAVE_INPUT_NAME, GITWEAVE_EXPR_REPO_NAME, GITWEAVE_EXPR_RUN_ID,
 * GITWEAVE_EXPR_COMMIT_SHA, GITWEAVE_EXPR_REF) and the expression becomes a
 * quoted reference to it that fits the shell quoting at that point:
 * "${V}" outside quotes, ${V} inside double quotes, '"${V}"' inside single
 * quotes. So a value is never read as shell code. Env names starting with
 * GITWEAVE_INPUT_ or GITWEAVE_EXPR_ are reserved for this. commit.sha of a
 * run without a commit yet is deferred to the runner (spec_expand).
 *
 * Caps (SPEC_MAX_*, below) bound what a template or a set of input values
 * may hold; every check is linear (or n log n) in the size of the document.
 *
 * Errors fill a spec_error_t: `field` is the path of the offending value
 * ("jobs[1].script", "inputs.VERSION.type"), `message` says what is wrong,
 * and line/column are set (1-based) for YAML syntax errors, else 0.
 */
#ifndef GW_SPEC_H
#define GW_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* The largest template document, in bytes. */
#define SPEC_MAX_DOCUMENT 1048576
/* How deeply mappings and lists may nest. */
#define SPEC_MAX_DEPTH 32
/* Keys in any one mapping. */
#define SPEC_MAX_KEYS 256
/* Items in any one list (script lines, choice options, branch filters). */
#define SPEC_MAX_ITEMS 1000
/* Inputs a template declares, or a trigger or an attachment gives. */
#define SPEC_MAX_INPUTS 100
/* Jobs in a template. */
#define SPEC_MAX_JOBS 100
/* Entries of one job's env. */
#define SPEC_MAX_ENV 100
/* The most retries a template or a job may ask for (retry.max). */
#define SPEC_RETRY_MAX 3
/* Bytes of any one string, key or value (input values included). */
#define SPEC_MAX_STRING 65536

/* Env name prefixes that hold the values of expressions in script lines. */
#define SPEC_INPUT_PREFIX "GITWEAVE_INPUT_"
#define SPEC_EXPR_PREFIX "GITWEAVE_EXPR_"

typedef struct {
    char field[160];
    char message[256];
    int line;
    int column;
} spec_error_t;

/* Validate a template document. Returns a normalised copy (defaults filled
 * in: on as {"push": {"branches": [...]|null, "tags": [...]|null},
 * "manual": {}} with absent events null, and "schedule" only when given;
 * clean false, every input with its type, every job with image (string or
 * null), env ({}), timeout (number or null), allow_failure) that
 * the caller frees with cJSON_Delete, or NULL with *err filled. */
cJSON *spec_validate(const cJSON *doc, spec_error_t *err);

/* Resolve the input values of a run from a validated template:
 * trigger_inputs, else repo_inputs, else the default (either may be NULL;
 * values may be strings, numbers or booleans). Refuses undeclared names,
 * missing required inputs, and values that do not fit the type (a number, a
 * boolean true/false, one of the choice's options). Returns an object of
 * NAME -> string for every declared input that has a value (caller frees), or
 * NULL with *err filled (field "inputs.NAME"). */
cJSON *spec_resolve_inputs(const cJSON *tmpl, const cJSON *trigger_inputs, const cJSON *repo_inputs,
                           spec_error_t *err);

typedef struct {
    const char *repo_name;
    const char *run_id;
    const char *commit_sha; /* NULL: not known yet, deferred (below) */
    const char *ref;        /* may be NULL: expands to "" */
} spec_context_t;

/* How a deferred commit.sha reads in the frozen spec until it is known. */
#define SPEC_DEFERRED_COMMIT "${{ commit.sha }}"

/* Expand a validated template for one run. Returns an array of jobs
 * [{"name", "image": str|null, "script": [str...], "env": {..},
 *   "timeout": int|null, "allow_failure": bool, "retry"?: {"max", "when"},
 *   "deferred"?: {..}}]
 * (caller frees), or NULL with *err filled; a job whose env names secrets
 * also has "secrets": {ENV: NAME}. inputs is the result of
 * spec_resolve_inputs. Each job's env is its own env followed by the
 * variables its script lines refer to. A job's retry is its own or else
 * the template's, left out when neither has one.
 *
 * A run triggered without a commit learns it from its checkout, so
 * commit.sha is deferred when ctx->commit_sha is NULL: the image or env
 * value that holds it reads SPEC_DEFERRED_COMMIT in its place, and the job's
 * "deferred" object ({"image"?: SEGS, "env"?: {NAME: SEGS}}) gives each such
 * value as SEGS, the literal text around each deferred expression:
 * ["text", "commit.sha", "text", ...] (odd length, the odd items the
 * expression). A script line's commit.sha is a variable of env like any
 * other, so it is that variable's value that is deferred. The worker joins
 * SEGS with spec_deferred_join when the commit is known. */
cJSON *spec_expand(const cJSON *tmpl, const cJSON *inputs, const spec_context_t *ctx,
                   spec_error_t *err);

/* The concurrency group of a run of a validated template: *group (caller
 * frees; NULL when the template has none) with its expressions expanded,
 * and whether a new run cancels the group's queued and running runs
 * (*cancel). Returns 0, or -1 with *err. */
int spec_expand_group(const cJSON *tmpl, const cJSON *inputs, const spec_context_t *ctx,
                      char **group, bool *cancel, spec_error_t *err);

/* The value of deferred segments (see spec_expand) with commit_sha (NULL
 * reads as "") in place of each expression (caller frees), or NULL when
 * segs is not such a list. */
char *spec_deferred_join(const cJSON *segs, const char *commit_sha);

/* Whether a validated template starts on `event` ("push" or "manual"); for
 * push, branch is the branch name (refs/heads/ stripped) matched against the
 * branch filter. */
bool spec_matches_event(const cJSON *tmpl, const char *event, const char *branch);

/* What a push of one ref does to a template: starts it, or why not. */
typedef enum {
    SPEC_PUSH_STARTS,
    SPEC_PUSH_NOT_ON_PUSH,          /* on has no push */
    SPEC_PUSH_BRANCH_NOT_MATCHED,   /* no on.push.branches glob matches */
    SPEC_PUSH_BRANCHES_NOT_ENABLED, /* on.push lists tags only */
    SPEC_PUSH_TAG_NOT_MATCHED,      /* no on.push.tags glob matches */
    SPEC_PUSH_TAGS_NOT_ENABLED,     /* on.push lists no tags */
    SPEC_PUSH_NOT_BRANCH_OR_TAG,    /* the ref is neither refs/heads/ nor refs/tags/ */
} spec_push_match_t;

/* Whether a push of ref (the full name: refs/heads/..., refs/tags/...)
 * starts a validated template, or why not. */
spec_push_match_t spec_match_push(const cJSON *tmpl, const char *ref);

/* The reason as the API says it ("tag not matched"; "started"): static. */
const char *spec_push_reason(spec_push_match_t m);

/* The longest secret name. */
#define SPEC_SECRET_NAME_MAX 64

/* Whether n bytes of s are a secret name: [A-Z_][A-Z0-9_]*, at most
 * SPEC_SECRET_NAME_MAX. */
bool spec_secret_name_valid(const char *s, size_t n);

/* Whether text is `${{ secrets.NAME }}` alone (spaces optional) with a valid
 * NAME; the name is written to name (cap bytes) when it is not NULL. */
bool spec_secret_ref(const char *text, char *name, size_t cap);

/* Glob match for branch filters: `*` matches any run of characters except
 * '/', `**` matches any run including '/', `?` one character other than '/'.
 * So "release/" followed by a single star matches "release/1.0" but not
 * "release/1.0/x". */
bool spec_glob_match(const char *pattern, const char *s);

/* Parse YAML text (libyaml) into the equivalent JSON value: mappings become
 * objects, sequences arrays, plain scalars true/false/null/numbers become
 * those JSON types (YAML 1.2 core schema), quoted scalars stay strings.
 * Anchors/aliases are refused, as are multiple documents, duplicate keys,
 * NUL characters (raw or escaped) and anything beyond the caps above.
 * Returns NULL with *err (message, line, column, and the field where it is
 * known) on an error. */
cJSON *spec_from_yaml(const char *text, size_t len, spec_error_t *err);

#endif
