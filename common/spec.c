/*
 * spec - what the parts of the template module share: errors that name a
 * field path, names and repeated names, member lookups, input values and
 * the types they must fit, the table of value types (spec_check_type), and
 * the one walk over the strings of a job's field (spec_field_strings) that
 * both validation and expansion use.
 *
 * The rest of the module, by concern: spec_validate.c (the tables of a
 * template's keys and their walker: spec_validate), spec_expand.c (input
 * values of a run, `${{ ... }}` expressions, deferred commit: spec_expand),
 * spec_glob.c (which pushes start a template, branch globs) and
 * spec_yaml.c (YAML text to JSON). Their shared declarations are in
 * spec_int.h.
 */
#include "spec_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "util.h"

void
spec_vfail(spec_error_t *err, const char *field, const char *fmt, va_list ap)
{
    if (err == NULL)
        return;
    snprintf(err->field, sizeof(err->field), "%s", field);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    /* Both quote the template and go to the client in JSON. */
    utf8_trim(err->field);
    utf8_trim(err->message);
    err->line = 0;
    err->column = 0;
}

void
spec_fail(spec_error_t *err, const char *field, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    spec_vfail(err, field, fmt, ap);
    va_end(ap);
}

/* A path that did not fit ends in "..." rather than silently cut. */
static void
spec_path_done(char *out, size_t n, int written)
{
    if ((written < 0 || (size_t)written >= n) && n >= 4)
        memcpy(out + utf8_cut(out, n - 4), "...", 4);
}

/* base.key, or key alone at the top level. */
void
spec_path_key(char *out, size_t n, const char *base, const char *key)
{
    int w;

    if (base[0] == '\0')
        w = snprintf(out, n, "%s", key);
    else
        w = snprintf(out, n, "%s.%s", base, key);
    spec_path_done(out, n, w);
}

void
spec_path_index(char *out, size_t n, const char *base, int index)
{
    spec_path_done(out, n, snprintf(out, n, "%s[%d]", base, index));
}

bool
spec_in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* `"a", "b", "c"` for error messages. */
void
spec_list_quoted(char *out, size_t n, const char *const *list)
{
    buf_t b;

    buf_init(&b);
    for (size_t i = 0; list[i] != NULL; i++)
        buf_printf(&b, "%s\"%s\"", i ? ", " : "", list[i]);
    snprintf(out, n, "%s", b.data ? b.data : "");
    buf_free(&b);
}

static bool
spec_ident_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool
spec_ident_char(char c)
{
    return spec_ident_start(c) || (c >= '0' && c <= '9');
}

/* Whether s[0..n) is [A-Za-z_][A-Za-z0-9_]* (input and env names). */
bool
spec_ident_valid(const char *s, size_t n)
{
    if (n == 0 || !spec_ident_start(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!spec_ident_char(s[i]))
            return false;
    return true;
}

typedef struct {
    const char *name;
    size_t index;
} spec_named_t;

static int
spec_named_cmp(const void *a, const void *b)
{
    const spec_named_t *x = a;
    const spec_named_t *y = b;
    int c = strcmp(x->name, y->name);

    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The index of the first name (in document order) that repeats an earlier
 * one, or -1. *first is set to the index of the earlier one. Sorting keeps
 * this O(n log n) for documents with many keys. */
long
spec_find_dup(const char **names, size_t n, size_t *first)
{
    spec_named_t *v;
    long dup = -1;

    if (n < 2)
        return -1;
    v = xmalloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i].name = names[i];
        v[i].index = i;
    }
    qsort(v, n, sizeof(*v), spec_named_cmp);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(v[i - 1].name, v[i].name) != 0)
            continue;
        /* Within a run of equal names the first sorted entry is the
         * earliest; report the repeat that comes first in the document. */
        size_t run = i - 1;
        while (i < n && strcmp(v[run].name, v[i].name) == 0) {
            if (dup < 0 || v[i].index < (size_t)dup) {
                dup = (long)v[i].index;
                *first = v[run].index;
            }
            i++;
        }
    }
    free(v);
    return dup;
}

/* Refuse keys given twice (cJSON keeps both copies of a repeated key). */
int
spec_check_dups(const cJSON *obj, const char *base, spec_error_t *err)
{
    char path[160];
    const char **names;
    size_t n = 0, first = 0;
    long dup;
    const cJSON *it;

    names = xmalloc(((size_t)cJSON_GetArraySize(obj) + 1) * sizeof(*names));
    cJSON_ArrayForEach(it, obj)
    {
        names[n++] = it->string;
    }
    dup = spec_find_dup(names, n, &first);
    if (dup >= 0) {
        spec_path_key(path, sizeof(path), base, names[dup]);
        spec_fail(err, path, "is given more than once");
    }
    free(names);
    return dup >= 0 ? -1 : 0;
}

/* A member that is absent or JSON null reads as NULL. */
const cJSON *
spec_get(const cJSON *obj, const char *key)
{
    const cJSON *v;

    if (!cJSON_IsObject(obj))
        return NULL;
    v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNull(v) ? NULL : v;
}

