/*
 * spec_validate - a template checked against a table of its keys per kind
 * of object (the template, `on`, `on.push`, `on.manual`, an input
 * declaration, a job): what each value must be, whether it is required, its
 * normal form when absent, and a checker for the rules that are its own.
 * spec_walk checks an object against its table, key by key in the table's
 * order (which is the order in which errors are found), and builds its
 * normal form; the known keys live nowhere else, and the messages that list
 * them are built from the tables. The caps of spec.h are checked first, in
 * one pass over the document (spec_check_shape).
 */
#include "spec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "util.h"

/* Refuse what goes beyond the caps on nesting, keys per mapping, items
 * per list and string size, naming the first such value; one pass over the
 * document. depth is the number of mappings and lists around v. */
static int
spec_check_shape(const cJSON *v, const char *path, int depth, spec_error_t *err)
{
    bool object = cJSON_IsObject(v);
    char child[160];
    const cJSON *it;
    int n = 0;

    if (cJSON_IsString(v) && strlen(v->valuestring) > SPEC_MAX_STRING) {
        spec_fail(err, path, "is longer than %d bytes", SPEC_MAX_STRING);
        return -1;
    }
    if (!object && !cJSON_IsArray(v))
        return 0;
    if (depth >= SPEC_MAX_DEPTH) {
        spec_fail(err, path, "nesting is deeper than %d levels", SPEC_MAX_DEPTH);
        return -1;
    }
    cJSON_ArrayForEach(it, v)
    {
        if (object && ++n > SPEC_MAX_KEYS) {
            spec_fail(err, path,
                      "has more than %d keys (at most %d keys are allowed in one mapping)",
                      SPEC_MAX_KEYS, SPEC_MAX_KEYS);
            return -1;
        }
        if (!object && ++n > SPEC_MAX_ITEMS) {
            spec_fail(err, path,
                      "has more than %d items (at most %d items are allowed in one list)",
                      SPEC_MAX_ITEMS, SPEC_MAX_ITEMS);
            return -1;
        }
        if (!cJSON_IsObject(it) && !cJSON_IsArray(it) && !cJSON_IsString(it) &&
            !(object && strlen(it->string) > SPEC_MAX_STRING))
            continue;
        if (object)
            spec_path_key(child, sizeof(child), path, it->string);
        else
            spec_path_index(child, sizeof(child), path, n - 1);
        if (object && strlen(it->string) > SPEC_MAX_STRING) {
            spec_fail(err, child, "is a key longer than %d bytes", SPEC_MAX_STRING);
            return -1;
        }
        if (spec_check_shape(it, child, depth + 1, err) < 0)
            return -1;
    }
    return 0;
}

static const char *const spec_kinds[] = {"build", "test", "release", NULL};
static const char *const spec_types[] = {"string", "number", "boolean", "choice", NULL};
/* What a retry may be for: the run's runner was lost (it died, lost the
 * database, or was stopped past its drain). */
static const char *const spec_retry_when[] = {"runner_lost", NULL};

typedef struct spec_table spec_table_t;

/* An object being walked: its normal form so far, in table order, so that
 * a checker may read the keys before its own, and the walk of the object
 * around it (a job's: the template's, whose inputs its expressions use). */
typedef struct spec_walk {
    cJSON *out;
    const struct spec_walk *up; /* NULL for the root: no object, only err */
    spec_error_t *err;
} spec_walk_t;

/* A rule of one key beyond its type, called whether the key is there or
 * not (v NULL). It may set *normal to the key's normal form. */
typedef int (*spec_check_fn)(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);

typedef enum {
    SPEC_OPTIONAL,
    SPEC_REQUIRED,      /* absent: "is required" */
    SPEC_REQUIRED_TYPE, /* absent: "must be <its type>" */
} spec_need_t;

typedef struct {
    const char *key;
    spec_type_t type;
    spec_need_t need;
    const char *absent;       /* normal form when absent, as JSON; NULL: left out */
    const char *const *words; /* SPEC_ENUM: the allowed values */
    const spec_table_t *sub;  /* SPEC_EVENT: the keys of the object */
    spec_check_fn check;
} spec_key_t;

