/*
 * check_spec - unit tests of the template module (common/spec*.c):
 * validation and normalisation, input resolution, expansion, event and
 * branch matching, and the YAML front end.
 *
 * JSON documents in this file are written with single quotes, which js()
 * turns into double quotes, so that they stay readable.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spec.h"
#include "utf8.h"
#include "util.h"

/* Parse a JSON document written with ' for "; the caller frees it. */
static cJSON *
js(const char *text)
{
    char *s = xstrdup(text);
    cJSON *j;

    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    j = cJSON_Parse(s);
    ck_assert_msg(j != NULL, "test JSON does not parse: %s", s);
    free(s);
    return j;
}

/* Whether a equals the JSON text b (written with ' for "). */
static void
assert_json(const cJSON *a, const char *b)
{
    cJSON *want = js(b);
    char *got = cJSON_PrintUnformatted(a);

    ck_assert_msg(cJSON_Compare(a, want, true), "got %s, want %s", got, b);
    free(got);
    cJSON_Delete(want);
}

/* Validate a template that must be valid; the caller frees the result. */
static cJSON *
valid(const char *text)
{
    cJSON *doc = js(text);
    spec_error_t err;
    cJSON *t;

    memset(&err, 0, sizeof(err));
    t = spec_validate(doc, &err);
    ck_assert_msg(t != NULL, "unexpected error: %s: %s", err.field, err.message);
    cJSON_Delete(doc);
    return t;
}

static const char *
get_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    ck_assert_msg(cJSON_IsString(v), "%s is not a string", key);
    return v->valuestring;
}

/* ---- validation --------------------------------------------------------- */

START_TEST(test_validate_minimal)
{
    cJSON *t = valid("{'kind': 'build', 'jobs': [{'name': 'b', 'script': ['make']}]}");

    assert_json(t, "{'kind': 'build',"
                   " 'on': {'push': {'branches': null, 'tags': null}, 'manual': {}},"
                   " 'clean': false, 'inputs': {},"
                   " 'jobs': [{'name': 'b', 'image': null, 'script': ['make'], 'env': {},"
                   "           'timeout': null, 'allow_failure': false}]}");
    ck_assert(spec_matches_event(t, "push", "anything/at/all"));
    ck_assert(spec_matches_event(t, "manual", NULL));
    cJSON_Delete(t);
}
END_TEST

static const char *const full_template =
    "{'kind': 'release',"
    " 'on': {'push': {'branches': ['main', 'release/*']}, 'manual': null},"
    " 'clean': true,"
    " 'inputs': {"
    "   'VERSION': {'required': true, 'description': 'what to release'},"
    "   'LEVEL': {'type': 'choice', 'options': ['debug', 'info'], 'default': 'info'},"
    "   'COUNT': {'type': 'number', 'default': '1.5'},"
    "   'DRY': {'type': 'boolean', 'default': false, 'required': true},"
    "   'NOTE': null},"
    " 'jobs': ["
    "   {'name': 'build', 'image': 'gcc:${{ inputs.VERSION }}',"
    "    'script': ['make V=${{inputs.LEVEL}}', 'echo ${{\tcommit.sha\t}}'],"
    "    'env': {'REF': '${{ ref }}', 'N': '${{ inputs.COUNT }}'},"
    "    'timeout': 600, 'allow_failure': true},"
    "   {'name': 'test.unit-1', 'script': ['make test'], 'env': null, 'timeout': 86400}]}";

START_TEST(test_validate_full)
{
    cJSON *t = valid(full_template);

    assert_json(cJSON_GetObjectItem(t, "on"),
                "{'push': {'branches': ['main', 'release/*'], 'tags': null}, 'manual': null}");
    assert_json(cJSON_GetObjectItem(t, "inputs"),
                "{'VERSION': {'type': 'string', 'required': true, 'description': 'what to "
                "release'},"
                " 'LEVEL': {'type': 'choice', 'options': ['debug', 'info'], 'default': 'info',"
                "           'required': false},"
                " 'COUNT': {'type': 'number', 'default': '1.5', 'required': false},"
                " 'DRY': {'type': 'boolean', 'default': false, 'required': true},"
                " 'NOTE': {'type': 'string', 'required': false}}");
    assert_json(cJSON_GetObjectItem(t, "jobs"),
                "[{'name': 'build', 'image': 'gcc:${{ inputs.VERSION }}',"
                "  'script': ['make V=${{inputs.LEVEL}}', 'echo ${{\\tcommit.sha\\t}}'],"
                "  'env': {'REF': '${{ ref }}', 'N': '${{ inputs.COUNT }}'},"
                "  'timeout': 600, 'allow_failure': true},"
                " {'name': 'test.unit-1', 'image': null, 'script': ['make test'], 'env': {},"
                "  'timeout': 86400, 'allow_failure': false}]");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(t, "clean")));
    cJSON_Delete(t);
}
END_TEST

START_TEST(test_validate_idempotent)
{
    cJSON *t = valid(full_template);
    spec_error_t err;
    cJSON *again = spec_validate(t, &err);

    ck_assert_msg(again != NULL, "%s: %s", err.field, err.message);
    ck_assert(cJSON_Compare(t, again, true));
    cJSON_Delete(again);
    cJSON_Delete(t);
}
END_TEST

START_TEST(test_validate_on_forms)
{
    cJSON *t =
        valid("{'kind': 'test', 'on': ['manual'], 'jobs': [{'name': 'a', 'script': ['x']}]}");

    assert_json(cJSON_GetObjectItem(t, "on"), "{'push': null, 'manual': {}}");
    cJSON_Delete(t);

    t = valid(
        "{'kind': 'test', 'on': ['push', 'manual'], 'jobs': [{'name': 'a', 'script': ['x']}]}");
    assert_json(cJSON_GetObjectItem(t, "on"),
                "{'push': {'branches': null, 'tags': null}, 'manual': {}}");
    cJSON_Delete(t);

    t = valid("{'kind': 'test', 'on': {'push': {}}, 'jobs': [{'name': 'a', 'script': ['x']}]}");
    assert_json(cJSON_GetObjectItem(t, "on"),
                "{'push': {'branches': null, 'tags': null}, 'manual': null}");
    cJSON_Delete(t);

    t = valid("{'kind': 'test', 'on': null, 'jobs': [{'name': 'a', 'script': ['x']}]}");
    assert_json(cJSON_GetObjectItem(t, "on"),
                "{'push': {'branches': null, 'tags': null}, 'manual': {}}");
    cJSON_Delete(t);
}
END_TEST

/* A schedule alone is an event; it is kept as written, and validates to
 * itself; a template without one has no "schedule" in its normal form. */
START_TEST(test_validate_on_schedule)
{
    cJSON *t = valid("{'kind': 'test', 'on': {'schedule': ['*/15 * * * *', '0 3 * * 1-5']},"
                     " 'jobs': [{'name': 'a', 'script': ['x']}]}");
    spec_error_t err;
    cJSON *again = spec_validate(t, &err);

    assert_json(cJSON_GetObjectItem(t, "on"),
                "{'push': null, 'manual': null, 'schedule': ['*/15 * * * *', '0 3 * * 1-5']}");
    ck_assert_msg(again != NULL, "%s: %s", err.field, err.message);
    ck_assert(cJSON_Compare(t, again, true));
    ck_assert(!spec_matches_event(t, "manual", NULL));
    ck_assert_int_eq(spec_match_push(t, "refs/heads/main"), SPEC_PUSH_NOT_ON_PUSH);
    cJSON_Delete(again);
    cJSON_Delete(t);

    t = valid("{'kind': 'test', 'on': {'manual': {}, 'schedule': ['0 0 * * *']},"
              " 'jobs': [{'name': 'a', 'script': ['x']}]}");
    ck_assert(spec_matches_event(t, "manual", NULL));
    cJSON_Delete(t);
}
END_TEST

/* Defaults that fit their type, and `required` with a default. */
START_TEST(test_validate_defaults_fit)
{
    cJSON *t = valid("{'kind': 'build', 'inputs': {"
                     " 'A': {'type': 'number', 'default': 2},"
                     " 'B': {'type': 'number', 'default': '-1.5e3'},"
                     " 'C': {'type': 'boolean', 'default': true},"
                     " 'D': {'type': 'boolean', 'default': 'false'},"
                     " 'E': {'type': 'choice', 'options': ['x', 'y'], 'default': 'y'},"
                     " 'F': {'type': 'string', 'default': 3, 'required': true}},"
                     " 'jobs': [{'name': 'a', 'script': ['x']}]}");

    cJSON_Delete(t);
}
END_TEST

typedef struct {
    const char *doc;
    const char *field;
    const char *message;
} invalid_case_t;

#define JOB_A "{'name': 'a', 'script': ['x']}"
#define KIND "'kind': 'build', "
#define JOBS "'jobs': [" JOB_A "]"

#define SECRET_REFUSED(name)                                                                       \
    "names secret \"" name "\" where none may be: a secret is only ever the whole of an env "      \
    "value, \"${{ secrets.NAME }}\" (NAME of A-Z, 0-9 and '_'), never in a script line or an "     \
    "image"

