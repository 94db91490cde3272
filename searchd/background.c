/*
 * background.c — background threads name themselves and run at low priority (background.h).
 */
#include "background.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"

void searchd_background_thread(const char *name)
{
    pthread_setname_np(pthread_self(), name); /* only for people looking: failure is harmless */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), SEARCHD_BACKGROUND_NICE) != 0)
        searchd_log_warn("%s thread: cannot lower its priority (nice %d): %s; it runs at the "
                         "searches' priority and may slow them under load",
                         name, SEARCHD_BACKGROUND_NICE, strerror(errno));
}
