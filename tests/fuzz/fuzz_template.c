/*
 * fuzz_template - a template as a client sends it, JSON or YAML, through
 * what the API does with it: parse, validate (PUT /templates), then resolve
 * inputs and expand (a trigger).
 *
 * The input is taken as both a JSON and a YAML document, as the API would
 * for the two media types; like the API, bytes that are not valid UTF-8 are
 * not parsed. Invariants checked beyond "no crash, leak or sanitizer
 * report":
 *  - every error names a field and says what is wrong in valid UTF-8;
 *  - validation is idempotent, and the normalised form survives being
 *    stored as JSON text and read back (what the database holds);
 *  - values that fit the declared inputs are accepted, and a validated
 *    template always expands, into as many jobs and script lines, none of
 *    which holds an input's value as script text;
 *  - a branch pattern without wildcards matches itself;
 *  - expanding the document as it came, unvalidated, gives jobs or an
 *    error, never a crash.
 */
#include "fuzz_util.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "spec.h"
#include "utf8.h"

/* An input value written to catch expansion that pastes it into a script
 * (unlikely to be spelt out by the template itself). */
#define FUZZ_HOSTILE_VALUE "x\"; echo INJECTED-7f3a $(id) `id` ${{ inputs.A }} '\\"

static void
fuzz_check_error(const spec_error_t *err)
{
    fuzz_check_message(err->field, sizeof(err->field), "error field is valid UTF-8");
    fuzz_check_message(err->message, sizeof(err->message), "error message is valid UTF-8");
    FUZZ_CHECK(err->message[0] != '\0', "an error says what is wrong");
}

/* A value that fits each declared input: what a well-behaved client sends. */
static cJSON *
fuzz_fitting_inputs(const cJSON *declared)
{
    cJSON *out = cJSON_CreateObject();
    const cJSON *it;

    cJSON_ArrayForEach(it, declared)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
        const char *t = cJSON_IsString(type) ? type->valuestring : "string";

        if (strcmp(t, "choice") == 0) {
            const cJSON *first =
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(it, "options"), 0);
            FUZZ_CHECK(cJSON_IsString(first), "a validated choice has string options");
            cJSON_AddStringToObject(out, it->string, first->valuestring);
        } else if (strcmp(t, "boolean") == 0) {
            cJSON_AddTrueToObject(out, it->string);
        } else if (strcmp(t, "number") == 0) {
            cJSON_AddNumberToObject(out, it->string, 1.5);
        } else {
            cJSON_AddStringToObject(out, it->string, FUZZ_HOSTILE_VALUE);
        }
    }
    return out;
}

static void
fuzz_check_branches(const cJSON *norm)
{
    const cJSON *on = cJSON_GetObjectItemCaseSensitive(norm, "on");
    const cJSON *push = cJSON_GetObjectItemCaseSensitive(on, "push");
    const cJSON *manual = cJSON_GetObjectItemCaseSensitive(on, "manual");
    const cJSON *it;

    FUZZ_CHECK(spec_matches_event(norm, "manual", NULL) == cJSON_IsObject(manual),
               "manual runs follow on.manual");
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(push, "branches"))
    {
        const char *p = it->valuestring;

        if (strpbrk(p, "*?") != NULL)
            continue;
        FUZZ_CHECK(spec_glob_match(p, p), "a pattern without wildcards matches itself");
        FUZZ_CHECK(spec_matches_event(norm, "push", p), "a push to a listed branch starts");
    }
}

