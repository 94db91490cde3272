/*
 * fuzz_sample_index.h — the small index the query and http harnesses search: every *.xml of
 * docs/sample-kb (KB_FUZZ_SAMPLE_KB overrides the folder), indexed once at start-up into a
 * temporary folder that is removed at exit.
 *
 * Real documents rather than made-up ones, so that searches hit, snippets get marked and
 * filters, paging and expiry have something to cut.
 */
#ifndef FUZZ_SAMPLE_INDEX_H
#define FUZZ_SAMPLE_INDEX_H

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb/document.h"
#include "kb/index.h"

static char fuzz_tmp_dir[] = "/tmp/kb-fuzz-XXXXXX";

static int fuzz_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void fuzz_remove_tmp(void) { nftw(fuzz_tmp_dir, fuzz_remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* A private temporary folder (created once, removed at exit). */
static const char *fuzz_tmp(void) {
    static int made;
    if (!made) {
        if (!mkdtemp(fuzz_tmp_dir)) {
            perror("fuzz: mkdtemp");
            exit(1);
        }
        atexit(fuzz_remove_tmp);
        made = 1;
    }
    return fuzz_tmp_dir;
}

static int fuzz_index_add(const kb_document *doc, void *user) {
    kb_index_writer *w = user;
    if (kb_index_writer_add(w, doc) != KB_OK && kb_index_writer_status(w) != KB_OK) {
        fprintf(stderr, "fuzz: indexing %s: %s\n", doc->id, kb_index_writer_errmsg(w));
        exit(1);
    }
    return 0;
}

static void fuzz_index_problem(const char *file, int line, const char *message, void *user) {
    (void)user;
    fprintf(stderr, "fuzz: %s:%d: %s\n", file, line, message);
}

/* Build the sample index under the temporary folder; returns its path (exits on failure). */
static const char *fuzz_build_sample_index(void) {
    static char dir[4096];
    const char *kb = getenv("KB_FUZZ_SAMPLE_KB");
    if (!kb) kb = "docs/sample-kb";
    if (kb_document_global_init() != 0) {
        fprintf(stderr, "fuzz: kb_document_global_init failed\n");
        exit(1);
    }
    DIR *d = opendir(kb);
    if (!d) {
        fprintf(stderr, "fuzz: cannot open %s (run from the repository root or set "
                        "KB_FUZZ_SAMPLE_KB)\n", kb);
        exit(1);
    }
    snprintf(dir, sizeof dir, "%s/index", fuzz_tmp());
    kb_index_writer *w = kb_index_writer_open(dir, KB_INDEX_REBUILD);
    if (!w || kb_index_writer_status(w) != KB_OK) {
        fprintf(stderr, "fuzz: cannot open the index: %s\n",
                w ? kb_index_writer_errmsg(w) : "out of memory");
        exit(1);
    }
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".xml") != 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", kb, e->d_name);
        kb_document_parse_file(path, fuzz_index_add, fuzz_index_problem, w);
        files++;
    }
    closedir(d);
    if (files == 0 || kb_index_writer_commit(w) != KB_OK) {
        fprintf(stderr, "fuzz: no index built from %s: %s\n", kb,
                files ? kb_index_writer_errmsg(w) : "no .xml files");
        exit(1);
    }
    kb_index_writer_close(w);
    return dir;
}

#endif
