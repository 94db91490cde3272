/*
 * metrics.h — counters and the search latency histogram, rendered for Prometheus.
 *
 * Updates are lock-free relaxed atomic increments: they happen on every request in every worker
 * thread and must cost next to nothing; a scrape may see counters a few increments apart, which
 * Prometheus tolerates.
 */
#ifndef SEARCHD_METRICS_H
#define SEARCHD_METRICS_H

#include <stddef.h>

#include "router.h"

/* Count one answered request. */
void searchd_metrics_count_request(searchd_route_id route, int status);

/* Record one search (GET /api/search) that was answered: its handler time and outcome. */
void searchd_metrics_observe_search(double duration_ms, int unresolved);

void searchd_metrics_count_help_request(int kb_answerable);
void searchd_metrics_count_feedback(const char *kind); /* "click", "helpful", "not_found" */
void searchd_metrics_count_search_error(void);

/* Totals for the shutdown summary. */
unsigned long long searchd_metrics_requests_total(void);
unsigned long long searchd_metrics_searches_total(void);

/* The exposition text (text/plain; version=0.0.4), malloc'd; *len receives its length.
 * NULL when memory ran out. */
char *searchd_metrics_render(size_t *len);

#endif
