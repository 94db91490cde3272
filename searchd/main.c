/*
 * main.c — kb-searchd: arguments, start-up, signals, shutdown.
 *
 *   kb-searchd --index DIR --data DIR --listen HOST:PORT --tokens FILE [--threads N]
 *              [--agents FILE] [--max-connections N] [--max-connections-per-ip N]
 *              [--spool DIR] ...
 *
 * Start-up opens everything that can fail (tokens, index, event store, listening socket)
 * before serving, and exits non-zero with a message saying what to fix: a service that starts
 * but cannot search is worse than one that refuses to start.
 *
 * Signals are blocked in every thread and taken synchronously by the main thread with
 * sigtimedwait(), so handling them can do real work (reload a file, shut down in order) without
 * async-signal-safety concerns:
 *   SIGHUP           reload the tokens file and the agents file (a bad file keeps the old
 *                    list, and says why), reopen the --access-log file (after logrotate)
 *   SIGTERM, SIGINT  stop accepting, finish requests in flight, flush the event store, exit 0
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "gaps_worker.h"
#include "http.h"
#include "kb/gaps.h"
#include "kb/redact.h"
#include "kb/store.h"
#include "learned.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "routes_review.h"
#include "agents_known.h"
#include "searchd.h"
#include "searchers.h"
#include "store_state.h"

#define MAX_THREADS 256

searchd_context searchd_ctx;

static void usage(FILE *out) {
    fprintf(out,
            "usage: kb-searchd --index DIR --data DIR --listen HOST:PORT --tokens FILE [--threads N]\n"
            "                  [--agents FILE] [--typing-window SECONDS] [--regroup-interval SECONDS]\n"
            "                  [--max-connections N] [--max-connections-per-ip N]\n"
            "                  [--access-log off|stderr|FILE] [--spool DIR]\n"
            "\n"
            "Serve knowledge-base search over HTTP (see docs/API.md).\n"
            "  --index DIR         the index written by kb-indexer --index DIR\n"
            "  --data DIR          the service's own state (event store); created when missing\n"
            "  --listen HOST:PORT  e.g. 127.0.0.1:8080, [::1]:8080, localhost:8080\n"
            "  --tokens FILE       one \"TOKEN ROLE NAME\" per line, ROLE agent|editor|lead|admin\n"
            "  --threads N         HTTP worker threads (default: the number of cores, at least 2)\n"
            "  --agents FILE       agents list for reports: agent_id TAB name TAB team per line\n"
            "  --typing-window S   an unresolved search continued by the same agent's next search\n"
            "                      within S seconds was a step of typing: it is logged but kept out\n"
            "                      of the editors' queue (default 5; 0 counts every search)\n"
            "  --regroup-interval S  how often the editors' queue is regrouped: recent questions of\n"
            "                      untouched items move to the item that fits them best now\n"
            "                      (default 30; 0 turns it off)\n"
            "  --max-connections N   open connections at most (default 1024); more wait to be\n"
            "                      accepted until others close\n"
            "  --max-connections-per-ip N  connections from one client address at most (default\n"
            "                      64); more are refused. Behind a reverse proxy, or a NAT that\n"
            "                      puts many agents behind one address, set it to --max-connections\n"
            "  --access-log WHERE  the access lines (one per request): stderr with the other\n"
            "                      lines (default), off, or an absolute FILE path, appended to\n"
            "                      and reopened on SIGHUP\n"
            "  --spool DIR         with --data postgresql://...: where this node keeps its events\n"
            "                      while the database cannot be reached, until they are delivered\n"
            "                      (default: spool beside the --index directory)\n"
            "  --help              this text\n"
            "Signals: SIGHUP reloads the tokens and agents files and reopens the access log file;\n"
            "SIGTERM or SIGINT stops gracefully. Under systemd: Type=notify, and log lines carry\n"
            "their journal priority.\n");
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "kb-searchd: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    usage(stderr);
    return 2;
}

static unsigned default_threads(void) {
    long n = 0;
    cpu_set_t set;
    /* The CPUs we may run on (a container's cpuset), not every CPU of the host. */
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 2) n = 2;
    if (n > MAX_THREADS) n = MAX_THREADS;
    return (unsigned)n;
}

/* A duration option given in whole seconds, 0..max, into milliseconds (default_ms when the option
 * is absent). 0, or -1 after printing the usage error. */
