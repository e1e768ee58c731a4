/*
 * ui - the web page's files as built into gitweave-api (api/ui/, embedded
 * by cmake/embed_ui.cmake into ui_files.c at build time, so the C build
 * needs no Node and the page always belongs to the API it calls).
 */
#ifndef GW_API_UI_H
#define GW_API_UI_H

#include <stddef.h>

typedef struct {
    const char *name; /* "app.js" */
    const char *type; /* its Content-Type */
    const char *data; /* its bytes (NUL-terminated, len without the NUL) */
    size_t len;
    const char *etag; /* "\"<content hash>\"" */
} ui_file_t;

/* The hash of every file, the folder of their address: /ui/<version>/<name>. */
extern const char ui_version[];
extern const ui_file_t ui_files[];
extern const size_t ui_files_count;

/* The file named name, or NULL. */
const ui_file_t *ui_file_find(const char *name);

#endif
