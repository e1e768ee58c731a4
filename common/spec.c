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

#define SPEC_TIMEOUT_MAX 86400
/* How much of a user's expression an error message quotes. */
#define SPEC_QUOTE_MAX 64

static const char *const spec_top_keys[] = {"kind", "on", "clean", "inputs", "jobs", NULL};
static const char *const spec_on_keys[] = {"push", "manual", NULL};
static const char *const spec_push_keys[] = {"branches", "tags", NULL};
static const char *const spec_no_keys[] = {NULL};
static const char *const spec_input_keys[] = {"type",     "options",     "default",
                                              "required", "description", NULL};
static const char *const spec_job_keys[] = {"name",    "image",         "script", "env",
                                            "timeout", "allow_failure", NULL};
static const char *const spec_kinds[] = {"build", "test", "release", NULL};
static const char *const spec_types[] = {"string", "number", "boolean", "choice", NULL};

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

/* Refuse keys not in `known` (NULL: any key is allowed) and keys given
 * twice (cJSON keeps both copies of a repeated key). `what` names a key
 * in the message ("key", "event"). */
static int
spec_check_keys(const cJSON *obj, const char *base, const char *const *known, const char *what,
                spec_error_t *err)
{
    char path[160];
    const char **names;
    size_t n = 0, first = 0;
    long dup;
    const cJSON *it;

    cJSON_ArrayForEach(it, obj)
    {
        if (known != NULL && !spec_in_list(it->string, known)) {
            spec_path_key(path, sizeof(path), base, it->string);
            spec_fail(err, path, "is not a known %s", what);
            return -1;
        }
        n++;
    }
    names = xmalloc((n ? n : 1) * sizeof(*names));
    n = 0;
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
                 const spec_context_t *ctx, buf_t *out, cJSON *vars, cJSON *segs,
                 spec_error_t *err)
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

/* A ref filter (on.push.branches, on.push.tags): absent, or a non-empty
 * array of non-empty strings. Returns 0, or -1 with *err filled. */
static int
spec_validate_globs(const cJSON *globs, const char *field, spec_error_t *err)
{
    const cJSON *it;
    char path[160];
    int i = 0;

    if (globs == NULL)
        return 0;
    if (!cJSON_IsArray(globs) || cJSON_GetArraySize(globs) == 0) {
        spec_fail(err, field, "must be a non-empty array of strings");
        return -1;
    }
    cJSON_ArrayForEach(it, globs)
    {
        spec_path_index(path, sizeof(path), field, i++);
        if (!cJSON_IsString(it) || it->valuestring[0] == '\0') {
            spec_fail(err, path, "must be a non-empty string");
            return -1;
        }
    }
    return 0;
}