static int parse_seconds(const char *name, const char *text, long max, int64_t default_ms,
                         int64_t *ms) {
    *ms = default_ms;
    if (!text) return 0;
    char *end;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (*end || errno || n < 0 || n > max) {
        fprintf(stderr, "kb-searchd: %s %s: give seconds from 0 to %ld\n", name, text, max);
        usage(stderr);
        return -1;
    }
    *ms = (int64_t)n * 1000;
    return 0;
}

/* A count option, 1..max (fallback when the option is absent). 0, or -1 after printing the
 * usage error. */
static int parse_count(const char *name, const char *text, unsigned max, unsigned fallback,
                       unsigned *out) {
    *out = fallback;
    if (!text) return 0;
    char *end;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (*end || errno || n < 1 || n > (long)max) {
        fprintf(stderr, "kb-searchd: %s %s: give a number from 1 to %u%s\n", name, text, max,
                strcmp(name, "--max-connections-per-ip") == 0 ? " (at most --max-connections)" : "");
        usage(stderr);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

static int explicit_connection_limit; /* --max-connections was given */
static const char *access_log_arg = "stderr"; /* --access-log */

/* Parse the command line into searchd_ctx. Returns 0, or an exit status (2, or 0 for --help). */
/* The numeric options as typed, read once every argument is known. */
typedef struct {
    const char *threads, *typing_window, *regroup, *max_connections, *max_per_ip;
} number_args;

/* Where the value of option arg goes, and its canonical name in *name; NULL when unknown. */
static const char **option_slot(const char *arg, const char **name, number_args *t) {
    static const char *const names[] = {"--index", "--data", "--listen", "--tokens", "--threads",
                                         "--agents", "--typing-window", "--regroup-interval",
                                         /* before --max-connections, which is its prefix */
                                         "--max-connections-per-ip", "--max-connections",
                                         "--access-log", "--spool"};
    const char **slots[] = {&searchd_ctx.index_dir, &searchd_ctx.data_dir, &searchd_ctx.listen,
                            &searchd_ctx.tokens_path, &t->threads, &searchd_ctx.agents_path,
                            &t->typing_window, &t->regroup, &t->max_per_ip,
                            &t->max_connections, &access_log_arg, &searchd_ctx.spool_dir};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strncmp(arg, names[i], strlen(names[i]))) {
            *name = names[i];
            return slots[i];
        }
    return NULL;
}

/* The numeric options into searchd_ctx, with their defaults. 0, or 2 after saying why. */
static int read_numbers(const number_args *t) {
    searchd_ctx.threads = default_threads();
    if (t->threads) {
        char *end;
        errno = 0;
        long n = strtol(t->threads, &end, 10);
        if (*end || errno || n < 1 || n > MAX_THREADS)
            return usage_error("--threads %s: give a number from 1 to 256", t->threads);
        searchd_ctx.threads = (unsigned)n;
    }
    explicit_connection_limit = t->max_connections != NULL;
    if (parse_count("--max-connections", t->max_connections, SEARCHD_MAX_CONNECTION_LIMIT,
                    SEARCHD_CONNECTION_LIMIT, &searchd_ctx.max_connections) != 0 ||
        parse_count("--max-connections-per-ip", t->max_per_ip, searchd_ctx.max_connections,
                    SEARCHD_PER_IP_CONNECTION_LIMIT < searchd_ctx.max_connections
                        ? SEARCHD_PER_IP_CONNECTION_LIMIT
                        : searchd_ctx.max_connections,
                    &searchd_ctx.max_connections_per_ip) != 0)
        return 2;
    if (parse_seconds("--typing-window", t->typing_window, 600, KB_GAPS_TYPING_WINDOW_MS,
                      &searchd_ctx.typing_window_ms) != 0 ||
        parse_seconds("--regroup-interval", t->regroup, 86400, SEARCHD_REGROUP_INTERVAL_MS,
                      &searchd_ctx.regroup_interval_ms) != 0)
        return 2;
    return 0;
}

/* The command line into searchd_ctx. *exit_now is set when main should return the result at
 * once (--help: 0; a usage error: 2, said on stderr). */
static int parse_args(int argc, char **argv, int *exit_now) {
    *exit_now = 1;
    number_args numbers = {0};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 0;
        }
        const char *name = arg;
        const char **slot = option_slot(arg, &name, &numbers);
        if (!slot) return usage_error("unknown argument %s", arg);
        size_t n = strlen(name);
        const char *value;
        if (arg[n] == '=') {
            value = arg + n + 1;
        } else if (arg[n] == '\0') {
            if (i + 1 >= argc) return usage_error("%s needs a value", name);
            value = argv[++i];
        } else {
            return usage_error("unknown argument %s", arg);
        }
        if (!*value) return usage_error("%s needs a value", name);
        *slot = value;
    }
    const char *missing = !searchd_ctx.index_dir    ? "--index"
                          : !searchd_ctx.data_dir   ? "--data"
                          : !searchd_ctx.listen     ? "--listen"
                          : !searchd_ctx.tokens_path ? "--tokens"
                                                     : NULL;
    if (missing) return usage_error("missing %s", missing);
    /* A spool keeps a node's events while a shared database is away; the SQLite store is on
     * this machine and never away (docs/CLUSTER.md). */
    if (searchd_ctx.spool_dir && !kb_store_data_is_uri(searchd_ctx.data_dir))
        return usage_error("--spool %s: a spool is for an event store in PostgreSQL (--data "
                           "postgresql://...); the store in a --data directory needs none",
                           searchd_ctx.spool_dir);
    if (read_numbers(&numbers) != 0) return 2;
    *exit_now = 0;
    return 0;
}

