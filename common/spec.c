/*
 * spec - the template document: validate a template into its normalised
 * form, resolve the input values of one run, expand `${{ ... }}` expressions
 * for that run, and decide which events start it. Every error names the
 * path of the offending value ("jobs[1].script[0]", "inputs.VERSION.type").
 *
 * The YAML front end (spec_from_yaml) lives in spec_yaml.c.
 */
#include "spec.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "util.h"

/* How much of a user's expression an error message quotes. */
#define SPEC_QUOTE_MAX 64

static void spec_fail(spec_error_t *err, const char *field, const char *fmt, ...) GW_PRINTF(3, 4);

static void
spec_fail(spec_error_t *err, const char *field, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    snprintf(err->field, sizeof(err->field), "%s", field);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    /* Both quote the template and go to the client in JSON. */
    utf8_trim(err->field);
    utf8_trim(err->message);
    err->line = 0;
    err->column = 0;
}

/* A path that did not fit ends in "..." rather than silently cut. */
static void
spec_path_done(char *out, size_t n, int written)
{
    if ((written < 0 || (size_t)written >= n) && n >= 4)
        memcpy(out + utf8_cut(out, n - 4), "...", 4);
}

/* base.key, or key alone at the top level. */
static void
spec_path_key(char *out, size_t n, const char *base, const char *key)
{
    int w;

    if (base[0] == '\0')
        w = snprintf(out, n, "%s", key);
    else
        w = snprintf(out, n, "%s.%s", base, key);
    spec_path_done(out, n, w);
}

static void
spec_path_index(char *out, size_t n, const char *base, int index)
{
    spec_path_done(out, n, snprintf(out, n, "%s[%d]", base, index));
}

static bool
spec_in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* `"a", "b", "c"` for error messages. */
static void
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
static bool
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
static long
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

/* The members of an object sorted by name, for lookups in O(log n). */
typedef struct {
    const cJSON **item;
    size_t n;
} spec_index_t;

static int
spec_item_cmp(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* Index obj (NULL or not an object: an empty index); free with
 * spec_index_free. */
static void
spec_index_build(spec_index_t *ix, const cJSON *obj)
{
    const cJSON *it;

    ix->n = 0;
    ix->item = xmalloc(((size_t)cJSON_GetArraySize(obj) + 1) * sizeof(*ix->item));
    if (!cJSON_IsObject(obj))
        return;
    cJSON_ArrayForEach(it, obj)
    {
        ix->item[ix->n++] = it;
    }
    qsort(ix->item, ix->n, sizeof(*ix->item), spec_item_cmp);
}

/* The member called name, like spec_get: NULL if absent or null. */
static const cJSON *
spec_index_get(const spec_index_t *ix, const char *name)
{
    cJSON key;
    const cJSON *k = &key;
    const cJSON **found;

    memset(&key, 0, sizeof(key));
    key.string = (char *)name;
    found = bsearch(&k, ix->item, ix->n, sizeof(*ix->item), spec_item_cmp);
    return found == NULL || cJSON_IsNull(*found) ? NULL : *found;
}

static void
spec_index_free(spec_index_t *ix)
{
    free(ix->item);
    ix->item = NULL;
    ix->n = 0;
}

/* Refuse keys given twice (cJSON keeps both copies of a repeated key). */
static int
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
static const cJSON *
spec_get(const cJSON *obj, const char *key)
{
    const cJSON *v;

    if (!cJSON_IsObject(obj))
        return NULL;
    v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNull(v) ? NULL : v;
}

/* Parse a decimal number strictly: [+-] digits [. digits] [e [+-] digits],
 * finite. strtod alone would also take "inf", "nan" and hex. */
static bool
spec_number_valid(const char *s)
{
    const char *p = s;
    size_t digits = 0;
    double d;
    char *end;

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
    if (*p != '\0')
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
static const char *
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
static bool
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

/* ---- expressions ---------------------------------------------------- */

static const cJSON *
spec_find_input(const cJSON *inputs, const char *name, size_t n)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, inputs)
    {
        if (strlen(it->string) == n && memcmp(it->string, name, n) == 0)
            return it;
    }
    return NULL;
}

static bool
spec_token_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

static const char *
spec_or_empty(const char *s)
{
    return s ? s : "";
}

/* Whether an env name is one that holds expression values. */
static bool
spec_env_reserved(const char *name)
{
    return strncmp(name, SPEC_INPUT_PREFIX, strlen(SPEC_INPUT_PREFIX)) == 0 ||
           strncmp(name, SPEC_EXPR_PREFIX, strlen(SPEC_EXPR_PREFIX)) == 0;
}

/* An env name of a job: a valid name, not a reserved one. */
static int
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

/* The shell quoting in force at a point of a script line: inside single
 * quotes, double quotes or neither, and whether a backslash escapes the
 * next character. Nested $(...) and here-documents are not followed; at
 * worst a reference there is split into words, never run. */
typedef struct {
    char quote; /* '\'', '"' or 0 */
    bool escaped;
} spec_shell_t;

static void
spec_shell_scan(spec_shell_t *sh, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (sh->escaped) {
            sh->escaped = false;
        } else if (sh->quote == '\'') {
            if (c == '\'')
                sh->quote = 0;
        } else if (c == '\\') {
            sh->escaped = true;
        } else if (sh->quote == '"') {
            if (c == '"')
                sh->quote = 0;
        } else if (c == '\'' || c == '"') {
            sh->quote = c;
        }
    }
}

