/*
 * listen.c — the listening socket (see listen.h).
 *
 * Only literal addresses and "localhost" are accepted: resolving other names would make the
 * bound address depend on DNS at start-up, which is not what an operator means by --listen.
 */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024

int searchd_listen_parse(const char *spec, searchd_listen_addr *out, char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    char host[64];
    const char *port_text;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':') {
            snprintf(err, err_len, "--listen %s: write an IPv6 address as [ADDRESS]:PORT", spec);
            return -1;
        }
        size_t n = (size_t)(close - spec - 1);
        if (n == 0 || n >= sizeof host) {
            snprintf(err, err_len, "--listen %s: bad IPv6 address", spec);
            return -1;
        }
        memcpy(host, spec + 1, n);
        host[n] = '\0';
        port_text = close + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon || colon == spec) {
            snprintf(err, err_len, "--listen %s: expected HOST:PORT, e.g. 127.0.0.1:8080", spec);
            return -1;
        }
        size_t n = (size_t)(colon - spec);
        if (n >= sizeof host || memchr(spec, ':', n)) {
            snprintf(err, err_len, "--listen %s: write an IPv6 address as [ADDRESS]:PORT", spec);
            return -1;
        }
        memcpy(host, spec, n);
        host[n] = '\0';
        port_text = colon + 1;
    }
    char *end;
    errno = 0;
    long port = strtol(port_text, &end, 10);
    if (!*port_text || *end || errno || port < 1 || port > 65535) {
        snprintf(err, err_len, "--listen %s: the port must be a number from 1 to 65535", spec);
        return -1;
    }

    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->addr;
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        out->addr_len = sizeof *v4;
        snprintf(out->shown, sizeof out->shown, "%s:%ld", host, port);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        out->addr_len = sizeof *v6;
        snprintf(out->shown, sizeof out->shown, "[%s]:%ld", host, port);
    } else {
        snprintf(err, err_len,
                 "--listen %s: HOST must be an IPv4 address, an IPv6 address in [brackets] or "
                 "localhost",
                 spec);
        return -1;
    }
    return 0;
}

int searchd_listen_open(const searchd_listen_addr *addr, char *err, size_t err_len) {
    int family = addr->addr.ss_family;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, err_len, "cannot listen on %s: %s", addr->shown, strerror(errno));
        return -1;
    }
    int on = 1;
    /* Restarting right after a stop must not fail on connections in TIME_WAIT. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    if (bind(fd, (const struct sockaddr *)&addr->addr, addr->addr_len) != 0) {
        int e = errno;
        if (e == EADDRINUSE)
            snprintf(err, err_len, "cannot listen on %s: the port is in use (another kb-searchd "
                     "running?)", addr->shown);
        else if (e == EADDRNOTAVAIL)
            snprintf(err, err_len, "cannot listen on %s: no network interface has that address",
                     addr->shown);
        else if (e == EACCES)
            snprintf(err, err_len, "cannot listen on %s: permission denied (ports below 1024 need "
                     "privileges)", addr->shown);
        else
            snprintf(err, err_len, "cannot listen on %s: %s", addr->shown, strerror(e));
        close(fd);
        return -1;
    }
    if (listen(fd, LISTEN_BACKLOG) != 0) {
        snprintf(err, err_len, "cannot listen on %s: %s", addr->shown, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}