/* Up to 1024 connections plus index and store files need more descriptors than the usual
 * soft limit of 1024. */
static void raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Each connection is a descriptor: with what is open now (index tables, event store, listening
 * socket), an epoll and an event descriptor per HTTP thread and room for the index to be
 * reopened, the limit must fit under RLIMIT_NOFILE, or accept() fails once it is reached.
 * The default is lowered to fit, with a warning; a --max-connections that does not fit is an
 * error. Returns 0, or -1 with the reason in err. */
#define FD_MARGIN 64
static int fit_connections_to_fd_limit(int explicit_limit, char *err, size_t err_len) {
    struct rlimit rl;
    DIR *d = opendir("/proc/self/fd");
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || !d) {
        if (d) closedir(d);
        return 0; /* cannot tell: leave it to the operator */
    }
    unsigned long open_now = 0;
    while (readdir(d)) open_now++;
    closedir(d);
    unsigned long reserved = open_now + 2ul * searchd_ctx.threads + FD_MARGIN;
    unsigned long room = rl.rlim_cur > reserved ? rl.rlim_cur - reserved : 0;
    if (searchd_ctx.max_connections <= room) return 0;
    if (explicit_limit || room < 16) {
        snprintf(err, err_len, "--max-connections %u needs about %lu open files, but the limit is "
                 "%lu: raise it (ulimit -n, or LimitNOFILE= in a systemd unit) or lower "
                 "--max-connections", searchd_ctx.max_connections,
                 searchd_ctx.max_connections + reserved, (unsigned long)rl.rlim_cur);
        return -1;
    }
    searchd_log_warn("at most %lu connections instead of %u: the open-files limit is %lu (raise "
                     "it with ulimit -n, or LimitNOFILE= in a systemd unit)", room,
                     searchd_ctx.max_connections, (unsigned long)rl.rlim_cur);
    searchd_ctx.max_connections = (unsigned)room;
    if (searchd_ctx.max_connections_per_ip > searchd_ctx.max_connections)
        searchd_ctx.max_connections_per_ip = searchd_ctx.max_connections;
    return 0;
}

/* A start-up error, said once: stderr is the log, so the log line is what the operator reads
 * (printing it again plainly doubled every start-up error). */
/* --data as it may be shown: a directory as given, a URI without its password (the store's
 * name for it). */
static const char *searchd_data_shown(void) {
    return kb_store_data_is_uri(searchd_ctx.data_dir) && searchd_ctx.store
               ? kb_store_path(searchd_ctx.store)
               : searchd_ctx.data_dir;
}

static int fail(const char *message) {
    searchd_log_error("%s", message);
    return 1;
}

/* Say clearly when the data directory exists but we cannot write there; the store's own error
 * would otherwise be SQLite's "unable to open database file". */