/* Append a reference to variable var that reads as its value, as one
 * word, in the quoting context sh (which it leaves as it was). */
static void
spec_shell_ref(buf_t *out, spec_shell_t *sh, const char *var)
{
    /* A backslash the user put right before the expression would escape
     * our first character; a newline after it makes a line continuation,
     * which the shell removes, outside quotes and inside double quotes. */
    if (sh->escaped) {
        buf_puts(out, "\n");
        sh->escaped = false;
    }
    if (sh->quote == '\'')
        buf_printf(out, "'\"${%s}\"'", var);
    else if (sh->quote == '"')
        buf_printf(out, "${%s}", var);
    else
        buf_printf(out, "\"${%s}\"", var);
}

/* Close the literal segment of segs that started at byte *start of out,
 * if segs is being built. */
static void
spec_segment_end(cJSON *segs, const buf_t *out, size_t *start)
{
    if (segs == NULL)
        return;
    char *lit = xstrndup(out->data ? out->data + *start : "", out->len - *start);
    cJSON_AddItemToArray(segs, cJSON_CreateString(lit));
    free(lit);
    *start = out->len;
}

/* Check the expressions in text and, when out is non-NULL, append text with
 * each expression replaced (values are not scanned again): by its value,
 * or, when vars is non-NULL (script lines), by a reference to a variable
 * that vars then holds with the value. declared is the template's inputs
 * object; values and ctx are only read when expanding. A commit.sha whose
 * value is not known yet (ctx->commit_sha NULL) is deferred: it stays as
 * written in out (and in vars), and, outside script lines, segs (an array,
 * when not NULL) receives the deferred form (SPEC_DEFERRED). Returns 0, or
 * -1 with *err naming `field`. */
