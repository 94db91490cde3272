/*
 * kb-indexer — index knowledge-base XML files into a Xapian index.
 *
 *   kb-indexer --index DIR [--sync | --rebuild] [--changesets N] [--quiet] PATH...
 *
 * Each PATH is a file or a directory (read recursively for *.xml, hidden entries skipped, in
 * sorted order so runs are repeatable). Symbolic links are followed, but every directory and
 * file is read once, whatever number of names leads to it (seen_before()). Every problem with a
 * document is printed as FILE:LINE: message, every path that cannot be read as kb-indexer: PATH:
 * reason; valid documents are indexed regardless. All changes are published in one atomic
 * commit at the end, so a search daemon sees the old index or the new one, and a crash leaves
 * the old one; a run that adds, replaces and removes nothing publishes nothing (the index keeps
 * its revision).
 *
 * Parsing and analysis run on worker threads (pipeline.c), one file per worker at a time,
 * while this thread writes to Xapian. The environment variable KB_INDEX_THREADS (1..64) sets how
 * many workers; by default one per online CPU, at most 8. The output (problem lines, the index)
 * is the same whatever the number: documents are written and problems printed in input order.
 *
 * Exit status: 0 every input valid and indexed; 1 some input invalid (valid ones indexed);
 * 2 usage or I/O errors.
 *
 * Under systemd (kb-indexer.service) the lines on stderr carry their journal priority
 * (kb/journal.h): problems and errors "err", notes "warning", the summary "info".
 *
 * Removing documents is only ever done on complete information: --sync and --rebuild publish
 * nothing when an input could not be read, and --sync removes nothing when an input was
 * invalid, so a typo in one file never empties part of the live knowledge base.
 */
#include <dirent.h>
#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kb/document.h"
#include "kb/index.h"
#include "kb/journal.h"
#include "pipeline.h"

#define MAX_DEPTH 64

typedef struct {
    char **paths;
    size_t n, cap;
} file_list;

typedef struct {
    kb_index_writer *writer;
    pipeline *pipe;
    size_t problems;
    size_t io_errors;
    size_t documents;
    size_t files_done, files_total;
    int fatal;
    int progress;      /* print a progress line (stderr is a terminal) */
    int quiet;         /* --quiet: no notes either */
    void *seen;        /* tsearch tree of seen_entry: every directory and file taken so far */
    double started, last_progress;
} run_state;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: kb-indexer --index DIR [--sync | --rebuild] [--changesets N] [--quiet] PATH...\n"
            "\n"
            "Index knowledge-base XML files (a file, or a directory read recursively for *.xml).\n"
            "  --index DIR  the index directory (created when missing)\n"
            "  --sync       afterwards remove documents that are not in the given PATHs\n"
            "  --rebuild    rewrite every document from PATH... (even unchanged ones) and remove\n"
            "               all others: the index then holds exactly what a new one would\n"
            "  --changesets N  keep the last N changesets beside the index (1..1000000), so that\n"
            "               xapian-replicate sends search nodes only what changed (default: none)\n"
            "  --quiet      no progress line and no summary\n"
            "Environment: KB_INDEX_THREADS=N (1..64) threads parse and analyse (default: one per\n"
            "  CPU, at most 8); the output does not depend on it.\n"
            "Exit status: 0 all valid, 1 some documents invalid (the rest indexed), 2 usage or I/O error.\n");
}

/* ---------------------------------------------------------------- finding files */

static int add_path(file_list *l, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->paths, cap * sizeof *p);
        if (!p) return -1;
        l->paths = p;
        l->cap = cap;
    }
    l->paths[l->n] = strdup(path);
    return l->paths[l->n] ? (int)(l->n++, 0) : -1;
}

static int ends_with_xml(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".xml") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A path that cannot be read is an I/O error about the path, not a problem at a line of a
 * file: "kb-indexer: PATH: what: reason" (what may be NULL), never "PATH:0:". */
static void report_io(run_state *st, const char *path, const char *what, int err)
{
    char reason[128];
    snprintf(reason, sizeof reason, "%s", strerror(err));
    if (reason[0] >= 'A' && reason[0] <= 'Z' && reason[1] >= 'a' && reason[1] <= 'z')
        reason[0] = (char)(reason[0] - 'A' + 'a'); /* "No such file..." mid-sentence */
    kb_journal_printf(KB_PRIO_ERR, "kb-indexer: %s: %s%s%s\n", path, what ? what : "",
                      what ? ": " : "", reason);
    st->io_errors++;
}

