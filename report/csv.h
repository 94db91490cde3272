/*
 * csv.h — kb-report's CSV output (RFC 4180): the same results as the JSON, one row per item.
 *
 * Text that agents typed may start with = + - @ (also after leading whitespace) or TAB or CR,
 * which spreadsheets may run as a formula; such text fields get a leading apostrophe (numbers
 * are written as they are). The leads' page's CSV follows the same rule (searchd/web/js/csv.js).
 */
#ifndef REPORT_CSV_H
#define REPORT_CSV_H

#include <stdio.h>

#include "kb/coaching.h"
#include "kb/gaps.h"
#include "kb/review.h"

/* Write a page of the queue (kb_gaps_list) as CSV. */
void report_csv_gaps(FILE *out, const kb_gap_page *page);
/* Write the help-request report (kb_review_report) as CSV. */
void report_csv_help_requests(FILE *out, const kb_report *rep);
/* Write content health (kb_gaps_health) as CSV, one row per listed document. */
void report_csv_health(FILE *out, const kb_content_health *health);
/* Write the agents list (kb_review_agents) as CSV. */
void report_csv_agents(FILE *out, const kb_agent_list *agents);

/* Write an agent's study list (kb_coaching_study_list) as CSV. */
void report_csv_study(FILE *out, const char *agent, const kb_study_list *l);
/* Write coaching sessions (kb_coaching_list) as CSV; documents as "doc;doc". */
void report_csv_coaching_sessions(FILE *out, const kb_coaching_page *p);
/* Write the coaching-effect report (kb_coaching_effect) as CSV: a row per session (kind
 * "session"), then a row per team (kind "team", the coached windows in the before_ and after_
 * columns). */
void report_csv_coaching_effect(FILE *out, const kb_effect_report *r);

#endif
