/*
 * request - parsing client input: paths, queries, numbers, cursors, headers.
 */
#include "request.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void
request_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* How many bytes of s an error message quotes: at most max, ending on a
 * character boundary so that the message stays valid UTF-8. */
static int
request_quote_len(const char *s, size_t max)
{
    return (int)utf8_cut(s, strnlen(s, max));
}

static int
request_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- paths and queries --------------------------------------------- */

char *
request_percent_decode(const char *s, size_t len, bool plus_space)
{
    char *out = xmalloc(len + 1);
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi, lo;
            if (len - i < 3)
                goto fail;
            hi = request_hex_value(s[i + 1]);
            lo = request_hex_value(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                goto fail;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            out[o++] = ' ';
        } else if (c == '\0') {
            goto fail;
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return out;
fail:
    free(out);
    return NULL;
}

void
request_path_free(request_path_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->seg[i]);
    p->n = 0;
}

int
request_path_split(const char *raw, request_path_t *out)
{
    const char *s;

    out->n = 0;
    if (raw == NULL || raw[0] != '/')
        return -1;
    s = raw + 1;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        char *seg;

        if (out->n == REQUEST_MAX_SEGMENTS)
            goto fail;
        seg = request_percent_decode(s, len, false);
        if (seg == NULL)
            goto fail;
        out->seg[out->n++] = seg;
        if (slash == NULL)
            break;
        s = slash + 1;
    }
    return 0;
fail:
    request_path_free(out);
    return -1;
}

void
request_query_free(request_query_t *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->name[i]);
        free(q->value[i]);
    }
    q->n = 0;
}

int
request_query_parse(const char *raw, request_query_t *out, char *err, size_t errlen)
{
    const char *s = raw;

    out->n = 0;
    if (raw == NULL || *raw == '\0')
        return 0;
    for (;;) {
        const char *amp = strchr(s, '&');
        size_t len = amp ? (size_t)(amp - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        size_t nlen = eq ? (size_t)(eq - s) : len;
        char *name, *value;

        if (len == 0)
            goto next; /* "a=1&&b=2": tolerated */
        if (out->n == REQUEST_MAX_PARAMS) {
            request_err(err, errlen, "more than %d query parameters", REQUEST_MAX_PARAMS);
            goto fail;
        }
        name = request_percent_decode(s, nlen, true);
        value = eq ? request_percent_decode(eq + 1, len - nlen - 1, true) : xstrdup("");
        if (name == NULL || value == NULL) {
            free(name);
            free(value);
            request_err(err, errlen, "the query string has a malformed percent-encoding");
            goto fail;
        }
        if (request_query_get(out, name) != NULL) {
            const char *q = utf8_valid(name, strlen(name)) ? name : "?";
            request_err(err, errlen, "the query parameter \"%.*s\" is given more than once",
                        request_quote_len(q, 64), q);
            free(name);
            free(value);
            goto fail;
        }
        out->name[out->n] = name;
        out->value[out->n] = value;
        out->n++;
    next:
        if (amp == NULL)
            break;
        s = amp + 1;
    }
    return 0;
fail:
    request_query_free(out);
    return -1;
}

const char *
request_query_get(const request_query_t *q, const char *name)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->name[i], name) == 0)
            return q->value[i];
    return NULL;
}

/* ---- numbers and cursors ------------------------------------------- */