/* A directory or file already taken, by device and inode: the identity of what a name leads to.
 * Links make one directory reachable under many names (s1 -> . and s2 -> . double the names at
 * every level, so a walk by names is exponential), and a link to a parent is a loop; visiting
 * each (device, inode) once makes the walk linear in what is really there. */
typedef struct {
    dev_t dev;
    ino_t ino;
    char path[]; /* the name it was first taken under, for the note */
} seen_entry;

static int cmp_seen(const void *a, const void *b)
{
    const seen_entry *x = a, *y = b;
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
    return 0;
}

/* Record sb's directory or file as taken under path. Returns NULL when it is new, or the name it
 * was first taken under (and sets st->fatal when out of memory). */
static const char *seen_before(run_state *st, const char *path, const struct stat *sb)
{
    size_t n = strlen(path) + 1;
    seen_entry *e = malloc(sizeof *e + n);
    if (!e) {
        st->fatal = 1;
        return NULL;
    }
    e->dev = sb->st_dev;
    e->ino = sb->st_ino;
    memcpy(e->path, path, n);
    seen_entry **found = tsearch(e, &st->seen, cmp_seen);
    if (!found) {
        free(e);
        st->fatal = 1;
        return NULL;
    }
    if (*found == e) return NULL;
    free(e);
    return (*found)->path;
}

static void walk(run_state *st, file_list *files, const char *path, int depth)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        int err = errno;
        struct stat link;
        if (err == ENOENT && lstat(path, &link) == 0 && S_ISLNK(link.st_mode))
            report_io(st, path, "a symbolic link to something that does not exist", err);
        else
            report_io(st, path, NULL, err);
        return;
    }
    int is_dir = S_ISDIR(sb.st_mode);
    if (!is_dir && depth > 0 && !ends_with_xml(path)) return;
    /* Reaching something a second time is no problem of the input (every document is still
     * indexed, once), so it does not change the exit status; a note says why a name was passed
     * over, as a link loop may also be a mistake. */
    const char *first = seen_before(st, path, &sb);
    if (first) {
        if (!st->quiet)
            kb_journal_printf(KB_PRIO_WARNING,
                              "kb-indexer: %s is the %s %s again (a symbolic link?); read once\n",
                              path, is_dir ? "folder" : "file", first);
        return;
    }
    if (!is_dir) {
        if (add_path(files, path) < 0) st->fatal = 1;
        return;
    }
    if (depth >= MAX_DEPTH) {
        kb_journal_printf(KB_PRIO_ERR,
                          "kb-indexer: %s: directories nested deeper than %d levels; skipped (move "
                          "the documents up, or give this folder as a PATH of its own)\n",
                          path, MAX_DEPTH);
        st->io_errors++;
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        report_io(st, path, "cannot open the directory", errno);
        return;
    }
    file_list entries = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue; /* ., .., and hidden files (editor swap files) */
        size_t n = strlen(path) + strlen(e->d_name) + 2;
        char *child = malloc(n);
        if (!child) {
            st->fatal = 1;
            break;
        }
        snprintf(child, n, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", e->d_name);
        if (add_path(&entries, child) < 0) st->fatal = 1;
        free(child);
    }
    closedir(d);
    qsort(entries.paths, entries.n, sizeof *entries.paths, cmp_str);
    for (size_t i = 0; i < entries.n; i++) {
        walk(st, files, entries.paths[i], depth + 1);
        free(entries.paths[i]);
    }
    free(entries.paths);
}

/* ---------------------------------------------------------------- indexing */

static void show_progress(run_state *st, int final)
{
    if (!st->progress) return;
    double t = now_s();
    if (!final && t - st->last_progress < 0.2) return;
    st->last_progress = t;
    double rate = st->documents / (t - st->started > 0.001 ? t - st->started : 0.001);
    size_t files = st->pipe ? pipeline_files_done(st->pipe) : st->files_done;
    if (st->pipe) pipeline_lock_output(st->pipe);
    fprintf(stderr, "\r\033[Kindexing: %zu documents, file %zu of %zu, %.0f documents/s",
            st->documents, files, st->files_total, rate);
    if (final) fputc('\n', stderr);
    if (st->pipe) pipeline_unlock_output(st->pipe);
}

/* Print one problem. Called by pipeline_next on this thread, in input order, with the output lock
 * held (report_problem takes it too): the lock serialises the lines and the count. */
