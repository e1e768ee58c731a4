/*
 * apiclient - HTTP calls to the GitWeave API with libcurl.
 */
#include "apiclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

/* A reply that takes longer than this is an error (streams have no limit). */
#define APICLIENT_TIMEOUT_S 60L
#define APICLIENT_CONNECT_TIMEOUT_S 10L
/* The API sends a comment every 15 s on an idle stream: four missed is a dead one. */
#define APICLIENT_STREAM_IDLE_S 60L

struct apiclient {
    CURL *curl;
    char *base;     /* base URL + "/api/v1" */
    char *shown;    /* base, redacted: what messages print */
    char *userinfo; /* the base URL's "user:password", or NULL: never printed */
    char *auth;     /* "Authorization: Bearer ..." or NULL */
    const volatile sig_atomic_t *stop;
    char error[CURL_ERROR_SIZE];
    bool interrupted;
};

/* What a transfer's callbacks share. */
typedef struct {
    apiclient_t *c;
    apiclient_reply_t *out;
    apiclient_data_fn fn; /* NULL: collect the body */
    apiclient_tick_fn tick;
    void *ctx;
    bool checked; /* whether the reply's kind was looked at */
    bool consumer_stopped;
} apiclient_xfer_t;

/* Where the authority of url starts and ends (after "scheme://", up to the path, query or
 * fragment). */
static void
apiclient_authority(const char *url, size_t *start, size_t *end)
{
    const char *scheme = strstr(url, "://");

    *start = scheme != NULL ? (size_t)(scheme - url) + 3 : 0;
    *end = *start + strcspn(url + *start, "/?#");
}

/* The length of url's userinfo (up to its authority's last '@'), or 0; *start: where it starts. */
static size_t
apiclient_userinfo_len(const char *url, size_t *start)
{
    size_t end, at = 0;

    apiclient_authority(url, start, &end);
    for (size_t i = *start; i < end; i++)
        if (url[i] == '@')
            at = i + 1;
    return at > *start ? at - 1 - *start : 0;
}

/* url's userinfo ("user:password"), or NULL for none; the caller frees it. */
static char *
apiclient_userinfo(const char *url)
{
    size_t start, len = apiclient_userinfo_len(url, &start);

    return len > 0 ? xstrndup(url + start, len) : NULL;
}

char *
apiclient_redact_url(const char *url)
{
    size_t start, end, len = apiclient_userinfo_len(url, &start);
    const char *p;
    buf_t out;

    buf_init(&out);
    apiclient_authority(url, &start, &end);
    buf_append(&out, url, start);
    if (len > 0)
        buf_puts(&out, "***");
    p = url + start + len;
    /* The rest of the authority and the path, as they are. */
    buf_append(&out, p, strcspn(p, "?#"));
    p += strcspn(p, "?#");
    if (*p == '?') {
        /* Each parameter's value, or a parameter without a name, is hidden. */
        buf_puts(&out, "?");
        p++;
        while (*p != '\0' && *p != '#') {
            size_t param = strcspn(p, "&#"), name = strcspn(p, "=&#");
            if (name < param)
                buf_append(&out, p, name + 1);
            buf_puts(&out, "***");
            p += param;
            if (*p == '&')
                buf_append(&out, p++, 1);
        }
    }
    if (*p == '#')
        buf_puts(&out, "#***");
    return buf_steal(&out);
}

apiclient_t *
apiclient_new(const char *base_url, const char *token, const volatile sig_atomic_t *stop)
{
    apiclient_t *c = xcalloc(1, sizeof(*c));
    size_t n = strlen(base_url);

    while (n > 0 && base_url[n - 1] == '/')
        n--;
    c->base = xasprintf("%.*s/api/v1", (int)n, base_url);
    c->shown = apiclient_redact_url(c->base);
    c->userinfo = apiclient_userinfo(c->base);
    if (token != NULL && token[0] != '\0')
        c->auth = xasprintf("Authorization: Bearer %s", token);
    c->stop = stop;
    c->curl = curl_easy_init();
    if (c->curl == NULL) {
        fprintf(stderr, "gitweave: could not start libcurl\n");
        abort();
    }
    return c;
}

char *
apiclient_run_page(const apiclient_t *c, const char *id)
{
    /* base is "<base URL>/api/v1": the page lives beside the API. */
    return xasprintf("%.*s/runs/%s", (int)(strlen(c->base) - strlen("/api/v1")), c->base, id);
}

void
apiclient_free(apiclient_t *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->curl);
    free(c->base);
    free(c->shown);
    free(c->userinfo);
    if (c->auth != NULL) {
        /* The token should not outlive its use in memory we hand back. */
        memset(c->auth, 0, strlen(c->auth));
        free(c->auth);
    }
    free(c);
}

void
apiclient_reply_init(apiclient_reply_t *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->body);
}

void
apiclient_reply_free(apiclient_reply_t *r)
{
    buf_free(&r->body);
}

const char *
apiclient_error(const apiclient_t *c)
{
    return c->error;
}

bool
apiclient_interrupted(const apiclient_t *c)
{
    return c->interrupted;
}

char *
apiclient_escape(apiclient_t *c, const char *s)
{
    char *e = curl_easy_escape(c->curl, s, 0);
    char *copy;

    if (e == NULL) {
        fprintf(stderr, "gitweave: out of memory\n");
        abort();
    }
    copy = xstrdup(e);
    curl_free(e);
    return copy;
}

