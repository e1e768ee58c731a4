/*
 * spec_yaml - YAML text to the equivalent JSON value, with libyaml's event
 * parser, so that a template may be written in YAML (spec_from_yaml in
 * spec.h). Plain scalars follow the YAML 1.2 core schema (so `on` and `yes`
 * stay strings); quoted and block scalars are always strings. Anchors,
 * aliases, multiple documents and duplicate keys are refused: a template
 * is a plain tree, and a repeated key is almost always a mistake.
 */
#include "spec_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util.h"

/* Integers from 2^53 on may silently lose digits as a JSON number. */
#define SPEC_YAML_MAX_INT 9007199254740991.0

#define SPEC_YAML_TAG_STR "tag:yaml.org,2002:str"
#define SPEC_YAML_TAG_MAP "tag:yaml.org,2002:map"
#define SPEC_YAML_TAG_SEQ "tag:yaml.org,2002:seq"

/* The keys of one mapping, for finding a repeated key in constant time:
 * open addressing, at most half full. */
typedef struct {
    char **slot; /* owned copies of the keys */
    size_t cap;  /* a power of two, or 0 */
    size_t n;
} spec_yaml_keys_t;

typedef struct {
    cJSON *node;           /* the object or array being filled (owned by the tree) */
    char *key;             /* object: the key waiting for its value, else NULL */
    size_t count;          /* keys or items so far */
    spec_yaml_keys_t keys; /* object: the keys so far */
} spec_yaml_frame_t;

typedef struct {
    yaml_parser_t parser;
    spec_yaml_frame_t *stack;
    size_t depth;
    cJSON *root;
    int documents;
    spec_error_t *err;
    /* Raw NUL bytes of the text, as libyaml marks count (characters),
     * ascending; the parser read them as 'x'. */
    size_t *nuls;
    size_t nnuls;
} spec_yaml_t;

static uint64_t
spec_yaml_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Insert a copy of key; false (and nothing inserted) if it is there. */
static bool
spec_yaml_keys_add(spec_yaml_keys_t *k, const char *key)
{
    size_t i;

    if (2 * (k->n + 1) > k->cap) {
        spec_yaml_keys_t g = {xcalloc(k->cap ? 2 * k->cap : 16, sizeof(char *)),
                              k->cap ? 2 * k->cap : 16, k->n};

        for (size_t j = 0; j < k->cap; j++) {
            if (k->slot[j] == NULL)
                continue;
            for (i = spec_yaml_hash(k->slot[j]) & (g.cap - 1); g.slot[i] != NULL;
                 i = (i + 1) & (g.cap - 1))
                ;
            g.slot[i] = k->slot[j];
        }
        free(k->slot);
        *k = g;
    }
    for (i = spec_yaml_hash(key) & (k->cap - 1); k->slot[i] != NULL; i = (i + 1) & (k->cap - 1))
        if (strcmp(k->slot[i], key) == 0)
            return false;
    k->slot[i] = xstrdup(key);
    k->n++;
    return true;
}

static void
spec_yaml_keys_free(spec_yaml_keys_t *k)
{
    for (size_t i = 0; i < k->cap; i++)
        free(k->slot[i]);
    free(k->slot);
    memset(k, 0, sizeof(*k));
}

/* The path of the value being parsed ("jobs[1].script"), with `leaf` as the
 * last key when it is a key being read. */
static void
spec_yaml_path(const spec_yaml_t *st, const char *leaf, char *out, size_t n)
{
    buf_t b;

    buf_init(&b);
    for (size_t i = 0; i < st->depth; i++) {
        const spec_yaml_frame_t *f = &st->stack[i];
        bool top = i + 1 == st->depth;
        int size = cJSON_GetArraySize(f->node);
        const char *key;

        if (cJSON_IsArray(f->node)) {
            buf_printf(&b, "[%d]", top ? size : size - 1);
            continue;
        }
        if (top)
            key = leaf ? leaf : f->key;
        else
            key = cJSON_GetArrayItem(f->node, size - 1)->string;
        if (key == NULL)
            break;
        buf_printf(&b, "%s%s", b.len ? "." : "", key);
    }
    snprintf(out, n, "%s", b.data ? b.data : "");
    buf_free(&b);
}