static void on_problem(const char *file, int line, const char *message, void *user)
{
    run_state *st = user;
    if (st->progress) fputs("\r\033[K", stderr);
    if (line == KB_PROBLEM_IO_LINE) { /* the pipeline counts it among the I/O errors */
        kb_journal_printf(KB_PRIO_ERR, "kb-indexer: %s: %s\n", file, message);
        return;
    }
    kb_journal_printf(KB_PRIO_ERR, "%s:%d: %s\n", file, line, message);
    st->problems++;
}

static void report_problem(run_state *st, const char *where, const char *message)
{
    pipeline_lock_output(st->pipe);
    if (st->progress) fputs("\r\033[K", stderr);
    kb_journal_printf(KB_PRIO_ERR, "%s: %s\n", where, message);
    st->problems++;
    pipeline_unlock_output(st->pipe);
}

/* Write every prepared document the workers hand over, in input order. */
static void write_documents(run_state *st)
{
    kb_prepared_doc *d;
    while ((d = pipeline_next(st->pipe)) != NULL) {
        if (kb_index_writer_add_prepared(st->writer, d) != KB_OK) {
            if (kb_index_writer_status(st->writer) != KB_OK) {
                pipeline_lock_output(st->pipe);
                kb_journal_printf(KB_PRIO_ERR, "kb-indexer: %s\n",
                                  kb_index_writer_errmsg(st->writer));
                pipeline_unlock_output(st->pipe);
                st->fatal = 1;
                kb_prepared_doc_free(d);
                pipeline_cancel(st->pipe);
                continue; /* pipeline_next now returns NULL */
            }
            report_problem(st, kb_prepared_doc_where(d), kb_index_writer_errmsg(st->writer));
        } else {
            st->documents++;
        }
        kb_prepared_doc_free(d);
        show_progress(st, 0);
    }
}

/* The command line. */
typedef struct {
    const char *index_dir;
    kb_index_mode mode;
    unsigned changesets; /* --changesets N: 0 keeps none */
    int quiet;
    char **inputs; /* argv's PATH arguments, in order */
    int n_inputs;
} options;

/* Parse argv into o. -1 to go on; otherwise the exit status (0 after --help, 2 on a usage
 * error, said on stderr). */
static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.mode = KB_INDEX_UPDATE};
    o->inputs = calloc((size_t)argc, sizeof *o->inputs);
    if (!o->inputs) return 2;
    int both_modes = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--index") == 0 && i + 1 < argc) o->index_dir = argv[++i];
        else if (strncmp(a, "--index=", 8) == 0) o->index_dir = a + 8;
        else if (strcmp(a, "--sync") == 0 || strcmp(a, "--rebuild") == 0) {
            both_modes |= o->mode != KB_INDEX_UPDATE;
            o->mode = a[2] == 's' ? KB_INDEX_SYNC : KB_INDEX_REBUILD;
        } else if (strcmp(a, "--changesets") == 0 || strncmp(a, "--changesets=", 13) == 0) {
            const char *v = a[12] == '=' ? a + 13 : i + 1 < argc ? argv[++i] : "";
            char *end;
            errno = 0;
            unsigned long n = strtoul(v, &end, 10);
            if (!*v || *end || errno || n < 1 || n > 1000000 || v[0] == '-') {
                kb_journal_printf(KB_PRIO_ERR,
                                  "kb-indexer: --changesets takes a number of changesets to keep, "
                                  "1..1000000 (got '%s')\n", v);
                return 2;
            }
            o->changesets = (unsigned)n;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) o->quiet = 1;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--") == 0) {
            while (++i < argc) o->inputs[o->n_inputs++] = argv[i];
        } else if (a[0] == '-' && a[1] != '\0') {
            kb_journal_printf(KB_PRIO_ERR, "kb-indexer: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else {
            o->inputs[o->n_inputs++] = argv[i];
        }
    }
    if (both_modes) {
        kb_journal_printf(KB_PRIO_ERR, "kb-indexer: --sync and --rebuild cannot be combined\n");
        return 2;
    }
    if (!o->index_dir || !*o->index_dir || o->n_inputs == 0) {
        kb_journal_printf(KB_PRIO_ERR, "kb-indexer: %s\n",
                          !o->index_dir || !*o->index_dir ? "--index DIR is required"
                                                          : "give at least one PATH to index");
        usage(stderr);
        return 2;
    }
    return -1;
}

/* Prepare every file on the pipeline's threads and write its documents, in input order. 0, or
 * -1 when the run cannot be published (said on stderr). */
