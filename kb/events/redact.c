/*
 * redact.c — replace customer identifiers in free text with placeholders (see kb/redact.h).
 *
 * Pipeline for one text:
 *   1. Make it valid UTF-8: every invalid byte sequence (and NUL) becomes U+FFFD, so the output
 *      is always valid and the matcher can skip its own UTF checks.
 *   2. Fold look-alikes to ASCII in a shadow copy: full-width ＡＢＣ１２３＋－＠（） (U+FF01..FF5E),
 *      the Unicode dashes, every kind of blank (a run of them as one space) and the decimal
 *      digits of every script; leave out what a reader does not see (format characters such as
 *      the zero-width space, controls, combining marks). Patterns then stay plain ASCII, and a
 *      number typed with an IME in full-width digits, or pasted with tabs or zero-width spaces
 *      between its groups, is caught like any other. A byte-offset map leads from the shadow copy
 *      back to the original, so text that is not redacted is kept exactly as typed.
 *   3. One PCRE2 pattern with one capturing group per kind, tried left to right; at the same
 *      position the alternatives are in order of precedence: e-mail, ID card, bank card, mobile,
 *      landline. Checks a regex cannot express (the ID card's birth date in place, the bank
 *      card's Luhn sum or issuer digits) run as callouts inside the match: a failing callout
 *      makes PCRE2 backtrack into the next alternative, so an 18-digit run without a birth date
 *      in place is still tried as a bank card, and a 16-digit run that neither adds up nor starts
 *      like a card is left alone (the phone alternatives demand whole runs of exactly 11 digits).
 *
 * Shape, not validity: a mistyped identifier is still the customer's. An ID number with a wrong
 * check digit, or a day no calendar has, is redacted like a correct one; a card number that fails
 * Luhn is redacted when it starts like a card (an issuer's first digits, card lengths). What a
 * number must look like is kept narrow instead (the birth date's place, the groupings people
 * write), so order numbers, dates and amounts stay readable. docs/PRIVACY.md has the rules.
 *
 * Why digit look-arounds instead of \b: Chinese text has no spaces ("我的手机13800138000打不通").
 * Whether \b fires between 机 and 1 depends on whether Han characters count as word characters
 * (with Unicode properties they do, and then it does not), and it never fires between a letter
 * and a digit. What matters is where the digit run starts and ends: (?<![0-9]) / (?![0-9]) make
 * every number match a whole digit run, so a phone number is never cut out of a longer run (a
 * 19-digit card, an order number) and a 400 number's tail is never taken for something else.
 *
 * Fail-safe: if PCRE2 reports an error mid-text (it should not: every quantifier is bounded),
 * every digit in the rest of the text is masked with '*', because storing an identifier is worse
 * than storing a useless query.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "kb/redact.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "util/buf.h"

/* Capture groups of the pattern, in precedence order, and their placeholders. */
enum { G_EMAIL = 1, G_ID, G_CARD, G_MOBILE, G_LANDLINE, G_COUNT };
static const char *const placeholder[G_COUNT] = {
    [G_EMAIL] = "[邮箱]",
    [G_ID] = "[身份证]",
    [G_CARD] = "[银行卡]",
    [G_MOBILE] = "[手机号]",
    [G_LANDLINE] = "[电话]",
};

/* Callout numbers. */
enum { CO_ID18 = 1, CO_ID15 = 2, CO_CARD = 3 };

/* The separator between digit groups: a space, dash or dot, also spaced out ("138 - 0013",
 * "138  0013"), or the other marks a number is split with when pasted or typed in a hurry:
 * slash, underscore and tilde ("138/0013/8000", "138～0013～8000"). The groupings the patterns
 * demand keep lists of prices, dates and codes readable ("199/299/399", "2026/03/02"). Not the
 * comma or the ideographic comma: they end one item of a list and start the next, and a number
 * after a comma would be read as the last group of the number before it. After folding,
 * full-width and ideographic spaces, full-width punctuation, the Unicode dashes, the middle dots
 * and the wave dash are already ' ', '-', '.', '/', '_' and '~'. At most three characters, so
 * the patterns stay bounded. */
