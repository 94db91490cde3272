/*
 * kb/redact.h — remove customer identifiers from text before it is stored or logged.
 *
 * Agents type what the customer says, so queries may hold phone numbers, ID-card numbers and
 * bank-card numbers. Nothing of that may be written to disk. kb_redact() replaces each with a
 * placeholder that keeps the query readable for editors:
 *   mainland mobile numbers (1[3-9]x, 11 digits, optional +86 / spaces / dashes / dots) -> [手机号]
 *   landline numbers (0xx-xxxxxxxx, with area code)                                    -> [电话]
 *   resident ID-card numbers (18 or 17 digits with a birth date in place, any check
 *   character; 17 digits + X; the 15-digit old form)                                   -> [身份证]
 *   bank-card numbers (13-19 digits, Luhn-valid or starting like an issuer's card)     -> [银行卡]
 *   e-mail addresses                                                                   -> [邮箱]
 * Numbers are matched by shape, not validity: a mistyped identifier is still the customer's.
 * Service numbers such as 10086 or 4008-123-456, product codes, dates, amounts and order numbers
 * are kept: they are how agents find the right document. docs/PRIVACY.md has the rules.
 *
 * Patterns are compiled once (PCRE2, JIT when available); kb_redact is thread-safe after
 * kb_redact_global_init().
 */
#ifndef KB_REDACT_H
#define KB_REDACT_H

#include <stddef.h>

/* Compile the patterns. Returns 0, or -1 with a message in err. Safe to call more than once. */
int kb_redact_global_init(char *err, size_t err_len);

/* Return a malloc'd, NUL-terminated copy of text[0..len) with identifiers replaced, or NULL when
 * memory ran out. Invalid UTF-8 is replaced with U+FFFD first, so the result is valid UTF-8.
 * If found is not NULL, it receives the number of replacements. */
char *kb_redact(const char *text, size_t len, int *found);

/* Whether text[0..len) holds anything kb_redact() would replace: 1 or 0, or -1 when memory ran
 * out. For names and ids that must hold none (a token's NAME, an agent id): stored redacted,
 * they could no longer be told apart. */
int kb_redact_finds(const char *text, size_t len);

/* The length in bytes of the placeholder kb_redact() writes (such as "[手机号]") that starts at
 * s, or 0 when none does. For readers of redacted text that must not take a placeholder for
 * what was asked: grouping questions, telling typing from asking (kb/gaps.h). */
size_t kb_redact_placeholder_at(const char *s);

#endif