static size_t
apiclient_on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    apiclient_xfer_t *x = arg;
    size_t n = size * nmemb;

    if (x->fn != NULL && !x->checked) {
        char *type = NULL;
        x->checked = true;
        curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE, &x->out->status);
        curl_easy_getinfo(x->c->curl, CURLINFO_CONTENT_TYPE, &type);
        x->out->streamed = x->out->status == 200 && type != NULL &&
                           strncasecmp(type, "text/event-stream", 17) == 0;
    }
    if (x->out->streamed) {
        if (x->fn(x->ctx, data, n) != 0) {
            x->consumer_stopped = true;
            return 0; /* ends the transfer */
        }
        return n;
    }
    buf_append(&x->out->body, data, n);
    return n;
}

static int
apiclient_on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                      curl_off_t ulnow)
{
    apiclient_xfer_t *x = arg;

    if (x->c->stop != NULL && *x->c->stop != 0)
        return 1;
    if (x->tick != NULL)
        x->tick(x->ctx);
    return 0;
}

/* Replace the base URL's credentials in libcurl's message, should it quote them. */
static void
apiclient_scrub_error(apiclient_t *c)
{
    const char *p = c->error, *at;
    buf_t out;

    if (c->userinfo == NULL || strstr(c->error, c->userinfo) == NULL)
        return;
    buf_init(&out);
    while ((at = strstr(p, c->userinfo)) != NULL) {
        buf_append(&out, p, (size_t)(at - p));
        buf_puts(&out, "***");
        p = at + strlen(c->userinfo);
    }
    buf_puts(&out, p);
    snprintf(c->error, sizeof(c->error), "%s", out.data);
    buf_free(&out);
}

/* Run one transfer set up by the caller on c->curl. */
static int
apiclient_perform(apiclient_t *c, const char *method, const char *path, struct curl_slist *headers,
                  apiclient_xfer_t *x)
{
    char *url;
    CURLcode rc;

    c->error[0] = '\0';
    c->interrupted = false;
    /* A transfer that ends at once may never reach the progress callback. */
    if (c->stop != NULL && *c->stop != 0) {
        c->interrupted = true;
        snprintf(c->error, sizeof(c->error), "interrupted");
        curl_easy_reset(c->curl);
        curl_slist_free_all(headers);
        return -1;
    }
    url = xasprintf("%s%s", c->base, path);
    if (c->auth != NULL)
        headers = curl_slist_append(headers, c->auth);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->error);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, APICLIENT_CONNECT_TIMEOUT_S);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, apiclient_on_data);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, apiclient_on_progress);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "gitweave-cli");
    rc = curl_easy_perform(c->curl);
    if (x->out->status == 0)
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &x->out->status);
    curl_easy_reset(c->curl);
    curl_slist_free_all(headers);
    free(url);
    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && x->consumer_stopped))
        return 0;
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        c->interrupted = true;
        snprintf(c->error, sizeof(c->error), "interrupted");
    } else if (c->error[0] == '\0') {
        snprintf(c->error, sizeof(c->error), "%s", curl_easy_strerror(rc));
    }
    apiclient_scrub_error(c);
    return -1;
}

int
apiclient_call(apiclient_t *c, const char *method, const char *path, const char *content_type,
               const char *body, size_t len, apiclient_reply_t *out)
{
    apiclient_xfer_t x = {.c = c, .out = out};
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");

    if (content_type != NULL) {
        char *h = xasprintf("Content-Type: %s", content_type);
        headers = curl_slist_append(headers, h);
        free(h);
    }
    if (body != NULL) {
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, APICLIENT_TIMEOUT_S);
    return apiclient_perform(c, method, path, headers, &x);
}

int
apiclient_stream(apiclient_t *c, const char *path, apiclient_data_fn fn, apiclient_tick_fn tick,
                 void *ctx, apiclient_reply_t *out)
{
    apiclient_xfer_t x = {.c = c, .out = out, .fn = fn, .tick = tick, .ctx = ctx};
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: text/event-stream");

    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, APICLIENT_STREAM_IDLE_S);
    return apiclient_perform(c, "GET", path, headers, &x);
}

void
apiclient_print_failure(const apiclient_t *c, int rc, const apiclient_reply_t *r)
{
    cJSON *o;
    const cJSON *error, *detail;

    if (rc < 0) {
        if (c->interrupted)
            fprintf(stderr, "gitweave: interrupted\n");
        else
            fprintf(stderr, "gitweave: could not reach the API at %s: %s\n", c->shown, c->error);
        return;
    }
    o = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
    error = cJSON_GetObjectItemCaseSensitive(o, "error");
    detail = cJSON_GetObjectItemCaseSensitive(o, "detail");
    if (cJSON_IsString(error) && cJSON_IsString(detail))
        fprintf(stderr, "gitweave: %s: %s\n", error->valuestring, detail->valuestring);
    else if (cJSON_IsString(error))
        fprintf(stderr, "gitweave: %s\n", error->valuestring);
    else
        fprintf(stderr, "gitweave: the API at %s answered HTTP %ld\n", c->shown, r->status);
    if (r->status == 401)
        fprintf(stderr, "gitweave: set GITWEAVE_TOKEN to the API's token\n");
    cJSON_Delete(o);
}
