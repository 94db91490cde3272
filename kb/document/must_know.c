/*
 * must_know.c — the one rule deciding whether a must-know document (应知应会, <must-know> in
 * docs/FORMAT.md, issue 19) concerns an agent of a given team.
 *
 * Documents (kb_document_must_know_for) and search hits (kb_hit_must_know_for, kb/search) carry
 * the same three fields and both ask this function, so the hit list, the document view and the
 * reports built on them can never disagree about who must know what.
 */
#include "kb/document.h"

#include <string.h>

int kb_must_know_applies(int must_know, char *const *teams, size_t n_teams, const char *team)
{
    if (!must_know) return 0;
    if (n_teams == 0) return 1; /* every team, and agents without one */
    if (!team || !team[0]) return 0;
    for (size_t i = 0; i < n_teams; i++)
        if (teams[i] && strcmp(teams[i], team) == 0) return 1;
    return 0;
}

int kb_document_must_know_for(const kb_document *doc, const char *team)
{
    return doc ? kb_must_know_applies(doc->must_know, doc->must_know_teams,
                                      doc->n_must_know_teams, team)
               : 0;
}
