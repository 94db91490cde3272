/*
 * blank.c — what counts as blank text: one rule for every place that must tell an empty
 * question, field or category from a real one (see kb/analyzer.h). Agents' input methods and
 * pasted text bring more than ASCII spaces: no-break spaces, the ideographic space of Chinese
 * keyboards, zero-width spaces and byte-order marks.
 */
#include "kb/analyzer.h"

size_t kb_blank_at(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    if (*u == ' ' || (*u >= '\t' && *u <= '\r')) return 1;
    if (u[0] == 0xC2 && u[1] == 0xA0) return 2;                                  /* U+00A0 */
    if (u[0] == 0xE2 && u[1] == 0x80 && u[2] >= 0x80 && u[2] <= 0x8B) return 3;   /* U+2000-200B */
    if (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80) return 3;                   /* U+3000 */
    if (u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) return 3;                   /* U+FEFF */
    return 0;
}

int kb_text_is_blank(const char *s)
{
    if (!s) return 1;
    for (size_t n; *s; s += n)
        if (!(n = kb_blank_at(s))) return 0;
    return 1;
}
