/*
 * deadline.h — closes connections that take too long to send a request (slow-client defence).
 *
 * libmicrohttpd's connection time-out counts from the last byte received, so a client sending
 * one byte every few seconds ("slowloris": a request line, headers or a body dribbled out) holds
 * its connection for ever, and a few hundred such clients fill the connection limit. Here every
 * connection must deliver each whole request within SEARCHD_RECEIVE_DEADLINE_S of being opened
 * or of its previous answer; otherwise its socket is shut down and MHD closes it.
 */
#ifndef SEARCHD_DEADLINE_H
#define SEARCHD_DEADLINE_H

#include <microhttpd.h>

/* Start and stop the thread that enforces the deadline (every second). */
int searchd_deadline_start(char *err, size_t err_len);
void searchd_deadline_stop(void);

/* MHD_OPTION_NOTIFY_CONNECTION callback: keeps the list of open connections. */
void searchd_deadline_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
                             enum MHD_ConnectionNotificationCode code);

/* The request on this connection has been received entirely: its clock stops. */
void searchd_deadline_received(struct MHD_Connection *connection);
/* The answer went out (or the request ended): the clock starts for the next request. */
void searchd_deadline_rearm(struct MHD_Connection *connection);

#endif
