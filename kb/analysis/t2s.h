/*
 * analysis/t2s.h — Traditional → Simplified Chinese: OpenCC's t2s conversion, without OpenCC's cost.
 *
 * OpenCC's t2s (t2s.json) converts by greedy longest match, left to right, over two
 * dictionaries: TSPhrases (a few hundred multi-character phrases whose conversion differs from
 * character by character, e.g. 計畫 → 计划, not 计画) and TSCharacters (one character → its
 * Simplified form; the first candidate when there are several). It does this through marisa
 * tries and C++ strings, which cost a third of all indexing time on Traditional text. This
 * module implements the same rule on UTF-16 with a direct table for characters and a small
 * sorted table for phrases, built once per process from the same dictionaries, which the build
 * embeds from the installed OpenCC data (tools/gen-t2s.sh, $(BUILD)/gen/t2s_data.c).
 */
#ifndef KB_T2S_H
#define KB_T2S_H

#include <stddef.h>
#include <stdint.h>
#include <unicode/utypes.h>

/* Build the tables (once per process; thread-safe). Returns 0, or -1 when memory ran out or
 * the embedded dictionaries are empty. */
int kb_t2s_init(void);

/* Worst-case output length for n input code units (a character may become a surrogate pair). */
#define KB_T2S_OUT_MAX(n) (2 * (n) + 16)

/* Convert in[0..n) into out (room for KB_T2S_OUT_MAX(n) code units). Returns the output length.
 * Text that is not Han passes through unchanged. kb_t2s_init() must have succeeded. */
int32_t kb_t2s_convert(const UChar *in, int32_t n, UChar *out);

/* The phrase conversions of text[0..n) (code points as written) that keep their length, for
 * text whose positions must stay aligned with the original (snippets mark matches in the
 * editor's own text): for each phrase that kb_t2s_convert would apply (計畫 → 计划, 瞭解 →
 * 了解; all of OpenCC's BMP phrases keep their length), out[i] gets the Simplified unit for each
 * of its positions; every other position of out is left as it is (the caller has it converted
 * character by character), as the analyzer's conversion of text that holds a character that may
 * change would. Returns how many positions it wrote. */
size_t kb_t2s_phrases_aligned(const uint32_t *text, size_t n, uint32_t *out);

/* kb_t2s_may_change as a bitmap of the 65,536 BMP units (bit c % 8 of byte c / 8), for loops
 * that test every character of a text; NULL before a successful kb_t2s_init. */
const uint8_t *kb_t2s_change_bits(void);

/* The Simplified form of one code point by the character table alone (cp when none). */
UChar32 kb_t2s_char(UChar32 cp);

/* 0 when kb_t2s_convert leaves every text made of UTF-16 units like c unchanged, so a caller
 * may skip the conversion of a text none of whose units answers 1. 1 for a character the
 * table changes (also into one beyond the BMP: 䂎 → 𥎝), a lead surrogate of a character
 * beyond the BMP that it changes, and a character that only a phrase changes (瞭 of
 * 瞭解 → 了解, 覆 of 回覆 → 回复, which alone stay as they are). */
int kb_t2s_may_change(UChar c);

#endif
