/*
 * event.c — an event's spool record (see events/event.h).
 *
 * Version 1, little-endian: version (1 byte), type (1), time_ms (8), id (8), confidence and
 * took_ms (8 each, IEEE 754 bits), flag and count (4 each), the number of strings (1), then each
 * string as its length plus one (4; 0 for NULL) and its bytes.
 */
#include "events/event.h"

#include <stdlib.h>
#include <string.h>

#define FORMAT 1
#define FIXED_BYTES (1 + 1 + 8 + 8 + 8 + 8 + 4 + 4 + 1)

void kb_event_free_strings(kb_event *ev)
{
    for (size_t i = 0; i < KB_EVENT_STRINGS; i++) {
        free(ev->s[i]);
        ev->s[i] = NULL;
    }
    free(ev->err);
    ev->err = NULL;
}

static unsigned char *put(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static uint64_t get(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

int kb_event_encode(const kb_event *ev, unsigned char **out, size_t *len)
{
    size_t n = FIXED_BYTES;
    for (int i = 0; i < KB_EVENT_STRINGS; i++) n += 4 + (ev->s[i] ? strlen(ev->s[i]) : 0);
    unsigned char *b = malloc(n), *p = b;
    if (!b) return -1;
    *p++ = FORMAT;
    *p++ = (unsigned char)ev->type;
    p = put(p, (uint64_t)ev->time_ms, 8);
    p = put(p, (uint64_t)ev->id, 8);
    p = put(p, double_bits(ev->confidence), 8);
    p = put(p, double_bits(ev->took_ms), 8);
    p = put(p, (uint32_t)ev->flag, 4);
    p = put(p, (uint32_t)ev->count, 4);
    *p++ = KB_EVENT_STRINGS;
    for (int i = 0; i < KB_EVENT_STRINGS; i++) {
        size_t sl = ev->s[i] ? strlen(ev->s[i]) : 0;
        p = put(p, ev->s[i] ? (uint32_t)sl + 1 : 0, 4);
        if (sl) memcpy(p, ev->s[i], sl);
        p += sl;
    }
    *out = b;
    *len = n;
    return 0;
}

int kb_event_decode(const unsigned char *data, size_t len, kb_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (len < FIXED_BYTES || data[0] != FORMAT || data[1] > KB_EV_HELP ||
        data[FIXED_BYTES - 1] > KB_EVENT_STRINGS)
        return -1;
    const unsigned char *p = data + 2, *end = data + len;
    ev->type = (kb_event_type)data[1];
    ev->time_ms = (int64_t)get(p, 8);
    ev->id = (int64_t)get(p + 8, 8);
    ev->confidence = bits_double(get(p + 16, 8));
    ev->took_ms = bits_double(get(p + 24, 8));
    ev->flag = (int32_t)(uint32_t)get(p + 32, 4);
    ev->count = (int32_t)(uint32_t)get(p + 36, 4);
    int n = data[FIXED_BYTES - 1];
    p = data + FIXED_BYTES;
    for (int i = 0; i < n; i++) {
        if (end - p < 4) goto bad;
        uint32_t sl = (uint32_t)get(p, 4);
        p += 4;
        if (!sl) continue;
        sl--;
        if ((size_t)(end - p) < sl || memchr(p, '\0', sl)) goto bad;
        if (!(ev->s[i] = malloc(sl + 1))) goto bad;
        memcpy(ev->s[i], p, sl);
        ev->s[i][sl] = '\0';
        p += sl;
    }
    if (p != end) goto bad;
    return 0;
bad:
    kb_event_free_strings(ev);
    return -1;
}
