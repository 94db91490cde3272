/*
 * pipeline.c — worker threads that parse and prepare files, and the ordered hand-over of what
 * they produce to the thread writing the index (see pipeline.h).
 *
 * Each input file has a slot: the list of what its worker produced (prepared documents and
 * problems, in the order produced) that the caller has not taken yet. The caller reads the slots
 * strictly in file order, so the order it sees does not depend on which worker finishes first;
 * a worker that is ahead simply leaves its file's items in the slot until the caller gets there.
 *
 * Why parsing and preparing may run on several threads at once (checked for libxml2 2.9.14, ICU
 * 72, zstd 1.5, Xapian 1.4):
 *   - libxml2 is safe for threads parsing different documents once xmlInitParser has run before
 *     the threads start (its "Thread safety" notes): kb_document_global_init does that, and
 *     compiles the RELAX NG schema, before any worker exists. Its error handlers and last error
 *     are per thread, and document.c sets and restores the calling thread's own. The compiled
 *     schema is shared: validating only reads it (definitions, choice and interleave tables,
 *     compiled content models, of which each validation runs its own executor, and the datatype
 *     library set up when the schema was compiled); all validation state is in the
 *     xmlRelaxNGValidCtxt, which document.c creates per document, and the only writes go to the
 *     document validated, which is the worker's own. Sharing a validation context would not be
 *     safe; nothing does.
 *   - Everything else is per preparer (the ICU break iterator and buffers of its analyzer, the
 *     term counts, the zstd context, the Xapian document being built, if any) or read-only after a
 *     pthread_once (the ICU normalizer singleton, the fold and Traditional→Simplified tables).
 *   - A prepared document is handed to the writing thread under the pipeline's lock and no longer
 *     touched by its worker, as it was with one preparing thread.
 */
#include "pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Items (prepared documents and problems) held between the workers and the caller over all
 * files: enough to keep every thread busy, small enough (a few MB) to keep memory flat. */
#define QUEUE_SLOTS 256
/* Workers by default: one per online CPU, but no more than this; the single writing thread could
 * not keep up with more. KB_INDEX_THREADS may ask for up to MAX_WORKERS. */
#define DEFAULT_MAX_WORKERS 8
#define MAX_WORKERS 64

/* One thing a worker produced for the caller: a prepared document, or a problem. */
typedef struct item {
    struct item *next;
    kb_prepared_doc *doc; /* NULL for a problem */
    int line;
    const char *file;     /* a problem's file and message, stored after the struct */
    const char *message;
} item;

/* What the workers produced for one input file and the caller has not taken yet. */
typedef struct {
    item *first, *last;
    size_t held;  /* items in the list */
    int finished; /* the file's worker is done with it: nothing more will be added */
} file_slot;

typedef struct {
    pipeline *p;
    kb_index_preparer *preparer; /* not thread-safe: one per worker */
    size_t file;                 /* the file this worker is on */
    pthread_t thread;
} worker;

struct pipeline {
    char *const *files;
    size_t n_files;
    kb_problem_fn on_problem;
    void *user;
    worker *workers;
    size_t n_workers, n_started;
    file_slot *slots; /* one per file */

    pthread_mutex_t lock;  /* everything below */
    pthread_cond_t ready;  /* the caller's file got an item or was finished, or the run stopped */
    pthread_cond_t room;   /* items were taken, the caller moved to another file, or the run stopped */
    size_t next_claim;     /* the first file no worker has claimed yet */
    size_t current;        /* the file the caller is reading */
    size_t held;           /* items held over all slots */
    int cancelled, out_of_memory;
    size_t files_done, io_errors;

    pthread_mutex_t output;
};

static void free_item(item *it)
{
    if (it->doc) kb_prepared_doc_free(it->doc);
    free(it);
}

static int stopped(const pipeline *p) { return p->cancelled || p->out_of_memory; }

/* Whether the worker on file f must wait before adding an item (lock held). Workers ahead of the
 * caller wait once QUEUE_SLOTS items are held in all. The worker on the caller's own file waits
 * only while its file has items for the caller to take: the caller never waits while its file
 * has items, and that worker never waits while it has none, so the two cannot wait for each
 * other (and the items held stay at most QUEUE_SLOTS + 1). */
static int must_wait(const pipeline *p, size_t f)
{
    if (p->held < QUEUE_SLOTS) return 0;
    return !(f == p->current && p->slots[f].held == 0);
}