/* Resolve inputs and expand a validated template as a trigger does. */
static void
fuzz_expand(const cJSON *norm)
{
    const cJSON *declared = cJSON_GetObjectItemCaseSensitive(norm, "inputs");
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(norm, "jobs");
    spec_context_t ctx = {.repo_name = "demo",
                          .run_id = "8d9c4a4e-4a3f-4b71-9a55-0b0f3c1f7c11",
                          .commit_sha = "0123456789abcdef0123456789abcdef01234567",
                          .ref = "refs/heads/x$(id)"};
    spec_error_t err;
    cJSON *trigger, *values, *expanded;
    const cJSON *job, *out;

    /* Defaults only: may fail (a required input), but cleanly. */
    memset(&err, 0, sizeof(err));
    values = spec_resolve_inputs(norm, NULL, NULL, &err);
    if (values == NULL)
        fuzz_check_error(&err);
    cJSON_Delete(values);

    trigger = fuzz_fitting_inputs(declared);
    memset(&err, 0, sizeof(err));
    values = spec_resolve_inputs(norm, trigger, NULL, &err);
    FUZZ_CHECK(values != NULL, "values that fit every declared input are accepted");
    FUZZ_CHECK(cJSON_GetArraySize(values) == cJSON_GetArraySize(declared),
               "every input given has a value");

    memset(&err, 0, sizeof(err));
    expanded = spec_expand(norm, values, &ctx, &err);
    FUZZ_CHECK(expanded != NULL, "a validated template expands");
    FUZZ_CHECK(cJSON_GetArraySize(expanded) == cJSON_GetArraySize(jobs),
               "expansion keeps every job");
    out = expanded->child;
    cJSON_ArrayForEach(job, jobs)
    {
        const cJSON *script = cJSON_GetObjectItemCaseSensitive(out, "script");
        const cJSON *line;

        FUZZ_CHECK(cJSON_GetArraySize(script) ==
                       cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(job, "script")),
                   "expansion keeps every script line");
        cJSON_ArrayForEach(line, script)
        {
            FUZZ_CHECK(cJSON_IsString(line), "an expanded script line is a string");
            FUZZ_CHECK(fuzz_utf8_valid(line->valuestring, strlen(line->valuestring)),
                       "an expanded script line is valid UTF-8");
            FUZZ_CHECK(strstr(line->valuestring, FUZZ_HOSTILE_VALUE) == NULL,
                       "an input value never becomes script text");
        }
        out = out->next;
    }
    cJSON_Delete(expanded);
    cJSON_Delete(values);
    cJSON_Delete(trigger);
}

/* Expansion of what was never validated (a stored template always was):
 * an error or jobs, never a crash. */
static void
fuzz_expand_raw(const cJSON *doc)
{
    const spec_context_t ctx = {
        .repo_name = "demo", .run_id = "r", .commit_sha = NULL, .ref = NULL};
    spec_error_t err;
    cJSON *jobs;

    memset(&err, 0, sizeof(err));
    jobs = spec_expand(doc, NULL, &ctx, &err);
    if (jobs == NULL)
        fuzz_check_error(&err);
    cJSON_Delete(jobs);
}

static void
fuzz_template(const cJSON *doc)
{
    spec_error_t err;
    cJSON *norm, *again, *stored;
    char *text;

    fuzz_expand_raw(doc);
    memset(&err, 0, sizeof(err));
    norm = spec_validate(doc, &err);
    if (norm == NULL) {
        fuzz_check_error(&err);
        return;
    }

    memset(&err, 0, sizeof(err));
    again = spec_validate(norm, &err);
    FUZZ_CHECK(again != NULL, "the normalised form validates");
    FUZZ_CHECK(cJSON_Compare(again, norm, true), "validating the normalised form is a no-op");
    cJSON_Delete(again);

    text = cJSON_PrintUnformatted(norm);
    FUZZ_CHECK(text != NULL, "the normalised form prints");
    stored = cJSON_Parse(text);
    FUZZ_CHECK(stored != NULL && cJSON_Compare(stored, norm, true),
               "the normalised form reads back as stored");
    cJSON_Delete(stored);
    cJSON_free(text);

    fuzz_check_branches(norm);
    fuzz_expand(norm);
    cJSON_Delete(norm);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    spec_error_t err;
    const char *end = NULL;
    char *text;
    cJSON *doc;

    /* The API refuses a body that is not UTF-8 (or has a NUL) first. */
    if (!utf8_valid((const char *)data, size))
        return 0;
    text = fuzz_strndup(data, size);

    /* As http_read_json: the terminator counts, so trailing bytes fail;
     * then, as PUT /templates, a \u0000 escape is refused naming its field. */
    doc = cJSON_ParseWithLengthOpts(text, size + 1, &end, true);
    memset(&err, 0, sizeof(err));
    if (doc != NULL && request_json_find_nul(text, size, err.field, sizeof(err.field)))
        fuzz_check_message(err.field, sizeof(err.field), "the field holding a NUL is valid UTF-8");
    else if (doc != NULL)
        fuzz_template(doc);
    cJSON_Delete(doc);

    memset(&err, 0, sizeof(err));
    doc = spec_from_yaml(text, size, &err);
    if (doc != NULL)
        fuzz_template(doc);
    else
        fuzz_check_error(&err);
    cJSON_Delete(doc);

    free(text);
    return 0;
}
