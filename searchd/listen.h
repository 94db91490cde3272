/*
 * listen.h — parse the --listen HOST:PORT argument and open the listening socket.
 *
 * We bind the socket ourselves and hand it to libmicrohttpd, so that "port in use" or "address
 * not available" reach the operator as such instead of a generic start-up failure.
 */
#ifndef SEARCHD_LISTEN_H
#define SEARCHD_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char shown[80]; /* how to print it: 127.0.0.1:8080, [::1]:8080 */
} searchd_listen_addr;

/* Parse "IPv4:PORT", "[IPv6]:PORT" or "localhost:PORT". Returns 0, or -1 with the reason. */
int searchd_listen_parse(const char *spec, searchd_listen_addr *out, char *err, size_t err_len);

/* Bind and listen. Returns the socket, or -1 with the reason in err. */
int searchd_listen_open(const searchd_listen_addr *addr, char *err, size_t err_len);

#endif