static void spec_yaml_fail(spec_yaml_t *st, const yaml_mark_t *mark, const char *leaf,
                           const char *fmt, ...) GW_PRINTF(4, 5);

/* Fill *err at mark (NULL: no position), naming the current path. */
static void
spec_yaml_fail(spec_yaml_t *st, const yaml_mark_t *mark, const char *leaf, const char *fmt, ...)
{
    char path[sizeof(st->err->field)];
    va_list ap;

    if (st->err == NULL)
        return;
    spec_yaml_path(st, leaf, path, sizeof(path));
    va_start(ap, fmt);
    spec_vfail(st->err, path, fmt, ap);
    va_end(ap);
    st->err->line = mark ? (int)mark->line + 1 : 0;
    st->err->column = mark ? (int)mark->column + 1 : 0;
}

/* The mark of byte end of text: each byte a column, or (utf8) each
 * character as libyaml counts them. */
static void
spec_yaml_mark_at(yaml_mark_t *mark, const char *text, size_t end, bool utf8)
{
    memset(mark, 0, sizeof(*mark));
    for (size_t i = 0; i < end; i++) {
        if (text[i] == '\n') {
            mark->line++;
            mark->column = 0;
        } else if (!utf8 || ((unsigned char)text[i] & 0xC0) != 0x80) {
            mark->column++;
        }
    }
}

/* Report the error libyaml stopped on. The field stays empty: where the
 * parser gave up often lies outside the value that is wrong (a bad indent
 * reads as the start of the next item), and line and column say it all. */
static void
spec_yaml_parser_fail(spec_yaml_t *st, const char *text, size_t len)
{
    yaml_parser_t *p = &st->parser;
    const char *problem = p->problem ? p->problem : "unknown error";
    yaml_mark_t mark;

    if (p->error == YAML_MEMORY_ERROR) {
        spec_yaml_fail(st, NULL, NULL, "out of memory parsing YAML");
    } else if (p->error == YAML_READER_ERROR) {
        /* The reader only knows a byte offset: count lines up to it. */
        spec_yaml_mark_at(&mark, text, p->problem_offset < len ? p->problem_offset : len, false);
        spec_yaml_fail(st, &mark, NULL, "invalid YAML: %s", problem);
    } else if (p->context != NULL) {
        spec_yaml_fail(st, &p->problem_mark, NULL,
                       "invalid YAML: %s (%s that starts at line %d, column %d)", problem,
                       p->context, (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    } else {
        spec_yaml_fail(st, &p->problem_mark, NULL, "invalid YAML: %s", problem);
    }
    if (st->err != NULL)
        st->err->field[0] = '\0';
}

static bool
spec_yaml_is(const char *s, size_t n, const char *const *words)
{
    for (size_t i = 0; words[i] != NULL; i++)
        if (strlen(words[i]) == n && memcmp(s, words[i], n) == 0)
            return true;
    return false;
}

static bool
spec_yaml_digits(const char *s, size_t n, const char *set)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || strchr(set, s[i]) == NULL)
            return false;
    return true;
}

