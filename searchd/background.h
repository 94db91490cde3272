/*
 * background.h — the daemon's background threads (the gap queue's worker, the learned-phrasing
 * refresher) name themselves and step back from the CPU, so searches always come first.
 *
 * Why per-thread nice 19 (setpriority on the thread's id, which Linux applies to that thread
 * alone) rather than SCHED_IDLE: both leave the CPU to the request threads under load, but the
 * gap worker holds the event store's write lock for its short transactions, which the store's
 * writer thread also needs. A nice-19 thread still gets about 1.5% of a busy core against each
 * normal one, so a transaction it started finishes in a bounded time; SCHED_IDLE gets a fifth of
 * that and would stretch those lock holds five times longer. And an unprivileged thread cannot
 * raise its priority again, so "low only while not holding the lock" is not possible. The queue
 * lags while searches saturate the machine and catches up when they ease (docs/GAPS.md, "What
 * taking a question in costs"; docs/OPERATIONS.md).
 */
#ifndef SEARCHD_BACKGROUND_H
#define SEARCHD_BACKGROUND_H

#define SEARCHD_BACKGROUND_NICE 19

/* Called first thing in a background thread: name it (`top -H`, /proc/PID/task/TID/comm; at
 * most 15 bytes) and lower its priority to SEARCHD_BACKGROUND_NICE. When the system refuses
 * (a seccomp filter without setpriority), says so once in the log and goes on at normal
 * priority. */
void searchd_background_thread(const char *name);

#endif