static const invalid_case_t invalid_cases[] = {
    /* secrets: only the whole of an env value */
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['echo ${{ secrets.TOKEN }}']}]}",
     "jobs[0].script[0]", SECRET_REFUSED("TOKEN")},
    {"{" KIND "'jobs': [{'name': 'a', 'image': 'x/${{ secrets.TOKEN }}', 'script': ['x']}]}",
     "jobs[0].image", SECRET_REFUSED("TOKEN")},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'env': {'T': 'Bearer ${{ secrets.T }}'}}]}",
     "jobs[0].env.T", SECRET_REFUSED("T")},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'env': {'T': '${{ secrets.token }}'}}]}",
     "jobs[0].env.T", SECRET_REFUSED("token")},
    /* the document and kind */
    {"[]", "", "the template must be an object"},
    {"{" JOBS "}", "kind", "is required"},
    {"{'kind': 'deploy', " JOBS "}", "kind", "must be one of \"build\", \"test\", \"release\""},
    {"{'kind': 3, " JOBS "}", "kind", "must be one of \"build\", \"test\", \"release\""},
    {"{'kind': 'build', 'kind': 'test', " JOBS "}", "kind", "is given more than once"},
    /* unknown keys, at each level */
    {"{'kind': 'build', 'jbos': [" JOB_A "]}", "jbos", "is not a known key"},
    {"{" KIND "'jobs': [{'name': 'a', 'scirpt': ['x']}]}", "jobs[0].scirpt", "is not a known key"},
    {"{" KIND "'inputs': {'X': {'defualt': 1}}, " JOBS "}", "inputs.X.defualt",
     "is not a known key"},
    {"{" KIND "'on': {'pull': {}}, " JOBS "}", "on.pull", "is not a known event"},
    {"{" KIND "'on': {'push': {'branch': ['main']}}, " JOBS "}", "on.push.branch",
     "is not a known key"},
    /* on */
    {"{" KIND "'on': ['push', 'tag'], " JOBS "}", "on[1]", "must be \"push\" or \"manual\""},
    {"{" KIND "'on': ['push', 'push'], " JOBS "}", "on[1]", "is listed twice"},
    {"{" KIND "'on': 'push', " JOBS "}", "on", "must be an object, a list of events or null"},
    {"{" KIND "'on': {}, " JOBS "}", "on", "must enable at least one event"},
    {"{" KIND "'on': [], " JOBS "}", "on", "must enable at least one event"},
    {"{" KIND "'on': {'push': {'branches': []}}, " JOBS "}", "on.push.branches",
     "must be a non-empty array of strings"},
    {"{" KIND "'on': {'push': {'branches': ['main', 1]}}, " JOBS "}", "on.push.branches[1]",
     "must be a non-empty string"},
    {"{" KIND "'on': {'push': {'tags': []}}, " JOBS "}", "on.push.tags",
     "must be a non-empty array of strings"},
    {"{" KIND "'on': {'push': {'tags': ['v*', '']}}, " JOBS "}", "on.push.tags[1]",
     "must be a non-empty string"},
    {"{" KIND "'on': {'push': true}, " JOBS "}", "on.push", "must be an object or null"},
    {"{" KIND "'on': {'manual': {'x': 1}}, " JOBS "}", "on.manual.x", "is not a known key"},
    /* on.schedule: cron expressions, never in the list form */
    {"{" KIND "'on': ['push', 'schedule'], " JOBS "}", "on[1]", "must be \"push\" or \"manual\""},
    {"{" KIND "'on': {'schedule': []}, " JOBS "}", "on.schedule",
     "must be a non-empty array of strings"},
    {"{" KIND "'on': {'schedule': '* * * * *'}, " JOBS "}", "on.schedule",
     "must be a non-empty array of strings"},
    {"{" KIND "'on': {'schedule': ['* * * * *', 5]}, " JOBS "}", "on.schedule[1]",
     "must be a string"},
    {"{" KIND "'on': {'schedule': ['0 0 * * *', '60 * * * *']}, " JOBS "}", "on.schedule[1]",
     "is not a valid schedule: minute: 60 is out of range 0-59"},
    {"{" KIND "'on': {'schedule': ['@daily']}, " JOBS "}", "on.schedule[0]",
     "is not a valid schedule: minute: \"@daily\" is not a number, a range or *"},
    {"{" KIND "'on': {'schedule': ['0 0 * * * *']}, " JOBS "}", "on.schedule[0]",
     "is not a valid schedule: has more than five fields (minute hour day-of-month month "
     "day-of-week)"},
    {"{" KIND "'on': {'schedule': ['0 0 * * *', '0 0 * * *']}, " JOBS "}", "on.schedule[1]",
     "is listed twice"},
    /* clean */
    {"{" KIND "'clean': 'yes', " JOBS "}", "clean", "must be true or false"},
    /* concurrency */
    {"{" KIND "'concurrency': 'g', " JOBS "}", "concurrency", "must be an object"},
    {"{" KIND "'concurrency': {}, " JOBS "}", "concurrency.group", "is required"},
    {"{" KIND "'concurrency': {'group': ''}, " JOBS "}", "concurrency.group",
     "must be a non-empty string or null"},
    {"{" KIND "'concurrency': {'group': 'g', 'cancel': true}, " JOBS "}", "concurrency.cancel",
     "is not a known key"},
    {"{" KIND "'concurrency': {'group': 'g', 'cancel_in_progress': 'yes'}, " JOBS "}",
     "concurrency.cancel_in_progress", "must be true or false"},
    {"{" KIND "'concurrency': {'group': 'g-${{ inputs.X }}'}, " JOBS "}", "concurrency.group",
     "references undeclared input \"X\""},
    {"{" KIND "'concurrency': {'group': 'g-${{ run.id }}'}, " JOBS "}", "concurrency.group",
     "uses \"run.id\", which a concurrency group cannot: the group is known when a run is "
     "queued (inputs, repo.name and ref are)"},
    {"{" KIND "'concurrency': {'group': '${{commit.sha}}'}, " JOBS "}", "concurrency.group",
     "uses \"commit.sha\", which a concurrency group cannot: the group is known when a run is "
     "queued (inputs, repo.name and ref are)"},
    /* jobs */
    {"{" KIND "'jobs': []}", "jobs", "must be a non-empty array"},
    {"{" KIND "'jobs': {}}", "jobs", "must be a non-empty array"},
    {"{'kind': 'build'}", "jobs", "must be a non-empty array"},
    {"{" KIND "'jobs': ['make']}", "jobs[0]", "must be an object"},
    {"{" KIND "'jobs': [" JOB_A ", {'name': 'b'}]}", "jobs[1].script", "is required"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': []}]}", "jobs[0].script",
     "must be a non-empty array of strings"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': 'make'}]}", "jobs[0].script",
     "must be a non-empty array of strings"},
    {"{" KIND "'jobs': [" JOB_A ", {'name': 'b', 'script': [1]}]}", "jobs[1].script[0]",
     "must be a string"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x', null]}]}", "jobs[0].script[1]",
     "must be a string"},
    {"{" KIND "'jobs': [{'script': ['x']}]}", "jobs[0].name", "is required"},
    {"{" KIND "'jobs': [{'name': 'a b', 'script': ['x']}]}", "jobs[0].name",
     "must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"},
    {"{" KIND "'jobs': [{'name': '.a', 'script': ['x']}]}", "jobs[0].name",
     "must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"},
    {"{" KIND "'jobs': [" JOB_A ", {'name': 'b', 'script': ['x']}, " JOB_A "]}", "jobs[2].name",
     "repeats the name of jobs[0]"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'timeout': 0}]}", "jobs[0].timeout",
     "must be an integer between 1 and 86400"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'timeout': 86401}]}", "jobs[0].timeout",
     "must be an integer between 1 and 86400"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'timeout': 1.5}]}", "jobs[0].timeout",
     "must be an integer between 1 and 86400"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'timeout': '60'}]}", "jobs[0].timeout",
     "must be an integer between 1 and 86400"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'timeout': -5}]}", "jobs[0].timeout",
     "must be an integer between 1 and 86400"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'timeout': 1e300}]}", "jobs[0].timeout",
     "must be an integer between 1 and 86400"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'allow_failure': 1}]}",
     "jobs[0].allow_failure", "must be true or false"},
    /* retry, of the template and of a job */
    {"{" KIND "'retry': 1, " JOBS "}", "retry", "must be an object"},
    {"{" KIND "'retry': {}, " JOBS "}", "retry.max", "is required"},
    {"{" KIND "'retry': {'max': 4}, " JOBS "}", "retry.max", "must be an integer between 0 and 3"},
    {"{" KIND "'retry': {'max': -1}, " JOBS "}", "retry.max", "must be an integer between 0 and 3"},
    {"{" KIND "'retry': {'max': 1.5}, " JOBS "}", "retry.max",
     "must be an integer between 0 and 3"},
    {"{" KIND "'retry': {'max': 1, 'when': []}, " JOBS "}", "retry.when",
     "must be a non-empty array of words"},
    {"{" KIND "'retry': {'max': 1, 'when': ['script_failure']}, " JOBS "}", "retry.when[0]",
     "must be one of \"runner_lost\""},
    {"{" KIND "'retry': {'max': 1, 'on': ['runner_lost']}, " JOBS "}", "retry.on",
     "is not a known key"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'retry': {'max': '2'}}]}",
     "jobs[0].retry.max", "must be an integer between 0 and 3"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'image': ''}]}", "jobs[0].image",
     "must be a non-empty string or null"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'env': []}]}", "jobs[0].env",
     "must be an object"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'env': {'A-B': 'x'}}]}", "jobs[0].env.A-B",
     "is not a valid variable name (letters, digits and '_', not starting with a digit)"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'env': {'FOO': 1}}]}", "jobs[0].env.FOO",
     "must be a string"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'env': {'GITWEAVE_INPUT_X': '1'}}]}",
     "jobs[0].env.GITWEAVE_INPUT_X",
     "is reserved: names starting with GITWEAVE_INPUT_ or GITWEAVE_EXPR_ hold the values of "
     "expressions"},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'env': {'GITWEAVE_EXPR_REF': '1'}}]}",
     "jobs[0].env.GITWEAVE_EXPR_REF",
     "is reserved: names starting with GITWEAVE_INPUT_ or GITWEAVE_EXPR_ hold the values of "
     "expressions"},
    /* expressions */
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['a', 'b', 'echo ${{ inputs.X }}']}]}",
     "jobs[0].script[2]", "references undeclared input \"X\""},
    {"{" KIND "'inputs': {'X': {}}, 'jobs': [{'name': 'a', 'script': ['${{ inputs.x }}']}]}",
     "jobs[0].script[0]", "references undeclared input \"x\""},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'env': {'FOO': '${{ github.sha }}'}}]}",
     "jobs[0].env.FOO", "references unknown variable \"github.sha\""},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['${{ repo.id }}']}]}", "jobs[0].script[0]",
     "references unknown variable \"repo.id\""},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['${{ inputs. }}']}]}", "jobs[0].script[0]",
     "references unknown variable \"inputs.\""},
    {"{" KIND "'jobs': [{'name': 'a', 'image': 'gcc:${{ ref', 'script': ['x']}]}", "jobs[0].image",
     "has an unterminated \"${{\""},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['${{ ref }} and ${{ run.id }']}]}",
     "jobs[0].script[0]", "has an unterminated \"${{\""},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['${{  }}']}]}", "jobs[0].script[0]",
     "has an empty expression"},
    /* inputs */
    {"{" KIND "'inputs': [], " JOBS "}", "inputs", "must be an object"},
    {"{" KIND "'inputs': {'1X': {}}, " JOBS "}", "inputs.1X",
     "is not a valid input name (letters, digits and '_', not starting with a digit)"},
    {"{" KIND "'inputs': {'X': 'string'}, " JOBS "}", "inputs.X", "must be an object"},
    {"{" KIND "'inputs': {'VERSION': {'type': 'int'}}, " JOBS "}", "inputs.VERSION.type",
     "must be one of \"string\", \"number\", \"boolean\", \"choice\""},
    {"{" KIND "'inputs': {'X': {'type': 'choice'}}, " JOBS "}", "inputs.X.options",
     "is required for a choice"},
    {"{" KIND "'inputs': {'X': {'type': 'choice', 'options': []}}, " JOBS "}", "inputs.X.options",
     "must be a non-empty array of strings"},
    {"{" KIND "'inputs': {'X': {'type': 'choice', 'options': ['a', 1]}}, " JOBS "}",
     "inputs.X.options[1]", "must be a string"},
    {"{" KIND "'inputs': {'X': {'type': 'choice', 'options': ['a', 'b', 'a']}}, " JOBS "}",
     "inputs.X.options[2]", "is listed twice"},
    {"{" KIND "'inputs': {'X': {'options': ['a']}}, " JOBS "}", "inputs.X.options",
     "is only allowed for a choice"},
    {"{" KIND "'inputs': {'N': {'type': 'number', 'default': 'abc'}}, " JOBS "}",
     "inputs.N.default", "must be a number"},
    {"{" KIND "'inputs': {'N': {'type': 'number', 'default': 'inf'}}, " JOBS "}",
     "inputs.N.default", "must be a number"},
    {"{" KIND "'inputs': {'N': {'type': 'number', 'default': true}}, " JOBS "}", "inputs.N.default",
     "must be a number"},
    {"{" KIND "'inputs': {'B': {'type': 'boolean', 'default': 'yes'}}, " JOBS "}",
     "inputs.B.default", "must be true or false"},
    {"{" KIND "'inputs': {'B': {'type': 'boolean', 'default': 1}}, " JOBS "}", "inputs.B.default",
     "must be true or false"},
    {"{" KIND "'inputs': {'C': {'type': 'choice', 'options': ['a', 'b'], 'default': 'c'}}, " JOBS
     "}",
     "inputs.C.default", "must be one of \"a\", \"b\""},
    {"{" KIND "'inputs': {'S': {'default': ['a']}}, " JOBS "}", "inputs.S.default",
     "must be a string, number or boolean"},
    {"{" KIND "'inputs': {'S': {'required': 'yes'}}, " JOBS "}", "inputs.S.required",
     "must be true or false"},
    {"{" KIND "'inputs': {'S': {'description': 1}}, " JOBS "}", "inputs.S.description",
     "must be a string"},
    {"{" KIND "'inputs': {'S': {}, 'S': {}}, " JOBS "}", "inputs.S", "is given more than once"},
};

START_TEST(test_validate_invalid)
{
    const invalid_case_t *c = &invalid_cases[_i];
    cJSON *doc = js(c->doc);
    spec_error_t err;
    cJSON *t;

    memset(&err, 0x5a, sizeof(err));
    t = spec_validate(doc, &err);
    ck_assert_msg(t == NULL, "accepted %s", c->doc);
    ck_assert_str_eq(err.field, c->field);
    ck_assert_str_eq(err.message, c->message);
    ck_assert_int_eq(err.line, 0);
    ck_assert_int_eq(err.column, 0);
    cJSON_Delete(doc);
}
END_TEST

/* Every message is lowercase and has no final period. */
START_TEST(test_validate_messages_style)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(invalid_cases); i++) {
        const char *m = invalid_cases[i].message;
        size_t n = strlen(m);

        ck_assert_msg(n > 0 && !(m[0] >= 'A' && m[0] <= 'Z') && m[n - 1] != '.', "%s", m);
    }
}
END_TEST

