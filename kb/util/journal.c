/*
 * journal.c — syslog priorities on stderr lines under systemd (see include/kb/journal.h).
 *
 * kb-searchd formats its own lines (time, level, redaction: searchd/log.c) and asks only
 * whether stderr is the journal and for the prefix; kb-indexer, kb-report and the library's
 * few direct messages print through kb_journal_printf.
 */
#include "kb/journal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kb_journal_stderr(void) {
    /* Racy only in that two threads may both compute the same answer. */
    static volatile int known = -1;
    if (known >= 0) return known;
    int is = 0;
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
        (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
        is = 1;
    known = is;
    return is;
}

const char *kb_journal_prefix(int priority) {
    static const char *const prefixes[] = {"<0>", "<1>", "<2>", "<3>",
                                           "<4>", "<5>", "<6>", "<7>"};
    return prefixes[priority < 0 ? 0 : priority > 7 ? 7 : priority];
}

static void write_all(const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return; /* nowhere left to report it */
        }
        s += w;
        n -= (size_t)w;
    }
}

void kb_journal_printf(int priority, const char *fmt, ...) {
    char stack[1024], *text = stack;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(stack, sizeof stack, fmt, ap);
    va_end(ap);
    if (m < 0) return;
    size_t len = (size_t)m;
    if (len >= sizeof stack) {
        text = malloc(len + 1);
        if (text) {
            va_start(ap, fmt);
            vsnprintf(text, len + 1, fmt, ap);
            va_end(ap);
        } else { /* out of memory: the start of the message is better than nothing */
            text = stack;
            len = sizeof stack - 1;
        }
    }
    if (!kb_journal_stderr()) {
        write_all(text, len);
    } else {
        /* The prefix before every line: the journal stores each line as an entry of its own. */
        size_t lines = 1;
        for (size_t i = 0; i + 1 < len; i++) lines += text[i] == '\n';
        char *out = malloc(len + 3 * lines);
        if (out) {
            size_t o = 0;
            for (size_t i = 0; i < len; i++) {
                if (i == 0 || text[i - 1] == '\n') {
                    memcpy(out + o, kb_journal_prefix(priority), 3);
                    o += 3;
                }
                out[o++] = text[i];
            }
            write_all(out, o);
            free(out);
        } else {
            write_all(kb_journal_prefix(priority), 3);
            write_all(text, len);
        }
    }
    if (text != stack) free(text);
}