static int index_files(run_state *st, const file_list *files)
{
    char err[512];
    st->pipe = pipeline_start(files->paths, files->n, st->writer, on_problem, st, err, sizeof err);
    if (!st->pipe) {
        kb_journal_printf(KB_PRIO_ERR, "kb-indexer: %s\n", err);
        return -1;
    }
    write_documents(st);
    int out_of_memory = 0;
    size_t parse_io_errors = 0;
    pipeline_finish(st->pipe, &st->files_done, &parse_io_errors, &out_of_memory);
    st->pipe = NULL;
    st->io_errors += parse_io_errors;
    if (out_of_memory) {
        kb_journal_printf(KB_PRIO_ERR, "kb-indexer: out of memory while analysing documents\n");
        st->fatal = 1;
    }
    show_progress(st, 1);
    return st->fatal ? -1 : 0;
}

/* Publish the run, unless what went wrong makes that unsafe for the mode. 0, or -1. */
static int publish(run_state *st, kb_index_mode mode)
{
    if (st->io_errors && mode != KB_INDEX_UPDATE) {
        kb_journal_printf(KB_PRIO_ERR,
                          "kb-indexer: nothing published: %zu input(s) could not be read, and %s "
                          "on incomplete input would drop their documents from the index\n",
                          st->io_errors, mode == KB_INDEX_SYNC ? "--sync" : "--rebuild");
        return -1;
    }
    if (st->problems && mode == KB_INDEX_SYNC) {
        kb_journal_printf(KB_PRIO_WARNING,
                          "kb-indexer: --sync removes nothing this time because some documents "
                          "were invalid (they would have been removed); fix them and run again\n");
        kb_index_writer_keep_unseen(st->writer);
    }
    if (kb_index_writer_commit(st->writer) != KB_OK) {
        kb_journal_printf(KB_PRIO_ERR, "kb-indexer: %s\n", kb_index_writer_errmsg(st->writer));
        return -1;
    }
    return 0;
}

static void print_summary(const run_state *st, size_t n_files)
{
    kb_index_stats stats;
    kb_index_writer_stats(st->writer, &stats);
    kb_journal_printf(
        KB_PRIO_INFO,
        "kb-indexer: %zu document%s from %zu file%s in %.2f s: %zu added, %zu replaced, "
        "%zu unchanged, %zu removed; the index now holds %zu documents; %zu problem(s)%s\n",
        st->documents, st->documents == 1 ? "" : "s", n_files, n_files == 1 ? "" : "s",
        now_s() - st->started, stats.added, stats.replaced, stats.unchanged, stats.removed,
        stats.total, st->problems + st->io_errors,
        kb_index_writer_published(st->writer)
            ? ""
            : "; nothing changed, so no new revision was published");
}

int main(int argc, char **argv)
{
    options o;
    int status = parse_args(argc, argv, &o);
    if (status >= 0) {
        free(o.inputs);
        return status;
    }
    char err[512];
    if (pipeline_workers(err, sizeof err) == 0) { /* a bad KB_INDEX_THREADS: before any work */
        kb_journal_printf(KB_PRIO_ERR, "kb-indexer: %s\n", err);
        free(o.inputs);
        return 2;
    }
    run_state st = {.progress = !o.quiet && isatty(2), .quiet = o.quiet, .started = now_s()};
    if (kb_document_global_init() != 0) {
        kb_journal_printf(KB_PRIO_ERR, "kb-indexer: cannot initialise the XML parser and schema\n");
        free(o.inputs);
        return 2;
    }
    file_list files = {0};
    for (int i = 0; i < o.n_inputs; i++) walk(&st, &files, o.inputs[i], 0);
    free(o.inputs);
    tdestroy(st.seen, free);
    st.seen = NULL;
    st.files_total = files.n;

    status = 2;
    if (o.changesets) kb_index_keep_changesets(o.changesets);
    st.writer = kb_index_writer_open(o.index_dir, o.mode);
    if (!st.writer || kb_index_writer_status(st.writer) != KB_OK)
        kb_journal_printf(KB_PRIO_ERR, "kb-indexer: %s\n",
                          st.writer ? kb_index_writer_errmsg(st.writer) : "out of memory");
    else if (index_files(&st, &files) == 0 && publish(&st, o.mode) == 0) {
        if (!o.quiet) print_summary(&st, files.n);
        status = st.io_errors ? 2 : st.problems ? 1 : 0;
    }
    kb_index_writer_close(st.writer);
    for (size_t i = 0; i < files.n; i++) free(files.paths[i]);
    free(files.paths);
    return status;
}
