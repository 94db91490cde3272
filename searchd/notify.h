/*
 * notify.h — tell systemd how the service is doing (the sd_notify protocol, sd_notify(3)).
 *
 * kb-searchd.service is Type=notify: systemd counts the service as started only once it says
 * READY=1, which it does after the index, the event store and the listening socket are open,
 * so units ordered after it (and `systemctl start` itself) wait for a service that can search.
 * The protocol is one datagram to the socket named by $NOTIFY_SOCKET; it is implemented here
 * (some 40 lines) rather than linking libsystemd for one call. Without $NOTIFY_SOCKET (not run
 * by systemd) every call does nothing.
 */
#ifndef SEARCHD_NOTIFY_H
#define SEARCHD_NOTIFY_H

/* Send state (e.g. "READY=1", "RELOADING=1", "STOPPING=1", "STATUS=...") to systemd. 0 when
 * sent or when there is no one to tell; -1 when sending failed (errno set). */
int searchd_notify(const char *state);

#endif