struct spec_table {
    const char *what;          /* what a key of it is called: "key", "event" */
    spec_key_t keys[8];        /* in the order checked; the unused entries have no key */
    const char *const *normal; /* the normal form's order of keys; NULL: the same */
};

/* Each key of table t, in order. */
#define SPEC_EACH_KEY(k, t)                                                                        \
    for (const spec_key_t *k = (t)->keys; k < (t)->keys + GW_ARRAY_LEN((t)->keys) && k->key; k++)

static int spec_check_on(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);
static int spec_check_schedule(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);
static int spec_check_options(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);
static int spec_check_default(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);
static int spec_check_inputs(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);
static int spec_check_image(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);
static int spec_check_script(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);
static int spec_check_env(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);
static int spec_check_jobs(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);
static int spec_check_group(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);

/* Table entries: a key of a type, an enum, a key with its own rule, an event. */
/* clang-format off */
#define KEY(k, type, need, absent) {k, type, need, absent, NULL, NULL, NULL}
#define ENUM(k, words, need, absent) {k, SPEC_ENUM, need, absent, words, NULL, NULL}
#define ENUM_LIST(k, words, need, absent) {k, SPEC_WORDS, need, absent, words, NULL, NULL}
#define RULE(k, type, need, absent, check) {k, type, need, absent, NULL, NULL, check}
#define EVENT(k, sub) {k, SPEC_EVENT, SPEC_OPTIONAL, "null", NULL, sub, NULL}
#define OBJECT(k, sub) {k, SPEC_OBJECT, SPEC_OPTIONAL, NULL, NULL, sub, NULL}

static const spec_table_t spec_push_table = {"key", {
    KEY("branches", SPEC_GLOBS, SPEC_OPTIONAL, "null"),
    KEY("tags",     SPEC_GLOBS, SPEC_OPTIONAL, "null"),
}, NULL};

static const spec_table_t spec_manual_table = {"key", {
    KEY(NULL, SPEC_ANY, SPEC_OPTIONAL, NULL),
}, NULL};

/* An event set to null is off, like an absent one: that is what the
 * normalised form says, so validating it again is a no-op. A schedule is
 * a list of cron expressions, left out of the normal form when absent (a
 * list form of `on`, or none, names the events only). */
static const spec_table_t spec_on_table = {"event", {
    EVENT("push",   &spec_push_table),
    EVENT("manual", &spec_manual_table),
    RULE("schedule", SPEC_LINES, SPEC_OPTIONAL, NULL, spec_check_schedule),
}, NULL};

/* default is checked last, after type and options, which it must fit; in
 * the normal form it comes before required. */
static const char *const spec_input_normal[] = {"type", "options", "default", "required",
                                                "description", NULL};

static const spec_table_t spec_input_table = {"key", {
    ENUM("type",        spec_types,  SPEC_OPTIONAL, "\"string\""),
    RULE("options",     SPEC_ANY,    SPEC_OPTIONAL, NULL, spec_check_options),
    KEY("required",     SPEC_BOOL,   SPEC_OPTIONAL, "false"),
    KEY("description",  SPEC_STRING, SPEC_OPTIONAL, NULL),
    RULE("default",     SPEC_SCALAR, SPEC_OPTIONAL, NULL, spec_check_default),
}, spec_input_normal};

/* A retry: how many, and on what. Left out when absent, so a template
 * without one keeps the normal form it had. */
static const spec_table_t spec_retry_table = {"key", {
    KEY("max",   SPEC_RETRIES, SPEC_REQUIRED, NULL),
    ENUM_LIST("when", spec_retry_when, SPEC_OPTIONAL, "[\"runner_lost\"]"),
}, NULL};

/* A concurrency group: its text (expanded when a run is queued) and
 * whether a new run cancels the group's queued and running runs. */
