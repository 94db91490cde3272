/*
 * agents_known.h — the agents list as this node last read it, for help requests while the
 * event store's database cannot be reached (docs/CLUSTER.md, "The answers while spooling").
 *
 * A help request needs the agents list twice: whether a lead may file for the named agent (one
 * of the list, when there is a list), and the agent's team, which decides whether the
 * answering document was must-know (the request keeps that snapshot). Connected, both come from
 * the store as before. Cut off, a node still answers help requests (201 with an id from its
 * spool), so it keeps the whole list as it last read it: refreshed from the store at most once
 * a minute while connected, and taken from the --agents file when that file is loaded while the
 * database is away (the file's list is then written to the database once it is back).
 *
 * GET /api/me asks the same question for the agents' page (the agent's team decides which
 * 应知应会 badges it shows), so the lookup itself — the store, or cut off the known list — is
 * here, for both (searchd_agents_lookup).
 */
#ifndef SEARCHD_AGENTS_KNOWN_H
#define SEARCHD_AGENTS_KNOWN_H

#include "kb/review.h"

/* Keep l as the known list (its contents are taken; l is left empty). write_later: it is the
 * --agents file, read while the database was away: write it there at the next refresh. */
void searchd_agents_known_take(kb_agent_list *l, int write_later);

/* From the known list: whether agent is listed, whether there is a list, and the agent's team
 * (malloc'd, NULL when not listed). 0, or -1 when no list was ever read. */
int searchd_agents_known_lookup(const char *agent, int *listed, int *have_list, char **team);

/* While the database answers: write a list waiting for it, or read the list again when the
 * known one is older than a minute (one thread at a time; the others go on). */
void searchd_agents_known_refresh(void);

/* The agents list's answer for agent: listed, whether there is a list, the agent's team
 * (malloc'd; NULL when not listed, "" when listed without a team). From the store; while its
 * database cannot be reached (or a read fails a moment before the writer notices), from the
 * known list. 0, or -1 when neither can be read (a failed read of the store is logged). */
int searchd_agents_lookup(const char *agent, int *listed, int *have_list, char **team);

void searchd_agents_known_free(void);

#endif