/* With several errors, the first one named: unknown keys before all, then
 * the keys of an object in the order of its table (an input's default
 * last, after the type and options it must fit; a job's keys in their
 * order), each string of a job with its expressions. */
static const invalid_case_t first_error_cases[] = {
    {"{" KIND "'jobs': [{'name': 'a', 'image': '${{ inputs.X }}'}]}", "jobs[0].image",
     "references undeclared input \"X\""},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['${{ inputs.X }}'], 'timeout': 0}]}",
     "jobs[0].script[0]", "references undeclared input \"X\""},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['${{ inputs.X }}', 5]}]}", "jobs[0].script[0]",
     "references undeclared input \"X\""},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['${{ inputs.X }}'], 'env': {'V': '${{ x }}'}}]}",
     "jobs[0].script[0]", "references undeclared input \"X\""},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['x'], 'env': {'A': '${{ x }}', '1B': 'x'}}]}",
     "jobs[0].env.A", "references unknown variable \"x\""},
    {"{" KIND "'jobs': [{'name': 'a', 'script': ['${{ inputs.X }}']}, {'name': 'b'}]}",
     "jobs[0].script[0]", "references undeclared input \"X\""},
    {"{" KIND "'jobs': [{'script': 'x', 'nmae': 'a'}]}", "jobs[0].nmae", "is not a known key"},
    {"{" KIND "'inputs': {'S': {'required': 'yes', 'default': ['a']}}, " JOBS "}",
     "inputs.S.required", "must be true or false"},
    {"{" KIND "'inputs': {'S': {'type': 'number', 'default': 'x', 'required': 'y'}}, " JOBS "}",
     "inputs.S.required", "must be true or false"},
    {"{" KIND "'inputs': {'S': {'default': [1], 'description': 5}}, " JOBS "}",
     "inputs.S.description", "must be a string"},
};

START_TEST(test_validate_first_error)
{
    const invalid_case_t *c = &first_error_cases[_i];
    cJSON *doc = js(c->doc);
    spec_error_t err;

    ck_assert_msg(spec_validate(doc, &err) == NULL, "accepted %s", c->doc);
    ck_assert_str_eq(err.field, c->field);
    ck_assert_str_eq(err.message, c->message);
    cJSON_Delete(doc);
}
END_TEST

/* A path too long for the error's field ends in "..." instead of being cut
 * silently. */
START_TEST(test_validate_long_field)
{
    buf_t b;
    cJSON *doc;
    spec_error_t err;

    buf_init(&b);
    buf_puts(&b, "{'kind': 'build', 'jobs': [{'name': 'a', 'script': ['x'], 'env': {'");
    for (int i = 0; i < 300; i++)
        buf_puts(&b, "V");
    buf_puts(&b, "': 1}}]}");
    doc = js(b.data);
    ck_assert_ptr_null(spec_validate(doc, &err));
    ck_assert_uint_eq(strlen(err.field), sizeof(err.field) - 1);
    ck_assert(strncmp(err.field, "jobs[0].env.VVV", 15) == 0);
    ck_assert_str_eq(err.field + sizeof(err.field) - 4, "...");
    ck_assert_str_eq(err.message, "must be a string");
    cJSON_Delete(doc);
    buf_free(&b);
}
END_TEST

/* Found by tests/fuzz/fuzz_template: a field path or message cut to fit
 * its buffer (or a quote cut to SPEC_QUOTE_MAX) ended inside a multi-byte
 * character, so the error sent to the client in JSON was not valid UTF-8. */
static void
assert_error_utf8(const spec_error_t *err, const char *what)
{
    ck_assert_msg(utf8_valid(err->field, strlen(err->field)), "%s: field not UTF-8: %s", what,
                  err->field);
    ck_assert_msg(utf8_valid(err->message, strlen(err->message)), "%s: message not UTF-8: %s", what,
                  err->message);
}

/* "x" (or "xy") and n times U+00E9: a cut at any fixed length can land
 * inside a character. */
static void
long_name(buf_t *b, const char *start, int n)
{
    buf_puts(b, start);
    for (int i = 0; i < n; i++)
        buf_puts(b, "\xC3\xA9");
}

/* A JSON template with a long name between before and after is refused
 * with an error in valid UTF-8. */
static void
refused_long_name(const char *before, const char *start, int n, const char *after,
                  spec_error_t *err)
{
    buf_t b;
    cJSON *doc;

    buf_init(&b);
    buf_puts(&b, before);
    long_name(&b, start, n);
    buf_puts(&b, after);
    doc = cJSON_Parse(b.data);
    ck_assert_ptr_nonnull(doc);
    memset(err, 0, sizeof(*err));
    ck_assert_ptr_null(spec_validate(doc, err));
    assert_error_utf8(err, before);
    cJSON_Delete(doc);
    buf_free(&b);
}

START_TEST(test_errors_cut_whole_characters)
{
    spec_error_t err;
    buf_t b;
    cJSON *doc, *t, *values;

    /* An unknown key: the field path is cut to 160 bytes, "..." added. */
    refused_long_name("{\"", "x", 100, "\": 1, \"kind\": \"build\", \"jobs\": []}", &err);
    ck_assert_str_eq(err.field + strlen(err.field) - 3, "...");

    /* An unknown variable: the message quotes 64 bytes of it. */
    refused_long_name("{\"kind\": \"build\", \"jobs\": [{\"name\": \"a\", \"script\": [\"${{ ", "x",
                      40, " }}\"]}]}", &err);
    ck_assert(strstr(err.message, "unknown variable") != NULL);

    /* A choice whose options fill the message, then resolved with a value
     * that fits none: the reason and its source are both cut. */
    buf_init(&b);
    buf_puts(&b,
             "{\"kind\": \"build\", \"inputs\": {\"C\": {\"type\": \"choice\", \"options\": [\"");
    long_name(&b, "xy", 200);
    buf_puts(&b, "\"]}}, \"jobs\": [{\"name\": \"a\", \"script\": [\"true\"]}]}");
    doc = cJSON_Parse(b.data);
    t = spec_validate(doc, &err);
    ck_assert_ptr_nonnull(t);
    cJSON_Delete(doc);
    doc = cJSON_Parse("{\"C\": \"other\"}");
    memset(&err, 0, sizeof(err));
    values = spec_resolve_inputs(t, NULL, doc, &err);
    ck_assert_ptr_null(values);
    assert_error_utf8(&err, "choice");
    cJSON_Delete(doc);
    cJSON_Delete(t);

    /* YAML: a duplicate key, quoted in the message (cut inside a character
     * with "x") and named in the field (with "xy"). */
    for (int i = 0; i < 2; i++) {
        const char *start = i == 0 ? "x" : "xy";

        buf_reset(&b);
        for (int k = 0; k < 2; k++) {
            long_name(&b, start, 150);
            buf_printf(&b, ": %d\n", k);
        }
        memset(&err, 0, sizeof(err));
        ck_assert_ptr_null(spec_from_yaml(b.data, b.len, &err));
        assert_error_utf8(&err, start);
    }
    buf_free(&b);
}
END_TEST

/* ---- resolving inputs ----------------------------------------------------- */

static const char *const inputs_template = "{'kind': 'build', 'inputs': {"
                                           " 'A': {'default': 'a-default'},"
                                           " 'B': {'default': 'b-default'},"
                                           " 'C': {'default': 'c-default'},"
                                           " 'OPT': {},"
                                           " 'N': {'type': 'number'},"
                                           " 'F': {'type': 'boolean'},"
                                           " 'CH': {'type': 'choice', 'options': ['dev', 'prod']},"
                                           " 'S': {}},"
                                           " 'jobs': [{'name': 'a', 'script': ['x']}]}";

/* Resolve with trigger and repo values given as JSON text (or NULL);
 * returns the result or NULL with *err filled. */
static cJSON *
resolve(const char *tmpl_text, const char *trigger, const char *repo, spec_error_t *err)
{
    cJSON *t = valid(tmpl_text);
    cJSON *tr = trigger ? js(trigger) : NULL;
    cJSON *re = repo ? js(repo) : NULL;
    cJSON *out;

    memset(err, 0, sizeof(*err));
    out = spec_resolve_inputs(t, tr, re, err);
    cJSON_Delete(t);
    cJSON_Delete(tr);
    cJSON_Delete(re);
    return out;
}

START_TEST(test_resolve_precedence)
{
    spec_error_t err;
    cJSON *in = resolve(inputs_template, "{'A': 'a-trigger'}",
                        "{'A': 'a-repo', 'B': 'b-repo', 'GONE': 'x'}", &err);

    ck_assert_msg(in != NULL, "%s: %s", err.field, err.message);
    assert_json(in, "{'A': 'a-trigger', 'B': 'b-repo', 'C': 'c-default'}");
    cJSON_Delete(in);

    /* Neither given: the defaults; a null value counts as not given. */
    in = resolve(inputs_template, NULL, NULL, &err);
    ck_assert_ptr_nonnull(in);
    assert_json(in, "{'A': 'a-default', 'B': 'b-default', 'C': 'c-default'}");
    cJSON_Delete(in);
    in = resolve(inputs_template, "{'A': null}", "{'A': 'a-repo'}", &err);
    ck_assert_ptr_nonnull(in);
    ck_assert_str_eq(get_str(in, "A"), "a-repo");
    cJSON_Delete(in);
}
END_TEST

START_TEST(test_resolve_stringify)
{
    spec_error_t err;
    cJSON *in = resolve(inputs_template, "{'N': 3, 'S': 1.5, 'F': true, 'OPT': false}",
                        "{'CH': 'prod'}", &err);

    ck_assert_msg(in != NULL, "%s: %s", err.field, err.message);
    ck_assert_str_eq(get_str(in, "N"), "3");
    ck_assert_str_eq(get_str(in, "S"), "1.5");
    ck_assert_str_eq(get_str(in, "F"), "true");
    ck_assert_str_eq(get_str(in, "OPT"), "false");
    ck_assert_str_eq(get_str(in, "CH"), "prod");
    cJSON_Delete(in);

    in = resolve(inputs_template, "{'N': -0.25, 'S': 0.1, 'F': 'false', 'OPT': 1e20}", NULL, &err);
    ck_assert_ptr_nonnull(in);
    ck_assert_str_eq(get_str(in, "N"), "-0.25");
    ck_assert_str_eq(get_str(in, "S"), "0.1");
    ck_assert_str_eq(get_str(in, "F"), "false");
    ck_assert_str_eq(get_str(in, "OPT"), "1e+20");
    cJSON_Delete(in);

    in = resolve(inputs_template, "{'N': -0, 'S': 123456789012345, 'OPT': 0.30000000000000004}",
                 NULL, &err);
    ck_assert_ptr_nonnull(in);
    ck_assert_str_eq(get_str(in, "N"), "0");
    ck_assert_str_eq(get_str(in, "S"), "123456789012345");
    ck_assert_str_eq(get_str(in, "OPT"), "0.30000000000000004");
    cJSON_Delete(in);
}
END_TEST

START_TEST(test_resolve_required)
{
    const char *tmpl = "{'kind': 'build', 'inputs': {'V': {'required': true},"
                       " 'D': {'required': true, 'default': 'd'}},"
                       " 'jobs': [{'name': 'a', 'script': ['${{ inputs.V }}']}]}";
    spec_error_t err;
    cJSON *in = resolve(tmpl, NULL, NULL, &err);

    ck_assert_ptr_null(in);
    ck_assert_str_eq(err.field, "inputs.V");
    ck_assert_str_eq(err.message, "is required");

    in = resolve(tmpl, "{}", "{'V': '1'}", &err);
    ck_assert_msg(in != NULL, "%s: %s", err.field, err.message);
    assert_json(in, "{'V': '1', 'D': 'd'}");
    cJSON_Delete(in);
}
END_TEST