static const spec_table_t spec_concurrency_table = {"key", {
    RULE("group",             SPEC_TEXT, SPEC_REQUIRED, NULL, spec_check_group),
    KEY("cancel_in_progress", SPEC_BOOL, SPEC_OPTIONAL, "false"),
}, NULL};

/* The expressions of a string are checked with it, so the first error of
 * a job is the first in the order of its keys. */
static const spec_table_t spec_job_table = {"key", {
    KEY("name",          SPEC_NAME,    SPEC_REQUIRED, NULL),
    RULE("image",        SPEC_TEXT,    SPEC_OPTIONAL, "null", spec_check_image),
    RULE("script",       SPEC_LINES_BY_RULE, SPEC_REQUIRED, NULL, spec_check_script),
    RULE("env",          SPEC_OBJECT,  SPEC_OPTIONAL, "{}", spec_check_env),
    KEY("timeout",       SPEC_SECONDS, SPEC_OPTIONAL, "null"),
    KEY("allow_failure", SPEC_BOOL,    SPEC_OPTIONAL, "false"),
    OBJECT("retry",      &spec_retry_table),
}, NULL};

/* jobs and concurrency come after inputs, which their expressions refer
 * to. */
static const spec_table_t spec_template_table = {"key", {
    ENUM("kind",   spec_kinds,  SPEC_REQUIRED,      NULL),
    RULE("on",     SPEC_ANY,    SPEC_OPTIONAL,      NULL, spec_check_on),
    KEY("clean",   SPEC_BOOL,   SPEC_OPTIONAL,      "false"),
    OBJECT("retry", &spec_retry_table),
    KEY("runs-on", SPEC_LABELS, SPEC_OPTIONAL,      NULL),
    RULE("inputs", SPEC_OBJECT, SPEC_OPTIONAL,      NULL, spec_check_inputs),
    OBJECT("concurrency", &spec_concurrency_table),
    RULE("jobs",   SPEC_LIST,   SPEC_REQUIRED_TYPE, NULL, spec_check_jobs),
}, NULL};
/* clang-format on */

static const spec_key_t *
spec_table_find(const spec_table_t *t, const char *key)
{
    SPEC_EACH_KEY(k, t)
    {
        if (strcmp(k->key, key) == 0)
            return k;
    }
    return NULL;
}

static cJSON *spec_walk(const cJSON *obj, const char *base, const spec_table_t *t,
                        const spec_walk_t *up);

/* One key of an object: its need, type and rule; *normal is its normal
 * form (NULL: left out). */
static int
spec_walk_key(const spec_key_t *k, const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal)
{
    *normal = NULL;
    if (v == NULL && k->need == SPEC_REQUIRED) {
        spec_fail(w->err, path, "is required");
        return -1;
    }
    if ((v != NULL || k->need == SPEC_REQUIRED_TYPE) &&
        spec_check_type(k->type, k->words, v, path, w->err) < 0)
        return -1;
    if (k->check != NULL && k->check(v, path, w, normal) < 0) {
        cJSON_Delete(*normal);
        *normal = NULL;
        return -1;
    }
    if (*normal == NULL && v != NULL)
        *normal = k->sub != NULL ? spec_walk(v, path, k->sub, w) : cJSON_Duplicate(v, true);
    else if (*normal == NULL && k->absent != NULL)
        *normal = cJSON_Parse(k->absent);
    return v != NULL && *normal == NULL ? -1 : 0;
}

/* Put the keys of out in the order of names (NULL: leave them). */
static void
spec_reorder(cJSON *out, const char *const *names)
{
    for (; names != NULL && *names != NULL; names++) {
        cJSON *it = cJSON_DetachItemFromObjectCaseSensitive(out, *names);

        if (it != NULL)
            cJSON_AddItemToObject(out, *names, it);
    }
}

/* Check obj (NULL reads as {}) against table t and return its normal form
 * (caller frees), or NULL with up->err; up is the walk of the object
 * around obj (for the template, spec_validate's root). Unknown keys are reported before anything
 * else, so a typo is named as such rather than as a missing key. */