static cJSON *
spec_validate_on(const cJSON *on, spec_error_t *err)
{
    bool push = false, manual = false;
    const cJSON *branches = NULL, *tags = NULL, *it;
    char path[160];
    cJSON *out, *ev;
    int i = 0;

    if (on == NULL) {
        push = manual = true;
    } else if (cJSON_IsArray(on)) {
        cJSON_ArrayForEach(it, on)
        {
            bool *flag = NULL;

            spec_path_index(path, sizeof(path), "on", i++);
            if (cJSON_IsString(it) && strcmp(it->valuestring, "push") == 0)
                flag = &push;
            else if (cJSON_IsString(it) && strcmp(it->valuestring, "manual") == 0)
                flag = &manual;
            if (flag == NULL) {
                spec_fail(err, path, "must be \"push\" or \"manual\"");
                return NULL;
            }
            if (*flag) {
                spec_fail(err, path, "is listed twice");
                return NULL;
            }
            *flag = true;
        }
    } else if (cJSON_IsObject(on)) {
        const cJSON *p, *m;

        if (spec_check_keys(on, "on", spec_on_keys, "event", err) < 0)
            return NULL;
        /* An event set to null is off, like an absent one: that is what
         * the normalised form says, so validating it again is a no-op. */
        p = spec_get(on, "push");
        if (p != NULL) {
            if (!cJSON_IsObject(p)) {
                spec_fail(err, "on.push", "must be an object or null");
                return NULL;
            }
            if (spec_check_keys(p, "on.push", spec_push_keys, "key", err) < 0)
                return NULL;
            branches = spec_get(p, "branches");
            tags = spec_get(p, "tags");
            if (spec_validate_globs(branches, "on.push.branches", err) < 0 ||
                spec_validate_globs(tags, "on.push.tags", err) < 0)
                return NULL;
            push = true;
        }
        m = spec_get(on, "manual");
        if (m != NULL) {
            if (!cJSON_IsObject(m)) {
                spec_fail(err, "on.manual", "must be an object or null");
                return NULL;
            }
            if (spec_check_keys(m, "on.manual", spec_no_keys, "key", err) < 0)
                return NULL;
            manual = true;
        }
    } else {
        spec_fail(err, "on", "must be an object, a list of events or null");
        return NULL;
    }
    if (!push && !manual) {
        spec_fail(err, "on", "must enable at least one event");
        return NULL;
    }

    out = cJSON_CreateObject();
    if (push) {
        ev = cJSON_AddObjectToObject(out, "push");
        if (branches != NULL)
            cJSON_AddItemToObject(ev, "branches", cJSON_Duplicate(branches, true));
        else
            cJSON_AddNullToObject(ev, "branches");
        if (tags != NULL)
            cJSON_AddItemToObject(ev, "tags", cJSON_Duplicate(tags, true));
        else
            cJSON_AddNullToObject(ev, "tags");
    } else {
        cJSON_AddNullToObject(out, "push");
    }
    if (manual)
        cJSON_AddObjectToObject(out, "manual");
    else
        cJSON_AddNullToObject(out, "manual");
    return out;
}

/* One input declaration, normalised; NULL with *err on error. */
static cJSON *
spec_validate_input(const cJSON *decl, const char *name, spec_error_t *err)
{
    char base[160], path[160], item[160], types[80], tmp[64], msg[256];
    const cJSON *v, *options = NULL, *def, *desc, *it;
    const char *type = "string";
    bool required = false;
    cJSON *out;

    spec_path_key(base, sizeof(base), "inputs", name);
    if (!spec_ident_valid(name, strlen(name))) {
        spec_fail(err, base,
                  "is not a valid input name (letters, digits and '_', not starting with a digit)");
        return NULL;
    }
    if (decl != NULL && !cJSON_IsObject(decl)) {
        spec_fail(err, base, "must be an object");
        return NULL;
    }
    if (decl != NULL && spec_check_keys(decl, base, spec_input_keys, "key", err) < 0)
        return NULL;

    v = spec_get(decl, "type");
    if (v != NULL) {
        if (!cJSON_IsString(v) || !spec_in_list(v->valuestring, spec_types)) {
            spec_path_key(path, sizeof(path), base, "type");
            spec_list_quoted(types, sizeof(types), spec_types);
            spec_fail(err, path, "must be one of %s", types);
            return NULL;
        }
        type = v->valuestring;
    }

    spec_path_key(path, sizeof(path), base, "options");
    options = spec_get(decl, "options");
    if (strcmp(type, "choice") == 0) {
        const char **names;
        size_t n = 0, first = 0;
        long dup;
        int i = 0;

        if (options == NULL) {
            spec_fail(err, path, "is required for a choice");
            return NULL;
        }
        if (!cJSON_IsArray(options) || cJSON_GetArraySize(options) == 0) {
            spec_fail(err, path, "must be a non-empty array of strings");
            return NULL;
        }
        names = xmalloc((size_t)cJSON_GetArraySize(options) * sizeof(*names));
        cJSON_ArrayForEach(it, options)
        {
            if (!cJSON_IsString(it)) {
                spec_path_index(item, sizeof(item), path, i);
                spec_fail(err, item, "must be a string");
                free(names);
                return NULL;
            }
            names[n++] = it->valuestring;
            i++;
        }
        dup = spec_find_dup(names, n, &first);
        free(names);
        if (dup >= 0) {
            spec_path_index(item, sizeof(item), path, (int)dup);
            spec_fail(err, item, "is listed twice");
            return NULL;
        }
    } else if (options != NULL) {
        spec_fail(err, path, "is only allowed for a choice");
        return NULL;
    }

    v = spec_get(decl, "required");
    if (v != NULL) {
        if (!cJSON_IsBool(v)) {
            spec_path_key(path, sizeof(path), base, "required");
            spec_fail(err, path, "must be true or false");
            return NULL;
        }
        required = cJSON_IsTrue(v);
    }

    desc = spec_get(decl, "description");
    if (desc != NULL && !cJSON_IsString(desc)) {
        spec_path_key(path, sizeof(path), base, "description");
        spec_fail(err, path, "must be a string");
        return NULL;
    }

    def = spec_get(decl, "default");
    if (def != NULL) {
        const char *s = spec_scalar_string(def, tmp, sizeof(tmp));

        spec_path_key(path, sizeof(path), base, "default");
        if (s == NULL) {
            spec_fail(err, path, "must be a string, number or boolean");
            return NULL;
        }
        if (!spec_value_fits(type, options, s, msg, sizeof(msg))) {
            spec_fail(err, path, "%s", msg);
            return NULL;
        }
    }

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "type", type);
    if (options != NULL)
        cJSON_AddItemToObject(out, "options", cJSON_Duplicate(options, true));
    if (def != NULL)
        cJSON_AddItemToObject(out, "default", cJSON_Duplicate(def, true));
    cJSON_AddBoolToObject(out, "required", required);
    if (desc != NULL)
        cJSON_AddStringToObject(out, "description", desc->valuestring);
    return out;
}

