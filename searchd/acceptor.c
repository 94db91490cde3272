/*
 * acceptor.c — the accepting thread (see acceptor.h).
 *
 * The thread counts the connections it has handed to libmicrohttpd and not yet seen closed
 * (searchd_acceptor_closed, from MHD's connection notifications). A slot is taken before
 * accept() and given back when nothing was accepted or MHD refused the connection, so a close
 * reported before MHD_add_connection returns can never make the count wrap. At the limit the
 * thread waits on a condition variable, and the kernel keeps newcomers in the listen backlog.
 */
#include "acceptor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"

static struct MHD_Daemon *mhd;
static int listen_fd = -1;
static int wake_fd = -1; /* eventfd: written by searchd_acceptor_stop */
static unsigned limit;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t room; /* on CLOCK_MONOTONIC */
static unsigned open_now;   /* handed to MHD, not reported closed */
static int stopping, running;
static pthread_t thread;

/* The count is of connections handed on minus those reported closed. Were MHD ever to drop one
 * without reporting it, the count would stay too high for good and the service would stop
 * accepting; so after a second at the limit it is compared with MHD's own count, which can be
 * lower only by connections still on their way to a pool thread (there for microseconds). */
static void recount_locked(void) {
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    if (!info || info->num_connections >= open_now) return;
    searchd_log_warn("http: connection count corrected from %u to %u (closes not reported)",
                     open_now, info->num_connections);
    open_now = info->num_connections;
}

/* Take a slot for the next connection, waiting while all are taken. 0, or -1 when stopping. */
static int take_slot(void) {
    pthread_mutex_lock(&mu);
    while (!stopping && open_now >= limit) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        if (pthread_cond_timedwait(&room, &mu, &until) == ETIMEDOUT) recount_locked();
    }
    int ok = !stopping;
    if (ok) open_now++;
    pthread_mutex_unlock(&mu);
    return ok ? 0 : -1;
}

static void give_back_slot(void) {
    pthread_mutex_lock(&mu);
    open_now--;
    pthread_mutex_unlock(&mu);
}

/* Wait until the listening socket has a connection (or for timeout_ms, -1: no limit). 0, or -1
 * when stopping. */
static int wait_for_connection(int timeout_ms) {
    struct pollfd p[2] = {{.fd = listen_fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    if (poll(p, 2, timeout_ms) < 0 && errno != EINTR) {
        struct timespec pause = {0, 10 * 1000000L}; /* cannot happen with valid descriptors */
        nanosleep(&pause, NULL);
    }
    return p[1].revents ? -1 : 0;
}

static void *acceptor_main(void *arg) {
    (void)arg;
    static const char cannot_accept[] = "http: cannot accept connections: %s (they wait in the "
                                        "listen backlog; is the open-files limit too low?)";
    for (;;) {
        if (take_slot() != 0) break;
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        int fd = accept4(listen_fd, (struct sockaddr *)&addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            /* MHD closes it when it refuses it (beyond the per-address limit; its own warning,
             * written once per interval, says so). */
            if (MHD_add_connection(mhd, fd, (struct sockaddr *)&addr, len) != MHD_YES)
                give_back_slot();
            continue;
        }
        int e = errno;
        give_back_slot();
        if (e == EINTR || e == ECONNABORTED) continue;
        if (e == EAGAIN || e == EWOULDBLOCK) {
            if (wait_for_connection(-1) != 0) break;
            continue;
        }
        /* EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection stays in the backlog; try again soon
         * rather than spin. */
        searchd_log_repeating("error", cannot_accept, cannot_accept, strerror(e));
        if (wait_for_connection(100) != 0) break;
    }
    return NULL;
}

int searchd_acceptor_start(struct MHD_Daemon *daemon, int fd, unsigned max_open, char *err,
                           size_t err_len) {
    mhd = daemon;
    listen_fd = fd;
    /* accept() must return at once when a connection went away between poll() and accept(), so
     * that the thread gets back to poll() and sees a stop request. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
        snprintf(err, err_len, "cannot make the listening socket non-blocking: %s", strerror(errno));
        return -1;
    }
    limit = max_open;
    open_now = 0;
    stopping = 0;
    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd < 0) {
        snprintf(err, err_len, "cannot start the accepting thread: %s", strerror(errno));
        return -1;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&room, &attr);
    pthread_condattr_destroy(&attr);
    int rc = pthread_create(&thread, NULL, acceptor_main, NULL);
    if (rc != 0) {
        snprintf(err, err_len, "cannot start the accepting thread: %s", strerror(rc));
        close(wake_fd);
        wake_fd = -1;
        return -1;
    }
    running = 1;
    return 0;
}

void searchd_acceptor_stop(void) {
    if (!running) return;
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_broadcast(&room);
    pthread_mutex_unlock(&mu);
    uint64_t one = 1;
    if (write(wake_fd, &one, sizeof one) < 0) { /* an eventfd this size cannot be full */
    }
    pthread_join(thread, NULL);
    close(wake_fd);
    wake_fd = -1;
    running = 0;
}

void searchd_acceptor_closed(void) {
    pthread_mutex_lock(&mu);
    if (open_now > 0) open_now--;
    pthread_cond_signal(&room);
    pthread_mutex_unlock(&mu);
}