static int
spec_expand_text(const char *text, const char *field, const cJSON *declared, const cJSON *values,
                 const spec_context_t *ctx, buf_t *out, cJSON *vars, cJSON *segs, spec_error_t *err)
{
    spec_shell_t sh = {0, false};
    const char *p = text;
    size_t seg_start = out ? out->len : 0;
    bool deferred = false;

    for (;;) {
        const char *open = strstr(p, "${{");
        const char *s, *close, *value = NULL;
        char *var = NULL;
        bool defer = false;
        size_t n;

        if (open == NULL) {
            if (out)
                buf_puts(out, p);
            if (deferred)
                spec_segment_end(segs, out, &seg_start);
            return 0;
        }
        if (out)
            buf_append(out, p, (size_t)(open - p));
        if (vars)
            spec_shell_scan(&sh, p, (size_t)(open - p));
        s = open + 3;
        close = strstr(s, "}}");
        if (close == NULL) {
            spec_fail(err, field, "has an unterminated \"${{\"");
            return -1;
        }
        while (s < close && (*s == ' ' || *s == '\t'))
            s++;
        n = (size_t)(close - s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;

        if (n == 0) {
            spec_fail(err, field, "has an empty expression");
            return -1;
        } else if (n > 7 && memcmp(s, "inputs.", 7) == 0 && spec_ident_valid(s + 7, n - 7)) {
            if (spec_find_input(declared, s + 7, n - 7) == NULL) {
                spec_fail(err, field, "references undeclared input \"%.*s\"",
                          (int)(n - 7 < SPEC_QUOTE_MAX ? n - 7 : SPEC_QUOTE_MAX), s + 7);
                return -1;
            }
            if (out) {
                const cJSON *v = spec_find_input(values, s + 7, n - 7);
                value = cJSON_IsString(v) ? v->valuestring : "";
                var = xasprintf("%s%.*s", SPEC_INPUT_PREFIX, (int)(n - 7), s + 7);
            }
        } else if (spec_token_is(s, n, "repo.name")) {
            value = ctx ? spec_or_empty(ctx->repo_name) : "";
            var = xstrdup(SPEC_EXPR_PREFIX "REPO_NAME");
        } else if (spec_token_is(s, n, "run.id")) {
            value = ctx ? spec_or_empty(ctx->run_id) : "";
            var = xstrdup(SPEC_EXPR_PREFIX "RUN_ID");
        } else if (spec_token_is(s, n, "commit.sha")) {
            value = ctx ? spec_or_empty(ctx->commit_sha) : "";
            var = xstrdup(SPEC_EXPR_PREFIX "COMMIT_SHA");
            if (out && ctx && ctx->commit_sha == NULL) {
                value = SPEC_DEFERRED_COMMIT;
                defer = vars == NULL && segs != NULL;
            }
        } else if (spec_token_is(s, n, "ref")) {
            value = ctx ? spec_or_empty(ctx->ref) : "";
            var = xstrdup(SPEC_EXPR_PREFIX "REF");
        } else {
            spec_fail(err, field, "references unknown variable \"%.*s\"",
                      (int)utf8_cut(s, n < SPEC_QUOTE_MAX ? n : SPEC_QUOTE_MAX), s);
            return -1;
        }
        if (out && vars) {
            if (cJSON_GetObjectItemCaseSensitive(vars, var) == NULL)
                cJSON_AddStringToObject(vars, var, value);
            spec_shell_ref(out, &sh, var);
        } else if (defer) {
            spec_segment_end(segs, out, &seg_start);
            cJSON_AddItemToArray(segs, cJSON_CreateString("commit.sha"));
            buf_puts(out, value);
            seg_start = out->len;
            deferred = true;
        } else if (out) {
            buf_puts(out, value);
        }
        free(var);
        p = close + 2;
    }
}

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

/* ---- validation ----------------------------------------------------- */

/* Each kind of object in a template is a table of its keys (spec_key_t):
 * what each value must be, whether it is required, its normal form when
 * absent, and a checker for the rules that are its own. spec_walk checks
 * an object against its table; the known keys live nowhere else. */

#define SPEC_STR_(x) #x
#define SPEC_STR(x) SPEC_STR_(x)
#define SPEC_TIMEOUT_MAX 86400
/* What an input value must be (a template's default, a run's value). */
#define SPEC_WANT_SCALAR "a string, number or boolean"

static const char *const spec_kinds[] = {"build", "test", "release", NULL};
static const char *const spec_types[] = {"string", "number", "boolean", "choice", NULL};

/* What a value must be. */
typedef enum {
    SPEC_ANY, /* anything: the key's checker decides */
    SPEC_BOOL,
    SPEC_STRING,
    SPEC_TEXT,    /* a non-empty string */
    SPEC_GLOB,    /* the same, as an item of a list */
    SPEC_NAME,    /* a job name (gw_name_valid) */
    SPEC_ENUM,    /* one of the key's words */
    SPEC_SECONDS, /* an integer from 1 to SPEC_TIMEOUT_MAX */
    SPEC_SCALAR,  /* a string, number or boolean */
    SPEC_OBJECT,
    SPEC_EVENT, /* an object, or null for an event that is off */
    SPEC_LIST,  /* a non-empty array */
    SPEC_LINES, /* a non-empty array of strings */
    SPEC_GLOBS, /* a non-empty array of non-empty strings */
} spec_type_t;

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
spec_is_seconds(const cJSON *v)
{
    double d = cJSON_IsNumber(v) ? v->valuedouble : 0;

    /* The range test comes first so that the cast cannot overflow. */
    return d >= 1 && d <= SPEC_TIMEOUT_MAX && d == (double)(long)d;
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
    [SPEC_SCALAR] = {spec_is_scalar, SPEC_WANT_SCALAR, SPEC_ANY},
    [SPEC_OBJECT] = {spec_is_object, "an object", SPEC_ANY},
    [SPEC_EVENT] = {spec_is_object, "an object or null", SPEC_ANY},
    [SPEC_LIST] = {spec_is_list, "a non-empty array", SPEC_ANY},
    [SPEC_LINES] = {spec_is_list, "a non-empty array of strings", SPEC_STRING},
    [SPEC_GLOBS] = {spec_is_list, "a non-empty array of strings", SPEC_GLOB},
};

/* Whether v is of type t (words: SPEC_ENUM's), items of a list included;
 * if not, *err says what it must be. */
static int
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

/* Where a string of a job stands. */
typedef enum { SPEC_SLOT_IMAGE, SPEC_SLOT_SCRIPT, SPEC_SLOT_ENV } spec_slot_t;

/* Called for one string of a job: item (item->string is the name of an
 * env entry) at path. Returns 0, or -1 with *err to stop. */
typedef int (*spec_string_fn)(const cJSON *item, const char *path, spec_slot_t slot, void *arg,
                              spec_error_t *err);

/* Call fn for each string of job in which expressions are expanded, in
 * the order validation reports them: its image (when it is a string), its
 * script lines, its env values. A script line or env value that is not a
 * string stops the walk with *err. Returns 0, or -1 with *err. */
static int
spec_job_strings(const cJSON *job, const char *base, spec_string_fn fn, void *arg,
                 spec_error_t *err)
{
    static const struct {
        const char *key;
        spec_slot_t slot;
    } fields[] = {{"image", SPEC_SLOT_IMAGE}, {"script", SPEC_SLOT_SCRIPT}, {"env", SPEC_SLOT_ENV}};
    char field[160], path[160];
    const cJSON *v, *it;

    for (size_t f = 0; f < GW_ARRAY_LEN(fields); f++) {
        int i = 0;

        spec_path_key(field, sizeof(field), base, fields[f].key);
        v = spec_get(job, fields[f].key);
        if (fields[f].slot == SPEC_SLOT_IMAGE) {
            if (cJSON_IsString(v) && fn(v, field, SPEC_SLOT_IMAGE, arg, err) < 0)
                return -1;
            continue;
        }
        cJSON_ArrayForEach(it, v)
        {
            if (fields[f].slot == SPEC_SLOT_ENV)
                spec_path_key(path, sizeof(path), field, it->string);
            else
                spec_path_index(path, sizeof(path), field, i++);
            if (spec_check_type(SPEC_STRING, NULL, it, path, err) < 0 ||
                fn(it, path, fields[f].slot, arg, err) < 0)
                return -1;
        }
    }
    return 0;
}

typedef struct spec_table spec_table_t;

/* An object being walked: its normal form so far, in table order, so that
 * a checker may read the keys before its own. */
typedef struct {
    cJSON *out;
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
    const char *what;   /* what a key of it is called: "key", "event" */
    spec_key_t keys[8]; /* ends with an entry without key */
};

static int spec_check_on(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);
static int spec_check_options(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);
static int spec_check_default(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);
static int spec_check_inputs(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);
static int spec_check_env(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);
static int spec_check_jobs(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal);

/* Table entries: a key of a type, an enum, a key with its own rule, an event. */
/* clang-format off */
#define KEY(k, type, need, absent) {k, type, need, absent, NULL, NULL, NULL}
#define ENUM(k, words, need, absent) {k, SPEC_ENUM, need, absent, words, NULL, NULL}
#define RULE(k, type, need, absent, check) {k, type, need, absent, NULL, NULL, check}
#define EVENT(k, sub) {k, SPEC_EVENT, SPEC_OPTIONAL, "null", NULL, sub, NULL}

static const spec_table_t spec_push_table = {"key", {
    KEY("branches", SPEC_GLOBS, SPEC_OPTIONAL, "null"),
    KEY("tags",     SPEC_GLOBS, SPEC_OPTIONAL, "null"),
}};

static const spec_table_t spec_manual_table = {"key", {
    KEY(NULL, SPEC_ANY, SPEC_OPTIONAL, NULL),
}};

/* An event set to null is off, like an absent one: that is what the
 * normalised form says, so validating it again is a no-op. */
static const spec_table_t spec_on_table = {"event", {
    EVENT("push",   &spec_push_table),
    EVENT("manual", &spec_manual_table),
}};

/* default comes after type and options, which it must fit. */
static const spec_table_t spec_input_table = {"key", {
    ENUM("type",        spec_types,  SPEC_OPTIONAL, "\"string\""),
    RULE("options",     SPEC_ANY,    SPEC_OPTIONAL, NULL, spec_check_options),
    RULE("default",     SPEC_SCALAR, SPEC_OPTIONAL, NULL, spec_check_default),
    KEY("required",     SPEC_BOOL,   SPEC_OPTIONAL, "false"),
    KEY("description",  SPEC_STRING, SPEC_OPTIONAL, NULL),
}};

static const spec_table_t spec_job_table = {"key", {
    KEY("name",          SPEC_NAME,    SPEC_REQUIRED, NULL),
    KEY("image",         SPEC_TEXT,    SPEC_OPTIONAL, "null"),
    KEY("script",        SPEC_LINES,   SPEC_REQUIRED, NULL),
    RULE("env",          SPEC_OBJECT,  SPEC_OPTIONAL, "{}", spec_check_env),
    KEY("timeout",       SPEC_SECONDS, SPEC_OPTIONAL, "null"),
    KEY("allow_failure", SPEC_BOOL,    SPEC_OPTIONAL, "false"),
}};

/* jobs comes after inputs, which its expressions refer to. */
static const spec_table_t spec_template_table = {"key", {
    ENUM("kind",   spec_kinds,  SPEC_REQUIRED,      NULL),
    RULE("on",     SPEC_ANY,    SPEC_OPTIONAL,      NULL, spec_check_on),
    KEY("clean",   SPEC_BOOL,   SPEC_OPTIONAL,      "false"),
    RULE("inputs", SPEC_OBJECT, SPEC_OPTIONAL,      NULL, spec_check_inputs),
    RULE("jobs",   SPEC_LIST,   SPEC_REQUIRED_TYPE, NULL, spec_check_jobs),
}};
/* clang-format on */

static const spec_key_t *
spec_table_find(const spec_table_t *t, const char *key)
{
    for (const spec_key_t *k = t->keys; k->key != NULL; k++)
        if (strcmp(k->key, key) == 0)
            return k;
    return NULL;
}

static cJSON *spec_walk(const cJSON *obj, const char *base, const spec_table_t *t,
                        spec_error_t *err);

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
        *normal = k->sub != NULL ? spec_walk(v, path, k->sub, w->err) : cJSON_Duplicate(v, true);
    else if (*normal == NULL && k->absent != NULL)
        *normal = cJSON_Parse(k->absent);
    return v != NULL && *normal == NULL ? -1 : 0;
}

