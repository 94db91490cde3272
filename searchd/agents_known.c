/*
 * agents_known.c — the agents list as this node last read it (see agents_known.h).
 */
#include "agents_known.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "routes_review.h"
#include "searchd.h"
#include "store_state.h"

#define REFRESH_MS 60000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* guards the four below */
static kb_agent_list known;     /* sorted by id */
static int have;
static int write_later;
static double read_ms;      /* monotonic ms */
static pthread_mutex_t refresh_mu = PTHREAD_MUTEX_INITIALIZER;

static int by_id(const void *a, const void *b)
{
    return strcmp(((const kb_agent *)a)->id, ((const kb_agent *)b)->id);
}

void searchd_agents_known_take(kb_agent_list *l, int later)
{
    if (l->n) qsort(l->v, l->n, sizeof *l->v, by_id); /* qsort(NULL, 0) is undefined */
    pthread_mutex_lock(&mu);
    kb_agent_list old = known;
    known = *l;
    have = 1;
    write_later = later;
    read_ms = searchd_now_mono_ms();
    pthread_mutex_unlock(&mu);
    memset(l, 0, sizeof *l);
    kb_agent_list_free(&old);
}

int searchd_agents_known_lookup(const char *agent, int *listed, int *have_list, char **team)
{
    *listed = *have_list = 0;
    *team = NULL;
    pthread_mutex_lock(&mu);
    int rc = have ? 0 : -1;
    if (have) {
        kb_agent key = {.id = (char *)agent};
        const kb_agent *a = bsearch(&key, known.v, known.n, sizeof *known.v, by_id);
        *have_list = known.n > 0;
        *listed = a != NULL;
        if (a && !(*team = strdup(a->team ? a->team : ""))) rc = -1;
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

void searchd_agents_known_refresh(void)
{
    if (pthread_mutex_trylock(&refresh_mu) != 0) return; /* another thread is at it */
    pthread_mutex_lock(&mu);
    int later = write_later, stale = !have || searchd_now_mono_ms() - read_ms > REFRESH_MS;
    pthread_mutex_unlock(&mu);
    char err[512] = "";
    if (later) {
        /* The --agents file, read while the database was away: its list goes there now. */
        if (searchd_agents_load(err, sizeof err) != 0)
            searchd_log_error("agents list not yet written to the event store: %s", err);
    } else if (stale) {
        kb_review *r = kb_review_open(searchd_ctx.data_dir, 1, err, sizeof err);
        kb_agent_list l;
        if (r && kb_review_agents(r, &l) == KB_OK) searchd_agents_known_take(&l, 0);
        else searchd_log_error("cannot read the agents list: %s", r ? kb_review_errmsg(r) : err);
        kb_review_close(r);
    }
    pthread_mutex_unlock(&refresh_mu);
}

int searchd_agents_lookup(const char *agent, int *listed, int *have_list, char **team)
{
    *team = NULL;
    if (!searchd_store_unreachable()) {
        char err[512] = "";
        kb_review *r = kb_review_open(searchd_ctx.data_dir, 1, err, sizeof err);
        int ok = r && kb_review_agent_lookup(r, agent, listed, have_list) == KB_OK &&
                 kb_review_agent_team(r, agent, team) == KB_OK;
        if (!ok) searchd_log_error("cannot read the agents list: %s", r ? kb_review_errmsg(r) : err);
        kb_review_close(r);
        if (ok) {
            searchd_agents_known_refresh(); /* at most once a minute: kept for when cut off */
            return 0;
        }
        free(*team);
        *team = NULL;
    }
    /* Cut off (or the read failed a moment before the writer noticed the connection lost):
     * the list as last read, at most a minute old, rather than no answer at all. */
    return searchd_agents_known_lookup(agent, listed, have_list, team);
}

void searchd_agents_known_free(void)
{
    pthread_mutex_lock(&mu);
    kb_agent_list_free(&known);
    memset(&known, 0, sizeof known);
    have = 0;
    pthread_mutex_unlock(&mu);
}
