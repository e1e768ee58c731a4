/*
 * spec_expand - a validated template for one run: the input values of the
 * run (spec_resolve_inputs), `${{ ... }}` expressions replaced by their
 * values or, in script lines, by quoted references to variables that hold
 * them (spec_expand), and a commit that is not known yet left as deferred
 * segments for the runner (spec_deferred_join). Validation checks the
 * expressions here too (spec_check_expressions).
 */
#include "spec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "util.h"

/* How much of a user's expression an error message quotes. */
#define SPEC_QUOTE_MAX 64

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

/* The expression that starts at open ("${{"): its text without the spaces
 * around it in *s, *n. Returns where it closes ("}}"), or NULL when it
 * does not. */
static const char *
spec_expr_at(const char *open, const char **s, size_t *n)
{
    const char *p = open + 3;
    const char *close = strstr(p, "}}");

    if (close == NULL)
        return NULL;
    while (p < close && (*p == ' ' || *p == '\t'))
        p++;
    *n = (size_t)(close - p);
    while (*n > 0 && (p[*n - 1] == ' ' || p[*n - 1] == '\t'))
        (*n)--;
    *s = p;
    return close;
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
        close = spec_expr_at(open, &s, &n);
        if (close == NULL) {
            spec_fail(err, field, "has an unterminated \"${{\"");
            return -1;
        }

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
        } else if (n > 8 && memcmp(s, "secrets.", 8) == 0) {
            spec_fail(err, field,
                      "names secret \"%.*s\" where none may be: a secret is only ever the whole "
                      "of an env value, \"${{ secrets.NAME }}\" (NAME of A-Z, 0-9 and '_'), "
                      "never in a script line or an image",
                      (int)utf8_cut(s + 8, n - 8 < SPEC_QUOTE_MAX ? n - 8 : SPEC_QUOTE_MAX), s + 8);
            return -1;
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

int
spec_check_expressions(const char *text, const char *field, const cJSON *declared,
                       spec_error_t *err)
{
    return spec_expand_text(text, field, declared, NULL, NULL, NULL, NULL, NULL, err);
}

/* What a concurrency group may not use: each run has its own id, and the
 * commit of a run is known only once its checkout has run. */
static const char *const spec_group_refused[] = {"run.id", "commit.sha", NULL};

int
spec_group_check(const char *text, const char *field, const cJSON *declared, spec_error_t *err)
{
    const char *open, *s;
    size_t n;

    if (spec_check_expressions(text, field, declared, err) < 0)
        return -1;
    for (open = strstr(text, "${{"); open != NULL; open = strstr(open + 3, "${{")) {
        if (spec_expr_at(open, &s, &n) == NULL)
            break;
        for (size_t i = 0; spec_group_refused[i] != NULL; i++) {
            if (spec_token_is(s, n, spec_group_refused[i])) {
                spec_fail(err, field,
                          "uses \"%s\", which a concurrency group cannot: the group is known "
                          "when a run is queued (inputs, repo.name and ref are)",
                          spec_group_refused[i]);
                return -1;
            }
        }
    }
    return 0;
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
    cJSON *env;       /* its env, then the variables its script lines refer to */
    cJSON *defer;     /* what waits for the commit: {"image"?, "env": {..}} */
    cJSON *defer_env; /* defer's env */
} spec_expansion_t;

/* Expand one string of a job into its place (spec_string_fn). A template
 * that was not validated may hold what validation refuses: a value that is
 * not a string, a reserved env name; names are not checked otherwise. */
static int
spec_expand_one(const cJSON *item, const char *path, spec_slot_t slot, void *arg, spec_error_t *err)
{
    spec_expansion_t *x = arg;
    /* Script lines refer to variables; the image and env values wait for
     * a deferred commit themselves. */
    cJSON *defer = slot == SPEC_SLOT_IMAGE ? x->defer : slot == SPEC_SLOT_ENV ? x->defer_env : NULL;
    cJSON *v;
    char secret[SPEC_SECRET_NAME_MAX + 1];

    if (spec_check_type(SPEC_STRING, NULL, item, path, err) < 0)
        return -1;
    if (slot == SPEC_SLOT_ENV && spec_env_reserved(item->string)) {
        spec_fail(err, path, "is reserved for the values of expressions");
        return -1;
    }
    if (slot == SPEC_SLOT_ENV && spec_secret_ref(item->valuestring, secret, sizeof(secret))) {
        /* The runner fills it in at the job's start; the value as written
         * stays, never the secret. */
        cJSON *names = cJSON_GetObjectItemCaseSensitive(x->job, "secrets");
        if (names == NULL)
            names = cJSON_AddObjectToObject(x->job, "secrets");
        cJSON_AddStringToObject(names, item->string, secret);
        cJSON_AddStringToObject(x->env, item->string, item->valuestring);
        return 0;
    }
    v = spec_expand_string(item->valuestring, path, x->declared, x->inputs, x->ctx,
                           slot == SPEC_SLOT_SCRIPT ? x->env : NULL, defer,
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

/* The fields of a job with expressions, in the order they are expanded:
 * the env before the script lines, whose variables are added to it after
 * its own entries (their names cannot clash: the reserved ones are
 * refused). */
static const struct {
    const char *key;
    spec_slot_t slot;
} spec_expand_fields[] = {
    {"image", SPEC_SLOT_IMAGE},
    {"env", SPEC_SLOT_ENV},
    {"script", SPEC_SLOT_SCRIPT},
};

/* Expand the strings of job (at base) into x->job. */
static int
spec_expand_job(const cJSON *job, const char *base, spec_expansion_t *x, spec_error_t *err)
{
    char field[160];

    for (size_t f = 0; f < GW_ARRAY_LEN(spec_expand_fields); f++) {
        spec_path_key(field, sizeof(field), base, spec_expand_fields[f].key);
        if (spec_field_strings(spec_get(job, spec_expand_fields[f].key), field,
                               spec_expand_fields[f].slot, spec_expand_one, x, err) < 0)
            return -1;
    }
    return 0;
}

/* The jobs of one run with every expression replaced, in a single pass
 * (caller frees), or NULL with *err. */
cJSON *
spec_expand(const cJSON *tmpl, const cJSON *inputs, const spec_context_t *ctx, spec_error_t *err)
{
    spec_expansion_t x = {spec_get(tmpl, "inputs"), inputs, ctx, NULL, NULL, NULL, NULL, NULL};
    const cJSON *job;
    cJSON *out;
    char base[160];
    int j = 0;

    /* Expressions look inputs up by name (a template that was not
     * validated may declare them in a list). */
    if (x.declared != NULL && !cJSON_IsNull(x.declared) && !cJSON_IsObject(x.declared)) {
        spec_check_type(SPEC_OBJECT, NULL, x.declared, "inputs", err);
        return NULL;
    }
    out = cJSON_CreateArray();

    cJSON_ArrayForEach(job, spec_get(tmpl, "jobs"))
    {
        const cJSON *name = spec_get(job, "name");
        const cJSON *timeout = spec_get(job, "timeout");
        const cJSON *retry;

        x.job = cJSON_CreateObject();
        cJSON_AddItemToArray(out, x.job);
        cJSON_AddStringToObject(x.job, "name", cJSON_IsString(name) ? name->valuestring : "");
        cJSON_AddNullToObject(x.job, "image");
        x.script = cJSON_AddArrayToObject(x.job, "script");
        x.env = cJSON_AddObjectToObject(x.job, "env");
        /* What waits for the commit; dropped below when nothing does. */
        x.defer = cJSON_AddObjectToObject(x.job, "deferred");
        x.defer_env = cJSON_AddObjectToObject(x.defer, "env");
        spec_path_index(base, sizeof(base), "jobs", j++);
        if (spec_expand_job(job, base, &x, err) < 0) {
            cJSON_Delete(out);
            return NULL;
        }
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
        retry = spec_get(job, "retry");
        if (!cJSON_IsObject(retry))
            retry = spec_get(tmpl, "retry");
        if (cJSON_IsObject(retry))
            cJSON_AddItemToObject(x.job, "retry", cJSON_Duplicate(retry, true));
        x.defer = cJSON_DetachItemFromObjectCaseSensitive(x.job, "deferred");
        if (cJSON_GetArraySize(x.defer) > 0)
            cJSON_AddItemToObject(x.job, "deferred", x.defer); /* last, after what it amends */
        else
            cJSON_Delete(x.defer);
    }
    return out;
}

int
spec_expand_group(const cJSON *tmpl, const cJSON *inputs, const spec_context_t *ctx, char **group,
                  bool *cancel, spec_error_t *err)
{
    const cJSON *conc = spec_get(tmpl, "concurrency");
    const cJSON *text = spec_get(conc, "group");
    cJSON *v;

    *group = NULL;
    *cancel = false;
    if (conc == NULL)
        return 0;
    if (!cJSON_IsString(text)) {
        spec_fail(err, "concurrency.group", "must be a non-empty string");
        return -1;
    }
    if (spec_group_check(text->valuestring, "concurrency.group", spec_get(tmpl, "inputs"), err) < 0)
        return -1;
    v = spec_expand_string(text->valuestring, "concurrency.group", spec_get(tmpl, "inputs"), inputs,
                           ctx, NULL, NULL, NULL, err);
    if (v == NULL)
        return -1;
    *group = xstrdup(v->valuestring);
    *cancel = cJSON_IsTrue(spec_get(conc, "cancel_in_progress"));
    cJSON_Delete(v);
    return 0;
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