static cJSON *
spec_validate_inputs(const cJSON *inputs, spec_error_t *err)
{
    const cJSON *it;
    cJSON *out;

    if (inputs != NULL && !cJSON_IsObject(inputs)) {
        spec_fail(err, "inputs", "must be an object");
        return NULL;
    }
    if (cJSON_GetArraySize(inputs) > SPEC_MAX_INPUTS) {
        spec_fail(err, "inputs",
                  "has more than %d inputs (a template may declare at most %d inputs)",
                  SPEC_MAX_INPUTS, SPEC_MAX_INPUTS);
        return NULL;
    }
    if (inputs != NULL && spec_check_keys(inputs, "inputs", NULL, "key", err) < 0)
        return NULL;
    out = cJSON_CreateObject();
    cJSON_ArrayForEach(it, inputs)
    {
        /* A bare `NAME:` in YAML (null) declares a plain string input. */
        cJSON *decl = spec_validate_input(cJSON_IsNull(it) ? NULL : it, it->string, err);

        if (decl == NULL) {
            cJSON_Delete(out);
            return NULL;
        }
        cJSON_AddItemToObject(out, it->string, decl);
    }
    return out;
}

static cJSON *
spec_validate_job(const cJSON *job, const char *base, const cJSON *inputs, spec_error_t *err)
{
    char path[160], line[160];
    const cJSON *name, *image, *script, *env, *timeout, *allow, *it;
    cJSON *out = NULL;
    int i = 0;

    if (!cJSON_IsObject(job)) {
        spec_fail(err, base, "must be an object");
        return NULL;
    }
    if (spec_check_keys(job, base, spec_job_keys, "key", err) < 0)
        return NULL;

    spec_path_key(path, sizeof(path), base, "name");
    name = spec_get(job, "name");
    if (name == NULL) {
        spec_fail(err, path, "is required");
        return NULL;
    }
    if (!cJSON_IsString(name) || !gw_name_valid(name->valuestring)) {
        spec_fail(err, path,
                  "must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or "
                  "digit");
        return NULL;
    }

    spec_path_key(path, sizeof(path), base, "image");
    image = spec_get(job, "image");
    if (image != NULL) {
        if (!cJSON_IsString(image) || image->valuestring[0] == '\0') {
            spec_fail(err, path, "must be a non-empty string or null");
            return NULL;
        }
        if (spec_expand_text(image->valuestring, path, inputs, NULL, NULL, NULL, NULL, NULL,
                             err) < 0)
            return NULL;
    }

    spec_path_key(path, sizeof(path), base, "script");
    script = spec_get(job, "script");
    if (script == NULL) {
        spec_fail(err, path, "is required");
        return NULL;
    }
    if (!cJSON_IsArray(script) || cJSON_GetArraySize(script) == 0) {
        spec_fail(err, path, "must be a non-empty array of strings");
        return NULL;
    }
    cJSON_ArrayForEach(it, script)
    {
        spec_path_index(line, sizeof(line), path, i++);
        if (!cJSON_IsString(it)) {
            spec_fail(err, line, "must be a string");
            return NULL;
        }
        if (spec_expand_text(it->valuestring, line, inputs, NULL, NULL, NULL, NULL, NULL,
                             err) < 0)
            return NULL;
    }

    spec_path_key(path, sizeof(path), base, "env");
    env = spec_get(job, "env");
    if (env != NULL) {
        if (!cJSON_IsObject(env)) {
            spec_fail(err, path, "must be an object");
            return NULL;
        }
        if (cJSON_GetArraySize(env) > SPEC_MAX_ENV) {
            spec_fail(err, path, "has more than %d entries (a job may set at most %d variables)",
                      SPEC_MAX_ENV, SPEC_MAX_ENV);
            return NULL;
        }
        if (spec_check_keys(env, path, NULL, "key", err) < 0)
            return NULL;
        cJSON_ArrayForEach(it, env)
        {
            spec_path_key(line, sizeof(line), path, it->string);
            if (!spec_ident_valid(it->string, strlen(it->string))) {
                spec_fail(err, line,
                          "is not a valid variable name (letters, digits and '_', not starting "
                          "with a digit)");
                return NULL;
            }
            if (spec_env_reserved(it->string)) {
                spec_fail(err, line,
                          "is reserved: names starting with " SPEC_INPUT_PREFIX
                          " or " SPEC_EXPR_PREFIX " hold the values of expressions");
                return NULL;
            }
            if (!cJSON_IsString(it)) {
                spec_fail(err, line, "must be a string");
                return NULL;
            }
            if (spec_expand_text(it->valuestring, line, inputs, NULL, NULL, NULL, NULL, NULL,
                                 err) < 0)
                return NULL;
        }
    }

    timeout = spec_get(job, "timeout");
    if (timeout != NULL) {
        double d = cJSON_IsNumber(timeout) ? timeout->valuedouble : 0;

        /* The range test comes first so that the cast cannot overflow. */
        if (!cJSON_IsNumber(timeout) || d < 1 || d > SPEC_TIMEOUT_MAX || d != (double)(long)d) {
            spec_path_key(path, sizeof(path), base, "timeout");
            spec_fail(err, path, "must be an integer between 1 and %d", SPEC_TIMEOUT_MAX);
            return NULL;
        }
    }

    allow = spec_get(job, "allow_failure");
    if (allow != NULL && !cJSON_IsBool(allow)) {
        spec_path_key(path, sizeof(path), base, "allow_failure");
        spec_fail(err, path, "must be true or false");
        return NULL;
    }

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "name", name->valuestring);
    if (image != NULL)
        cJSON_AddStringToObject(out, "image", image->valuestring);
    else
        cJSON_AddNullToObject(out, "image");
    cJSON_AddItemToObject(out, "script", cJSON_Duplicate(script, true));
    cJSON_AddItemToObject(out, "env",
                          env != NULL ? cJSON_Duplicate(env, true) : cJSON_CreateObject());
    if (timeout != NULL)
        cJSON_AddNumberToObject(out, "timeout", timeout->valuedouble);
    else
        cJSON_AddNullToObject(out, "timeout");
    cJSON_AddBoolToObject(out, "allow_failure", allow != NULL && cJSON_IsTrue(allow));
    return out;
}