/* Check obj (NULL reads as {}) against table t and return its normal form
 * (caller frees), or NULL with *err. Unknown keys are reported before
 * anything else, so a typo is named as such rather than as a missing key. */
static cJSON *
spec_walk(const cJSON *obj, const char *base, const spec_table_t *t, spec_error_t *err)
{
    spec_walk_t w = {NULL, err};
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
    for (const spec_key_t *k = t->keys; k->key != NULL; k++) {
        cJSON *normal;

        spec_path_key(path, sizeof(path), base, k->key);
        if (spec_walk_key(k, spec_get(obj, k->key), path, &w, &normal) < 0) {
            cJSON_Delete(w.out);
            return NULL;
        }
        if (normal != NULL)
            cJSON_AddItemToObject(w.out, k->key, normal);
    }
    return w.out;
}

/* `on` as a list of events (or absent: every event) in the object form,
 * each event listed once. */
static cJSON *
spec_on_events(const cJSON *list, const char *base, spec_error_t *err)
{
    cJSON *events = cJSON_CreateObject();
    char path[160];
    const cJSON *it;
    int i = 0;

    for (const spec_key_t *k = spec_on_table.keys; list == NULL && k->key != NULL; k++)
        cJSON_AddObjectToObject(events, k->key);
    cJSON_ArrayForEach(it, list)
    {
        spec_path_index(path, sizeof(path), base, i++);
        if (!cJSON_IsString(it) || spec_table_find(&spec_on_table, it->valuestring) == NULL) {
            spec_fail(err, path, "must be \"push\" or \"manual\"");
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
    *normal = spec_walk(v, path, &spec_on_table, w->err);
    cJSON_Delete(events);
    if (*normal == NULL)
        return -1;
    if (spec_get(*normal, "push") == NULL && spec_get(*normal, "manual") == NULL) {
        spec_fail(w->err, path, "must enable at least one event");
        return -1; /* spec_walk_key frees *normal */
    }
    return 0;
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
    char item[160];
    const char **names;
    size_t n = 0, first = 0;
    long dup;
    const cJSON *it;

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
    names = xmalloc((size_t)cJSON_GetArraySize(v) * sizeof(*names));
    cJSON_ArrayForEach(it, v)
    {
        names[n++] = it->valuestring;
    }
    dup = spec_find_dup(names, n, &first);
    free(names);
    if (dup >= 0) {
        spec_path_index(item, sizeof(item), path, (int)dup);
        spec_fail(w->err, item, "is listed twice");
        return -1;
    }
    return 0;
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

static int
spec_check_input_name(const char *name, const char *path, spec_error_t *err)
{
    if (spec_ident_valid(name, strlen(name)))
        return 0;
    spec_fail(err, path,
              "is not a valid input name (letters, digits and '_', not starting with a digit)");
    return -1;
}

/* A mapping of names to values (inputs, a job's env). */
typedef struct {
    int max; /* entries; over it: "has more than <max> <items> (<who> at most <max> <unit>)" */
    const char *items, *who, *unit;
    int (*name_ok)(const char *name, const char *path, spec_error_t *err);
    const spec_table_t *decl; /* values: objects of this table (null reads as {}); NULL: strings */
} spec_map_t;

static const spec_map_t spec_inputs_map = {SPEC_MAX_INPUTS,          "inputs",
                                           "a template may declare", "inputs",
                                           spec_check_input_name,    &spec_input_table};
static const spec_map_t spec_env_map = {SPEC_MAX_ENV, "entries",           "a job may set",
                                        "variables",  spec_check_env_name, NULL};

/* Check a mapping; with decl, *normal is the normal form of each value. */
static int
spec_check_map(const cJSON *v, const char *path, const spec_map_t *m, spec_error_t *err,
               cJSON **normal)
{
    char base[160];
    const cJSON *it;

    if (spec_check_count(v, path, m->max, m->items, m->who, m->unit, err) < 0 ||
        spec_check_dups(v, path, err) < 0)
        return -1;
    if (m->decl != NULL)
        *normal = cJSON_CreateObject();
    cJSON_ArrayForEach(it, v)
    {
        cJSON *decl;

        spec_path_key(base, sizeof(base), path, it->string);
        if (m->name_ok(it->string, base, err) < 0)
            return -1;
        if (m->decl == NULL) {
            if (spec_check_type(SPEC_STRING, NULL, it, base, err) < 0)
                return -1;
            continue;
        }
        decl = spec_walk(cJSON_IsNull(it) ? NULL : it, base, m->decl, err);
        if (decl == NULL)
            return -1;
        cJSON_AddItemToObject(*normal, it->string, decl);
    }
    return 0;
}

/* The declarations of inputs; a bare `NAME:` in YAML (null) declares a
 * plain string input. */
static int
spec_check_inputs(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal)
{
    return spec_check_map(v, path, &spec_inputs_map, w->err, normal);
}

/* A job's env: valid names that are not reserved, string values. */
static int
spec_check_env(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal)
{
    return spec_check_map(v, path, &spec_env_map, w->err, normal);
}

/* Check the expressions of one string of a job against the declared
 * inputs (arg). */
static int
spec_check_string(const cJSON *item, const char *path, spec_slot_t slot, void *arg,
                  spec_error_t *err)
{
    return spec_expand_text(item->valuestring, path, arg, NULL, NULL, NULL, NULL, NULL, err);
}

/* The jobs, each of them valid and its expressions too, with unique names. */
static int
spec_check_jobs(const cJSON *v, const char *path, spec_walk_t *w, cJSON **normal)
{
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(w->out, "inputs");
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
        job = spec_walk(it, base, &spec_job_table, w->err);
        if (job == NULL)
            goto fail;
        cJSON_AddItemToArray(*normal, job);
        if (spec_job_strings(job, base, spec_check_string, (void *)inputs, w->err) < 0)
            goto fail;
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
    if (!cJSON_IsObject(doc)) {
        spec_fail(err, "", "the template must be an object");
        return NULL;
    }
    /* The caps first: every later check may then take its time. */
    if (spec_check_shape(doc, "", 0, err) < 0)
        return NULL;
    return spec_walk(doc, "", &spec_template_table, err);
}

/* ---- inputs of a run ------------------------------------------------ */

/* The input values of one run, each a string (caller frees), or NULL with
 * *err: trigger values, else the repo's, else the default. */
cJSON *
spec_resolve_inputs(const cJSON *tmpl, const cJSON *trigger_inputs, const cJSON *repo_inputs,
                    spec_error_t *err)
{
    const cJSON *declared = spec_get(tmpl, "inputs");
    const cJSON *trigger = cJSON_IsNull(trigger_inputs) ? NULL : trigger_inputs;
    const cJSON *repo = cJSON_IsNull(repo_inputs) ? NULL : repo_inputs;
    const cJSON *it;
    char path[160], tmp[64], msg[200];
    spec_index_t decl_ix, trigger_ix, repo_ix;
    cJSON *out;

    if (trigger != NULL && !cJSON_IsObject(trigger)) {
        spec_fail(err, "inputs", "must be an object");
        return NULL;
    }
    if (repo != NULL && !cJSON_IsObject(repo)) {
        spec_fail(err, "inputs", "must be an object (the repo's input values)");
        return NULL;
    }
    /* The cap comes before any lookup, so that the work below is bounded
     * by the size of the template. */
    if (cJSON_GetArraySize(trigger) > SPEC_MAX_INPUTS) {
        spec_fail(err, "inputs", "has more than %d inputs (at most %d inputs are allowed)",
                  SPEC_MAX_INPUTS, SPEC_MAX_INPUTS);
        return NULL;
    }
    if (trigger != NULL && spec_check_dups(trigger, "inputs", err) < 0)
        return NULL;
    /* Lookups through sorted indexes keep this O(n log n) in the sizes of
     * the template and of the repo's values, whatever was stored. */
    spec_index_build(&decl_ix, declared);
    spec_index_build(&trigger_ix, trigger);
    spec_index_build(&repo_ix, repo);
    out = cJSON_CreateObject();
    cJSON_ArrayForEach(it, trigger)
    {
        if (spec_index_get(&decl_ix, it->string) == NULL) {
            spec_path_key(path, sizeof(path), "inputs", it->string);
            spec_fail(err, path, "is not declared by the template");
            goto fail;
        }
    }

    cJSON_ArrayForEach(it, declared)
    {
        const cJSON *type = spec_get(it, "type");
        const cJSON *required = spec_get(it, "required");
        const cJSON *v;
        const char *source = "";
        const char *s;

        /* Repo values for names the template no longer declares are never
         * looked at: an attachment may outlive edits of its template. */
        v = spec_index_get(&trigger_ix, it->string);
        if (v == NULL) {
            v = spec_index_get(&repo_ix, it->string);
            source = " (the repo's value)";
        }
        if (v == NULL) {
            v = spec_get(it, "default");
            source = " (the default)";
        }
        spec_path_key(path, sizeof(path), "inputs", it->string);
        if (v == NULL) {
            if (cJSON_IsTrue(required)) {
                spec_fail(err, path, "is required");
                goto fail;
            }
            continue;
        }
        s = spec_scalar_string(v, tmp, sizeof(tmp));
        if (s == NULL) {
            spec_fail(err, path, "must be " SPEC_WANT_SCALAR "%s", source);
            goto fail;
        }
        if (strlen(s) > SPEC_MAX_STRING) {
            spec_fail(err, path, "is longer than %d bytes%s", SPEC_MAX_STRING, source);
            goto fail;
        }
        if (!spec_value_fits(cJSON_IsString(type) ? type->valuestring : "string",
                             spec_get(it, "options"), s, msg, sizeof(msg))) {
            spec_fail(err, path, "%s%s", msg, source);
            goto fail;
        }
        cJSON_AddStringToObject(out, it->string, s);
    }
    spec_index_free(&decl_ix);
    spec_index_free(&trigger_ix);
    spec_index_free(&repo_ix);
    return out;

fail:
    spec_index_free(&decl_ix);
    spec_index_free(&trigger_ix);
    spec_index_free(&repo_ix);
    cJSON_Delete(out);
    return NULL;
}

/* ---- expansion ------------------------------------------------------ */

/* text expanded into a new string (caller frees), or NULL with *err; vars
 * as for spec_expand_text. Outside script lines, a value with a deferred
 * expression adds its deferred form to `deferred` under key (both may be
 * NULL for script lines). */
static cJSON *
spec_expand_string(const char *text, const char *field, const cJSON *declared, const cJSON *inputs,
                   const spec_context_t *ctx, cJSON *vars, cJSON *deferred, const char *key,
                   spec_error_t *err)
{
    cJSON *segs = deferred ? cJSON_CreateArray() : NULL;
    buf_t b;
    cJSON *s = NULL;

    buf_init(&b);
    if (spec_expand_text(text, field, declared, inputs, ctx, &b, vars, segs, err) == 0) {
        s = cJSON_CreateString(b.data ? b.data : "");
        if (cJSON_GetArraySize(segs) > 0) {
            cJSON_AddItemToObject(deferred, key, segs);
            segs = NULL;
        }
    }
    cJSON_Delete(segs);
    buf_free(&b);
    return s;
}

/* One job of a run as it is being expanded. */
typedef struct {
    const cJSON *declared; /* the template's inputs */
    const cJSON *inputs;   /* the run's values */
    const spec_context_t *ctx;
    cJSON *job;       /* the expanded job */
    cJSON *script;    /* its script */
    cJSON *env;       /* its env */
    cJSON *vars;      /* the variables its script lines refer to */
    cJSON *defer;     /* what waits for the commit: {"image"?, "env": {..}} */
    cJSON *defer_env; /* defer's env */
} spec_expansion_t;

/* Expand one string of a job into its place (spec_string_fn). */
static int
spec_expand_one(const cJSON *item, const char *path, spec_slot_t slot, void *arg, spec_error_t *err)
{
    spec_expansion_t *x = arg;
    /* Script lines refer to variables; the image and env values wait for
     * a deferred commit themselves. */
    cJSON *defer = slot == SPEC_SLOT_IMAGE ? x->defer : slot == SPEC_SLOT_ENV ? x->defer_env : NULL;
    cJSON *v;

    if (slot == SPEC_SLOT_ENV && spec_check_env_name(item->string, path, err) < 0)
        return -1;
    v = spec_expand_string(item->valuestring, path, x->declared, x->inputs, x->ctx,
                           slot == SPEC_SLOT_SCRIPT ? x->vars : NULL, defer,
                           slot == SPEC_SLOT_IMAGE ? "image" : item->string, err);
    if (v == NULL)
        return -1;
    if (slot == SPEC_SLOT_IMAGE)
        cJSON_ReplaceItemInObjectCaseSensitive(x->job, "image", v);
    else if (slot == SPEC_SLOT_SCRIPT)
        cJSON_AddItemToArray(x->script, v);
    else
        cJSON_AddItemToObject(x->env, item->string, v);
    return 0;
}

/* The jobs of one run with every expression replaced, in a single pass
 * (caller frees), or NULL with *err. Script lines refer to variables that
 * are added to the job's env after its own entries. */
cJSON *
spec_expand(const cJSON *tmpl, const cJSON *inputs, const spec_context_t *ctx, spec_error_t *err)
{
    spec_expansion_t x = {
        spec_get(tmpl, "inputs"), inputs, ctx, NULL, NULL, NULL, NULL, NULL, NULL};
    const cJSON *job;
    cJSON *out = cJSON_CreateArray();
    char base[160];
    int j = 0;

    cJSON_ArrayForEach(job, spec_get(tmpl, "jobs"))
    {
        const cJSON *name = spec_get(job, "name");
        const cJSON *timeout = spec_get(job, "timeout");
        cJSON *var;

        x.job = cJSON_CreateObject();
        cJSON_AddItemToArray(out, x.job);
        cJSON_AddStringToObject(x.job, "name", cJSON_IsString(name) ? name->valuestring : "");
        cJSON_AddNullToObject(x.job, "image");
        x.script = cJSON_AddArrayToObject(x.job, "script");
        x.env = cJSON_AddObjectToObject(x.job, "env");
        /* What waits for the commit; dropped below when nothing does. */
        x.defer = cJSON_AddObjectToObject(x.job, "deferred");
        x.defer_env = cJSON_AddObjectToObject(x.defer, "env");
        x.vars = cJSON_CreateObject();
        spec_path_index(base, sizeof(base), "jobs", j++);
        if (spec_job_strings(job, base, spec_expand_one, &x, err) < 0) {
            cJSON_Delete(x.vars);
            cJSON_Delete(out);
            return NULL;
        }
        /* The job's own env first, then the variables of its script lines
         * (their names cannot clash: validation reserves them). */
        while ((var = x.vars->child) != NULL)
            cJSON_AddItemToObject(x.env, var->string, cJSON_DetachItemViaPointer(x.vars, var));
        cJSON_Delete(x.vars);
        /* Script lines read the commit from a variable: it is the variable
         * that waits. */
        if (ctx != NULL && ctx->commit_sha == NULL &&
            cJSON_GetObjectItemCaseSensitive(x.env, SPEC_EXPR_PREFIX "COMMIT_SHA") != NULL) {
            cJSON *segs = cJSON_AddArrayToObject(x.defer_env, SPEC_EXPR_PREFIX "COMMIT_SHA");
            cJSON_AddItemToArray(segs, cJSON_CreateString(""));
            cJSON_AddItemToArray(segs, cJSON_CreateString("commit.sha"));
            cJSON_AddItemToArray(segs, cJSON_CreateString(""));
        }
        if (cJSON_GetArraySize(x.defer_env) == 0)
            cJSON_DeleteItemFromObjectCaseSensitive(x.defer, "env");

        if (cJSON_IsNumber(timeout))
            cJSON_AddNumberToObject(x.job, "timeout", timeout->valuedouble);
        else
            cJSON_AddNullToObject(x.job, "timeout");
        cJSON_AddBoolToObject(x.job, "allow_failure",
                              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(job, "allow_failure")));
        x.defer = cJSON_DetachItemFromObjectCaseSensitive(x.job, "deferred");
        if (cJSON_GetArraySize(x.defer) > 0)
            cJSON_AddItemToObject(x.job, "deferred", x.defer); /* last, after what it amends */
        else
            cJSON_Delete(x.defer);
    }
    return out;
}

char *
spec_deferred_join(const cJSON *segs, const char *commit_sha)
{
    const cJSON *it;
    buf_t b;
    int i = 0;

    if (!cJSON_IsArray(segs) || cJSON_GetArraySize(segs) % 2 != 1)
        return NULL;
    buf_init(&b);
    cJSON_ArrayForEach(it, segs)
    {
        bool expr = i++ % 2 == 1;
        if (!cJSON_IsString(it) || (expr && strcmp(it->valuestring, "commit.sha") != 0)) {
            buf_free(&b);
            return NULL;
        }
        buf_puts(&b, expr ? spec_or_empty(commit_sha) : it->valuestring);
    }
    if (b.data == NULL)
        buf_puts(&b, "");
    return buf_steal(&b);
}

/* ---- events --------------------------------------------------------- */

/* Whether one of the globs matches name. */
static bool
spec_globs_match(const cJSON *globs, const char *name)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, globs)
    {
        if (cJSON_IsString(it) && spec_glob_match(it->valuestring, name))
            return true;
    }
    return false;
}

