/*
 * spec - the template document: parse, validate, resolve inputs, expand.
 *
 * A template is a JSON (or YAML, see spec_from_yaml) document:
 *
 *   kind:   "build" | "test" | "release"                     (required)
 *   on:     { push?: {branches?: [glob...]} | null, manual?: {} | null }
 *           or a list ["push", "manual"]; default: both events, all branches
 *   clean:  bool  (default false: untracked files survive between runs)
 *   inputs: { NAME: { type?: "string"|"number"|"boolean"|"choice",
 *                     options?: [str...] (choice only, required for choice),
 *                     default?: scalar, required?: bool, description?: str } }
 *   jobs:   [ { name: str, image?: str, script: [str...] (non-empty),
 *               env?: {NAME: str}, timeout?: int seconds > 0,
 *               allow_failure?: bool } ]  (non-empty, unique names)
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
 * Errors fill a spec_error_t: `field` is the path of the offending value
 * ("jobs[1].script", "inputs.VERSION.type"), `message` says what is wrong,
 * and line/column are set (1-based) for YAML syntax errors, else 0.
 */
#ifndef GW_SPEC_H
#define GW_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

typedef struct {
    char field[160];
    char message[256];
    int line;
    int column;
} spec_error_t;

/* Validate a template document. Returns a normalised copy (defaults filled
 * in: on as {"push": {"branches": [...]|null}, "manual": {}} with absent
 * events null, clean false, every input with its type, every job with image
 * (string or null), env ({}), timeout (number or null), allow_failure) that
 * the caller frees with cJSON_Delete, or NULL with *err filled. */
cJSON *spec_validate(const cJSON *doc, spec_error_t *err);

/* Resolve the input values of a run from a validated template:
 * trigger_inputs, else repo_inputs, else the default (either may be NULL;
 * values may be strings, numbers or booleans). Refuses undeclared names,
 * missing required inputs, and values that do not fit the type (a number, a
 * boolean true/false, one of the choice's options). Returns an object of
 * NAME -> string for every declared input that has a value (caller frees), or
 * NULL with *err filled (field "inputs.NAME"). */
cJSON *spec_resolve_inputs(const cJSON *tmpl, const cJSON *trigger_inputs,
                           const cJSON *repo_inputs, spec_error_t *err);

typedef struct {
    const char *repo_name;
    const char *run_id;
    const char *commit_sha; /* may be NULL: expands to "" */
    const char *ref;        /* may be NULL: expands to "" */
} spec_context_t;

/* Expand a validated template for one run. Returns an array of jobs
 * [{"name", "image": str|null, "script": [str...], "env": {..},
 *   "timeout": int|null, "allow_failure": bool}] (caller frees), or NULL with
 * *err filled. inputs is the result of spec_resolve_inputs. */
cJSON *spec_expand(const cJSON *tmpl, const cJSON *inputs, const spec_context_t *ctx,
                   spec_error_t *err);

/* Whether a validated template starts on `event` ("push" or "manual"); for
 * push, branch is the branch name (refs/heads/ stripped) matched against the
 * branch filter. */
bool spec_matches_event(const cJSON *tmpl, const char *event, const char *branch);

/* Glob match for branch filters: `*` matches any run of characters except
 * '/', `**` matches any run including '/', `?` one character other than '/'.
 * So "release/" followed by a single star matches "release/1.0" but not
 * "release/1.0/x". */
bool spec_glob_match(const char *pattern, const char *s);

/* Parse YAML text (libyaml) into the equivalent JSON value: mappings become
 * objects, sequences arrays, plain scalars true/false/null/numbers become
 * those JSON types (YAML 1.2 core schema), quoted scalars stay strings.
 * Anchors/aliases are refused, as are multiple documents and duplicate keys.
 * Returns NULL with *err (message, line, column) on a syntax error. */
cJSON *spec_from_yaml(const char *text, size_t len, spec_error_t *err);

#endif