#define SEP "(?:[ .\\-/_~]{1,3})"
/* Mainland area codes without the leading 0: 10 (Beijing), 2x, and 3-digit ones from 3xx up. */
#define AREA "(?:10|2[0-9]|[3-9][0-9]{2})"

static const char pattern_text[] =
    /* 1: e-mail. The look-behind makes the match start where a local part starts, so a long run of
     * letters is scanned once, not once per position. */
    "((?<![A-Za-z0-9._%+\\-])[A-Za-z0-9._%+\\-]{1,64}@[A-Za-z0-9\\-]{1,63}"
    "(?:\\.[A-Za-z0-9\\-]{1,63}){0,8}\\.[A-Za-z]{2,24}(?![A-Za-z0-9\\-]))"
    "|(?<![0-9])(?:"
    /* 2: ID card: 18 characters, spaced as written (6-8-4, 6-4-4-4, 3-3-4-4-4) or not, or 17
     * digits with the check character left off; the callout looks for a birth date in its
     * place, not at the check digit. Any first digit: a region code never starts with 0, but a
     * typo can. Or the old 15-digit form (6-6-3), with a date in place. */
    "([0-9]{3}" SEP "?[0-9]{3}" SEP "?[0-9]{4}" SEP "?[0-9]{4}" SEP "?[0-9]{3}[0-9Xx]?"
    "(?![0-9])(?C1)"
    "|[1-9][0-9]{5}" SEP "?[0-9]{6}" SEP "?[0-9]{3}(?![0-9])(?C2))"
    /* 3: bank card, 13-19 digits, Luhn-valid or starting like a card (callout): one run, groups
     * of four (the last one shorter), 4-6-5 (15-digit cards), or 4 or 6 + rest (the issuer prefix
     * set apart). Groupings are kept to these on purpose: with a separator allowed anywhere,
     * "10086 10010 10000" or a phone number followed by a card would be read as one card one
     * time in ten. */
    "|([0-9]{13,19}(?![0-9])(?C3)"
    "|[0-9]{4}(?:" SEP "[0-9]{4}){2,3}(?:" SEP "[0-9]{1,4})?(?![0-9])(?C3)"
    "|[0-9]{4}" SEP "[0-9]{6}" SEP "[0-9]{5}(?![0-9])(?C3)"
    "|[0-9]{4}" SEP "[0-9]{9,15}(?![0-9])(?C3)"
    "|[0-9]{6}" SEP "[0-9]{7,13}(?![0-9])(?C3))"
    /* 4: mobile: 1[3-9]x xxxx xxxx, also spaced 3-8, 7-4, 4-3-4 or 4-4-3; optionally after
     * +86 / 0086 / 86, in parentheses or not, or a trunk 0. */
    "|((?:\\(?(?:\\+|00)?86\\)?" SEP "?|0)?1[3-9][0-9]"
    "(?:" SEP "?[0-9]{4}" SEP "?[0-9]{4}|[0-9]" SEP "[0-9]{3}" SEP "[0-9]{4}"
    "|[0-9]" SEP "[0-9]{4}" SEP "[0-9]{3})(?![0-9]))"
    /* 5: landline with area code: 010-62345678, (0755) 8888 6666, +86 10 6234 5678. The local
     * number starts with 2-9 and has 7 or 8 digits. */
    "|((?:\\(?0" AREA "\\)?|(?:\\+|00)86" SEP "?" AREA ")" SEP "?[2-9][0-9]{2,3}" SEP "?[0-9]{4}(?![0-9]))"
    ")";

static pcre2_code *pattern;
static pcre2_match_context *match_ctx;
static char init_error[256];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* ---------------------------------------------------------------- checks run as callouts */

/* Collect the ASCII digits (and a final X) of subject[from..to) into out; returns the count. */
static size_t collect_digits(const unsigned char *s, size_t from, size_t to, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = from; i < to && n < cap; i++)
        if ((s[i] >= '0' && s[i] <= '9') || s[i] == 'X' || s[i] == 'x') out[n++] = (char)s[i];
    return n;
}

