/*
 * analysis/synonyms.h — interchangeable service words, for query expansion.
 *
 * Agents and customers rarely use the document's word: 更改 for 变更, 借钱 for 贷款, a
 * Hong Kong 宽频 for a mainland 宽带. A query term that belongs to a group is expanded with the
 * group's other members (at a lower weight than what was typed). The groups are general
 * customer-service vocabulary of Chinese call centres (telecom, banking, insurance), not tuned to
 * any data set; see kb/analysis/synonyms.c and docs/SEARCH.md.
 *
 * Expansion happens at query time, so changing the list needs no re-indexing.
 */
#ifndef KB_SYNONYMS_H
#define KB_SYNONYMS_H

#include <stddef.h>

#define KB_SYNONYMS_MAX 8

/* Store the other members of term's group (folded forms) in out and return how many; 0 when
 * the term is in no group. Thread-safe (constant data only). */
size_t kb_synonyms_of(const char *term, const char *out[KB_SYNONYMS_MAX]);

#endif