static cJSON *
spec_walk(const cJSON *obj, const char *base, const spec_table_t *t, const spec_walk_t *up)
{
    spec_error_t *err = up->err;
    spec_walk_t w = {NULL, up, err};
    char path[160];
    const cJSON *it;

    if (obj != NULL && !cJSON_IsObject(obj)) {
        spec_fail(err, base, "must be an object");
        return NULL;
    }
    cJSON_ArrayForEach(it, obj)
    {
        if (spec_table_find(t, it->string) == NULL) {
            spec_path_key(path, sizeof(path), base, it->string);
            spec_fail(err, path, "is not a known %s", t->what);
            return NULL;
        }
    }
    if (spec_check_dups(obj, base, err) < 0)
        return NULL;
    w.out = cJSON_CreateObject();
    SPEC_EACH_KEY(k, t)
    {
        cJSON *normal;

        spec_path_key(path, sizeof(path), base, k->key);
        if (spec_walk_key(k, spec_get(obj, k->key), path, &w, &normal) < 0) {
            cJSON_Delete(w.out);
            return NULL;
        }
        if (normal != NULL)
            cJSON_AddItemToObject(w.out, k->key, normal);
    }
    spec_reorder(w.out, t->normal);
    return w.out;
}

/* The events of `on` that its list form may name, for a message:
 * `"push" or "manual"`. */
static void
spec_on_words(char *out, size_t n)
{
    const char *names[GW_ARRAY_LEN(spec_on_table.keys)];
    size_t count = 0;
    buf_t b;

    SPEC_EACH_KEY(k, &spec_on_table)
    {
        if (k->type == SPEC_EVENT)
            names[count++] = k->key;
    }
    buf_init(&b);
    for (size_t i = 0; i < count; i++)
        buf_printf(&b, "%s\"%s\"", i == 0 ? "" : i + 1 == count ? " or " : ", ", names[i]);
    snprintf(out, n, "%s", b.data ? b.data : "");
    buf_free(&b);
}

/* `on` as a list of events (or absent: every event) in the object form,
 * each event listed once. */
static cJSON *
spec_on_events(const cJSON *list, const char *base, spec_error_t *err)
{
    cJSON *events = cJSON_CreateObject();
    char path[160], words[80];
    const cJSON *it;
    int i = 0;

    if (list == NULL) {
        SPEC_EACH_KEY(k, &spec_on_table)
        {
            if (k->type == SPEC_EVENT)
                cJSON_AddObjectToObject(events, k->key);
        }
    }
    cJSON_ArrayForEach(it, list)
    {
        const spec_key_t *k =
            cJSON_IsString(it) ? spec_table_find(&spec_on_table, it->valuestring) : NULL;

        spec_path_index(path, sizeof(path), base, i++);
        if (k == NULL || k->type != SPEC_EVENT) {
            spec_on_words(words, sizeof(words));
            spec_fail(err, path, "must be %s", words);
            goto fail;
        }
        if (cJSON_GetObjectItemCaseSensitive(events, it->valuestring) != NULL) {
            spec_fail(err, path, "is listed twice");
            goto fail;
        }
        cJSON_AddObjectToObject(events, it->valuestring);
    }
    return events;

fail:
    cJSON_Delete(events);
    return NULL;
}

static int
spec_check_on(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal)
{
    cJSON *events = NULL;

    if (v == NULL || cJSON_IsArray(v)) {
        events = spec_on_events(v, path, w->err);
        if (events == NULL)
            return -1;
        v = events;
    } else if (!cJSON_IsObject(v)) {
        spec_fail(w->err, path, "must be an object, a list of events or null");
        return -1;
    }
    *normal = spec_walk(v, path, &spec_on_table, w);
    cJSON_Delete(events);
    if (*normal == NULL)
        return -1;
    SPEC_EACH_KEY(k, &spec_on_table)
    {
        if (spec_get(*normal, k->key) != NULL)
            return 0;
    }
    spec_fail(w->err, path, "must enable at least one event");
    return -1; /* spec_walk_key frees *normal */
}