int
request_parse_int(const char *s, long long min, long long max, long long *out)
{
    long long v;
    char *end;

    if (s == NULL || !isdigit((unsigned char)s[0]))
        return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

char *
request_cursor_encode(long long micros, const char *id)
{
    return xasprintf("%lld_%s", micros, id);
}

int
request_cursor_decode(const char *s, long long *micros, char id[37])
{
    const char *sep;
    char num[24];
    size_t n;

    if (s == NULL)
        return -1;
    sep = strchr(s, '_');
    if (sep == NULL)
        return -1;
    n = (size_t)(sep - s);
    if (n == 0 || n >= sizeof(num))
        return -1;
    memcpy(num, s, n);
    num[n] = '\0';
    /* 0 .. year 9999 in microseconds: what a timestamptz can hold here. */
    if (request_parse_int(num, 0, 253402300799999999LL, micros) < 0)
        return -1;
    if (!gw_uuid_valid(sep + 1))
        return -1;
    memcpy(id, sep + 1, 37);
    return 0;
}

/* ---- NUL characters in JSON ------------------------------------------ */

/* One open object or array of the JSON text being scanned. */
typedef struct {
    bool object;
    int index;       /* array: the current item */
    const char *key; /* object: the current key as written (not decoded) */
    size_t keylen;
} request_json_frame_t;

/* Whether the escape \u0000 occurs in s at all (a quick way out). */
static bool
request_has_nul_escape(const char *s, size_t len)
{
    for (const char *p = memchr(s, '\\', len); p != NULL;
         p = memchr(p + 1, '\\', len - (size_t)(p + 1 - s))) {
        if ((size_t)(p - s) + 6 <= len && memcmp(p, "\\u0000", 6) == 0)
            return true;
        if ((size_t)(p + 1 - s) >= len)
            break;
    }
    return false;
}

static void
request_json_path(const request_json_frame_t *stack, size_t depth, char *field, size_t fieldlen)
{
    buf_t b;
    int w;

    buf_init(&b);
    for (size_t i = 0; i < depth; i++) {
        const request_json_frame_t *f = &stack[i];

        if (!f->object)
            buf_printf(&b, "[%d]", f->index);
        else if (f->key != NULL)
            buf_printf(&b, "%s%.*s", b.len ? "." : "",
                       (int)utf8_cut(f->key, f->keylen < 64 ? f->keylen : 64), f->key);
    }
    w = snprintf(field, fieldlen, "%s", b.data ? b.data : "");
    if ((w < 0 || (size_t)w >= fieldlen) && fieldlen >= 4)
        memcpy(field + utf8_cut(field, fieldlen - 4), "...", 4);
    buf_free(&b);
}

bool
request_json_find_nul(const char *text, size_t len, char *field, size_t fieldlen)
{
    request_json_frame_t *stack = NULL;
    size_t depth = 0, cap = 0, i = 0;
    bool want_key = false, found = false;

    if (!request_has_nul_escape(text, len))
        return false;
    while (i < len && !found) {
        char c = text[i];

        if (c == '{' || c == '[') {
            if (depth == cap)
                stack = xrealloc(stack, (cap = cap ? 2 * cap : 16) * sizeof(*stack));
            memset(&stack[depth], 0, sizeof(stack[depth]));
            stack[depth++].object = c == '{';
            want_key = c == '{';
            i++;
        } else if (c == '}' || c == ']') {
            if (depth > 0)
                depth--;
            i++;
        } else if (c == ',') {
            if (depth > 0 && stack[depth - 1].object)
                want_key = true;
            else if (depth > 0)
                stack[depth - 1].index++;
            i++;
        } else if (c == '"') {
            size_t start = ++i;
            bool nul = false;

            for (; i < len && text[i] != '"'; i++) {
                if (text[i] != '\\')
                    continue;
                if (i + 6 <= len && memcmp(text + i, "\\u0000", 6) == 0)
                    nul = true;
                i++; /* the escaped character */
            }
            if (want_key && depth > 0 && stack[depth - 1].object) {
                stack[depth - 1].key = text + start;
                stack[depth - 1].keylen = (i < len ? i : len) - start;
                want_key = false;
            }
            if (nul) {
                request_json_path(stack, depth, field, fieldlen);
                found = true;
            }
            i++; /* the closing quote */
        } else {
            i++;
        }
    }
    free(stack);
    return found;
}

/* Copy the media type of a header element ("Type/Sub ; q=1") lowercased
 * and trimmed into out; returns its length (0 if it does not fit). */
static size_t
request_media_name(const char *s, size_t len, char *out, size_t outlen)
{
    const char *semi = memchr(s, ';', len);
    size_t n = semi ? (size_t)(semi - s) : len;

    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= outlen) {
        out[0] = '\0';
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
    return n;
}

static bool
request_is_yaml_type(const char *t)
{
    return strcmp(t, "application/yaml") == 0 || strcmp(t, "application/x-yaml") == 0 ||
           strcmp(t, "text/yaml") == 0 || strcmp(t, "text/x-yaml") == 0;
}

request_media_t
request_media_type(const char *content_type)
{
    char t[128];
    size_t n;

    if (content_type == NULL)
        return REQUEST_MEDIA_NONE;
    n = request_media_name(content_type, strlen(content_type), t, sizeof(t));
    if (n == 0)
        return REQUEST_MEDIA_OTHER;
    if (strcmp(t, "application/json") == 0 ||
        (n > 5 && strcmp(t + n - 5, "+json") == 0 && strchr(t, '/') != NULL))
        return REQUEST_MEDIA_JSON;
    if (request_is_yaml_type(t))
        return REQUEST_MEDIA_YAML;
    return REQUEST_MEDIA_OTHER;
}

/* The q value of one Accept element (1000 = 1.0); -1 if malformed. */
static int
request_accept_q(const char *s, size_t len)
{
    const char *p = memchr(s, ';', len);
    const char *end = s + len;

    while (p != NULL && p < end) {
        const char *next = memchr(p + 1, ';', (size_t)(end - p - 1));
        const char *e = next ? next : end;
        const char *k = p + 1;

        while (k < e && isspace((unsigned char)*k))
            k++;
        if (e - k >= 2 && (k[0] == 'q' || k[0] == 'Q') && k[1] == '=') {
            /* q = 0(.ddd) | 1(.000) */
            const char *v = k + 2;
            int q = 0, scale = 100;
            if (v >= e || (*v != '0' && *v != '1'))
                return -1;
            q = (*v - '0') * 1000;
            v++;
            if (v < e && *v == '.') {
                for (v++; v < e && isdigit((unsigned char)*v) && scale > 0; v++, scale /= 10)
                    q += (*v - '0') * scale;
            }
            while (v < e && isspace((unsigned char)*v))
                v++;
            if (v != e || q > 1000)
                return -1;
            return q;
        }
        p = next;
    }
    return 1000;
}

bool
request_accept_prefers_yaml(const char *accept)
{
    int yaml_q = 0, json_q = -1, wild_q = -1;
    int yaml_pos = -1, json_pos = -1, wild_pos = -1;
    const char *s = accept;
    int pos = 0;

    if (accept == NULL)
        return false;
    for (;; pos++) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char t[128];
        int q;

        if (request_media_name(s, len, t, sizeof(t)) > 0) {
            q = request_accept_q(s, len);
            if (q < 0)
                q = 0;
            if (request_is_yaml_type(t)) {
                if (yaml_pos < 0 || q > yaml_q) {
                    yaml_q = q;
                    yaml_pos = pos;
                }
            } else if (strcmp(t, "application/json") == 0) {
                if (q > json_q) {
                    json_q = q;
                    json_pos = pos;
                }
            } else if (strcmp(t, "*/*") == 0 || strcmp(t, "application/*") == 0) {
                if (q > wild_q) {
                    wild_q = q;
                    wild_pos = pos;
                }
            }
        }
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    if (yaml_pos < 0 || yaml_q <= 0)
        return false;
    if (json_pos < 0) {
        /* JSON is only reachable through a wildcard (or not at all). */
        json_q = wild_q;
        json_pos = wild_pos;
    }
    if (json_pos < 0)
        return true;
    if (yaml_q != json_q)
        return yaml_q > json_q;
    return yaml_pos < json_pos;
}

/* ---- what the body parsers share --------------------------------- */

/* Whether every key of obj is one of known (NULL-terminated); on failure
 * err names the first unknown key. */
static bool
request_known_keys(const cJSON *obj, const char *const *known, char *err, size_t errlen)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, obj)
    {
        bool found = false;
        for (size_t i = 0; known[i] != NULL; i++)
            if (it->string != NULL && strcmp(it->string, known[i]) == 0)
                found = true;
        if (!found) {
            const char *k = it->string ? it->string : "";
            if (!utf8_valid(k, strlen(k)))
                k = "?";
            request_err(err, errlen, "unknown field \"%.*s\"", request_quote_len(k, 64), k);
            return false;
        }
    }
    return true;
}

bool
request_body_object(const cJSON *body, const char *const *known, char *err, size_t errlen)
{
    if (!cJSON_IsObject(body)) {
        request_err(err, errlen, "the body must be a JSON object");
        return false;
    }
    return request_known_keys(body, known, err, errlen);
}

int
request_member_string(const cJSON *body, const char *key, bool (*valid)(const char *),
                      const char *msg, const char **out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);

    *out = NULL;
    if (v == NULL || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v) || (valid != NULL && !valid(v->valuestring))) {
        request_err(err, errlen, "%s", msg);
        return -1;
    }
    *out = v->valuestring;
    return 0;
}

int
request_member_object(const cJSON *body, const char *key, const cJSON **out, char *err,
                      size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);

    *out = NULL;
    if (v == NULL || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsObject(v)) {
        request_err(err, errlen, "%s must be an object", key);
        return -1;
    }
    *out = v;
    return 0;
}