/* Append an item to file f's slot, waiting for room. Returns non-zero, having freed the item,
 * when the run has stopped. */
static int add(pipeline *p, size_t f, item *it)
{
    pthread_mutex_lock(&p->lock);
    while (!stopped(p) && must_wait(p, f)) pthread_cond_wait(&p->room, &p->lock);
    int stop = stopped(p);
    if (!stop) {
        file_slot *s = &p->slots[f];
        it->next = NULL;
        if (s->last) s->last->next = it;
        else s->first = it;
        s->last = it;
        s->held++;
        p->held++;
        if (f == p->current) pthread_cond_signal(&p->ready);
    }
    pthread_mutex_unlock(&p->lock);
    if (stop) free_item(it);
    return stop;
}

static void set_out_of_memory(pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    p->out_of_memory = 1;
    pthread_cond_broadcast(&p->room);
    pthread_cond_signal(&p->ready);
    pthread_mutex_unlock(&p->lock);
}

static int on_document(const kb_document *doc, void *user)
{
    worker *w = user;
    kb_prepared_doc *d = kb_index_prepare(w->preparer, doc);
    item *it = d ? calloc(1, sizeof *it) : NULL;
    if (!it) {
        kb_prepared_doc_free(d);
        set_out_of_memory(w->p);
        return 1;
    }
    it->doc = d;
    return add(w->p, w->file, it);
}

/* Problems are not printed here but kept in the file's slot, so that they reach the caller's
 * on_problem in input order (see pipeline_next), as they would from a single thread. */
static void on_problem(const char *file, int line, const char *message, void *user)
{
    worker *w = user;
    size_t flen = strlen(file), mlen = strlen(message);
    item *it = malloc(sizeof *it + flen + 1 + mlen + 1);
    if (!it) {
        /* Losing a problem silently would let an invalid file pass for a valid one. */
        set_out_of_memory(w->p);
        return;
    }
    char *text = (char *)(it + 1);
    memcpy(text, file, flen + 1);
    memcpy(text + flen + 1, message, mlen + 1);
    it->doc = NULL;
    it->line = line;
    it->file = text;
    it->message = text + flen + 1;
    add(w->p, w->file, it);
}

static void *work(void *arg)
{
    worker *w = arg;
    pipeline *p = w->p;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int stop = stopped(p) || p->next_claim == p->n_files;
        size_t f = p->next_claim;
        if (!stop) p->next_claim++;
        pthread_mutex_unlock(&p->lock);
        if (stop) break;

        w->file = f;
        int rc = kb_document_parse_file(p->files[f], on_document, on_problem, w);

        pthread_mutex_lock(&p->lock);
        if (rc == KB_ERROR) p->io_errors++;
        p->files_done++;
        p->slots[f].finished = 1;
        if (f == p->current) pthread_cond_signal(&p->ready);
        pthread_mutex_unlock(&p->lock);
    }
    return NULL;
}

size_t pipeline_workers(char *err, size_t err_len)
{
    const char *env = getenv("KB_INDEX_THREADS");
    if (env && *env) {
        char *end;
        errno = 0;
        long n = strtol(env, &end, 10);
        if (errno || end == env || *end || n < 1 || n > MAX_WORKERS) {
            snprintf(err, err_len, "KB_INDEX_THREADS must be a number from 1 to %d, not '%.40s'",
                     MAX_WORKERS, env);
            return 0;
        }
        return (size_t)n;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) return 1;
    return cpus > DEFAULT_MAX_WORKERS ? DEFAULT_MAX_WORKERS : (size_t)cpus;
}

/* Stop the workers that were started and join them. A caller finishing before the input is
 * exhausted must not leave a worker waiting for room that would never come; after a complete run
 * the workers have no work left anyway. */
static void stop_workers(pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    p->cancelled = 1;
    pthread_cond_broadcast(&p->room);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->n_started; i++) pthread_join(p->workers[i].thread, NULL);
    p->n_started = 0;
}

/* Stop the workers and free everything, including what the caller did not take. */
static void destroy(pipeline *p)
{
    stop_workers(p);
    for (size_t i = 0; i < p->n_workers; i++) kb_index_preparer_free(p->workers[i].preparer);
    for (size_t f = 0; p->slots && f < p->n_files; f++) {
        for (item *it = p->slots[f].first, *next; it; it = next) {
            next = it->next;
            free_item(it);
        }
    }
    free(p->workers);
    free(p->slots);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->output);
    pthread_cond_destroy(&p->ready);
    pthread_cond_destroy(&p->room);
    free(p);
}