/* Something in the place of a birth date: year 1900-2099, month 01-12, day 01-31. Not checked
 * against the calendar: "0230" is a typo of a real date, and a typo does not make a number any
 * less the customer's. */
static int date_shaped(int y, int m, int d)
{
    return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static int num(const char *d, int n)
{
    int v = 0;
    while (n--) v = v * 10 + (*d++ - '0');
    return v;
}

static int yyyymmdd_shaped(const char *d)
{
    return date_shaped(num(d, 4), num(d + 4, 2), num(d + 6, 2));
}

/* The first two digits of a real region code: the provinces (GB/T 2260), 71 Taiwan, 81-83 Hong
 * Kong, Macao and Taiwan residents' permits, 91 foreigners' permanent residence. */
static int province(const char *d)
{
    static const unsigned char codes[] = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34,
                                          35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
                                          53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91};
    int two = num(d, 2);
    for (size_t i = 0; i < sizeof codes; i++)
        if (codes[i] == two) return 1;
    return 0;
}

/* GB 11643: 6 digits for the region, YYYYMMDD, 3 sequence digits, a check character (0-9 or
 * X). The check character is not verified: a wrong one is a typo. An ID number is
 *   - 17 digits and an X, whatever the date says: nothing else is written that way;
 *   - 17 or 18 digits with a date in the birth date's place;
 *   - 18 digits starting with a real province whose "date" is one digit away from a date.
 * So an ID number with any one wrong digit is still taken: a wrong digit in the region or the
 * sequence leaves the date, and one in the date leaves the province. */
static int id18_shaped(const char *d, size_t n)
{
    if (n == 18 && (d[17] == 'X' || d[17] == 'x')) return 1;
    if (yyyymmdd_shaped(d + 6)) return 1;
    if (n != 18 || !province(d)) return 0;
    char date[8];
    for (int i = 0; i < 8; i++) {
        memcpy(date, d + 6, 8);
        for (char c = '0'; c <= '9'; c++) {
            date[i] = c;
            if (yyyymmdd_shaped(date)) return 1;
        }
    }
    return 0;
}

/* The old 15-digit form: 6 for the region, YYMMDD (19YY), 3 sequence digits. */
static int id15_shaped(const char *d)
{
    return date_shaped(1900 + num(d + 6, 2), num(d + 8, 2), num(d + 10, 2));
}