/* The JSON value of a scalar event, or NULL with *err filled. */
static cJSON *
spec_yaml_scalar(spec_yaml_t *st, const yaml_event_t *ev)
{
    static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    static const char *const infs[] = {".inf",  ".Inf",  ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
                                       "-.Inf", "-.INF", ".nan", ".NaN",  ".NAN",  NULL};
    const char *s = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    size_t n = ev->data.scalar.length;
    const yaml_mark_t *mark = &ev->start_mark;
    char *text;
    cJSON *v;
    double d;

    if (tag != NULL && strcmp(tag, "!") != 0 && strcmp(tag, SPEC_YAML_TAG_STR) != 0) {
        spec_yaml_fail(st, mark, NULL, "the tag %s is not supported (only !!str)", tag);
        return NULL;
    }
    if (tag != NULL || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return cJSON_CreateString(s);

    if (n == 0 || spec_yaml_is(s, n, nulls))
        return cJSON_CreateNull();
    if (spec_yaml_is(s, n, trues))
        return cJSON_CreateTrue();
    if (spec_yaml_is(s, n, falses))
        return cJSON_CreateFalse();
    if (spec_yaml_is(s, n, infs)) {
        spec_yaml_fail(st, mark, NULL, "infinite and NaN numbers are not supported in JSON");
        return NULL;
    }

    text = xstrndup(s, n);
    v = NULL;
    errno = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o') &&
        spec_yaml_digits(s + 2, n - 2, s[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567")) {
        unsigned long long u = strtoull(text + 2, NULL, s[1] == 'x' ? 16 : 8);

        if (errno == ERANGE || u > (unsigned long long)SPEC_YAML_MAX_INT)
            spec_yaml_fail(st, mark, NULL, "the integer %s is too large", text);
        else
            v = cJSON_CreateNumber((double)u);
    } else if (spec_number_syntax(text)) {
        bool integer = spec_yaml_digits(s + (s[0] == '-' || s[0] == '+'),
                                        n - (s[0] == '-' || s[0] == '+'), "0123456789");

        d = strtod(text, NULL);
        if (!isfinite(d))
            spec_yaml_fail(st, mark, NULL, "the number %s is out of range", text);
        /* 2^53 + 1 reads as 2^53, so 2^53 itself must already fail. */
        else if (integer && (d > SPEC_YAML_MAX_INT || d < -SPEC_YAML_MAX_INT))
            spec_yaml_fail(st, mark, NULL, "the integer %s is too large (quote it for a string)",
                           text);
        else
            v = cJSON_CreateNumber(d);
    } else {
        v = cJSON_CreateString(text);
    }
    free(text);
    return v;
}

/* Whether a scalar holds a NUL character: escaped ("\0") in its value, or
 * a raw NUL byte of the text within its marks. */
static bool
spec_yaml_has_nul(const spec_yaml_t *st, const yaml_event_t *ev)
{
    size_t lo = 0, hi = st->nnuls;

    if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length) != NULL)
        return true;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (st->nuls[mid] < ev->start_mark.index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < st->nnuls && st->nuls[lo] < ev->end_mark.index;
}

/* Refuse a value that would put the list it goes in past the cap. */
static int
spec_yaml_check_items(spec_yaml_t *st, const yaml_event_t *ev)
{
    const spec_yaml_frame_t *f = st->depth ? &st->stack[st->depth - 1] : NULL;

    if (f == NULL || !cJSON_IsArray(f->node) || f->count < SPEC_MAX_ITEMS)
        return 0;
    spec_yaml_fail(st, &ev->start_mark, NULL,
                   "is one item too many: at most %d items are allowed in one list",
                   SPEC_MAX_ITEMS);
    return -1;
}

/* Refuse a scalar (a key when key is non-NULL) that holds a NUL or is too
 * long, and a value that would put its list past the cap. */
static int
spec_yaml_check_scalar(spec_yaml_t *st, const yaml_event_t *ev, const char *key)
{
    if (spec_yaml_has_nul(st, ev)) {
        /* A key is named by its mapping: the key itself is not readable. */
        spec_yaml_fail(st, &ev->start_mark, NULL, "%s a NUL character, which is not allowed",
                       key ? "a key contains" : "contains");
        return -1;
    }
    if (ev->data.scalar.length > SPEC_MAX_STRING) {
        spec_yaml_fail(st, &ev->start_mark, key, "is longer than %d bytes", SPEC_MAX_STRING);
        return -1;
    }
    return key == NULL ? spec_yaml_check_items(st, ev) : 0;
}

/* Place a new value in the current container (or as the root); the tree
 * owns it from here on. */
static void
spec_yaml_place(spec_yaml_t *st, cJSON *v)
{
    spec_yaml_frame_t *f;

    if (st->depth == 0) {
        st->root = v;
        return;
    }
    f = &st->stack[st->depth - 1];
    if (cJSON_IsArray(f->node)) {
        cJSON_AddItemToArray(f->node, v);
        f->count++;
        return;
    }
    cJSON_AddItemToObject(f->node, f->key, v);
    free(f->key);
    f->key = NULL;
}

static bool
spec_yaml_at_key(const spec_yaml_t *st)
{
    const spec_yaml_frame_t *f;

    if (st->depth == 0)
        return false;
    f = &st->stack[st->depth - 1];
    return cJSON_IsObject(f->node) && f->key == NULL;
}

static int
spec_yaml_start(spec_yaml_t *st, const yaml_event_t *ev, bool mapping)
{
    const char *anchor =
        (const char *)(mapping ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor);
    const char *tag =
        (const char *)(mapping ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
    cJSON *node;

    if (anchor != NULL) {
        spec_yaml_fail(st, &ev->start_mark, NULL, "anchors (&%s) are not allowed", anchor);
        return -1;
    }
    if (tag != NULL && strcmp(tag, mapping ? SPEC_YAML_TAG_MAP : SPEC_YAML_TAG_SEQ) != 0) {
        spec_yaml_fail(st, &ev->start_mark, NULL, "the tag %s is not supported", tag);
        return -1;
    }
    if (spec_yaml_at_key(st)) {
        spec_yaml_fail(st, &ev->start_mark, NULL, "a mapping key must be a scalar");
        return -1;
    }
    /* The limit keeps cJSON_Delete's recursion (and ours) bounded on
     * hostile input. */
    if (st->depth >= SPEC_MAX_DEPTH) {
        spec_yaml_fail(st, &ev->start_mark, NULL, "nesting is deeper than %d levels",
                       SPEC_MAX_DEPTH);
        return -1;
    }
    if (spec_yaml_check_items(st, ev) < 0)
        return -1;
    node = mapping ? cJSON_CreateObject() : cJSON_CreateArray();
    spec_yaml_place(st, node);
    memset(&st->stack[st->depth], 0, sizeof(st->stack[st->depth]));
    st->stack[st->depth].node = node;
    st->depth++;
    return 0;
}

static int
spec_yaml_event(spec_yaml_t *st, const yaml_event_t *ev, bool *done)
{
    spec_yaml_frame_t *f;
    cJSON *v;

    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        *done = true;
        return 0;
    case YAML_DOCUMENT_START_EVENT:
        if (++st->documents > 1) {
            spec_yaml_fail(st, &ev->start_mark, NULL, "multiple documents are not allowed");
            return -1;
        }
        return 0;
    case YAML_ALIAS_EVENT:
        spec_yaml_fail(st, &ev->start_mark, NULL, "aliases (*%s) are not allowed",
                       (const char *)ev->data.alias.anchor);
        return -1;
    case YAML_MAPPING_START_EVENT:
        return spec_yaml_start(st, ev, true);
    case YAML_SEQUENCE_START_EVENT:
        return spec_yaml_start(st, ev, false);
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        st->depth--;
        free(st->stack[st->depth].key);
        st->stack[st->depth].key = NULL;
        spec_yaml_keys_free(&st->stack[st->depth].keys);
        return 0;
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.anchor != NULL) {
            spec_yaml_fail(st, &ev->start_mark, NULL, "anchors (&%s) are not allowed",
                           (const char *)ev->data.scalar.anchor);
            return -1;
        }
        if (spec_yaml_at_key(st)) {
            const char *key = (const char *)ev->data.scalar.value;

            f = &st->stack[st->depth - 1];
            if (spec_yaml_check_scalar(st, ev, key) < 0)
                return -1;
            if (f->count >= SPEC_MAX_KEYS) {
                spec_yaml_fail(st, &ev->start_mark, key,
                               "is one key too many: at most %d keys are allowed in one mapping",
                               SPEC_MAX_KEYS);
                return -1;
            }
            if (!spec_yaml_keys_add(&f->keys, key)) {
                spec_yaml_fail(st, &ev->start_mark, key, "duplicate key \"%s\"", key);
                return -1;
            }
            f->count++;
            f->key = xstrdup(key);
            return 0;
        }
        /* `---` with nothing after it: an empty document, not a null. */
        if (st->depth == 0 && ev->data.scalar.length == 0 && ev->data.scalar.tag == NULL &&
            ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            return 0;
        if (spec_yaml_check_scalar(st, ev, NULL) < 0)
            return -1;
        v = spec_yaml_scalar(st, ev);
        if (v == NULL)
            return -1;
        spec_yaml_place(st, v);
        return 0;
    default:
        return 0;
    }
}

/* Note where the raw NUL bytes of text are (st->nuls, in characters as
 * libyaml counts them) and return a copy with each read as 'x', so that
 * the parser gets past them and the scalar holding one can be named.
 * NULL (nothing to do) if there are none. */
static char *
spec_yaml_mask_nuls(spec_yaml_t *st, const char *text, size_t len)
{
    size_t chars = 0, cap = 0;
    char *copy;

    if (memchr(text, '\0', len) == NULL)
        return NULL;
    copy = xmalloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    /* A byte order mark is not counted by libyaml. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        chars = (size_t)-1;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0') {
            if (st->nnuls == cap)
                st->nuls = xrealloc(st->nuls, (cap = cap ? 2 * cap : 8) * sizeof(*st->nuls));
            st->nuls[st->nnuls++] = chars;
            copy[i] = 'x';
        }
        if (((unsigned char)text[i] & 0xC0) != 0x80)
            chars++;
    }
    return copy;
}

/* Refuse a text with a NUL byte that no scalar was found to hold (in a
 * comment, or where it broke the syntax), at its line and column. */
static void
spec_yaml_nul_fail(spec_yaml_t *st, const char *text)
{
    yaml_mark_t mark;

    spec_yaml_mark_at(&mark, text, strlen(text), true);
    spec_yaml_fail(st, &mark, NULL, "a NUL character is not allowed");
    if (st->err != NULL)
        st->err->field[0] = '\0';
}

/* Parse YAML text into a JSON value (caller frees with cJSON_Delete), or
 * NULL with *err: message, line and column (1-based) of the problem, and
 * the field path for refused constructs such as a duplicate key. */
cJSON *
spec_from_yaml(const char *text, size_t len, spec_error_t *err)
{
    spec_yaml_t st;
    bool done = false;
    char *masked;
    cJSON *root = NULL;

    memset(&st, 0, sizeof(st));
    st.err = err;
    if (len > SPEC_MAX_DOCUMENT) {
        spec_yaml_fail(&st, NULL, NULL, "the document is larger than %d bytes", SPEC_MAX_DOCUMENT);
        return NULL;
    }
    if (!yaml_parser_initialize(&st.parser)) {
        spec_yaml_fail(&st, NULL, NULL, "out of memory parsing YAML");
        return NULL;
    }
    masked = spec_yaml_mask_nuls(&st, text, len);
    yaml_parser_set_input_string(&st.parser, (const unsigned char *)(masked ? masked : text), len);
    st.stack = xcalloc(SPEC_MAX_DEPTH, sizeof(*st.stack));

    while (!done) {
        yaml_event_t ev;
        int rc;

        if (!yaml_parser_parse(&st.parser, &ev)) {
            if (st.nnuls > 0)
                spec_yaml_nul_fail(&st, text);
            else
                spec_yaml_parser_fail(&st, text, len);
            goto fail;
        }
        rc = spec_yaml_event(&st, &ev, &done);
        yaml_event_delete(&ev);
        if (rc < 0)
            goto fail;
    }
    if (st.nnuls > 0) {
        spec_yaml_nul_fail(&st, text);
        goto fail;
    }
    if (st.root == NULL) {
        spec_yaml_fail(&st, NULL, NULL, "empty document");
        goto fail;
    }
    root = st.root;
    st.root = NULL;

fail:
    for (size_t i = 0; i < st.depth; i++) {
        free(st.stack[i].key);
        spec_yaml_keys_free(&st.stack[i].keys);
    }
    free(st.stack);
    free(st.nuls);
    free(masked);
    cJSON_Delete(st.root);
    yaml_parser_delete(&st.parser);
    return root;
}
