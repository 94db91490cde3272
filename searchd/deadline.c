/*
 * deadline.c — the receive deadline for requests (see deadline.h).
 *
 * Each open connection has a small tracker (MHD's socket context), linked into one list under a
 * mutex. A thread looks at the list once a second and shuts down the socket of every connection
 * whose request has been arriving for longer than the deadline. shutdown() rather than close():
 * the descriptor stays MHD's, MHD sees the end of the stream, closes the connection itself and
 * tells us (MHD_CONNECTION_NOTIFY_CLOSED, before it closes the descriptor, and we unlink the
 * tracker under the same mutex), so the descriptor we shut down can never be a reused one.
 */
#include "deadline.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "searchd.h"

typedef struct tracker {
    struct tracker *prev, *next;
    int fd;
    int receiving;   /* waiting for (the rest of) a request */
    int cut;         /* shut down already */
    double since_ms; /* monotonic: when the clock started for the current request */
} tracker;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static tracker *head;
static pthread_t thread;
static int running, stopping;

static tracker *tracker_of(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

void searchd_deadline_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
                             enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        tracker *t = calloc(1, sizeof *t);
        if (!t || !info) { /* no memory: this connection only has MHD's idle time-out */
            free(t);
            *socket_context = NULL;
            return;
        }
        t->fd = info->connect_fd;
        t->receiving = 1;
        t->since_ms = searchd_now_mono_ms();
        pthread_mutex_lock(&mu);
        t->next = head;
        if (head) head->prev = t;
        head = t;
        pthread_mutex_unlock(&mu);
        *socket_context = t;
        return;
    }
    tracker *t = *socket_context;
    if (!t) return;
    pthread_mutex_lock(&mu);
    if (t->prev) t->prev->next = t->next;
    else head = t->next;
    if (t->next) t->next->prev = t->prev;
    pthread_mutex_unlock(&mu);
    free(t);
    *socket_context = NULL;
}

void searchd_deadline_received(struct MHD_Connection *connection) {
    tracker *t = tracker_of(connection);
    if (!t) return;
    pthread_mutex_lock(&mu);
    t->receiving = 0;
    pthread_mutex_unlock(&mu);
}

void searchd_deadline_rearm(struct MHD_Connection *connection) {
    tracker *t = tracker_of(connection);
    if (!t) return;
    pthread_mutex_lock(&mu);
    t->receiving = 1;
    t->since_ms = searchd_now_mono_ms();
    pthread_mutex_unlock(&mu);
}

static void *deadline_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    while (!stopping) {
        struct timespec next;
        clock_gettime(CLOCK_MONOTONIC, &next);
        next.tv_sec += 1;
        pthread_cond_timedwait(&wake, &mu, &next);
        if (stopping) break;
        double now = searchd_now_mono_ms(), limit = SEARCHD_RECEIVE_DEADLINE_S * 1000.0;
        unsigned cut = 0;
        for (tracker *t = head; t; t = t->next) {
            if (!t->receiving || t->cut || now - t->since_ms <= limit) continue;
            shutdown(t->fd, SHUT_RDWR);
            t->cut = 1;
            cut++;
        }
        /* One line per sweep, not per connection: an attack may involve hundreds; and during
         * a long attack one per SEARCHD_LOG_REPEAT_S with the number of sweeps (log.h). */
        static const char closed[] = "closed %u connection%s that took more than %d s to send a "
                                     "request (slow or stalled clients)";
        if (cut)
            searchd_log_repeating("warn", closed, closed, cut, cut == 1 ? "" : "s",
                                  SEARCHD_RECEIVE_DEADLINE_S);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

int searchd_deadline_start(char *err, size_t err_len) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wake, &attr);
    pthread_condattr_destroy(&attr);
    stopping = 0;
    int rc = pthread_create(&thread, NULL, deadline_main, NULL);
    if (rc != 0) {
        snprintf(err, err_len, "cannot start the request deadline thread: %s", strerror(rc));
        return -1;
    }
    running = 1;
    return 0;
}

void searchd_deadline_stop(void) {
    if (!running) return;
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mu);
    pthread_join(thread, NULL);
    running = 0;
}