START_TEST(test_resolve_undeclared)
{
    spec_error_t err;
    cJSON *in = resolve(inputs_template, "{'A': 'x', 'NOPE': 'y'}", NULL, &err);

    ck_assert_ptr_null(in);
    ck_assert_str_eq(err.field, "inputs.NOPE");
    ck_assert_str_eq(err.message, "is not declared by the template");

    /* A repo attachment may name inputs the template has dropped since. */
    in = resolve(inputs_template, NULL, "{'NOPE': 'y', 'OLD': [1]}", &err);
    ck_assert_msg(in != NULL, "%s: %s", err.field, err.message);
    ck_assert_ptr_null(cJSON_GetObjectItem(in, "NOPE"));
    cJSON_Delete(in);
}
END_TEST

typedef struct {
    const char *trigger;
    const char *repo;
    const char *field; /* NULL: accepted */
    const char *message;
} resolve_case_t;

static const resolve_case_t resolve_cases[] = {
    {"{'N': 'abc'}", NULL, "inputs.N", "must be a number"},
    {"{'N': ''}", NULL, "inputs.N", "must be a number"},
    {"{'N': 'inf'}", NULL, "inputs.N", "must be a number"},
    {"{'N': 'nan'}", NULL, "inputs.N", "must be a number"},
    {"{'N': '0x10'}", NULL, "inputs.N", "must be a number"},
    {"{'N': '1e999'}", NULL, "inputs.N", "must be a number"},
    {"{'N': '1 '}", NULL, "inputs.N", "must be a number"},
    {"{'N': true}", NULL, "inputs.N", "must be a number"},
    {"{'N': '1e3'}", NULL, NULL, NULL},
    {"{'N': '-2.5'}", NULL, NULL, NULL},
    {"{'N': 7}", NULL, NULL, NULL},
    {"{'F': 'yes'}", NULL, "inputs.F", "must be true or false"},
    {"{'F': 'True'}", NULL, "inputs.F", "must be true or false"},
    {"{'F': 1}", NULL, "inputs.F", "must be true or false"},
    {"{'F': false}", NULL, NULL, NULL},
    {"{'F': 'true'}", NULL, NULL, NULL},
    {"{'CH': 'staging'}", NULL, "inputs.CH", "must be one of \"dev\", \"prod\""},
    {"{'CH': 'Dev'}", NULL, "inputs.CH", "must be one of \"dev\", \"prod\""},
    {"{'CH': 'dev'}", NULL, NULL, NULL},
    {NULL, "{'CH': 'staging'}", "inputs.CH", "must be one of \"dev\", \"prod\" (the repo's value)"},
    {"{'CH': 'dev'}", "{'CH': 'staging'}", NULL, NULL},
    {"{'S': {'a': 1}}", NULL, "inputs.S", "must be a string, number or boolean"},
    {"{'S': ['a']}", NULL, "inputs.S", "must be a string, number or boolean"},
    {NULL, "{'S': {}}", "inputs.S", "must be a string, number or boolean (the repo's value)"},
    {"['A']", NULL, "inputs", "must be an object"},
    {"{'A': '1', 'A': '2'}", NULL, "inputs.A", "is given more than once"},
};

START_TEST(test_resolve_types)
{
    const resolve_case_t *c = &resolve_cases[_i];
    spec_error_t err;
    cJSON *in = resolve(inputs_template, c->trigger, c->repo, &err);

    if (c->field == NULL) {
        ck_assert_msg(in != NULL, "%s: %s", err.field, err.message);
        cJSON_Delete(in);
        return;
    }
    ck_assert_msg(in == NULL, "accepted %s", c->trigger ? c->trigger : c->repo);
    ck_assert_str_eq(err.field, c->field);
    ck_assert_str_eq(err.message, c->message);
}
END_TEST

/* ---- expansion ------------------------------------------------------------ */

static cJSON *
expand(const char *tmpl_text, const char *trigger, const spec_context_t *ctx)
{
    spec_error_t err;
    cJSON *t = valid(tmpl_text);
    cJSON *tr = trigger ? js(trigger) : NULL;
    cJSON *in = spec_resolve_inputs(t, tr, NULL, &err);
    cJSON *jobs;

    ck_assert_msg(in != NULL, "%s: %s", err.field, err.message);
    jobs = spec_expand(t, in, ctx, &err);
    ck_assert_msg(jobs != NULL, "%s: %s", err.field, err.message);
    cJSON_Delete(in);
    cJSON_Delete(tr);
    cJSON_Delete(t);
    return jobs;
}

START_TEST(test_expand_all_variables)
{
    const spec_context_t ctx = {"web", "6f1c", "abc123", "refs/heads/main"};
    cJSON *jobs = expand(full_template, "{'VERSION': '12', 'COUNT': 4}", &ctx);

    /* Script lines refer to variables that follow the job's own env;
     * image and env values are plain text. */
    assert_json(jobs,
                "[{'name': 'build', 'image': 'gcc:12',"
                "  'script': ['make V=\\'${GITWEAVE_INPUT_LEVEL}\\'',"
                "             'echo \\'${GITWEAVE_EXPR_COMMIT_SHA}\\''],"
                "  'env': {'REF': 'refs/heads/main', 'N': '4',"
                "          'GITWEAVE_INPUT_LEVEL': 'info', 'GITWEAVE_EXPR_COMMIT_SHA': 'abc123'},"
                "  'timeout': 600, 'allow_failure': true},"
                " {'name': 'test.unit-1', 'image': null, 'script': ['make test'],"
                "  'env': {}, 'timeout': 86400, 'allow_failure': false}]");
    cJSON_Delete(jobs);
}
END_TEST

/* A retry has its normal form ("when" filled in), and a job's own replaces
 * the template's in the expanded spec; without either the job has none. */
START_TEST(test_retry)
{
    cJSON *t = valid("{'kind': 'build', 'retry': {'max': 2},"
                     " 'jobs': [{'name': 'a', 'script': ['x']},"
                     "          {'name': 'b', 'script': ['x'], 'retry': {'max': 0}}]}");
    cJSON *jobs;

    assert_json(cJSON_GetObjectItem(t, "retry"), "{'max': 2, 'when': ['runner_lost']}");
    cJSON_Delete(t);
    jobs = expand("{'kind': 'build', 'retry': {'max': 2, 'when': ['runner_lost']},"
                  " 'jobs': [{'name': 'a', 'script': ['x']},"
                  "          {'name': 'b', 'script': ['x'], 'retry': {'max': 3}}]}",
                  NULL, NULL);
    assert_json(cJSON_GetObjectItem(cJSON_GetArrayItem(jobs, 0), "retry"),
                "{'max': 2, 'when': ['runner_lost']}");
    assert_json(cJSON_GetObjectItem(cJSON_GetArrayItem(jobs, 1), "retry"),
                "{'max': 3, 'when': ['runner_lost']}");
    cJSON_Delete(jobs);
    jobs = expand("{'kind': 'build', 'jobs': [{'name': 'a', 'script': ['x']}]}", NULL, NULL);
    ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetArrayItem(jobs, 0), "retry"));
    cJSON_Delete(jobs);
}
END_TEST

/* A concurrency group is normalised (cancel_in_progress filled in) and
 * expanded for a run; a template without one has none. */
START_TEST(test_concurrency_group)
{
    cJSON *t =
        valid("{'kind': 'build', 'inputs': {'ENV': {'default': 'prod'}},"
              " 'concurrency': {'group': 'deploy-${{ repo.name }}-${{ref}}-${{ inputs.ENV }}'},"
              " 'jobs': [{'name': 'a', 'script': ['x']}]}");
    const spec_context_t ctx = {"web", "6f1c", NULL, "refs/heads/main"};
    cJSON *inputs = js("{'ENV': 'staging'}");
    spec_error_t err;
    char *group;
    bool cancel = true;

    assert_json(cJSON_GetObjectItem(t, "concurrency"),
                "{'group': 'deploy-${{ repo.name }}-${{ref}}-${{ inputs.ENV }}',"
                " 'cancel_in_progress': false}");
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(spec_expand_group(t, inputs, &ctx, &group, &cancel, &err), 0);
    ck_assert_str_eq(group, "deploy-web-refs/heads/main-staging");
    ck_assert(!cancel);
    free(group);
    cJSON_Delete(t);

    t = valid("{'kind': 'build', 'concurrency': {'group': 'g', 'cancel_in_progress': true},"
              " 'jobs': [{'name': 'a', 'script': ['x']}]}");
    ck_assert_int_eq(spec_expand_group(t, NULL, &ctx, &group, &cancel, &err), 0);
    ck_assert_str_eq(group, "g");
    ck_assert(cancel);
    free(group);
    cJSON_Delete(t);

    t = valid("{'kind': 'build', 'jobs': [{'name': 'a', 'script': ['x']}]}");
    ck_assert_int_eq(spec_expand_group(t, NULL, &ctx, &group, &cancel, &err), 0);
    ck_assert_ptr_null(group);
    ck_assert(!cancel);
    cJSON_Delete(t);
    cJSON_Delete(inputs);
}
END_TEST

/* Line i of job j's script, and a value of its env. */
static const char *
script_line(const cJSON *jobs, int j, int i)
{
    const cJSON *v =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(jobs, j), "script"), i);

    ck_assert_msg(cJSON_IsString(v), "no script line %d of job %d", i, j);
    return v->valuestring;
}

static const char *
env_value(const cJSON *jobs, int j, const char *name)
{
    return get_str(cJSON_GetObjectItem(cJSON_GetArrayItem(jobs, j), "env"), name);
}

/* A secret stays as written in the env; the job lists it by name. */
START_TEST(test_expand_secret)
{
    const spec_context_t ctx = {"web", "6f1c", "abc123", "refs/heads/main"};
    cJSON *jobs = expand("{'kind': 'release', 'jobs': [{'name': 'a', 'script': ['echo $T'],"
                         " 'env': {'T': '${{secrets.DEPLOY_TOKEN}}', 'U': '${{ secrets.U }}',"
                         " 'V': 'plain'}}]}",
                         NULL, &ctx);

    assert_json(jobs, "[{'name': 'a', 'image': null, 'script': ['echo $T'],"
                      "  'env': {'T': '${{secrets.DEPLOY_TOKEN}}', 'U': '${{ secrets.U }}',"
                      "          'V': 'plain'},"
                      "  'secrets': {'T': 'DEPLOY_TOKEN', 'U': 'U'},"
                      "  'timeout': null, 'allow_failure': false}]");
    cJSON_Delete(jobs);
    ck_assert(spec_secret_name_valid("_A1", 3));
    ck_assert(!spec_secret_name_valid("1A", 2));
    ck_assert(!spec_secret_name_valid("a", 1));
    ck_assert(!spec_secret_name_valid("", 0));
    ck_assert(spec_secret_name_valid(
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 64));
    ck_assert(!spec_secret_name_valid(
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 65));
    ck_assert(!spec_secret_ref("${{ secrets.A }} ", NULL, 0));
    ck_assert(!spec_secret_ref("x${{ secrets.A }}", NULL, 0));
}
END_TEST

START_TEST(test_expand_context)
{
    const char *tmpl =
        "{'kind': 'test', 'inputs': {'X': {}, 'EMPTY': {}},"
        " 'jobs': [{'name': 'a', 'script': ["
        "   '${{ repo.name }}|${{repo.name}}|${{run.id}}|${{ commit.sha }}|${{ref}}',"
        "   '${{ inputs.X }}/${{inputs.X}}/${{   inputs.X   }}',"
        "   '[${{ inputs.EMPTY }}]', 'plain $ {{ and }} text', '${{ ref }}}'],"
        "   'env': {'X': 'x=${{ inputs.X }}'}}]}";
    const spec_context_t ctx = {"my-repo", "run-42", "deadbeef", "refs/tags/v1"};
    cJSON *jobs = expand(tmpl, "{'X': 'val'}", &ctx);

    assert_json(jobs, "[{'name': 'a', 'image': null, 'script': ["
                      "   '\\'${GITWEAVE_EXPR_REPO_NAME}\\'|\\'${GITWEAVE_EXPR_REPO_NAME}\\'|"
                      "\\'${GITWEAVE_EXPR_RUN_ID}\\'|\\'${GITWEAVE_EXPR_COMMIT_SHA}\\'|"
                      "\\'${GITWEAVE_EXPR_REF}\\'',"
                      "   '\\'${GITWEAVE_INPUT_X}\\'/\\'${GITWEAVE_INPUT_X}\\'/"
                      "\\'${GITWEAVE_INPUT_X}\\'',"
                      "   '[\\'${GITWEAVE_INPUT_EMPTY}\\']', 'plain $ {{ and }} text',"
                      "   '\\'${GITWEAVE_EXPR_REF}\\'}'],"
                      "  'env': {'X': 'x=val', 'GITWEAVE_EXPR_REPO_NAME': 'my-repo',"
                      "          'GITWEAVE_EXPR_RUN_ID': 'run-42',"
                      "          'GITWEAVE_EXPR_COMMIT_SHA': 'deadbeef',"
                      "          'GITWEAVE_EXPR_REF': 'refs/tags/v1', 'GITWEAVE_INPUT_X': 'val',"
                      "          'GITWEAVE_INPUT_EMPTY': ''},"
                      "  'timeout': null, 'allow_failure': false}]");
    cJSON_Delete(jobs);
}
END_TEST

