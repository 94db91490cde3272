/*
 * acceptor.h — accepts connections on a thread of its own and hands them to libmicrohttpd.
 *
 * libmicrohttpd's pool threads accept new connections between rounds of serving the ones they
 * have, at most 10 a round. When one address floods the service (wrk -c1000), the connections
 * it has beyond its per-address limit come back as fast as they are refused and fill the listen
 * backlog, and a newcomer from anywhere else waits behind them, ten per round of searches: about
 * a second with a 10,000-document index (issue 15, item 11). Here one thread does nothing but
 * accept, so the backlog drains as fast as connections arrive, and each is handed on or refused
 * (MHD_add_connection applies the per-address limit) in microseconds.
 *
 * At the total limit the thread stops accepting, so newcomers wait in the backlog instead of
 * being refused, and it resumes as soon as a connection closes.
 */
#ifndef SEARCHD_ACCEPTOR_H
#define SEARCHD_ACCEPTOR_H

#include <stddef.h>

struct MHD_Daemon;

/* Start accepting on listen_fd (made non-blocking) for daemon (started with
 * MHD_USE_NO_LISTEN_SOCKET), keeping at most limit connections open. Returns 0, or -1 with the
 * reason in err. */
int searchd_acceptor_start(struct MHD_Daemon *daemon, int listen_fd, unsigned limit, char *err,
                           size_t err_len);

/* Stop accepting and wait for the thread (the listening socket stays open). */
void searchd_acceptor_stop(void);

/* A connection handed on earlier has closed (MHD_CONNECTION_NOTIFY_CLOSED). */
void searchd_acceptor_closed(void);

#endif