static cJSON *
spec_validate_jobs(const cJSON *jobs, const cJSON *inputs, spec_error_t *err)
{
    char path[160], other[160];
    const cJSON *it;
    const char **names;
    size_t n = 0, first = 0;
    long dup;
    cJSON *out;

    if (!cJSON_IsArray(jobs) || cJSON_GetArraySize(jobs) == 0) {
        spec_fail(err, "jobs", "must be a non-empty array");
        return NULL;
    }
    if (cJSON_GetArraySize(jobs) > SPEC_MAX_JOBS) {
        spec_fail(err, "jobs", "has more than %d jobs (a template may have at most %d jobs)",
                  SPEC_MAX_JOBS, SPEC_MAX_JOBS);
        return NULL;
    }
    out = cJSON_CreateArray();
    cJSON_ArrayForEach(it, jobs)
    {
        cJSON *job;

        spec_path_index(path, sizeof(path), "jobs", (int)n++);
        job = spec_validate_job(it, path, inputs, err);
        if (job == NULL) {
            cJSON_Delete(out);
            return NULL;
        }
        cJSON_AddItemToArray(out, job);
    }

    names = xmalloc(n * sizeof(*names));
    n = 0;
    cJSON_ArrayForEach(it, out)
    {
        names[n++] = cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring;
    }
    dup = spec_find_dup(names, n, &first);
    free(names);
    if (dup >= 0) {
        snprintf(path, sizeof(path), "jobs[%ld].name", dup);
        snprintf(other, sizeof(other), "jobs[%zu]", first);
        spec_fail(err, path, "repeats the name of %s", other);
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

/* Validate a template and return its normalised copy (caller frees with
 * cJSON_Delete), or NULL with *err naming the first offending field. Unknown
 * keys are reported before missing ones, so a typo is named as such. */
cJSON *
spec_validate(const cJSON *doc, spec_error_t *err)
{
    const cJSON *kind, *clean;
    cJSON *on = NULL, *inputs = NULL, *jobs = NULL, *out;
    char kinds[64];

    if (!cJSON_IsObject(doc)) {
        spec_fail(err, "", "the template must be an object");
        return NULL;
    }
    /* The caps first: every later check may then take its time. */
    if (spec_check_shape(doc, "", 0, err) < 0)
        return NULL;
    /* Unknown keys first: a misspelt "jbos" is better reported as such
     * than as a missing "jobs". */
    if (spec_check_keys(doc, "", spec_top_keys, "key", err) < 0)
        return NULL;

    kind = spec_get(doc, "kind");
    if (kind == NULL) {
        spec_fail(err, "kind", "is required");
        return NULL;
    }
    if (!cJSON_IsString(kind) || !spec_in_list(kind->valuestring, spec_kinds)) {
        spec_list_quoted(kinds, sizeof(kinds), spec_kinds);
        spec_fail(err, "kind", "must be one of %s", kinds);
        return NULL;
    }

    on = spec_validate_on(spec_get(doc, "on"), err);
    if (on == NULL)
        goto fail;

    clean = spec_get(doc, "clean");
    if (clean != NULL && !cJSON_IsBool(clean)) {
        spec_fail(err, "clean", "must be true or false");
        goto fail;
    }

    inputs = spec_validate_inputs(spec_get(doc, "inputs"), err);
    if (inputs == NULL)
        goto fail;

    jobs = spec_validate_jobs(spec_get(doc, "jobs"), inputs, err);
    if (jobs == NULL)
        goto fail;

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "kind", kind->valuestring);
    cJSON_AddItemToObject(out, "on", on);
    cJSON_AddBoolToObject(out, "clean", clean != NULL && cJSON_IsTrue(clean));
    cJSON_AddItemToObject(out, "inputs", inputs);
    cJSON_AddItemToObject(out, "jobs", jobs);
    return out;

fail:
    cJSON_Delete(on);
    cJSON_Delete(inputs);
    cJSON_Delete(jobs);
    return NULL;
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
    if (trigger != NULL && spec_check_keys(trigger, "inputs", NULL, "key", err) < 0)
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
            spec_fail(err, path, "must be a string, number or boolean%s", source);
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

/* The jobs of one run with every expression replaced, in a single pass
 * (caller frees), or NULL with *err. Script lines refer to variables that
 * are added to the job's env after its own entries. */
cJSON *
spec_expand(const cJSON *tmpl, const cJSON *inputs, const spec_context_t *ctx, spec_error_t *err)
{
    const cJSON *declared = spec_get(tmpl, "inputs");
    const cJSON *job;
    cJSON *out = cJSON_CreateArray();
    char base[160], path[160], line[160];
    int j = 0;

    cJSON_ArrayForEach(job, spec_get(tmpl, "jobs"))
    {
        const cJSON *name = spec_get(job, "name");
        const cJSON *image = spec_get(job, "image");
        const cJSON *timeout = spec_get(job, "timeout");
        const cJSON *it;
        cJSON *o = cJSON_CreateObject(), *v, *script, *env;
        cJSON *defer, *defer_env;
        int i = 0;

        cJSON_AddItemToArray(out, o);
        /* What waits for the commit; dropped below when nothing does. */
        defer = cJSON_AddObjectToObject(o, "deferred");
        defer_env = cJSON_AddObjectToObject(defer, "env");
        spec_path_index(base, sizeof(base), "jobs", j++);
        cJSON_AddStringToObject(o, "name", cJSON_IsString(name) ? name->valuestring : "");

        if (cJSON_IsString(image)) {
            spec_path_key(path, sizeof(path), base, "image");
            v = spec_expand_string(image->valuestring, path, declared, inputs, ctx, NULL, defer,
                                   "image", err);
            if (v == NULL)
                goto fail;
            cJSON_AddItemToObject(o, "image", v);
        } else {
            cJSON_AddNullToObject(o, "image");
        }
        script = cJSON_AddArrayToObject(o, "script");

        /* The job's own env first; the variables its script lines refer
         * to are added after it (their names cannot clash). */
        spec_path_key(path, sizeof(path), base, "env");
        env = cJSON_AddObjectToObject(o, "env");
        cJSON_ArrayForEach(it, spec_get(job, "env"))
        {
            spec_path_key(line, sizeof(line), path, it->string);
            if (!cJSON_IsString(it)) {
                spec_fail(err, line, "must be a string");
                goto fail;
            }
            if (spec_env_reserved(it->string)) {
                spec_fail(err, line, "is reserved for the values of expressions");
                goto fail;
            }
            v = spec_expand_string(it->valuestring, line, declared, inputs, ctx, NULL, defer_env,
                                   it->string, err);
            if (v == NULL)
                goto fail;
            cJSON_AddItemToObject(env, it->string, v);
        }

        spec_path_key(path, sizeof(path), base, "script");
        cJSON_ArrayForEach(it, spec_get(job, "script"))
        {
            spec_path_index(line, sizeof(line), path, i++);
            if (!cJSON_IsString(it)) {
                spec_fail(err, line, "must be a string");
                goto fail;
            }
            v = spec_expand_string(it->valuestring, line, declared, inputs, ctx, env, NULL, NULL,
                                   err);
            if (v == NULL)
                goto fail;
            cJSON_AddItemToArray(script, v);
        }
        /* Script lines read the commit from a variable: it is the variable
         * that waits. */
        if (ctx != NULL && ctx->commit_sha == NULL &&
            cJSON_GetObjectItemCaseSensitive(env, SPEC_EXPR_PREFIX "COMMIT_SHA") != NULL) {
            cJSON *segs = cJSON_AddArrayToObject(defer_env, SPEC_EXPR_PREFIX "COMMIT_SHA");
            cJSON_AddItemToArray(segs, cJSON_CreateString(""));
            cJSON_AddItemToArray(segs, cJSON_CreateString("commit.sha"));
            cJSON_AddItemToArray(segs, cJSON_CreateString(""));
        }
        if (cJSON_GetArraySize(defer_env) == 0)
            cJSON_DeleteItemFromObjectCaseSensitive(defer, "env");

        if (cJSON_IsNumber(timeout))
            cJSON_AddNumberToObject(o, "timeout", timeout->valuedouble);
        else
            cJSON_AddNullToObject(o, "timeout");
        cJSON_AddBoolToObject(o, "allow_failure",
                              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(job, "allow_failure")));
        defer = cJSON_DetachItemFromObjectCaseSensitive(o, "deferred");
        if (cJSON_GetArraySize(defer) > 0)
            cJSON_AddItemToObject(o, "deferred", defer); /* last, after what it amends */
        else
            cJSON_Delete(defer);
    }
    return out;

fail:
    cJSON_Delete(out);
    return NULL;
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