/* No commit yet (a manual run): commit.sha waits for the checkout; the
 * frozen spec shows it as written and gives the deferred form. A missing
 * ref is empty. */
START_TEST(test_expand_null_context)
{
    const char *tmpl = "{'kind': 'test', 'jobs': [{'name': 'a',"
                       " 'image': 'i<${{ commit.sha }}><${{ ref }}>',"
                       " 'script': ['<${{ commit.sha }}><${{ ref }}>']}]}";
    const spec_context_t ctx = {"r", "1", NULL, NULL};
    cJSON *jobs = expand(tmpl, NULL, &ctx);

    assert_json(
        jobs, "[{'name': 'a', 'image': 'i<${{ commit.sha }}><>',"
              "  'script': ['<\\'${GITWEAVE_EXPR_COMMIT_SHA}\\'><\\'${GITWEAVE_EXPR_REF}\\'>'],"
              "  'env': {'GITWEAVE_EXPR_COMMIT_SHA': '${{ commit.sha }}', 'GITWEAVE_EXPR_REF': ''},"
              "  'timeout': null, 'allow_failure': false,"
              "  'deferred': {'image': ['i<', 'commit.sha', '><>'],"
              "               'env': {'GITWEAVE_EXPR_COMMIT_SHA': ['', 'commit.sha', '']}}}]");
    cJSON_Delete(jobs);
}
END_TEST

/* Deferred values join with the commit once it is known; text that only
 * looks like an expression (an input's value) stays literal, as the
 * single pass of spec_expand keeps it. */
START_TEST(test_expand_deferred_join)
{
    const char *tmpl = "{'kind': 'test', 'inputs': {'X': {}}, 'jobs': [{'name': 'a',"
                       " 'script': ['true'],"
                       " 'env': {'E': '${{commit.sha}}-${{ inputs.X }}-${{ commit.sha }}',"
                       "         'F': 'plain ${{ run.id }}'}}]}";
    const spec_context_t ctx = {"r", "1", NULL, NULL};
    cJSON *jobs = expand(tmpl, "{'X': '${{ commit.sha }}'}", &ctx);
    const cJSON *d = cJSON_GetObjectItem(cJSON_GetArrayItem(jobs, 0), "deferred");
    char *v;

    assert_json(d, "{'env': {'E': ['', 'commit.sha', '-${{ commit.sha }}-', 'commit.sha', '']}}");
    v = spec_deferred_join(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "env"), "E"), "abc");
    ck_assert_str_eq(v, "abc-${{ commit.sha }}-abc");
    free(v);
    v = spec_deferred_join(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "env"), "E"), NULL);
    ck_assert_str_eq(v, "-${{ commit.sha }}-");
    free(v);
    cJSON_Delete(jobs);

    /* A commit known at trigger time defers nothing. */
    const spec_context_t known = {"r", "1", "c0ffee", NULL};
    jobs = expand(tmpl, "{'X': 'x'}", &known);
    ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetArrayItem(jobs, 0), "deferred"));
    cJSON_Delete(jobs);
}
END_TEST

START_TEST(test_deferred_join_refuses)
{
    static const char *bad[] = {
        "null", "'x'", "[]", "['a', 'commit.sha']", "['a', 'run.id', 'b']", "['a', 1, 'b']", "[1]"};
    cJSON *segs;
    char *v;

    for (size_t i = 0; i < GW_ARRAY_LEN(bad); i++) {
        segs = js(bad[i]);
        ck_assert_msg(spec_deferred_join(segs, "c") == NULL, "accepted %s", bad[i]);
        cJSON_Delete(segs);
    }
    segs = js("['']");
    v = spec_deferred_join(segs, "c");
    ck_assert_str_eq(v, "");
    free(v);
    cJSON_Delete(segs);
}
END_TEST

/* A value that looks like an expression is output as it is. */
START_TEST(test_expand_single_pass)
{
    const char *tmpl = "{'kind': 'test', 'inputs': {'X': {}, 'Y': {'default': '${{ inputs.X }}'}},"
                       " 'jobs': [{'name': 'a', 'script': ['${{ inputs.X }} ${{ inputs.Y }}'],"
                       "           'image': '${{ inputs.X }}', 'env': {'E': '${{ inputs.Y }}'}}]}";
    const spec_context_t ctx = {"r", "1", "c", "m"};
    cJSON *jobs = expand(tmpl, "{'X': '${{ run.id }} ${{ inputs.X }} ${{'}", &ctx);
    const cJSON *job = cJSON_GetArrayItem(jobs, 0);

    ck_assert_str_eq(script_line(jobs, 0, 0), "\"${GITWEAVE_INPUT_X}\" \"${GITWEAVE_INPUT_Y}\"");
    ck_assert_str_eq(env_value(jobs, 0, "GITWEAVE_INPUT_X"), "${{ run.id }} ${{ inputs.X }} ${{");
    ck_assert_str_eq(env_value(jobs, 0, "GITWEAVE_INPUT_Y"), "${{ inputs.X }}");
    ck_assert_str_eq(env_value(jobs, 0, "E"), "${{ inputs.X }}");
    ck_assert_str_eq(get_str(job, "image"), "${{ run.id }} ${{ inputs.X }} ${{");
    cJSON_Delete(jobs);
}
END_TEST

/* The reference fits the shell quoting where the expression stands. */
typedef struct {
    const char *line;
    const char *want;
} quote_case_t;

static const quote_case_t quote_cases[] = {
    {"echo ${{ inputs.V }}", "echo \"${GITWEAVE_INPUT_V}\""},
    {"echo \"v=${{ inputs.V }}.\"", "echo \"v=${GITWEAVE_INPUT_V}.\""},
    {"echo 'v=${{ inputs.V }}.'", "echo 'v='\"${GITWEAVE_INPUT_V}\"'.'"},
    {"echo \"it's ${{ inputs.V }}\"", "echo \"it's ${GITWEAVE_INPUT_V}\""},
    {"echo 'say \"${{ inputs.V }}\"'", "echo 'say \"'\"${GITWEAVE_INPUT_V}\"'\"'"},
    {"echo \"a\\\"${{ inputs.V }}\"", "echo \"a\\\"${GITWEAVE_INPUT_V}\""},
    {"echo 'a'${{ inputs.V }}\"b\"${{ ref }}",
     "echo 'a'\"${GITWEAVE_INPUT_V}\"\"b\"\"${GITWEAVE_EXPR_REF}\""},
    {"echo \\${{ inputs.V }}", "echo \\\n\"${GITWEAVE_INPUT_V}\""},
    {"echo \"\\${{ inputs.V }}\"", "echo \"\\\n${GITWEAVE_INPUT_V}\""},
    {"echo 'a\\'${{ inputs.V }}", "echo 'a\\'\"${GITWEAVE_INPUT_V}\""},
};

START_TEST(test_expand_quoting)
{
    const quote_case_t *c = &quote_cases[_i];
    cJSON *doc = cJSON_CreateObject(), *job, *t, *in, *jobs;
    const spec_context_t ctx = {"r", "1", "c", "refs/heads/m"};
    spec_error_t err;

    cJSON_AddStringToObject(doc, "kind", "test");
    cJSON_AddObjectToObject(cJSON_AddObjectToObject(doc, "inputs"), "V");
    job = cJSON_CreateObject();
    cJSON_AddStringToObject(job, "name", "a");
    cJSON_AddItemToObject(job, "script", cJSON_CreateStringArray(&c->line, 1));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(doc, "jobs"), job);
    t = spec_validate(doc, &err);
    ck_assert_msg(t != NULL, "%s: %s", err.field, err.message);
    in = spec_resolve_inputs(t, NULL, NULL, &err);
    jobs = spec_expand(t, in, &ctx, &err);
    ck_assert_ptr_nonnull(jobs);
    ck_assert_str_eq(script_line(jobs, 0, 0), c->want);
    cJSON_Delete(jobs);
    cJSON_Delete(in);
    cJSON_Delete(t);
    cJSON_Delete(doc);
}
END_TEST

/* The expanded lines run by sh print hostile values as they are, in every
 * quoting context: nothing of a value is ever read as shell code. */
START_TEST(test_expand_shell_runs)
{
    static const char *const values[] = {
        "x\"; echo INJECTED; echo \"",
        "$(echo INJECTED)",
        "`echo INJECTED`",
        "it's; echo INJECTED '",
        "a\\b \\\" * ?",
        "line1\nline2 $HOME ${PATH}",
        "",
    };
    /* Each prints the value between known text; want is the output with
     * V standing for the value. */
    static const quote_case_t lines[] = {
        {"printf '%s|' ${{ inputs.V }}", "V|"},
        {"printf '%s|' \"<${{ inputs.V }}>\"", "<V>|"},
        {"printf '%s|' '<${{ inputs.V }}>'", "<V>|"},
        {"printf '%s|' '<'${{ inputs.V }}\">\"", "<V>|"},
        {"printf '%s|' \\${{ inputs.V }}", "V|"},
        {"printf '%s|' \"\\${{ inputs.V }}\"", "V|"},
        {"printf '%s|' \"${{ inputs.V }}\" '${{ inputs.V }}' ${{ inputs.V }}", "V|V|V|"},
    };
    const spec_context_t ctx = {"r", "1", "c", "refs/heads/m"};

    for (size_t v = 0; v < GW_ARRAY_LEN(values); v++) {
        for (size_t l = 0; l < GW_ARRAY_LEN(lines); l++) {
            cJSON *doc = cJSON_CreateObject(), *job, *trig, *t, *in, *jobs;
            const cJSON *it;
            spec_error_t err;
            char out[4096];
            size_t n = 0;
            buf_t want;
            FILE *f;

            cJSON_AddStringToObject(doc, "kind", "test");
            cJSON_AddObjectToObject(cJSON_AddObjectToObject(doc, "inputs"), "V");
            job = cJSON_CreateObject();
            cJSON_AddStringToObject(job, "name", "a");
            cJSON_AddItemToObject(job, "script", cJSON_CreateStringArray(&lines[l].line, 1));
            cJSON_AddItemToArray(cJSON_AddArrayToObject(doc, "jobs"), job);
            t = spec_validate(doc, &err);
            ck_assert_ptr_nonnull(t);
            trig = cJSON_CreateObject();
            cJSON_AddStringToObject(trig, "V", values[v]);
            in = spec_resolve_inputs(t, trig, NULL, &err);
            ck_assert_ptr_nonnull(in);
            jobs = spec_expand(t, in, &ctx, &err);
            ck_assert_ptr_nonnull(jobs);

            /* The job's env, then its line, as the engines run it. */
            cJSON_ArrayForEach(it, cJSON_GetObjectItem(cJSON_GetArrayItem(jobs, 0), "env"))
                ck_assert_int_eq(setenv(it->string, it->valuestring, 1), 0);
            f = popen(script_line(jobs, 0, 0), "r");
            ck_assert_ptr_nonnull(f);
            n = fread(out, 1, sizeof(out) - 1, f);
            out[n] = '\0';
            ck_assert_int_eq(pclose(f), 0);

            buf_init(&want);
            for (const char *p = lines[l].want; *p; p++) {
                if (*p == 'V')
                    buf_puts(&want, values[v]);
                else
                    buf_append(&want, p, 1);
            }
            ck_assert_msg(strcmp(out, want.data) == 0, "line %s with value %s: got [%s] want [%s]",
                          script_line(jobs, 0, 0), values[v], out, want.data);
            ck_assert_msg(strstr(out, "INJECTED") == NULL || strstr(values[v], "INJECTED"),
                          "injected");
            buf_free(&want);
            cJSON_Delete(jobs);
            cJSON_Delete(in);
            cJSON_Delete(trig);
            cJSON_Delete(t);
            cJSON_Delete(doc);
        }
    }
}
END_TEST