static int luhn_valid(const char *d, size_t n)
{
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int v = d[n - 1 - i] - '0';
        if (v < 0 || v > 9) return 0;
        if (i & 1) {
            v *= 2;
            if (v > 9) v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

/* A card number that fails Luhn is still one when it starts and runs like a card: 16-19 digits
 * with the first digits of an issuer whose cards are used in China (4 Visa; 51-55 and 2221-2720
 * Mastercard; 35 JCB; 30, 36, 38, 39 Diners; 6 UnionPay and Discover; 9 older domestic cards),
 * or 15 digits of Amex (34, 37). Everything else is left to Luhn alone: runs starting with 0, 1,
 * 7, 8 or 20 are where order, serial and SIM numbers live (many start with a year, 20xx), and a
 * narrow table keeps lists of prices ("5988 3988 2988 1988") readable. */
static int card_shaped(const char *d, size_t n)
{
    int two = (d[0] - '0') * 10 + (d[1] - '0');
    if (n == 15) return two == 34 || two == 37;
    if (n < 16 || n > 19) return 0;
    if (d[0] == '2') {
        int four = two * 100 + (d[2] - '0') * 10 + (d[3] - '0');
        return four >= 2221 && four <= 2720;
    }
    return d[0] == '4' || (two >= 51 && two <= 55) || two == 35 || two == 30 || two == 36 ||
           two == 38 || two == 39 || d[0] == '6' || d[0] == '9';
}

/* Return 0 to accept the match so far, 1 to make PCRE2 backtrack into the next alternative. */
static int callout(pcre2_callout_block *cb, void *unused)
{
    (void)unused;
    char d[24];
    size_t n = collect_digits(cb->subject, cb->start_match, cb->current_position, d, sizeof d);
    switch (cb->callout_number) {
    case CO_ID18: return (n == 17 || n == 18) && id18_shaped(d, n) ? 0 : 1;
    case CO_ID15: return n == 15 && id15_shaped(d) ? 0 : 1;
    case CO_CARD: return n >= 13 && n <= 19 && (luhn_valid(d, n) || card_shaped(d, n)) ? 0 : 1;
    }
    return 1;
}

/* ---------------------------------------------------------------- set-up */

static void compile_pattern(void)
{
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern_text, PCRE2_ZERO_TERMINATED, PCRE2_UTF,
                                   &code, &off, NULL);
    if (!re) {
        char msg[160];
        pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof msg);
        snprintf(init_error, sizeof init_error, "redaction pattern, offset %zu: %s", (size_t)off,
                 msg);
        return;
    }
    /* JIT is several times faster; when unavailable (some platforms, SELinux) the interpreter
     * gives the same results. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    pcre2_match_context *ctx = pcre2_match_context_create(NULL);
    if (!ctx) {
        pcre2_code_free(re);
        snprintf(init_error, sizeof init_error, "out of memory");
        return;
    }
    pcre2_set_callout(ctx, callout, NULL);
    match_ctx = ctx; /* read-only from now on, so shared by all threads */
    pattern = re;
}

int kb_redact_global_init(char *err, size_t err_len)
{
    pthread_once(&init_once, compile_pattern);
    if (pattern) return 0;
    if (err_len) snprintf(err, err_len, "%s", init_error[0] ? init_error : "redaction unavailable");
    return -1;
}

/* ---------------------------------------------------------------- step 1: valid UTF-8 */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when s starts an invalid one. NUL counts
 * as invalid: the result is a C string, and an embedded NUL would silently cut it short. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c >= 0x01 && c < 0x80) return 1;
    size_t need;
    unsigned lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c == 0xE0) need = 3, lo = 0xA0;
    else if (c == 0xED) need = 3, hi = 0x9F; /* no UTF-16 surrogates */
    else if (c >= 0xE1 && c <= 0xEF) need = 3;
    else if (c == 0xF0) need = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) need = 4;
    else if (c == 0xF4) need = 4, hi = 0x8F; /* nothing above U+10FFFF */
    else return 0;
    if (n < need || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return need;
}

