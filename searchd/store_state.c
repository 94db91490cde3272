/*
 * store_state.c — 503 while the event store's database cannot be reached (see store_state.h).
 */
#include "store_state.h"

#include <string.h>

#include "kb/status.h"
#include "kb/store.h"
#include "searchd.h"

#define UNREACHABLE_MESSAGE                                                                   \
    "event store unreachable: this node cannot reach its database now (searches still work); " \
    "try again shortly"

int searchd_store_unreachable(void)
{
    if (!searchd_ctx.store) return 0;
    kb_store_stats_t st;
    kb_store_stats(searchd_ctx.store, &st);
    return st.unreachable;
}

int searchd_store_gate(searchd_request *req)
{
    if (!searchd_store_unreachable()) return 0;
    searchd_http_respond_error(req, 503, UNREACHABLE_MESSAGE);
    return -1;
}

void searchd_store_respond_failure(searchd_request *req, int code, const char *msg500)
{
    if (code == KB_UNAVAILABLE || searchd_store_unreachable())
        searchd_http_respond_error(req, 503, UNREACHABLE_MESSAGE);
    else
        searchd_http_respond_error(req, 500, "%s", msg500);
}