/* Whether a push of branch (tag false) or tag name starts the template. */
static spec_push_match_t
spec_match_ref(const cJSON *tmpl, bool tag, const char *name)
{
    const cJSON *on = spec_get(tmpl, "on");
    const cJSON *push, *branches, *tags;

    if (on == NULL)
        return tag ? SPEC_PUSH_TAGS_NOT_ENABLED : SPEC_PUSH_STARTS;
    push = spec_get(on, "push");
    if (push == NULL)
        return SPEC_PUSH_NOT_ON_PUSH;
    branches = spec_get(push, "branches");
    tags = spec_get(push, "tags");
    if (tag) {
        if (tags == NULL)
            return SPEC_PUSH_TAGS_NOT_ENABLED;
        return spec_globs_match(tags, name) ? SPEC_PUSH_STARTS : SPEC_PUSH_TAG_NOT_MATCHED;
    }
    /* Without filters every branch starts it; a template that lists only
     * tags is a tag pipeline. */
    if (branches == NULL)
        return tags == NULL ? SPEC_PUSH_STARTS : SPEC_PUSH_BRANCHES_NOT_ENABLED;
    if (name == NULL)
        return SPEC_PUSH_BRANCH_NOT_MATCHED;
    return spec_globs_match(branches, name) ? SPEC_PUSH_STARTS : SPEC_PUSH_BRANCH_NOT_MATCHED;
}