pipeline *pipeline_start(char *const *files, size_t n, const kb_index_writer *writer,
                         kb_problem_fn on_problem_fn, void *user, char *err, size_t err_len)
{
    /* libxml2 must be initialised (xmlInitParser) and the schema compiled once, before any
     * thread parses: libxml2's thread safety depends on it. main.c does it already; pthread_once
     * makes this call free then, and keeps the pipeline correct for any other caller. */
    if (kb_document_global_init() != 0) {
        snprintf(err, err_len, "cannot initialise the XML parser and schema");
        return NULL;
    }
    size_t n_workers = pipeline_workers(err, err_len);
    if (n_workers == 0) return NULL;
    /* A worker takes a whole file: more workers than files would have nothing to do. */
    if (n_workers > n) n_workers = n > 0 ? n : 1;

    pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    p->files = files;
    p->n_files = n;
    p->on_problem = on_problem_fn;
    p->user = user;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->output, NULL);
    pthread_cond_init(&p->ready, NULL);
    pthread_cond_init(&p->room, NULL);
    p->slots = calloc(n > 0 ? n : 1, sizeof *p->slots);
    p->workers = calloc(n_workers, sizeof *p->workers);
    if (!p->slots || !p->workers) {
        snprintf(err, err_len, "out of memory");
        destroy(p);
        return NULL;
    }
    p->n_workers = n_workers;
    for (size_t i = 0; i < n_workers; i++) {
        p->workers[i].p = p;
        /* The writer makes the preparers: it knows what its run needs prepared. */
        if (!(p->workers[i].preparer = kb_index_writer_new_preparer(writer, err, err_len))) {
            destroy(p);
            return NULL;
        }
    }
    for (size_t i = 0; i < n_workers; i++) {
        if (pthread_create(&p->workers[i].thread, NULL, work, &p->workers[i]) != 0) {
            snprintf(err, err_len, "cannot start the preparing threads");
            destroy(p);
            return NULL;
        }
        p->n_started++;
    }
    return p;
}

kb_prepared_doc *pipeline_next(pipeline *p)
{
    kb_prepared_doc *d = NULL;
    pthread_mutex_lock(&p->lock);
    while (!stopped(p) && p->current < p->n_files) {
        file_slot *s = &p->slots[p->current];
        if (!s->first) {
            if (s->finished) {
                p->current++;
                /* The worker on the new current file may add again (see must_wait). */
                pthread_cond_broadcast(&p->room);
            } else {
                pthread_cond_wait(&p->ready, &p->lock);
            }
            continue;
        }
        item *it = s->first;
        s->first = it->next;
        if (!s->first) s->last = NULL;
        s->held--;
        p->held--;
        /* Wake the workers when one of them may now add (see must_wait): the total fell below
         * the limit, or the caller's file ran out of items. */
        if (p->held == QUEUE_SLOTS - 1 || (s->held == 0 && p->held >= QUEUE_SLOTS))
            pthread_cond_broadcast(&p->room);
        if (it->doc) {
            d = it->doc;
            free(it);
            break;
        }
        /* A problem: passed on here, at its place in the input order. The queue's lock is not
         * held meanwhile, so the workers go on while it is printed. */
        pthread_mutex_unlock(&p->lock);
        pthread_mutex_lock(&p->output);
        p->on_problem(it->file, it->line, it->message, p->user);
        pthread_mutex_unlock(&p->output);
        free(it);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return d;
}

void pipeline_cancel(pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    p->cancelled = 1;
    pthread_cond_broadcast(&p->room);
    pthread_cond_signal(&p->ready);
    pthread_mutex_unlock(&p->lock);
}

size_t pipeline_files_done(pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->files_done;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void pipeline_lock_output(pipeline *p) { pthread_mutex_lock(&p->output); }
void pipeline_unlock_output(pipeline *p) { pthread_mutex_unlock(&p->output); }

void pipeline_finish(pipeline *p, size_t *files_done, size_t *io_errors, int *out_of_memory)
{
    stop_workers(p); /* the counts are final once the workers are joined */
    *files_done = p->files_done;
    *io_errors = p->io_errors;
    *out_of_memory = p->out_of_memory;
    destroy(p);
}
