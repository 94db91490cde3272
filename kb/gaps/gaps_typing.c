/*
 * gaps_typing.c — which logged searches were only steps of an agent typing (see kb/gaps.h,
 * kb_gaps_set_typing_window).
 *
 * Agents' tools search as the agent types: one question typed in five bursts is five logged
 * searches, and the first four are usually unresolved ("国际", "国际漫游怎"...). Counting them
 * would make every question look five times as frequent and flood the queue with fragments.
 * The store keeps every search (the contract says every search is recorded); the queue leaves
 * out a search that the same agent's next search continued within the window. "Continued"
 * means the two queries share a prefix of at least half the shorter one, in characters: typing
 * on ("国际漫游" → "国际漫游怎么开"), deleting back, and correcting the last characters all
 * qualify; clearing the box and asking something else does not. A search the agent acted on
 * (a click or feedback) is never left out. Searches younger than the window wait, since their
 * continuation may not be logged yet.
 *
 * Redaction placeholders ([手机号] …, kb/redact.h) are not typing: agents often type the
 * customer's number before the question, so "[手机号]要挂失" and "[手机号]要停机" share a long
 * prefix without one continuing the other. Characters are therefore counted without
 * placeholders; a query that is nothing but placeholders (the number typed first) is continued
 * by a query that starts with it.
 *
 * The rule is C (kb_gaps_query_continues), so it cannot run inside PostgreSQL: the query returns
 * each unresolved search with what the rule needs — whether it had feedback, and the same
 * agent's next query within the window — and the ingest loop, which reads every row anyway,
 * leaves the typing steps out (docs/CLUSTER.md, "The three SQL functions of today"). Same rule,
 * same rows, on both databases.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <unicode/utf8.h>

#include "gaps/gaps_internal.h"
#include "kb/redact.h"

#define END_OF_TEXT (-2)

/* The character of s at *i, past any placeholders: END_OF_TEXT at the end, a negative value for
 * an invalid byte (which never counts as shared). */
static UChar32 next_char(const uint8_t *s, int32_t *i, int32_t n)
{
    for (;;) {
        if (*i >= n) return END_OF_TEXT;
        size_t p = kb_redact_placeholder_at((const char *)s + *i);
        if (!p) break;
        *i += (int32_t)p;
    }
    UChar32 c;
    U8_NEXT(s, *i, n, c);
    return c < 0 ? -1 : c;
}

/* Characters in s, placeholders left out (an invalid byte counts as one). */
static int32_t count_chars(const uint8_t *s, int32_t n)
{
    int32_t chars = 0;
    for (int32_t i = 0; next_char(s, &i, n) != END_OF_TEXT;) chars++;
    return chars;
}

int kb_gaps_query_continues(const char *a, const char *b)
{
    if (!a || !b || !*a || !*b) return 0;
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
    int32_t nx = (int32_t)strlen(a), ny = (int32_t)strlen(b), i = 0, j = 0, common = 0;
    for (;;) {
        UChar32 cx = next_char(x, &i, nx), cy = next_char(y, &j, ny);
        if (cx < 0 || cx != cy) break; /* the end, a difference, or a bad byte */
        common++;
    }
    int32_t shorter = count_chars(x, nx), chars_b = count_chars(y, ny);
    if (chars_b < shorter) shorter = chars_b;
    if (shorter == 0) {
        /* One of them is placeholders only: the number typed before the question, or the
         * question deleted back to it. */
        size_t k = (size_t)(nx < ny ? nx : ny);
        return memcmp(a, b, k) == 0;
    }
    return common > 0 && common * 2 >= shorter;
}

int kb_gaps_typing_step(const char *query, int had_feedback, const char *next_query)
{
    /* A search the agent acted on was a question, whatever came next; with no next search in
     * the window (NULL) it was the last step, the question itself. */
    return !had_feedback && kb_gaps_query_continues(query, next_query);
}

int64_t kb_gaps_settled_searches(kb_gaps *g, int64_t lo, int64_t max)
{
    if (g->typing_window_ms <= 0) return max;
    /* The first search younger than the window: it and everything after it wait. "+ 0" keeps
     * min() from being answered by walking the table in commit order until a young row turns
     * up, which is near the end: SQLite then read every search ever logged, each second (3 M
     * instructions a call at 7,000 searches, growing with the store). Without it the young
     * rows, a few seconds' worth, are read through the index on time_ms. */
    int64_t cutoff = kb_gaps_now_ms() - g->typing_window_ms;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT min(%s + 0) FROM searches WHERE time_ms > ?1",
             kb_gaps_order_of(g, "searches"));
    int64_t first_young = kb_gaps_query_int(g, sql, cutoff, 0);
    if (first_young <= 0 || first_young - 1 >= max) return max;
    return first_young - 1 < lo ? lo : first_young - 1;
}

int kb_gaps_typing_searches_sql(kb_gaps *g, char *buf, size_t len)
{
    /* With the window off (?3 <= 0) neither column is computed: CASE runs its subqueries only
     * when its condition holds, on both databases. */
    const char *o = kb_gaps_order_of(g, "searches");
    int n = snprintf(
        buf, len,
        "SELECT s.search_id, s.time_ms, s.agent, s.query, s.top_id,"
        " CASE WHEN ?3 > 0 THEN EXISTS (SELECT 1 FROM feedback f WHERE f.search_id = s.search_id)"
        " END,"
        " CASE WHEN ?3 > 0 THEN (SELECT n.query FROM searches n"
        "  WHERE n.agent = s.agent AND n.time_ms BETWEEN s.time_ms AND s.time_ms + ?3"
        "  AND n.%1$s > s.%1$s ORDER BY n.time_ms, n.%1$s LIMIT 1) END "
        "FROM searches s WHERE s.%1$s > ?1 AND s.%1$s <= ?2 AND s.unresolved = 1 "
        "ORDER BY s.%1$s",
        o);
    return n > 0 && (size_t)n < len ? 0 : -1;
}