/* Returns text itself when it is valid, else a malloc'd repaired copy in *owned (NULL on OOM). */
static const char *make_valid(const char *text, size_t len, size_t *out_len, char **owned)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, k;
    *owned = NULL;
    while (i < len && (k = utf8_seq_len(s + i, len - i)) > 0) i += k;
    *out_len = len;
    if (i == len) return text;
    kb_buf b = {0};
    kb_buf_add(&b, text, i);
    while (i < len) {
        k = utf8_seq_len(s + i, len - i);
        if (k) {
            kb_buf_add(&b, s + i, k);
            i += k;
        } else {
            kb_buf_add(&b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    *owned = b.data;
    *out_len = b.len;
    return b.data;
}

/* ---------------------------------------------------------------- step 2: fold look-alikes */

/* What a character is when matching: itself, an ASCII character it stands for, or nothing. */
#define FOLD_KEEP 0
#define FOLD_DROP (-1)

/* What the (valid) UTF-8 character at s is when matching: FOLD_KEEP, the ASCII character it
 * stands for, or FOLD_DROP for one that a reader does not see. *k receives its length in bytes.
 *   - blanks of every kind (tab, line breaks, no-break, ideographic and typographic spaces) are
 *     ' ': text copied from a spreadsheet or a chat splits a number with them as with a space;
 *   - full-width ASCII (ＡＢＣ１２３＋－＠（）), the Unicode dashes and the small forms are
 *     their ASCII selves, and the decimal digits of every script (Arabic-Indic, mathematical
 *     bold…) ASCII digits: a number in them reads as the same number;
 *   - invisible characters (zero-width space and joiners, word joiner, byte-order mark, soft
 *     hyphen, direction marks: Unicode's format characters; other control characters) and
 *     combining marks (accents on a digit, variation selectors, the keycap of 1️⃣) are dropped:
 *     between the digits of a number they hide nothing from a reader, only from the patterns. */
static int fold_char(const unsigned char *s, size_t n, size_t *k)
{
    if (s[0] < 0x80) {
        *k = 1;
        if (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\v' || s[0] == '\f' ||
            s[0] == '\r')
            return ' ';
        return s[0] < 0x20 || s[0] == 0x7F ? FOLD_DROP : FOLD_KEEP;
    }
    int32_t len = 0;
    UChar32 cp;
    U8_NEXT(s, len, (int32_t)(n < U8_MAX_LENGTH ? n : U8_MAX_LENGTH), cp);
    *k = (size_t)len;
    if (cp < 0) return FOLD_KEEP;
    if (cp >= 0xFF01 && cp <= 0xFF5E) return (int)(cp - 0xFEE0);       /* full-width ASCII */
    if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212) return '-';    /* dashes, minus */
    if (cp == 0xFE58 || cp == 0xFE63) return '-'; /* small em dash, small hyphen-minus */
    if (cp == 0xFE62) return '+';                 /* small plus */
    if (cp == 0x00B7 || cp == 0x2027 || cp == 0x30FB || cp == 0xFF65) return '.'; /* middle dots */
    if (cp == 0x301C || cp == 0x223C) return '~';  /* wave dash (〜), tilde operator */
    /* Han, kana and Hangul, most of what is written here, are none of the below: no lookup. */
    if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x9FFF) ||
        (cp >= 0xAC00 && cp <= 0xD7AF))
        return FOLD_KEEP;
    switch (u_charType(cp)) {
    case U_SPACE_SEPARATOR:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR: return ' ';
    case U_DECIMAL_DIGIT_NUMBER: {
        int32_t v = u_charDigitValue(cp);
        return v >= 0 && v <= 9 ? '0' + v : FOLD_KEEP;
    }
    case U_CONTROL_CHAR: return cp == 0x85 ? ' ' : FOLD_DROP; /* NEL is a line break */
    case U_FORMAT_CHAR:
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK: return FOLD_DROP;
    }
    return FOLD_KEEP;
}

/* Build the folded shadow copy: each character as fold_char says, and a run of blanks as one
 * space (so any number of them separates digit groups, while the patterns keep their bounded
 * separators). Returns 0 and sets *folded = NULL when nothing needs folding; else a malloc'd copy
 * with map[i] = offset in text of folded byte i (map has len + 1 entries). Returns -1 when
 * memory ran out. */
static int fold(const char *text, size_t len, char **folded, size_t *folded_len, size_t **map)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, k;
    *folded = NULL;
    *map = NULL;
    /* Most texts need no folding: only ASCII spaces, never two in a row, and characters kept. */
    for (int prev_blank = 0; i < len; i += k) {
        int c = fold_char(s + i, len - i, &k);
        if (c == FOLD_KEEP) prev_blank = 0;
        else if (c == ' ' && s[i] == ' ' && !prev_blank) prev_blank = 1;
        else break;
    }
    if (i == len) return 0;
    char *f = malloc(len + 1);
    size_t *m = malloc((len + 1) * sizeof *m);
    if (!f || !m) {
        free(f);
        free(m);
        return -1;
    }
    size_t o = 0;
    for (i = 0; i < len; i += k) {
        int c = fold_char(s + i, len - i, &k);
        if (c == FOLD_DROP) continue;
        if (c == ' ' && o > 0 && f[o - 1] == ' ') continue;
        if (c != FOLD_KEEP) {
            m[o] = i;
            f[o++] = (char)c;
        } else {
            for (size_t j = 0; j < k; j++) {
                m[o] = i + j;
                f[o++] = (char)s[i + j];
            }
        }
    }
    m[o] = len;
    f[o] = '\0';
    *folded = f;
    *folded_len = o;
    *map = m;
    return 0;
}

