/*
 * kb/journal.h — syslog priorities on the programs' stderr lines when stderr is systemd's
 * journal.
 *
 * Under systemd a service's stderr is a stream into the journal, and a line that starts with
 * "<N>" (N a syslog priority, sd-daemon(3)) is stored at priority N, without the prefix; any
 * other line is stored at the unit's default, info. So that `journalctl -p err` finds the
 * errors of kb-searchd, kb-indexer and kb-report, their lines carry the prefix, but only when
 * stderr really is the journal: on a terminal, in a pipe or a file the lines stay as they are.
 */
#ifndef KB_JOURNAL_H
#define KB_JOURNAL_H

/* The priorities the programs use (syslog's numbers). */
enum { KB_PRIO_ERR = 3, KB_PRIO_WARNING = 4, KB_PRIO_INFO = 6 };

/* 1 when stderr is the journal's stream: systemd sets $JOURNAL_STREAM to "DEVICE:INODE" of the
 * stream it connected, and it counts only if stderr is still that file (a child whose stderr
 * was redirected inherits the variable but not the stream). Decided at the first call. */
int kb_journal_stderr(void);

/* "<3>", "<4>", ...: the prefix of a priority (0..7; others are clamped), whatever stderr is. */
const char *kb_journal_prefix(int priority);

/* fprintf(stderr, fmt, ...) in one write(2) (lines from threads do not interleave), every line
 * of the text starting with the priority's prefix when kb_journal_stderr(). The text ends with
 * its own newline, as for fprintf. */
void kb_journal_printf(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
