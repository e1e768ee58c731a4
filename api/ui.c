/*
 * ui - the web page served by the API itself: one HTML shell for every page
 * address (the page reads the address and draws itself, so a deep link works
 * on reload) and its scripts and styles under /ui/<version>/, which never
 * change under one version and may be cached for good. Every reply carries a
 * strict Content-Security-Policy: the page's own files only, no inline
 * script or style, no eval, Trusted Types (no HTML from strings), no frames.
 * The files are public; the data the page shows needs the token, which the
 * page asks for when the API answers 401.
 */
#include <string.h>

#include "handlers.h"
#include "ui.h"

#define UI_CSP                                                                                     \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "                 \
    "frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'"

const ui_file_t *
ui_file_find(const char *name)
{
    for (size_t i = 0; i < ui_files_count; i++)
        if (strcmp(ui_files[i].name, name) == 0)
            return &ui_files[i];
    return NULL;
}

/* The headers of every reply of the page; 304 when the client has f. */
static bool
ui_send(http_req_t *r, const ui_file_t *f, const char *cache)
{
    const char *inm = http_header(r, "If-None-Match");

    http_set_header(r, "Content-Security-Policy", UI_CSP);
    http_set_header(r, "X-Content-Type-Options", "nosniff");
    http_set_header(r, "X-Frame-Options", "DENY");
    http_set_header(r, "Referrer-Policy", "no-referrer");
    http_set_header(r, "Cache-Control", cache);
    http_set_header(r, "ETag", f->etag);
    if (inm != NULL && strcmp(inm, f->etag) == 0) {
        http_reply_empty(r, 304);
        return true;
    }
    http_reply_raw(r, 200, f->type, f->data, f->len);
    return true;
}

void
ui_page(http_req_t *r)
{
    const ui_file_t *f = ui_file_find("index.html");

    if (f == NULL) {
        http_reply_error(r, 500, "internal error", "the web page was not built in");
        return;
    }
    (void)ui_send(r, f, "no-cache");
}

void
ui_asset(http_req_t *r)
{
    const ui_file_t *f = ui_file_find(r->params[1]);

    if (strcmp(r->params[0], ui_version) != 0 || f == NULL || strcmp(f->name, "index.html") == 0) {
        http_set_header(r, "Cache-Control", "no-store");
        http_reply_error(r, 404, "not found",
                         "no such file of the web page (a page loaded before the server was "
                         "upgraded: reload it)");
        return;
    }
    (void)ui_send(r, f, "public, max-age=31536000, immutable");
}