static int check_data_dir(const char *dir, char *err, size_t err_len) {
    struct stat st;
    if (kb_store_data_is_uri(dir)) return 0; /* a PostgreSQL database (docs/CLUSTER.md) */
    if (stat(dir, &st) != 0) return 0; /* missing: the store creates it */
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "--data %s is not a directory", dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(err, err_len, "--data %s is not writable: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* With a PostgreSQL store and no --spool: the folder spool beside the index directory
 * (/var/lib/kb/spool for the package's /var/lib/kb/index, in the unit's StateDirectory). 0, or
 * -1 when out of memory. */
static int spool_dir_default(char *err, size_t err_len) {
    static char *made;
    if (searchd_ctx.spool_dir || !kb_store_data_is_uri(searchd_ctx.data_dir)) return 0;
    const char *index = searchd_ctx.index_dir;
    size_t n = strlen(index);
    while (n > 1 && index[n - 1] == '/') n--; /* "index/" is "index" */
    size_t slash = n;
    while (slash > 0 && index[slash - 1] != '/') slash--;
    /* The parent: none for a bare name (the working directory), "/" for a folder in the root. */
    int rc = slash == 0   ? asprintf(&made, "spool")
             : slash == 1 ? asprintf(&made, "/spool")
                          : asprintf(&made, "%.*s/spool", (int)slash - 1, index);
    if (rc < 0) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    searchd_ctx.spool_dir = made;
    return 0;
}

/* Open everything the service needs, in dependency order, and start serving. 0, or -1 with
 * the reason in err and whatever was started stopped again. */
static int start_service(const searchd_listen_addr *addr, char *err, size_t err_len) {
    if (kb_redact_global_init(err, err_len) != 0) return -1;
    if (searchd_auth_load(searchd_ctx.tokens_path, err, err_len) != 0) return -1;
    if (searchd_searchers_start(searchd_ctx.index_dir, err, err_len) != 0) return -1;
    if (check_data_dir(searchd_ctx.data_dir, err, err_len) != 0) {
        searchd_searchers_stop();
        return -1;
    }
    char store_err[512] = "";
    if (spool_dir_default(err, err_len) != 0) {
        searchd_searchers_stop();
        return -1;
    }
    searchd_ctx.store = kb_store_open_spooled(searchd_ctx.data_dir, searchd_ctx.spool_dir,
                                              store_err, sizeof store_err);
    if (!searchd_ctx.store) {
        /* A URI may hold a password: the store's message names it without (docs/CLUSTER.md). */
        if (kb_store_data_is_uri(searchd_ctx.data_dir))
            snprintf(err, err_len, "cannot open the event store: %s", store_err);
        else
            snprintf(err, err_len, "cannot open the event store in %s: %s", searchd_ctx.data_dir,
                     store_err);
        searchd_searchers_stop();
        return -1;
    }
    /* The agents list and the editors' queue need the store (schema v2) and the index. With a
     * PostgreSQL store the queue's worker runs on every node and works while it holds the
     * queue's role (gaps_worker.c). The agents list is also kept in memory for help requests
     * while a PostgreSQL database is away. */
    if (!searchd_store_unreachable()) searchd_agents_known_refresh();
    if (searchd_agents_load(err, err_len) != 0 || searchd_gaps_worker_start(err, err_len) != 0) {
        searchd_searchers_stop();
        kb_store_close(searchd_ctx.store);
        return -1;
    }
    /* What agents taught (issue 17): from the store, before the first search. */
    char learn_err[512] = "";
    if (searchd_learned_start(searchd_ctx.data_dir, learn_err, sizeof learn_err) != 0) {
        snprintf(err, err_len, "cannot read the learned phrasings in %s: %s",
                 searchd_data_shown(), learn_err);
        searchd_gaps_worker_stop();
        searchd_searchers_stop();
        kb_store_close(searchd_ctx.store);
        return -1;
    }
    int listen_fd = searchd_listen_open(addr, err, err_len);
    if (listen_fd < 0 || fit_connections_to_fd_limit(explicit_connection_limit, err, err_len) != 0 ||
        searchd_http_start(listen_fd, searchd_ctx.threads, err, err_len) != 0) {
        if (listen_fd >= 0) close(listen_fd);
        searchd_learned_stop();
        searchd_gaps_worker_stop();
        searchd_searchers_stop();
        kb_store_close(searchd_ctx.store);
        return -1;
    }
    return 0;
}

/* SIGHUP: re-read the tokens and the agents list, keeping the old ones when the new are bad;
 * reopen the access log file. systemd is told while it lasts (ExecReload= sends SIGHUP). */
static void reload_files(void) {
    char err[1024];
    searchd_notify("RELOADING=1");
    if (searchd_log_reopen_access(err, sizeof err) != 0)
        searchd_log_error("SIGHUP: access log not reopened, still writing the old file: %s", err);
    if (searchd_auth_load(searchd_ctx.tokens_path, err, sizeof err) == 0)
        searchd_log_info("SIGHUP: tokens reloaded from %s: %zu tokens", searchd_ctx.tokens_path,
                         searchd_auth_count());
    else
        searchd_log_error("SIGHUP: tokens not reloaded, keeping the previous %zu: %s",
                          searchd_auth_count(), err);
    if (searchd_agents_load(err, sizeof err) != 0)
        searchd_log_error("SIGHUP: agents list not reloaded, keeping the previous one: %s", err);
    searchd_notify("READY=1");
}

/* Serve until SIGTERM or SIGINT (returned); SIGHUP reloads. */
static int wait_for_stop(const sigset_t *signals) {
    for (;;) {
        /* Woken once a second to write the counts of repeated warnings (log.h), so a flood's
         * count appears about SEARCHD_LOG_REPEAT_S after it began even if it then stops. */
        struct timespec second = {1, 0};
        int sig = sigtimedwait(signals, NULL, &second);
        searchd_log_repeats_flush(0);
        if (sig < 0) continue; /* EAGAIN (the second is over) or EINTR */
        if (sig != SIGHUP) return sig;
        reload_files();
    }
}

/* Finish what is in flight, stop the threads, write what the store still holds. */
static void stop_service(int sig) {
    atomic_store(&searchd_ctx.shutting_down, 1);
    searchd_notify("STOPPING=1");
    searchd_log_info("%s received: shutting down, %d requests in flight",
                     sig == SIGINT ? "SIGINT" : "SIGTERM", searchd_http_in_flight());
    searchd_http_shutdown(SEARCHD_SHUTDOWN_GRACE_S * 1000);
    searchd_learned_stop();
    searchd_gaps_worker_stop();
    searchd_searchers_stop();
    searchd_routes_gaps_free();
    searchd_agents_known_free();

    searchd_log_repeats_flush(1);
    kb_store_stats_t st;
    kb_store_stats(searchd_ctx.store, &st);
    kb_store_close(searchd_ctx.store); /* writes what is still queued */
    searchd_ctx.store = NULL;
    searchd_auth_free();
    searchd_log_info("kb-searchd stopped after %.0f s: %llu requests, %llu searches, %llu search "
                     "events logged, %llu dropped, %llu store write errors",
                     (double)(searchd_now_unix_ms() - searchd_ctx.started_ms) / 1000.0,
                     searchd_metrics_requests_total(), searchd_metrics_searches_total(),
                     (unsigned long long)st.searches_logged,
                     (unsigned long long)st.searches_dropped, (unsigned long long)st.write_errors);
    if (searchd_ctx.spool_dir)
        searchd_log_info("spool %s: %llu events spooled, %llu delivered; %llu were waiting at the "
                         "stop (delivered now, or at the next start)", searchd_ctx.spool_dir,
                         (unsigned long long)st.events_spooled,
                         (unsigned long long)st.events_delivered,
                         (unsigned long long)st.spool_events);
}

int main(int argc, char **argv) {
    int exit_now;
    int rc = parse_args(argc, argv, &exit_now);
    if (exit_now) return rc;

    char err[1024];
    searchd_listen_addr addr;
    if (searchd_listen_parse(searchd_ctx.listen, &addr, err, sizeof err) != 0) {
        fprintf(stderr, "kb-searchd: %s\n", err);
        usage(stderr);
        return 2;
    }
    if (strcmp(access_log_arg, "stderr") != 0 &&
        searchd_log_set_access(access_log_arg, err, sizeof err) != 0)
        return fail(err);

    /* Before any thread exists, so every thread inherits the mask. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    searchd_ctx.started_ms = searchd_now_unix_ms();

    if (start_service(&addr, err, sizeof err) != 0) return fail(err);
    atomic_store(&searchd_ctx.ready, 1);
    searchd_index_status idx;
    searchd_searchers_status(&idx);
    if (searchd_ctx.spool_dir)
        searchd_log_info("events wait in the spool %s while the database cannot be reached",
                         searchd_ctx.spool_dir);
    searchd_log_info("kb-searchd started: index %s (%u documents, revision %llu), data %s, "
                     "listening on http://%s, %u threads, %zu tokens, at most %u connections "
                     "(%u per client address)",
                     searchd_ctx.index_dir, idx.documents, (unsigned long long)idx.revision,
                     searchd_data_shown(), addr.shown, searchd_ctx.threads, searchd_auth_count(),
                     searchd_ctx.max_connections, searchd_ctx.max_connections_per_ip);
    /* Only now, with everything open, is the service ready (kb-searchd.service, Type=notify). */
    if (searchd_notify("READY=1") != 0)
        searchd_log_warn("cannot tell systemd that the service is ready ($NOTIFY_SOCKET): %s",
                         strerror(errno));
    stop_service(wait_for_stop(&signals));
    return 0;
}