/* spec_expand given a raw template refuses what it cannot expand, the
 * strings of a job in the order image, env, script; it does not check the
 * names of the env. */
static const invalid_case_t expand_raw_cases[] = {
    {"{'jobs': [{'name': 'a', 'script': ['ok', '${{ secrets.TOKEN }}']}]}", "jobs[0].script[1]",
     SECRET_REFUSED("TOKEN")},
    {"{'jobs': [{'name': 'a', 'script': ['${{ x }}'], 'env': {'A': '${{ y }}'}}]}", "jobs[0].env.A",
     "references unknown variable \"y\""},
    {"{'jobs': [{'name': 'a', 'script': [5], 'env': {'A': 5}}]}", "jobs[0].env.A",
     "must be a string"},
    {"{'jobs': [{'name': 'a', 'script': ['x'], 'env': {'GITWEAVE_INPUT_A': 'y'}}]}",
     "jobs[0].env.GITWEAVE_INPUT_A", "is reserved for the values of expressions"},
    {"{'jobs': [{'name': 'a', 'script': ['x'], 'env': {'GITWEAVE_EXPR_A': 5}}]}",
     "jobs[0].env.GITWEAVE_EXPR_A", "must be a string"},
    /* An env that is not an object, a script that is not a list: refused,
     * not walked as if they were (an array's items have no names). */
    {"{'jobs': [{'name': 'a', 'script': ['x'], 'env': ['y']}]}", "jobs[0].env",
     "must be an object"},
    {"{'jobs': [{'name': 'a', 'script': {'A': 'x'}}]}", "jobs[0].script",
     "must be a non-empty array of strings"},
    /* Declared inputs that are a list (a YAML "- NAME:" slip): unnamed. */
    {"{'inputs': [{'A': {}}], 'jobs': [{'name': 'a', 'script': ['${{ inputs.A }}']}]}", "inputs",
     "must be an object"},
};

START_TEST(test_expand_raw_refused)
{
    const invalid_case_t *c = &expand_raw_cases[_i];
    cJSON *t = js(c->doc);
    const spec_context_t ctx = {"r", "1", NULL, NULL};
    spec_error_t err;
    cJSON *jobs = spec_expand(t, NULL, &ctx, &err);

    ck_assert_msg(jobs == NULL, "expanded %s", c->doc);
    ck_assert_str_eq(err.field, c->field);
    ck_assert_str_eq(err.message, c->message);
    cJSON_Delete(t);
}
END_TEST

START_TEST(test_expand_raw_env_name)
{
    cJSON *t = js("{'jobs': [{'name': 'a', 'script': ['x'], 'env': {'1A': 'y'}}]}");
    const spec_context_t ctx = {"r", "1", NULL, NULL};
    spec_error_t err;
    cJSON *jobs = spec_expand(t, NULL, &ctx, &err);
    const cJSON *env = cJSON_GetObjectItem(cJSON_GetArrayItem(jobs, 0), "env");

    ck_assert_ptr_nonnull(jobs);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(env, "1A")), "y");
    cJSON_Delete(jobs);
    cJSON_Delete(t);
}
END_TEST

/* ---- events and globs ----------------------------------------------------- */

START_TEST(test_matches_event)
{
    cJSON *t = valid("{'kind': 'build', 'on': {'push': {'branches': ['main', 'release/*']}},"
                     " 'jobs': [{'name': 'a', 'script': ['x']}]}");

    ck_assert(spec_matches_event(t, "push", "main"));
    ck_assert(spec_matches_event(t, "push", "release/1.0"));
    ck_assert(!spec_matches_event(t, "push", "release/1.0/x"));
    ck_assert(!spec_matches_event(t, "push", "dev"));
    ck_assert(!spec_matches_event(t, "push", NULL));
    ck_assert(!spec_matches_event(t, "manual", NULL));
    ck_assert(!spec_matches_event(t, "tag", "main"));
    ck_assert(!spec_matches_event(t, NULL, "main"));
    cJSON_Delete(t);

    t = valid("{'kind': 'build', 'on': ['manual'], 'jobs': [{'name': 'a', 'script': ['x']}]}");
    ck_assert(!spec_matches_event(t, "push", "main"));
    ck_assert(spec_matches_event(t, "manual", NULL));
    cJSON_Delete(t);

    t = valid("{'kind': 'build', 'on': {'push': {'branches': null}, 'manual': {}},"
              " 'jobs': [{'name': 'a', 'script': ['x']}]}");
    ck_assert(spec_matches_event(t, "push", "feature/x/y"));
    ck_assert(spec_matches_event(t, "push", NULL));
    ck_assert(spec_matches_event(t, "manual", "ignored"));
    cJSON_Delete(t);
}
END_TEST

/* Tag pushes start only templates that list tags; a template that lists
 * only tags starts on no branch push; each refusal says why. */
START_TEST(test_match_push_tags)
{
    cJSON *t = valid("{'kind': 'release', 'on': {'push': {'tags': ['v*']}},"
                     " 'jobs': [{'name': 'a', 'script': ['x']}]}");
    const cJSON *push = cJSON_GetObjectItem(cJSON_GetObjectItem(t, "on"), "push");

    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(push, "branches")));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(push, "tags")), 1);
    ck_assert_int_eq(spec_match_push(t, "refs/tags/v1.0.0"), SPEC_PUSH_STARTS);
    ck_assert_int_eq(spec_match_push(t, "refs/tags/nightly"), SPEC_PUSH_TAG_NOT_MATCHED);
    ck_assert_int_eq(spec_match_push(t, "refs/heads/main"), SPEC_PUSH_BRANCHES_NOT_ENABLED);
    ck_assert_int_eq(spec_match_push(t, "refs/notes/x"), SPEC_PUSH_NOT_BRANCH_OR_TAG);
    ck_assert(!spec_matches_event(t, "push", "main"));
    ck_assert_str_eq(spec_push_reason(SPEC_PUSH_TAG_NOT_MATCHED), "tag not matched");
    cJSON_Delete(t);

    /* Branches only (or no filter at all): tag pushes are not enabled. */
    t = valid("{'kind': 'build', 'on': {'push': {'branches': ['main']}},"
              " 'jobs': [{'name': 'a', 'script': ['x']}]}");
    ck_assert_int_eq(spec_match_push(t, "refs/heads/main"), SPEC_PUSH_STARTS);
    ck_assert_int_eq(spec_match_push(t, "refs/heads/dev"), SPEC_PUSH_BRANCH_NOT_MATCHED);
    ck_assert_int_eq(spec_match_push(t, "refs/tags/v1"), SPEC_PUSH_TAGS_NOT_ENABLED);
    ck_assert_str_eq(spec_push_reason(SPEC_PUSH_TAGS_NOT_ENABLED), "tag pushes not enabled");
    cJSON_Delete(t);
    t = valid("{'kind': 'build', 'jobs': [{'name': 'a', 'script': ['x']}]}");
    ck_assert_int_eq(spec_match_push(t, "refs/heads/any/thing"), SPEC_PUSH_STARTS);
    ck_assert_int_eq(spec_match_push(t, "refs/tags/v1"), SPEC_PUSH_TAGS_NOT_ENABLED);
    cJSON_Delete(t);

    /* Both filters; the normalised form validates to itself. */
    t = valid("{'kind': 'build', 'on': {'push': {'branches': ['main'], 'tags': ['v*', 'rc/**']},"
              " 'manual': {}}, 'jobs': [{'name': 'a', 'script': ['x']}]}");
    ck_assert_int_eq(spec_match_push(t, "refs/heads/main"), SPEC_PUSH_STARTS);
    ck_assert_int_eq(spec_match_push(t, "refs/tags/rc/1/2"), SPEC_PUSH_STARTS);
    ck_assert_int_eq(spec_match_push(t, "refs/tags/x"), SPEC_PUSH_TAG_NOT_MATCHED);
    char *text = cJSON_PrintUnformatted(t);
    cJSON *again = valid(text);
    ck_assert(cJSON_Compare(t, again, true));
    cJSON_free(text);
    cJSON_Delete(again);
    cJSON_Delete(t);

    t = valid("{'kind': 'build', 'on': ['manual'], 'jobs': [{'name': 'a', 'script': ['x']}]}");
    ck_assert_int_eq(spec_match_push(t, "refs/tags/v1"), SPEC_PUSH_NOT_ON_PUSH);
    ck_assert_str_eq(spec_push_reason(SPEC_PUSH_NOT_ON_PUSH), "not on push");
    cJSON_Delete(t);
}
END_TEST

typedef struct {
    const char *pattern;
    const char *s;
    bool match;
} glob_case_t;

