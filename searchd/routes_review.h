/*
 * routes_review.h — what main.c needs of the leads' endpoints: (re)loading the agents file.
 */
#ifndef SEARCHD_ROUTES_REVIEW_H
#define SEARCHD_ROUTES_REVIEW_H

#include <stddef.h>

/* Load searchd_ctx.agents_path (when set) into the event store's agents table. 0, or -1 with
 * "FILE:LINE: why" in err (the previous list stays). */
int searchd_agents_load(char *err, size_t err_len);

/* Free the document list cached for content health (at exit). */
void searchd_routes_gaps_free(void);

#endif