/* Refuse a string that the list of strings v repeats, naming the repeat. */
static int
spec_check_unique(const cJSON *v, const char *path, spec_error_t *err)
{
    const char **texts = xmalloc((size_t)cJSON_GetArraySize(v) * sizeof(*texts));
    char item[160];
    size_t n = 0, first = 0;
    long dup;
    const cJSON *it;

    cJSON_ArrayForEach(it, v)
    {
        texts[n++] = it->valuestring;
    }
    dup = spec_find_dup(texts, n, &first);
    free(texts);
    if (dup < 0)
        return 0;
    spec_path_index(item, sizeof(item), path, (int)dup);
    spec_fail(err, item, "is listed twice");
    return -1;
}

/* on.schedule: cron expressions (common/cron.h), each listed once. */
static int
spec_check_schedule(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal)
{
    char item[160], msg[CRON_ERR_LEN];
    const cJSON *it;
    int i = 0;

    if (v == NULL)
        return 0;
    cJSON_ArrayForEach(it, v)
    {
        cron_t c;

        spec_path_index(item, sizeof(item), path, i++);
        if (cron_parse(it->valuestring, &c, msg, sizeof(msg)) < 0) {
            spec_fail(w->err, item, "is not a valid schedule: %s", msg);
            return -1;
        }
    }
    return spec_check_unique(v, path, w->err);
}

/* At most max members in v: "has more than 100 jobs (a template may have
 * at most 100 jobs)". */
static int
spec_check_count(const cJSON *v, const char *path, int max, const char *items, const char *who,
                 const char *unit, spec_error_t *err)
{
    if (cJSON_GetArraySize(v) <= max)
        return 0;
    spec_fail(err, path, "has more than %d %s (%s at most %d %s)", max, items, who, max, unit);
    return -1;
}

/* options: required for a choice, refused for any other type. */
static int
spec_check_options(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(w->out, "type");

    if (strcmp(type->valuestring, "choice") != 0) {
        if (v == NULL)
            return 0;
        spec_fail(w->err, path, "is only allowed for a choice");
        return -1;
    }
    if (v == NULL) {
        spec_fail(w->err, path, "is required for a choice");
        return -1;
    }
    if (spec_check_type(SPEC_LINES, NULL, v, path, w->err) < 0)
        return -1;
    return spec_check_unique(v, path, w->err);
}

/* A default fits the input's type and options. */
static int
spec_check_default(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(w->out, "type");
    char tmp[64], msg[256];

    if (v == NULL)
        return 0;
    if (!spec_value_fits(type->valuestring, cJSON_GetObjectItemCaseSensitive(w->out, "options"),
                         spec_scalar_string(v, tmp, sizeof(tmp)), msg, sizeof(msg))) {
        spec_fail(w->err, path, "%s", msg);
        return -1;
    }
    return 0;
}

/* The declarations of inputs; a bare `NAME:` in YAML (null) declares a
 * plain string input. */
static int
spec_check_inputs(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal)
{
    char base[160];
    const cJSON *it;

    if (spec_check_count(v, path, SPEC_MAX_INPUTS, "inputs", "a template may declare", "inputs",
                         w->err) < 0 ||
        spec_check_dups(v, path, w->err) < 0)
        return -1;
    *normal = cJSON_CreateObject();
    cJSON_ArrayForEach(it, v)
    {
        cJSON *decl;

        spec_path_key(base, sizeof(base), path, it->string);
        if (!spec_ident_valid(it->string, strlen(it->string))) {
            spec_fail(w->err, base,
                      "is not a valid input name (letters, digits and '_', not starting with a "
                      "digit)");
            return -1;
        }
        decl = spec_walk(cJSON_IsNull(it) ? NULL : it, base, &spec_input_table, w);
        if (decl == NULL)
            return -1;
        cJSON_AddItemToObject(*normal, it->string, decl);
    }
    return 0;
}