static const glob_case_t glob_cases[] = {
    {"main", "main", true},
    {"main", "main2", false},
    {"main", "xmain", false},
    {"main", "", false},
    {"", "", true},
    {"release/*", "release/1.0", true},
    {"release/*", "release/1.0/x", false},
    {"release/*", "release", false},
    {"release/*", "releases/1.0", false},
    {"*", "main", true},
    {"*", "a/b", false},
    {"*-hotfix", "x-hotfix", true},
    {"*-hotfix", "a/x-hotfix", false},
    {"**", "", true},
    {"**", "main", true},
    {"**", "a/b/c", true},
    {"feature/**", "feature/a", true},
    {"feature/**", "feature/a/b/c", true},
    {"feature/**", "feature", false},
    {"feature/**", "features/a", false},
    {"**/main", "a/b/main", true},
    {"**/main", "a/b/domain", false},
    {"?", "a", true},
    {"?", "ab", false},
    {"?", "", false},
    {"?", "/", false},
    {"v?.?", "v1.2", true},
    {"v?.?", "v12.3", false},
    {"a?c", "a/c", false},
    {"*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     false},
    {"**a**a**a**a**a**a**a**b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
     true},
};

START_TEST(test_glob)
{
    const glob_case_t *c = &glob_cases[_i];

    ck_assert_msg(spec_glob_match(c->pattern, c->s) == c->match, "\"%s\" vs \"%s\": want %s",
                  c->pattern, c->s, c->match ? "match" : "no match");
}
END_TEST

START_TEST(test_glob_null)
{
    ck_assert(!spec_glob_match(NULL, "main"));
    ck_assert(!spec_glob_match("main", NULL));
}
END_TEST

/* ---- YAML ----------------------------------------------------------------- */

/* Parse YAML that must parse; the caller frees the result. */
static cJSON *
yaml(const char *text)
{
    spec_error_t err;
    cJSON *j;

    memset(&err, 0, sizeof(err));
    j = spec_from_yaml(text, strlen(text), &err);
    ck_assert_msg(j != NULL, "%s: %s at %d:%d", err.field, err.message, err.line, err.column);
    return j;
}

/* Parse YAML that must fail; returns the error. */
static spec_error_t
yaml_error(const char *text)
{
    spec_error_t err;
    cJSON *j;

    memset(&err, 0x5a, sizeof(err));
    j = spec_from_yaml(text, strlen(text), &err);
    ck_assert_msg(j == NULL, "accepted %s", text);
    return err;
}

START_TEST(test_yaml_same_as_json)
{
    const char *text = "# a release template\n"
                       "kind: release\n"
                       "on:\n"
                       "  push:\n"
                       "    branches: [main, \"release/*\"]\n"
                       "  manual: {}\n"
                       "clean: true\n"
                       "inputs:\n"
                       "  VERSION:\n"
                       "    required: true\n"
                       "  LEVEL:\n"
                       "    type: choice\n"
                       "    options: [debug, info]\n"
                       "    default: info\n"
                       "  COUNT: {type: number, default: 3}\n"
                       "jobs:\n"
                       "  - name: build\n"
                       "    image: 'gcc:${{ inputs.VERSION }}'\n"
                       "    script:\n"
                       "      - make V=${{inputs.LEVEL}}\n"
                       "      - |\n"
                       "        echo one\n"
                       "        echo two\n"
                       "    env:\n"
                       "      SHA: ${{ commit.sha }}\n"
                       "    timeout: 600\n"
                       "  - name: test\n"
                       "    script: [make test]\n"
                       "    allow_failure: true\n";
    const char *json = "{'kind': 'release',"
                       " 'on': {'push': {'branches': ['main', 'release/*']}, 'manual': {}},"
                       " 'clean': true,"
                       " 'inputs': {'VERSION': {'required': true},"
                       "   'LEVEL': {'type': 'choice', 'options': ['debug', 'info'],"
                       "             'default': 'info'},"
                       "   'COUNT': {'type': 'number', 'default': 3}},"
                       " 'jobs': [{'name': 'build', 'image': 'gcc:${{ inputs.VERSION }}',"
                       "   'script': ['make V=${{inputs.LEVEL}}', 'echo one\\necho two\\n'],"
                       "   'env': {'SHA': '${{ commit.sha }}'}, 'timeout': 600},"
                       "  {'name': 'test', 'script': ['make test'], 'allow_failure': true}]}";
    cJSON *y = yaml(text);
    cJSON *j = js(json);
    spec_error_t err;
    cJSON *vy, *vj;

    assert_json(y, json);
    vy = spec_validate(y, &err);
    ck_assert_msg(vy != NULL, "%s: %s", err.field, err.message);
    vj = spec_validate(j, &err);
    ck_assert_ptr_nonnull(vj);
    ck_assert(cJSON_Compare(vy, vj, true));
    cJSON_Delete(vy);
    cJSON_Delete(vj);
    cJSON_Delete(y);
    cJSON_Delete(j);
}
END_TEST

START_TEST(test_yaml_scalar_types)
{
    cJSON *y = yaml("t: [true, True, TRUE, false, False, FALSE]\n"
                    "n: [null, Null, NULL, ~, '']\n"
                    "empty:\n"
                    "i: [42, -7, +3, 012, 0x1F, 0o17, 0]\n"
                    "f: [3.5, 1e3, -2.5E-1, .5, 1., 1.10]\n"
                    "s: [\"true\", 'null', \"3\", '1.5', yes, no, on, off, 1_000, 0x, .inf.x,"
                    " 1.2.3, ~x]\n"
                    "on: push\n"
                    "block: >\n"
                    "  folded\n"
                    "  text\n"
                    "tagged: !!str 42\n");

    assert_json(y, "{'t': [true, true, true, false, false, false],"
                   " 'n': [null, null, null, null, ''],"
                   " 'empty': null,"
                   " 'i': [42, -7, 3, 12, 31, 15, 0],"
                   " 'f': [3.5, 1000, -0.25, 0.5, 1, 1.1],"
                   " 's': ['true', 'null', '3', '1.5', 'yes', 'no', 'on', 'off', '1_000', '0x',"
                   "       '.inf.x', '1.2.3', '~x'],"
                   " 'on': 'push',"
                   " 'block': 'folded text\\n',"
                   " 'tagged': '42'}");
    ck_assert(cJSON_IsString(cJSON_GetArrayItem(cJSON_GetObjectItem(y, "s"), 0)));
    cJSON_Delete(y);

    /* Not a whole document: only `len` bytes are read. */
    spec_error_t err;
    const char *text = "a: 1\nb: [";
    y = spec_from_yaml(text, 5, &err);
    ck_assert_ptr_nonnull(y);
    assert_json(y, "{'a': 1}");
    cJSON_Delete(y);
}
END_TEST

START_TEST(test_yaml_syntax_error)
{
    spec_error_t err = yaml_error("kind: build\n"
                                  "jobs:\n"
                                  "  - name: a\n"
                                  "   script: x\n");

    ck_assert_int_eq(err.line, 4);
    ck_assert_int_eq(err.column, 4);
    ck_assert_str_eq(err.field, "");
    ck_assert_str_eq(err.message, "invalid YAML: did not find expected '-' indicator (while "
                                  "parsing a block collection that starts at line 3, column 3)");

    err = yaml_error("kind: build\n"
                     "jobs:\n"
                     "  - name: a\n"
                     "    script: [x, y\n");
    ck_assert_int_eq(err.line, 5);
    ck_assert_int_eq(err.column, 1);
    ck_assert_str_eq(err.message, "invalid YAML: did not find expected ',' or ']' (while parsing "
                                  "a flow sequence that starts at line 4, column 13)");

    err = yaml_error("kind: build\n"
                     "jobs: \"unclosed\n");
    ck_assert_int_eq(err.line, 3);
    ck_assert_int_eq(err.column, 1);
    ck_assert(strncmp(err.message, "invalid YAML: found unexpected end of stream", 44) == 0);

    err = yaml_error("a: 1\nb: \"\xff\"\n");
    ck_assert_int_eq(err.line, 2);
    ck_assert_int_eq(err.column, 5);
    ck_assert_str_eq(err.message, "invalid YAML: invalid leading UTF-8 octet");
}
END_TEST

START_TEST(test_yaml_duplicate_key)
{
    spec_error_t err = yaml_error("kind: build\n"
                                  "jobs:\n"
                                  "  - name: a\n"
                                  "    script: [x]\n"
                                  "    name: b\n");

    ck_assert_str_eq(err.message, "duplicate key \"name\"");
    ck_assert_str_eq(err.field, "jobs[0].name");
    ck_assert_int_eq(err.line, 5);
    ck_assert_int_eq(err.column, 5);

    err = yaml_error("kind: build\nkind: test\n");
    ck_assert_str_eq(err.field, "kind");
    ck_assert_int_eq(err.line, 2);
    ck_assert_int_eq(err.column, 1);
}
END_TEST

START_TEST(test_yaml_refused)
{
    spec_error_t err = yaml_error("base: &b {image: gcc}\njob: *b\n");

    ck_assert_str_eq(err.message, "anchors (&b) are not allowed");
    ck_assert_str_eq(err.field, "base");
    ck_assert_int_eq(err.line, 1);
    ck_assert_int_eq(err.column, 7);

    err = yaml_error("a: 1\nb: [x, *y]\n");
    ck_assert_str_eq(err.message, "aliases (*y) are not allowed");
    ck_assert_str_eq(err.field, "b[1]");
    ck_assert_int_eq(err.line, 2);
    ck_assert_int_eq(err.column, 8);

    err = yaml_error("a: 1\n---\nb: 2\n");
    ck_assert_str_eq(err.message, "multiple documents are not allowed");
    ck_assert_int_eq(err.line, 2);
    ck_assert_int_eq(err.column, 1);

    err = yaml_error("? [a, b]\n: 1\n");
    ck_assert_str_eq(err.message, "a mapping key must be a scalar");

    err = yaml_error("a: !!int 3\n");
    ck_assert_str_eq(err.message, "the tag tag:yaml.org,2002:int is not supported (only !!str)");

    err = yaml_error("a: [1, .inf]\n");
    ck_assert_str_eq(err.field, "a[1]");
    ck_assert_str_eq(err.message, "infinite and NaN numbers are not supported in JSON");

    err = yaml_error("id: 9007199254740993\n");
    ck_assert_str_eq(err.message,
                     "the integer 9007199254740993 is too large (quote it for a string)");

    buf_t deep;
    buf_init(&deep);
    for (int i = 0; i < 1000; i++)
        buf_puts(&deep, "[");
    err = yaml_error(deep.data);
    ck_assert_str_eq(err.message, "nesting is deeper than 32 levels");
    buf_free(&deep);
}
END_TEST

START_TEST(test_yaml_empty)
{
    const char *texts[] = {"", "\n", "# nothing here\n", "---\n", "--- # c\n...\n"};

    for (size_t i = 0; i < GW_ARRAY_LEN(texts); i++) {
        spec_error_t err = yaml_error(texts[i]);

        ck_assert_str_eq(err.message, "empty document");
        ck_assert_str_eq(err.field, "");
    }
}
END_TEST

/* A YAML template straight into validation: `on` is a key, not true. */
START_TEST(test_yaml_validate)
{
    cJSON *y = yaml("kind: test\non: [manual]\njobs:\n  - name: a\n    script:\n      - 42\n");
    spec_error_t err;
    cJSON *t = spec_validate(y, &err);

    ck_assert_ptr_null(t);
    ck_assert_str_eq(err.field, "jobs[0].script[0]");
    ck_assert_str_eq(err.message, "must be a string");
    cJSON_Delete(y);
}
END_TEST

/* ---- caps ----------------------------------------------------------------- */

/* A template {"kind": "build", "jobs": [{"name": "a", "script": ["x"]}]}
 * with key set to value (taken) in the job, or at the top when job is
 * false; the caller frees it. */
static cJSON *
template_with(const char *key, cJSON *value, bool job)
{
    cJSON *doc = js("{'kind': 'build', 'jobs': [{'name': 'a', 'script': ['x']}]}");

    if (job) {
        cJSON *j = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "jobs"), 0);
        cJSON_DeleteItemFromObject(j, key);
        cJSON_AddItemToObject(j, key, value);
    } else {
        cJSON_DeleteItemFromObject(doc, key);
        cJSON_AddItemToObject(doc, key, value);
    }
    return doc;
}

/* An object of n members NAME<i>: value (a copy each). */
static cJSON *
many_members(int n, const char *prefix, const cJSON *value)
{
    cJSON *o = cJSON_CreateObject();
    char name[32];

    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "%s%d", prefix, i);
        cJSON_AddItemToObject(o, name, cJSON_Duplicate(value, true));
    }
    return o;
}

static void
assert_refused(cJSON *doc, const char *field, const char *message)
{
    spec_error_t err;
    cJSON *t = spec_validate(doc, &err);

    ck_assert_msg(t == NULL, "accepted");
    ck_assert_str_eq(err.field, field);
    ck_assert_str_eq(err.message, message);
    cJSON_Delete(doc);
}

START_TEST(test_caps)
{
    cJSON *str = cJSON_CreateString("v"), *decl = cJSON_CreateObject(), *list, *deep, *job;
    char *big = xmalloc(SPEC_MAX_STRING + 2);
    spec_error_t err;
    cJSON *t;

    /* At the caps: accepted. */
    deep = template_with("env", many_members(SPEC_MAX_ENV, "E", str), true);
    cJSON_AddItemToObject(deep, "inputs", many_members(SPEC_MAX_INPUTS, "I", decl));
    t = spec_validate(deep, &err);
    ck_assert_msg(t != NULL, "%s: %s", err.field, err.message);
    cJSON_Delete(t);
    cJSON_Delete(deep);

    assert_refused(template_with("env", many_members(SPEC_MAX_ENV + 1, "E", str), true),
                   "jobs[0].env",
                   "has more than 100 entries (a job may set at most 100 variables)");
    assert_refused(template_with("env", many_members(SPEC_MAX_KEYS + 1, "E", str), true),
                   "jobs[0].env",
                   "has more than 256 keys (at most 256 keys are allowed in one mapping)");
    assert_refused(template_with("inputs", many_members(SPEC_MAX_INPUTS + 1, "I", decl), false),
                   "inputs",
                   "has more than 100 inputs (a template may declare at most 100 inputs)");

    list = cJSON_CreateArray();
    for (int i = 0; i <= SPEC_MAX_ITEMS; i++)
        cJSON_AddItemToArray(list, cJSON_CreateString("x"));
    assert_refused(template_with("script", list, true), "jobs[0].script",
                   "has more than 1000 items (at most 1000 items are allowed in one list)");

    list = cJSON_CreateArray();
    for (int i = 0; i <= SPEC_MAX_JOBS; i++) {
        char name[16];

        snprintf(name, sizeof(name), "j%d", i);
        job = js("{'script': ['x']}");
        cJSON_AddStringToObject(job, "name", name);
        cJSON_AddItemToArray(list, job);
    }
    assert_refused(template_with("jobs", list, false), "jobs",
                   "has more than 100 jobs (a template may have at most 100 jobs)");

    memset(big, 'a', SPEC_MAX_STRING + 1);
    big[SPEC_MAX_STRING + 1] = '\0';
    list = cJSON_CreateArray();
    cJSON_AddItemToArray(list, cJSON_CreateString("x"));
    cJSON_AddItemToArray(list, cJSON_CreateString(big));
    assert_refused(template_with("script", list, true), "jobs[0].script[1]",
                   "is longer than 65536 bytes");

    deep = cJSON_CreateArray();
    for (int i = 0; i < 40; i++) {
        cJSON *outer = cJSON_CreateArray();
        cJSON_AddItemToArray(outer, deep);
        deep = outer;
    }
    assert_refused(template_with("env", deep, true),
                   "jobs[0].env[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
                   "[0][0][0][0][0][0][0]",
                   "nesting is deeper than 32 levels");
    free(big);
    cJSON_Delete(str);
    cJSON_Delete(decl);
}
END_TEST