/* Where in text the match that ends before folded byte end stops: just after the character its
 * last folded byte comes from. (map[end] would be the start of the next character kept, so
 * characters dropped from the folded copy after the match, a zero-width space or the second of
 * two line breaks, would be replaced with it instead of kept.) Every pattern ends with an ASCII
 * letter or digit of the folded copy, which is one character of text. */
static size_t match_end(const char *text, const size_t *map, size_t end)
{
    size_t last = map[end - 1];
    U8_FWD_1_UNSAFE(text, last);
    return last;
}

/* ---------------------------------------------------------------- step 3: match and replace */

/* Append s[0..n) with every ASCII and full-width digit masked: the fail-safe path. */
static void add_masked(kb_buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (u[i] >= '0' && u[i] <= '9') {
            kb_buf_add(b, "*", 1);
            i++;
        } else if (i + 2 < n && u[i] == 0xEF && u[i + 1] == 0xBC && u[i + 2] >= 0x90 &&
                   u[i + 2] <= 0x99) {
            kb_buf_add(b, "*", 1);
            i += 3;
        } else {
            kb_buf_add(b, u + i, 1);
            i++;
        }
    }
}

int kb_redact_finds(const char *text, size_t len)
{
    int found = 0;
    char *redacted = kb_redact(text, len, &found);
    if (!redacted) return -1;
    free(redacted);
    return found > 0;
}

char *kb_redact(const char *text, size_t len, int *found)
{
    if (found) *found = 0;
    if (!text) len = 0, text = "";
    pthread_once(&init_once, compile_pattern);

    char *valid_owned, *folded;
    size_t vlen, flen, *map;
    const char *valid = make_valid(text, len, &vlen, &valid_owned);
    if (!valid) return NULL;
    if (fold(valid, vlen, &folded, &flen, &map) < 0) {
        free(valid_owned);
        return NULL;
    }
    const char *subject = folded ? folded : valid;
    if (!folded) flen = vlen;

    kb_buf out = {0};
    kb_buf_add(&out, "", 0); /* so that an empty text gives "" rather than NULL */
    size_t done = 0;      /* bytes of valid already copied or replaced */
    pcre2_match_data *md = pattern ? pcre2_match_data_create_from_pattern(pattern, NULL) : NULL;
    int n_found = 0, failed = md == NULL;
    size_t at = 0; /* next search offset in subject */
    while (!failed && at < flen) {
        int rc = pcre2_match(pattern, (PCRE2_SPTR)subject, flen, at, PCRE2_NO_UTF_CHECK, md,
                             match_ctx);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            failed = 1;
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        int g = G_EMAIL;
        while (g < G_COUNT - 1 && (g >= rc || ov[2 * g] == PCRE2_UNSET)) g++;
        size_t start = map ? map[ov[0]] : ov[0];
        size_t end = map ? (ov[1] > ov[0] ? match_end(valid, map, ov[1]) : start) : ov[1];
        kb_buf_add(&out, valid + done, start - done);
        kb_buf_add(&out, placeholder[g], strlen(placeholder[g]));
        done = end;
        n_found++;
        at = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
    }
    if (failed) add_masked(&out, valid + done, vlen - done);
    else kb_buf_add(&out, valid + done, vlen - done);

    pcre2_match_data_free(md);
    free(folded);
    free(map);
    free(valid_owned);
    if (out.failed) {
        free(out.data);
        return NULL;
    }
    if (found) *found = n_found;
    return out.data;
}

size_t kb_redact_placeholder_at(const char *s)
{
    if (!s || *s != '[') return 0;
    for (int g = G_EMAIL; g < G_COUNT; g++) {
        size_t n = strlen(placeholder[g]);
        if (strncmp(s, placeholder[g], n) == 0) return n;
    }
    return 0;
}
