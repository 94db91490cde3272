/*
 * static.h — the web pages (every file under searchd/web) compiled into kb-searchd.
 *
 * The Makefile turns every file under searchd/web into a byte array in $(BUILD)/gen/web_assets.c
 * (od and sed, like the document schema), so the binary serves its own pages: no separate web
 * server, no files to deploy beside it, and no way for a request path to reach the file system.
 */
#ifndef SEARCHD_STATIC_H
#define SEARCHD_STATIC_H

#include <stddef.h>

typedef struct {
    const char *name;          /* path under searchd/web, e.g. "agent.html", "js/agent.js" */
    const unsigned char *data; /* NUL-terminated; len excludes the NUL */
    size_t len;
} searchd_web_asset;

/* Generated: every file of searchd/web, sorted by name. */
extern const searchd_web_asset searchd_web_assets[];
extern const size_t searchd_web_assets_count;

/* The asset a URL path names, or NULL: "/" is index.html, "/agent" is agent.html (any page
 * NAME.html at the top of searchd/web is "/NAME"), and "/static/NAME" is the file NAME. */
const searchd_web_asset *searchd_static_find(const char *path);

#endif