bool
spec_matches_event(const cJSON *tmpl, const char *event, const char *branch)
{
    const cJSON *on = spec_get(tmpl, "on");

    if (event == NULL)
        return false;
    if (strcmp(event, "manual") == 0)
        return on == NULL || spec_get(on, "manual") != NULL;
    if (strcmp(event, "push") != 0)
        return false;
    return spec_match_ref(tmpl, false, branch) == SPEC_PUSH_STARTS;
}

spec_push_match_t
spec_match_push(const cJSON *tmpl, const char *ref)
{
    if (ref != NULL && strncmp(ref, "refs/heads/", 11) == 0 && ref[11] != '\0')
        return spec_match_ref(tmpl, false, ref + 11);
    if (ref != NULL && strncmp(ref, "refs/tags/", 10) == 0 && ref[10] != '\0')
        return spec_match_ref(tmpl, true, ref + 10);
    return SPEC_PUSH_NOT_BRANCH_OR_TAG;
}

const char *
spec_push_reason(spec_push_match_t m)
{
    switch (m) {
    case SPEC_PUSH_STARTS:
        return "started";
    case SPEC_PUSH_NOT_ON_PUSH:
        return "not on push";
    case SPEC_PUSH_BRANCH_NOT_MATCHED:
        return "branch not matched";
    case SPEC_PUSH_BRANCHES_NOT_ENABLED:
        return "branch pushes not enabled";
    case SPEC_PUSH_TAG_NOT_MATCHED:
        return "tag not matched";
    case SPEC_PUSH_TAGS_NOT_ENABLED:
        return "tag pushes not enabled";
    case SPEC_PUSH_NOT_BRANCH_OR_TAG:
        break;
    }
    return "not a branch or tag";
}

