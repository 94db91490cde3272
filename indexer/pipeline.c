/*
 * pipeline.c — producer thread and bounded queue between parsing/analysis and Xapian writing
 * (see pipeline.h).
 */
#include "pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Prepared documents in flight: enough to keep both threads busy, small enough (a few MB) to
 * keep memory flat. */
#define QUEUE_SLOTS 256

struct pipeline {
    char *const *files;
    size_t n_files;
    kb_problem_fn on_problem;
    void *user;
    kb_index_preparer *preparer;

    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    pthread_mutex_t output;
    kb_prepared_doc *queue[QUEUE_SLOTS];
    size_t head, count;
    int done, cancelled, out_of_memory;
    size_t files_done, io_errors;
};

static void push(pipeline *p, kb_prepared_doc *d)
{
    pthread_mutex_lock(&p->lock);
    while (p->count == QUEUE_SLOTS && !p->cancelled) pthread_cond_wait(&p->not_full, &p->lock);
    if (p->cancelled) {
        pthread_mutex_unlock(&p->lock);
        kb_prepared_doc_free(d);
        return;
    }
    p->queue[(p->head + p->count) % QUEUE_SLOTS] = d;
    p->count++;
    pthread_cond_signal(&p->not_empty);
    pthread_mutex_unlock(&p->lock);
}

static int on_document(const kb_document *doc, void *user)
{
    pipeline *p = user;
    kb_prepared_doc *d = kb_index_prepare(p->preparer, doc);
    if (!d) {
        pthread_mutex_lock(&p->lock);
        p->out_of_memory = 1;
        pthread_mutex_unlock(&p->lock);
        return 1;
    }
    push(p, d);
    pthread_mutex_lock(&p->lock);
    int stop = p->cancelled;
    pthread_mutex_unlock(&p->lock);
    return stop;
}

static void on_problem(const char *file, int line, const char *message, void *user)
{
    pipeline *p = user;
    pthread_mutex_lock(&p->output);
    p->on_problem(file, line, message, p->user);
    pthread_mutex_unlock(&p->output);
}

static void *produce(void *arg)
{
    pipeline *p = arg;
    for (size_t i = 0; i < p->n_files; i++) {
        pthread_mutex_lock(&p->lock);
        int stop = p->cancelled || p->out_of_memory;
        pthread_mutex_unlock(&p->lock);
        if (stop) break;
        int rc = kb_document_parse_file(p->files[i], on_document, on_problem, p);
        pthread_mutex_lock(&p->lock);
        if (rc == KB_DOC_IO_ERROR) p->io_errors++;
        p->files_done++;
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_lock(&p->lock);
    p->done = 1;
    pthread_cond_broadcast(&p->not_empty);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

pipeline *pipeline_start(char *const *files, size_t n, kb_problem_fn on_problem_fn, void *user,
                         char *err, size_t err_len)
{
    pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    p->files = files;
    p->n_files = n;
    p->on_problem = on_problem_fn;
    p->user = user;
    p->preparer = kb_index_preparer_new(err, err_len);
    if (!p->preparer) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->output, NULL);
    pthread_cond_init(&p->not_empty, NULL);
    pthread_cond_init(&p->not_full, NULL);
    if (pthread_create(&p->thread, NULL, produce, p) != 0) {
        snprintf(err, err_len, "cannot start the parsing thread");
        kb_index_preparer_free(p->preparer);
        free(p);
        return NULL;
    }
    return p;
}

kb_prepared_doc *pipeline_next(pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->count == 0 && !p->done) pthread_cond_wait(&p->not_empty, &p->lock);
    kb_prepared_doc *d = NULL;
    if (p->count > 0) {
        d = p->queue[p->head];
        p->head = (p->head + 1) % QUEUE_SLOTS;
        p->count--;
        pthread_cond_signal(&p->not_full);
    }
    pthread_mutex_unlock(&p->lock);
    return d;
}

void pipeline_cancel(pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    p->cancelled = 1;
    pthread_cond_broadcast(&p->not_full);
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
    pthread_join(p->thread, NULL);
    while (p->count > 0) {
        kb_prepared_doc_free(p->queue[p->head]);
        p->head = (p->head + 1) % QUEUE_SLOTS;
        p->count--;
    }
    *files_done = p->files_done;
    *io_errors = p->io_errors;
    *out_of_memory = p->out_of_memory;
    kb_index_preparer_free(p->preparer);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->output);
    pthread_cond_destroy(&p->not_empty);
    pthread_cond_destroy(&p->not_full);
    free(p);
}
