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
 */
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>
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

/* SQL: kb_continues(a, b) → 1 when b continues a (NULL-safe). */
static void sql_continues(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *a = (const char *)sqlite3_value_text(argv[0]);
    const char *b = (const char *)sqlite3_value_text(argv[1]);
    sqlite3_result_int(ctx, kb_gaps_query_continues(a, b));
}

int kb_gaps_register_typing(sqlite3 *db)
{
    return sqlite3_create_function(db, "kb_continues", 2,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                   sql_continues, NULL, NULL);
}

int64_t kb_gaps_settled_searches(kb_gaps *g, int64_t lo, int64_t max)
{
    if (g->typing_window_ms <= 0) return max;
    /* The first search younger than the window: it and everything after it wait. */
    int64_t cutoff = kb_gaps_now_ms() - g->typing_window_ms;
    int64_t first_young = kb_gaps_query_int(g, "SELECT min(rowid) FROM searches WHERE time_ms > ?1",
                                            cutoff, 0);
    if (first_young <= 0 || first_young - 1 >= max) return max;
    return first_young - 1 < lo ? lo : first_young - 1;
}

/* The unresolved searches of rowids (?1, ?2] that enter the queue; ?3 is the window in ms. */
const char kb_gaps_typing_searches_sql[] =
    "SELECT s.search_id, s.time_ms, s.agent, s.query, s.top_id FROM searches s "
    "WHERE s.rowid > ?1 AND s.rowid <= ?2 AND s.unresolved = 1 AND ("
    "  ?3 <= 0"
    "  OR EXISTS (SELECT 1 FROM feedback f WHERE f.search_id = s.search_id)"
    "  OR NOT kb_continues(s.query, (SELECT n.query FROM searches n"
    "       WHERE n.agent = s.agent AND n.time_ms BETWEEN s.time_ms AND s.time_ms + ?3"
    "       AND n.rowid > s.rowid ORDER BY n.time_ms, n.rowid LIMIT 1)))";