/* Whether s is a decimal number: [+-] digits [. digits] [e [+-] digits],
 * with a digit before or after the point. strtod alone would also take
 * "inf", "nan" and hex. */
bool
spec_number_syntax(const char *s)
{
    const char *p = s;
    size_t digits = 0;

    if (*p == '+' || *p == '-')
        p++;
    for (; *p >= '0' && *p <= '9'; p++)
        digits++;
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++)
            digits++;
    }
    if (digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

/* A finite decimal number (spec_number_syntax). */
static bool
spec_number_valid(const char *s)
{
    char *end;
    double d;

    if (!spec_number_syntax(s))
        return false;
    d = strtod(s, &end);
    return *end == '\0' && isfinite(d);
}

/* The shortest "%g" form that reads back as d: "3", "1.5", "1e+20" (an
 * integer below 1e15 prints without exponent or fraction). */
static void
spec_number_string(double d, char *out, size_t n)
{
    if (d == 0) {
        snprintf(out, n, "0"); /* not "-0" */
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

/* The string form of a scalar value: strings as they are, numbers and
 * booleans stringified into tmp. NULL for null, arrays and objects. The
 * result is borrowed from v or tmp. */
const char *
spec_scalar_string(const cJSON *v, char *tmp, size_t n)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsBool(v)) {
        snprintf(tmp, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
        return tmp;
    }
    if (cJSON_IsNumber(v)) {
        spec_number_string(v->valuedouble, tmp, n);
        return tmp;
    }
    return NULL;
}

/* Whether value (a string form) fits an input's type; if not, writes the
 * reason ("must be a number") to msg. */
bool
spec_value_fits(const char *type, const cJSON *options, const char *value, char *msg, size_t n)
{
    const cJSON *it;
    buf_t b;

    if (strcmp(type, "number") == 0) {
        if (spec_number_valid(value))
            return true;
        snprintf(msg, n, "must be a number");
        return false;
    }
    if (strcmp(type, "boolean") == 0) {
        if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
            return true;
        snprintf(msg, n, "must be true or false");
        return false;
    }
    if (strcmp(type, "choice") == 0) {
        cJSON_ArrayForEach(it, options)
        {
            if (cJSON_IsString(it) && strcmp(it->valuestring, value) == 0)
                return true;
        }
        buf_init(&b);
        cJSON_ArrayForEach(it, options)
        {
            if (cJSON_IsString(it))
                buf_printf(&b, "%s\"%s\"", b.len ? ", " : "", it->valuestring);
        }
        snprintf(msg, n, "must be one of %s", b.data ? b.data : "the options");
        utf8_trim(msg);
        buf_free(&b);
        return false;
    }
    return true;
}

/* Whether an env name is one that holds expression values. */
bool
spec_env_reserved(const char *name)
{
    return strncmp(name, SPEC_INPUT_PREFIX, strlen(SPEC_INPUT_PREFIX)) == 0 ||
           strncmp(name, SPEC_EXPR_PREFIX, strlen(SPEC_EXPR_PREFIX)) == 0;
}

/* An env name of a job: a valid name, not a reserved one. */
int
spec_check_env_name(const char *name, const char *path, spec_error_t *err)
{
    if (!spec_ident_valid(name, strlen(name))) {
        spec_fail(err, path,
                  "is not a valid variable name (letters, digits and '_', not starting with a "
                  "digit)");
        return -1;
    }
    if (spec_env_reserved(name)) {
        spec_fail(err, path,
                  "is reserved: names starting with " SPEC_INPUT_PREFIX " or " SPEC_EXPR_PREFIX
                  " hold the values of expressions");
        return -1;
    }
    return 0;
}

/* ---- types of values ------------------------------------------------ */

#define SPEC_STR_(x) #x
#define SPEC_STR(x) SPEC_STR_(x)

static bool
spec_is_any(const cJSON *v)
{
    return true;
}

static bool
spec_is_bool(const cJSON *v)
{
    return cJSON_IsBool(v);
}

static bool
spec_is_string(const cJSON *v)
{
    return cJSON_IsString(v);
}

static bool
spec_is_text(const cJSON *v)
{
    return cJSON_IsString(v) && v->valuestring[0] != '\0';
}

static bool
spec_is_name(const cJSON *v)
{
    return cJSON_IsString(v) && gw_name_valid(v->valuestring);
}

static bool
spec_is_label(const cJSON *v)
{
    return cJSON_IsString(v) && gw_label_valid(v->valuestring);
}

static bool
spec_is_seconds(const cJSON *v)
{
    double d = cJSON_IsNumber(v) ? v->valuedouble : 0;

    /* The range test comes first so that the cast cannot overflow. */
    return d >= 1 && d <= SPEC_TIMEOUT_MAX && d == (double)(long)d;
}

static bool
spec_is_retries(const cJSON *v)
{
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;

    return d >= 0 && d <= SPEC_RETRY_MAX && d == (double)(long)d;
}

static bool
spec_is_scalar(const cJSON *v)
{
    return cJSON_IsString(v) || cJSON_IsNumber(v) || cJSON_IsBool(v);
}

static bool
spec_is_object(const cJSON *v)
{
    return cJSON_IsObject(v);
}

static bool
spec_is_list(const cJSON *v)
{
    return cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0;
}

static const struct {
    bool (*fits)(const cJSON *v);
    const char *want; /* "must be <want>" (SPEC_ENUM: followed by its words) */
    spec_type_t item; /* of a list: what each item must be */
} spec_type_info[] = {
    [SPEC_ANY] = {spec_is_any, "", SPEC_ANY},
    [SPEC_BOOL] = {spec_is_bool, "true or false", SPEC_ANY},
    [SPEC_STRING] = {spec_is_string, "a string", SPEC_ANY},
    [SPEC_TEXT] = {spec_is_text, "a non-empty string or null", SPEC_ANY},
    [SPEC_GLOB] = {spec_is_text, "a non-empty string", SPEC_ANY},
    [SPEC_NAME] = {spec_is_name,
                   "1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit",
                   SPEC_ANY},
    [SPEC_ENUM] = {spec_is_string, "one of", SPEC_ANY},
    [SPEC_SECONDS] = {spec_is_seconds, "an integer between 1 and " SPEC_STR(SPEC_TIMEOUT_MAX),
                      SPEC_ANY},
    [SPEC_RETRIES] = {spec_is_retries, "an integer between 0 and " SPEC_STR(SPEC_RETRY_MAX),
                      SPEC_ANY},
    [SPEC_SCALAR] = {spec_is_scalar, SPEC_WANT_SCALAR, SPEC_ANY},
    [SPEC_OBJECT] = {spec_is_object, "an object", SPEC_ANY},
    [SPEC_EVENT] = {spec_is_object, "an object or null", SPEC_ANY},
    [SPEC_LIST] = {spec_is_list, "a non-empty array", SPEC_ANY},
    [SPEC_LINES] = {spec_is_list, "a non-empty array of strings", SPEC_STRING},
    [SPEC_LINES_BY_RULE] = {spec_is_list, "a non-empty array of strings", SPEC_ANY},
    [SPEC_GLOBS] = {spec_is_list, "a non-empty array of strings", SPEC_GLOB},
    [SPEC_WORDS] = {spec_is_list, "a non-empty array of words", SPEC_ENUM},
    [SPEC_LABEL] = {spec_is_label,
                    "a label: a name or name=value, each 1 to 100 letters, digits, "
                    "'.', '_' or '-', starting with a letter or digit",
                    SPEC_ANY},
    [SPEC_LABELS] = {spec_is_list, "a non-empty array of labels", SPEC_LABEL},
};

/* Whether v is of type t (words: SPEC_ENUM's), items of a list included;
 * if not, *err says what it must be. */
int
spec_check_type(spec_type_t t, const char *const *words, const cJSON *v, const char *path,
                spec_error_t *err)
{
    char list[80], item[160];
    const cJSON *it;
    int i = 0;

    if (!spec_type_info[t].fits(v) || (t == SPEC_ENUM && !spec_in_list(v->valuestring, words))) {
        if (t == SPEC_ENUM) {
            spec_list_quoted(list, sizeof(list), words);
            spec_fail(err, path, "must be %s %s", spec_type_info[t].want, list);
        } else {
            spec_fail(err, path, "must be %s", spec_type_info[t].want);
        }
        return -1;
    }
    if (spec_type_info[t].item == SPEC_ANY)
        return 0;
    cJSON_ArrayForEach(it, v)
    {
        spec_path_index(item, sizeof(item), path, i++);
        if (spec_check_type(spec_type_info[t].item, words, it, item, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- the strings of a job ---------------------------------------------- */

/* Call fn for each member of v, the job's field slot at path field, in
 * which expressions are expanded (see spec_int.h). Returns 0, or -1 with
 * *err. */
int
spec_field_strings(const cJSON *v, const char *field, spec_slot_t slot, spec_string_fn fn,
                   void *arg, spec_error_t *err)
{
    char path[160];
    const cJSON *it;
    int i = 0;

    if (slot == SPEC_SLOT_IMAGE)
        return cJSON_IsString(v) ? fn(v, field, slot, arg, err) : 0;
    /* Validation has checked the shape; expansion of a document that was
     * not validated finds it here. */
    if (slot == SPEC_SLOT_ENV && v != NULL && !cJSON_IsObject(v))
        return spec_check_type(SPEC_OBJECT, NULL, v, field, err);
    if (slot == SPEC_SLOT_SCRIPT && v != NULL && !cJSON_IsArray(v))
        return spec_check_type(SPEC_LINES_BY_RULE, NULL, v, field, err);
    cJSON_ArrayForEach(it, v)
    {
        if (slot == SPEC_SLOT_ENV)
            spec_path_key(path, sizeof(path), field, it->string);
        else
            spec_path_index(path, sizeof(path), field, i++);
        if (fn(it, path, slot, arg, err) < 0)
            return -1;
    }
    return 0;
}