/* One member of a job's field (spec_string_fn): an env entry's name, then
 * that it is a string, then its expressions against the declared inputs
 * (arg). */
static int
spec_check_string(const cJSON *item, const char *path, spec_slot_t slot, void *arg,
                  spec_error_t *err)
{
    if (slot == SPEC_SLOT_ENV && spec_check_env_name(item->string, path, err) < 0)
        return -1;
    if (spec_check_type(SPEC_STRING, NULL, item, path, err) < 0)
        return -1;
    if (slot == SPEC_SLOT_ENV && spec_secret_ref(item->valuestring, NULL, 0))
        return 0;
    return spec_check_expressions(item->valuestring, path, arg, err);
}

/* The members of a job's field v, one by one; their expressions refer to
 * the inputs of the template (the walk around the job's). */
static int
spec_check_strings(const cJSON *v, const char *path, spec_slot_t slot, const spec_walk_t *w)
{
    const cJSON *declared = spec_get(w->up->out, "inputs");

    return spec_field_strings(v, path, slot, spec_check_string, (void *)declared, w->err);
}

/* A job's image: its expressions. */
static int
spec_check_image(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal)
{
    return spec_check_strings(v, path, SPEC_SLOT_IMAGE, w);
}

/* A job's script: each line a string, with its expressions. */
static int
spec_check_script(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal)
{
    return spec_check_strings(v, path, SPEC_SLOT_SCRIPT, w);
}

/* A job's env: at most SPEC_MAX_ENV entries, each given once, with a valid
 * name that is not reserved and a string value, with its expressions. */
static int
spec_check_env(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal)
{
    spec_error_t *err = w->err;

    if (spec_check_count(v, path, SPEC_MAX_ENV, "entries", "a job may set", "variables", err) < 0 ||
        spec_check_dups(v, path, err) < 0)
        return -1;
    return spec_check_strings(v, path, SPEC_SLOT_ENV, w);
}

/* A concurrency group's expressions, against the template's inputs (the
 * walk around the concurrency object's). */
static int
spec_check_group(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal)
{
    return spec_group_check(v->valuestring, path, spec_get(w->up->out, "inputs"), w->err);
}

/* The jobs, each of them valid, with unique names. */
static int
spec_check_jobs(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal)
{
    char base[160], other[160];
    const char **names;
    size_t n = 0, first = 0;
    long dup;
    const cJSON *it;

    if (spec_check_count(v, path, SPEC_MAX_JOBS, "jobs", "a template may have", "jobs", w->err) < 0)
        return -1;
    *normal = cJSON_CreateArray();
    names = xmalloc((size_t)cJSON_GetArraySize(v) * sizeof(*names));
    cJSON_ArrayForEach(it, v)
    {
        cJSON *job;

        spec_path_index(base, sizeof(base), path, (int)n);
        job = spec_walk(it, base, &spec_job_table, w);
        if (job == NULL)
            goto fail;
        cJSON_AddItemToArray(*normal, job);
        names[n++] = cJSON_GetObjectItemCaseSensitive(job, "name")->valuestring;
    }
    dup = spec_find_dup(names, n, &first);
    if (dup >= 0) {
        snprintf(base, sizeof(base), "%s[%ld].name", path, dup);
        snprintf(other, sizeof(other), "%s[%zu]", path, first);
        spec_fail(w->err, base, "repeats the name of %s", other);
        goto fail;
    }
    free(names);
    return 0;

fail:
    free(names);
    return -1;
}

/* Validate a template and return its normalised copy (caller frees with
 * cJSON_Delete), or NULL with *err naming the first offending field. */
cJSON *
spec_validate(const cJSON *doc, spec_error_t *err)
{
    spec_walk_t root = {NULL, NULL, err};

    if (!cJSON_IsObject(doc)) {
        spec_fail(err, "", "the template must be an object");
        return NULL;
    }
    /* The caps first: every later check may then take its time. */
    if (spec_check_shape(doc, "", 0, err) < 0)
        return NULL;
    return spec_walk(doc, "", &spec_template_table, &root);
}