typedef enum { SPEC_GLOB_CHAR, SPEC_GLOB_ONE, SPEC_GLOB_STAR, SPEC_GLOB_STARSTAR } spec_glob_kind_t;

/* Branch glob match; `*` stops at '/', `**` does not, `?` is one non-'/'. */
bool
spec_glob_match(const char *pattern, const char *s)
{
    size_t np, ns, nt = 0;
    spec_glob_kind_t *kind;
    char *ch;
    bool *next, *cur, result;

    if (pattern == NULL || s == NULL)
        return false;
    np = strlen(pattern);
    ns = strlen(s);
    kind = xmalloc((np + 1) * sizeof(*kind));
    ch = xmalloc(np + 1);
    for (size_t i = 0; i < np; i++) {
        if (pattern[i] == '*' && pattern[i + 1] == '*') {
            kind[nt] = SPEC_GLOB_STARSTAR;
            i++;
        } else if (pattern[i] == '*') {
            kind[nt] = SPEC_GLOB_STAR;
        } else if (pattern[i] == '?') {
            kind[nt] = SPEC_GLOB_ONE;
        } else {
            kind[nt] = SPEC_GLOB_CHAR;
        }
        ch[nt++] = pattern[i];
    }

    /* Dynamic programming over (token, position) from the end, one row at a
     * time: linear memory and O(tokens * length) time even for patterns
     * full of stars, where backtracking would be exponential. */
    next = xcalloc(ns + 1, sizeof(bool));
    cur = xcalloc(ns + 1, sizeof(bool));
    next[ns] = true;
    for (size_t t = nt; t-- > 0;) {
        for (size_t j = ns + 1; j-- > 0;) {
            bool m = false;

            switch (kind[t]) {
            case SPEC_GLOB_CHAR:
                m = j < ns && s[j] == ch[t] && next[j + 1];
                break;
            case SPEC_GLOB_ONE:
                m = j < ns && s[j] != '/' && next[j + 1];
                break;
            case SPEC_GLOB_STAR:
                m = next[j] || (j < ns && s[j] != '/' && cur[j + 1]);
                break;
            case SPEC_GLOB_STARSTAR:
                m = next[j] || (j < ns && cur[j + 1]);
                break;
            }
            cur[j] = m;
        }
        bool *swap = next;
        next = cur;
        cur = swap;
    }
    result = next[0];
    free(kind);
    free(ch);
    free(next);
    free(cur);
    return result;
}