/* The values of a run: too many, or too long. */
START_TEST(test_resolve_caps)
{
    cJSON *t =
        valid("{'kind': 'build', 'inputs': {'A': {}}, 'jobs': [{'name': 'a', 'script': ['x']}]}");
    cJSON *str = cJSON_CreateString("v");
    cJSON *many = many_members(SPEC_MAX_INPUTS + 1, "I", str);
    cJSON *one = cJSON_CreateObject();
    char *big = xmalloc(SPEC_MAX_STRING + 2);
    spec_error_t err;

    ck_assert_ptr_null(spec_resolve_inputs(t, many, NULL, &err));
    ck_assert_str_eq(err.field, "inputs");
    ck_assert_str_eq(err.message, "has more than 100 inputs (at most 100 inputs are allowed)");

    memset(big, 'a', SPEC_MAX_STRING + 1);
    big[SPEC_MAX_STRING + 1] = '\0';
    cJSON_AddStringToObject(one, "A", big);
    ck_assert_ptr_null(spec_resolve_inputs(t, one, NULL, &err));
    ck_assert_str_eq(err.field, "inputs.A");
    ck_assert_str_eq(err.message, "is longer than 65536 bytes");
    ck_assert_ptr_null(spec_resolve_inputs(t, NULL, one, &err));
    ck_assert_str_eq(err.message, "is longer than 65536 bytes (the repo's value)");

    free(big);
    cJSON_Delete(one);
    cJSON_Delete(many);
    cJSON_Delete(str);
    cJSON_Delete(t);
}
END_TEST

/* Far beyond the caps, refusing takes no longer than reading: 60,000 keys
 * in one mapping (JSON and YAML), 30,000 values against a template stored
 * with 30,000 inputs. */
START_TEST(test_caps_linear)
{
    cJSON *str = cJSON_CreateString("v"), *decl = js("{'type': 'string'}");
    cJSON *doc = template_with("env", many_members(60000, "E", str), true);
    cJSON *wide = many_members(30000, "I", decl), *values = many_members(30000, "I", str);
    cJSON *t = js("{'kind': 'build', 'jobs': [{'name': 'a', 'script': ['x']}]}");
    struct timespec t0, t1;
    spec_error_t err;
    buf_t y;
    double secs;

    buf_init(&y);
    buf_puts(&y, "kind: build\njobs:\n  - name: a\n    script: [x]\n    env:\n");
    for (int i = 0; i < 60000; i++)
        buf_printf(&y, "      E%d: v\n", i);
    cJSON_AddItemToObject(t, "inputs", wide);

    /* The process's CPU time, not the wall clock: tests running beside
     * this one on a loaded machine must not make it fail. */
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    ck_assert_ptr_null(spec_validate(doc, &err));
    ck_assert_ptr_null(spec_from_yaml(y.data, y.len, &err));
    ck_assert_str_eq(err.field, "jobs[0].env.E256");
    ck_assert_str_eq(err.message,
                     "is one key too many: at most 256 keys are allowed in one mapping");
    ck_assert_ptr_null(spec_resolve_inputs(t, values, NULL, &err));
    /* Without trigger values the work is linear in the template. */
    cJSON *in = spec_resolve_inputs(t, NULL, values, &err);
    ck_assert_ptr_nonnull(in);
    cJSON_Delete(in);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(secs < 1.0, "took %.2f s", secs);

    buf_free(&y);
    cJSON_Delete(t);
    cJSON_Delete(values);
    cJSON_Delete(doc);
    cJSON_Delete(decl);
    cJSON_Delete(str);
}
END_TEST

START_TEST(test_yaml_caps)
{
    buf_t y;
    spec_error_t err;
    cJSON *j;
    char *big;

    /* A mapping at the cap, with a repeat found by the hash set. */
    buf_init(&y);
    for (int i = 0; i < SPEC_MAX_KEYS; i++)
        buf_printf(&y, "k%d: %d\n", i, i);
    j = spec_from_yaml(y.data, y.len, &err);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(cJSON_GetArraySize(j), SPEC_MAX_KEYS);
    cJSON_Delete(j);
    buf_free(&y);
    buf_init(&y);
    for (int i = 0; i < SPEC_MAX_KEYS - 1; i++)
        buf_printf(&y, "k%d: %d\n", i, i);
    buf_puts(&y, "k17: again\n");
    err = yaml_error(y.data);
    ck_assert_str_eq(err.field, "k17");
    ck_assert_str_eq(err.message, "duplicate key \"k17\"");
    ck_assert_int_eq(err.line, SPEC_MAX_KEYS);
    buf_free(&y);

    buf_init(&y);
    buf_puts(&y, "list:\n");
    for (int i = 0; i <= SPEC_MAX_ITEMS; i++)
        buf_puts(&y, i % 2 ? "  - x\n" : "  - [x]\n");
    err = yaml_error(y.data);
    ck_assert_str_eq(err.field, "list[1000]");
    ck_assert_str_eq(err.message,
                     "is one item too many: at most 1000 items are allowed in one list");
    buf_free(&y);

    big = xmalloc(SPEC_MAX_DOCUMENT + 16);
    memset(big, ' ', SPEC_MAX_DOCUMENT + 15);
    memcpy(big, "a: \"", 4);
    big[SPEC_MAX_STRING + 5] = '"';
    big[SPEC_MAX_STRING + 6] = '\n';
    big[SPEC_MAX_STRING + 7] = '\0';
    err = yaml_error(big);
    ck_assert_str_eq(err.field, "a");
    ck_assert_str_eq(err.message, "is longer than 65536 bytes");
    big[SPEC_MAX_STRING + 7] = ' ';
    big[SPEC_MAX_DOCUMENT + 1] = '\0';
    err = yaml_error(big);
    ck_assert_str_eq(err.message, "the document is larger than 1048576 bytes");
    free(big);
}
END_TEST

/* A NUL character, escaped or raw, is refused naming its field. */
typedef struct {
    const char *text;
    size_t len;
    const char *field;
    const char *message;
    int line, column;
} yaml_nul_case_t;

#define NUL_CASE(text, field, message, line, column)                                               \
    {                                                                                              \
        text, sizeof(text) - 1, field, message, line, column                                       \
    }
#define CONTAINS "contains a NUL character, which is not allowed"

static const yaml_nul_case_t yaml_nul_cases[] = {
    NUL_CASE("a: \"shown\\0hidden\"\n", "a", CONTAINS, 1, 4),
    NUL_CASE("a: \"shown\\x00hidden\"\n", "a", CONTAINS, 1, 4),
    NUL_CASE("a: [x, \"shown\\u0000hidden\"]\n", "a[1]", CONTAINS, 1, 8),
    NUL_CASE("jobs:\n  - script:\n      - echo shown\0; echo hidden\n", "jobs[0].script[0]",
             CONTAINS, 3, 9),
    NUL_CASE("a: 'shown\0'\n", "a", CONTAINS, 1, 4),
    NUL_CASE("\xc3\xa9\xc3\xa9: x\nb: |\n  \xc3\xa9 line\n  shown\0hidden\n", "b", CONTAINS, 2, 4),
    NUL_CASE("\xef\xbb\xbf"
             "a: x\0\n",
             "a", CONTAINS, 1, 4),
    NUL_CASE("k\0ey: x\n", "", "a key contains a NUL character, which is not allowed", 1, 1),
    NUL_CASE("a:\n  \"k\\0\": x\n", "a", "a key contains a NUL character, which is not allowed", 2,
             3),
    NUL_CASE("a: x # comment\0\n", "", "a NUL character is not allowed", 1, 15),
    NUL_CASE("a: [x,\0\n", "a[1]", CONTAINS, 1, 7),
    NUL_CASE("a: 1\n\0\n", "", "a NUL character is not allowed", 2, 1),
};

START_TEST(test_yaml_nul)
{
    const yaml_nul_case_t *c = &yaml_nul_cases[_i];
    spec_error_t err;
    cJSON *j = spec_from_yaml(c->text, c->len, &err);

    ck_assert_msg(j == NULL, "accepted case %d", _i);
    ck_assert_str_eq(err.field, c->field);
    ck_assert_str_eq(err.message, c->message);
    ck_assert_int_eq(err.line, c->line);
    ck_assert_int_eq(err.column, c->column);
}
END_TEST

static Suite *
spec_suite(void)
{
    Suite *s = suite_create("spec");
    TCase *tc;

    tc = tcase_create("validate");
    tcase_add_test(tc, test_validate_minimal);
    tcase_add_test(tc, test_validate_full);
    tcase_add_test(tc, test_validate_idempotent);
    tcase_add_test(tc, test_validate_on_forms);
    tcase_add_test(tc, test_validate_on_schedule);
    tcase_add_test(tc, test_validate_defaults_fit);
    tcase_add_loop_test(tc, test_validate_invalid, 0, (int)GW_ARRAY_LEN(invalid_cases));
    tcase_add_test(tc, test_validate_messages_style);
    tcase_add_loop_test(tc, test_validate_first_error, 0, (int)GW_ARRAY_LEN(first_error_cases));
    tcase_add_test(tc, test_validate_long_field);
    tcase_add_test(tc, test_errors_cut_whole_characters);
    suite_add_tcase(s, tc);

    tc = tcase_create("resolve");
    tcase_add_test(tc, test_resolve_precedence);
    tcase_add_test(tc, test_resolve_stringify);
    tcase_add_test(tc, test_resolve_required);
    tcase_add_test(tc, test_resolve_undeclared);
    tcase_add_loop_test(tc, test_resolve_types, 0, (int)GW_ARRAY_LEN(resolve_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("expand");
    tcase_add_test(tc, test_expand_all_variables);
    tcase_add_test(tc, test_expand_secret);
    tcase_add_test(tc, test_expand_context);
    tcase_add_test(tc, test_retry);
    tcase_add_test(tc, test_concurrency_group);
    tcase_add_test(tc, test_expand_null_context);
    tcase_add_test(tc, test_expand_deferred_join);
    tcase_add_test(tc, test_deferred_join_refuses);
    tcase_add_test(tc, test_expand_single_pass);
    tcase_add_loop_test(tc, test_expand_quoting, 0, (int)GW_ARRAY_LEN(quote_cases));
    tcase_add_test(tc, test_expand_shell_runs);
    tcase_add_loop_test(tc, test_expand_raw_refused, 0, (int)GW_ARRAY_LEN(expand_raw_cases));
    tcase_add_test(tc, test_expand_raw_env_name);
    suite_add_tcase(s, tc);

    tc = tcase_create("match");
    tcase_add_test(tc, test_matches_event);
    tcase_add_test(tc, test_match_push_tags);
    tcase_add_loop_test(tc, test_glob, 0, (int)GW_ARRAY_LEN(glob_cases));
    tcase_add_test(tc, test_glob_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("yaml");
    tcase_add_test(tc, test_yaml_same_as_json);
    tcase_add_test(tc, test_yaml_scalar_types);
    tcase_add_test(tc, test_yaml_syntax_error);
    tcase_add_test(tc, test_yaml_duplicate_key);
    tcase_add_test(tc, test_yaml_refused);
    tcase_add_test(tc, test_yaml_empty);
    tcase_add_test(tc, test_yaml_validate);
    tcase_add_test(tc, test_yaml_caps);
    tcase_add_loop_test(tc, test_yaml_nul, 0, (int)GW_ARRAY_LEN(yaml_nul_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("caps");
    tcase_add_test(tc, test_caps);
    tcase_add_test(tc, test_resolve_caps);
    tcase_add_test(tc, test_caps_linear);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(spec_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
