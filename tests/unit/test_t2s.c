/*
 * test_t2s.c — Traditional → Simplified conversion (kb/analysis/t2s.h): OpenCC's t2s rule
 * (greedy longest match over TSPhrases, else the first candidate of TSCharacters), the same
 * output as `opencc -c t2s.json`, other text untouched, odd and long input safe.
 *
 * The expected strings were checked against `opencc -c t2s.json` (OpenCC 1.1 of Debian 12);
 * one test also runs that converter over every dictionary entry and compares.
 */
#include "check.h"
#include "analysis/t2s.h"
#include "kb/analyzer.h"

#include <stdlib.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>
#include <unistd.h>

/* The dictionaries the build embeds ($(BUILD)/gen/t2s_data.c, "key TAB value[ value…]" lines). */
extern const char kb_t2s_TSPhrases[];
extern const char kb_t2s_TSCharacters[];

/* Convert UTF-8 text with kb_t2s_convert and return the result as UTF-8 (malloc'd). The input
 * buffer holds exactly the text and the output buffer exactly KB_T2S_OUT_MAX units, so under
 * ASan a conversion that reads past its input or writes past the bound the header promises is
 * caught. */
static char *t2s(const char *in)
{
    int32_t n16 = 0;
    UErrorCode e = U_ZERO_ERROR;
    u_strFromUTF8(NULL, 0, &n16, in, -1, &e);
    e = U_ZERO_ERROR;
    /* Exactly n16 units, no terminating NUL: a phrase compared past the end is an overread. */
    UChar *u = malloc((n16 ? (size_t)n16 : 1) * sizeof *u);
    u_strFromUTF8(u, n16, NULL, in, -1, &e);
    if (U_FAILURE(e)) {
        free(u);
        return strdup("(not UTF-8)");
    }
    UChar *o = malloc((size_t)KB_T2S_OUT_MAX(n16) * sizeof *o);
    int32_t on = kb_t2s_convert(u, n16, o);
    int32_t n8 = 0;
    e = U_ZERO_ERROR;
    u_strToUTF8(NULL, 0, &n8, o, on, &e);
    char *out = malloc((size_t)n8 + 1);
    e = U_ZERO_ERROR;
    u_strToUTF8(out, n8 + 1, NULL, o, on, &e);
    free(u);
    free(o);
    return out;
}

static void check_t2s(const char *in, const char *want, int line)
{
    char *got = t2s(in);
    if (strcmp(got, want) != 0) {
        printf("  line %d: t2s(\"%s\") gave \"%s\", expected \"%s\"\n", line, in, got, want);
        check_current_failed = 1;
    }
    free(got);
}
#define CHECK_T2S(in, want) check_t2s(in, want, __LINE__)

TEST(initialising_again_is_harmless)
{
    CHECK(kb_t2s_init() == 0);
    CHECK_T2S("計畫", "计划");
}

TEST(characters_outside_any_phrase_take_their_simplified_form)
{
    CHECK_T2S("頭髮", "头发");
    CHECK_T2S("乾燥", "干燥");
    CHECK_T2S("頭髮乾燥", "头发干燥");
    CHECK_T2S("後來", "后来");
    CHECK_T2S("帳單", "帐单"); /* OpenCC's t2s; the analyzer's variant fold makes it 账单 */
    CHECK_T2S("出國漫遊", "出国漫游");
}

TEST(a_phrase_wins_over_its_characters)
{
    CHECK_T2S("乾隆", "乾隆");     /* 乾 alone is 干 */
    CHECK_T2S("乾坤", "乾坤");
    CHECK_T2S("計畫", "计划");     /* not 计画 */
    CHECK_T2S("畫畫", "画画");
    CHECK_T2S("瞭解", "了解");     /* 瞭 alone stays 瞭 (its first candidate) */
    CHECK_T2S("瞭望", "瞭望");
    CHECK_T2S("變徵之聲", "变徵之声"); /* 徵 alone is 征 */
    CHECK_T2S("徵收", "征收");
    CHECK_T2S("龍鍾", "龙钟");     /* a phrase with two values: the first */
}

TEST(the_longest_phrase_at_a_position_wins_and_matching_goes_on_after_it)
{
    CHECK_T2S("藉助於琳", "借助于琳"); /* 藉助於 + 琳, not 藉助 + 於琳 (a phrase keeping 於) */
    CHECK_T2S("藉助於", "借助于");
    CHECK_T2S("於琳", "於琳");
    CHECK_T2S("反覆思量", "反复思量");
    CHECK_T2S("乾隆皇帝", "乾隆皇帝");
    CHECK_T2S("乾隆皇", "乾隆皇");     /* only 乾隆 fits */
    CHECK_T2S("計畫乾燥計畫", "计划干燥计划");
    /* A phrase cut off by the end of the text is converted character by character. */
    CHECK_T2S("反", "反");
    CHECK_T2S("乾", "干");
}

TEST(matching_goes_left_to_right_and_a_phrase_hides_the_one_it_overlaps)
{
    CHECK_T2S("明瞭望", "明了望");         /* 明瞭 first; 瞭望 (which keeps 瞭) never starts */
    CHECK_T2S("回覆盆", "回复盆");         /* 回覆, then 盆: not 覆盆 */
    CHECK_T2S("郭子乾乾淨淨", "郭子乾干净净"); /* the name 郭子乾, then 乾淨淨 by characters */
    CHECK_T2S("瞭解到乾燥", "了解到干燥");
}

TEST(a_character_with_several_candidates_takes_the_first)
{
    CHECK_T2S("乾", "干");
    CHECK_T2S("麵", "面");
    CHECK_T2S("覆", "覆");
    CHECK_T2S("於", "于");
    CHECK_T2S("開", "开");
}

TEST(characters_beyond_the_basic_plane_convert_and_may_grow)
{
    CHECK_T2S("𩀨", "𫕚"); /* astral → astral */
    CHECK_T2S("䂎", "𥎝"); /* one UTF-16 unit → a surrogate pair */
    CHECK_T2S("䂎䂎䂎䂎", "𥎝𥎝𥎝𥎝");
    CHECK_T2S("𠁻", "𠁻"); /* no entry: unchanged */
}

TEST(ascii_simplified_and_other_scripts_pass_through_unchanged)
{
    const char *same[] = {
        "", "Hello, world! 1+1=2 <a href=\"x\">&amp;</a>\t\n", "国际漫游开通办理",
        "iPhone 15 Pro 5G", "Ｆｕｌｌｗｉｄｔｈ１２３", "Straße ÉCOLE Ελληνικά Русский",
        "ひらがな カタカナ 한국어", "😀👍🏽", "4008-123-456",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) CHECK_T2S(same[i], same[i]);
}

TEST(mixed_scripts_convert_only_the_traditional_characters)
{
    CHECK_T2S("Hello, 世界！頭髮", "Hello, 世界！头发");
    CHECK_T2S("iPhone 15 乾燥劑", "iPhone 15 干燥剂");
    CHECK_T2S("出國前請撥打10099開通國際漫遊（VoLTE）", "出国前请拨打10099开通国际漫游（VoLTE）");
    CHECK_T2S("国際漫遊", "国际漫游"); /* Simplified and Traditional in one word */
}

TEST(the_character_table_alone_ignores_phrases)
{
    CHECK(kb_t2s_char(0x4E7E) == 0x5E72);   /* 乾 → 干, even where 乾隆 would keep it */
    CHECK(kb_t2s_char(0x9AEE) == 0x53D1);   /* 髮 → 发 */
    CHECK(kb_t2s_char(0x29028) == 0x2B55A); /* 𩀨 → 𫕚 */
    CHECK(kb_t2s_char('A') == 'A');
    CHECK(kb_t2s_char(0x6F2B) == 0x6F2B);   /* 漫: already Simplified */
    CHECK(kb_t2s_char(-1) == -1);
    CHECK(kb_t2s_char(0x110000) == 0x110000);
}

TEST(units_that_may_change_are_flagged_and_text_of_other_units_converts_to_itself)
{
    CHECK(kb_t2s_may_change(0x9AEE));  /* 髮: by the character table */
    CHECK(kb_t2s_may_change(0x408E));  /* 䂎 → 𥎝, beyond the BMP */
    CHECK(kb_t2s_may_change(0xD864));  /* lead surrogate of 𩀨 → 𫕚 */
    CHECK(kb_t2s_may_change(0x77AD));  /* 瞭: only a phrase changes it (瞭解 → 了解) */
    CHECK(kb_t2s_may_change(0x8986));  /* 覆: 回覆 → 回复 */
    CHECK(!kb_t2s_may_change(0x6F2B)); /* 漫 */
    CHECK(!kb_t2s_may_change('a'));
    CHECK(!kb_t2s_may_change(0x56DE)); /* 回: starts 回覆, which keeps it */

    /* Every unit not flagged, in a row, then every phrase key made only of such units: the
     * conversion must give the text back, or a caller skipping it would index something else
     * than OpenCC's output. */
    size_t cap = 65536 + 4096, n = 0;
    UChar *in = malloc(cap * sizeof *in);
    for (UChar32 c = 1; c < 0x10000; c++)
        if (!U16_IS_SURROGATE(c) && !kb_t2s_may_change((UChar)c)) in[n++] = (UChar)c;
    size_t unflagged = n;
    for (const char *line = kb_t2s_TSPhrases; *line;) {
        const char *tab = strchr(line, '\t'), *nl = strchr(line, '\n');
        UChar key[64];
        int32_t kl = 0;
        UErrorCode e = U_ZERO_ERROR;
        if (tab) u_strFromUTF8(key, 64, &kl, line, (int32_t)(tab - line), &e);
        int all_unflagged = tab && U_SUCCESS(e) && kl > 0;
        for (int32_t j = 0; j < kl && all_unflagged; j++)
            all_unflagged = !kb_t2s_may_change(key[j]);
        if (all_unflagged && n + (size_t)kl <= cap) {
            memcpy(in + n, key, (size_t)kl * sizeof *in);
            n += (size_t)kl;
        }
        line = nl ? nl + 1 : line + strlen(line);
    }
    CHECK(unflagged > 50000); /* most of the BMP converts to itself */
    UChar *out = malloc((size_t)KB_T2S_OUT_MAX((int32_t)n) * sizeof *out);
    int32_t on = kb_t2s_convert(in, (int32_t)n, out);
    CHECK(on == (int32_t)n);
    if (on == (int32_t)n) {
        for (size_t i = 0; i < n; i++)
            if (in[i] != out[i]) {
                printf("  unit %zu: U+%04X became U+%04X although no unit was flagged\n", i, in[i],
                       out[i]);
                check_current_failed = 1;
                break;
            }
    }
    free(in);
    free(out);
}

TEST(lone_surrogates_pass_through_without_reading_past_the_end)
{
    /* UTF-16 that no UTF-8 could produce: a lone high surrogate at the end (a converter that
     * assumed a pair would read one unit past the input), a lone low one, and a high surrogate
     * followed by a Traditional character. Exactly sized heap buffers let ASan see overreads. */
    const UChar cases[][4] = {
        {0x9AEE, 0xD800},         /* 髮 + lone high at the end */
        {0xDC00, 0x9AEE},         /* lone low + 髮 */
        {0xD800, 0x9AEE, 0x4E7E}, /* lone high + 髮乾 */
    };
    const int32_t lens[] = {2, 2, 3};
    const UChar want[][4] = {
        {0x53D1, 0xD800},
        {0xDC00, 0x53D1},
        {0xD800, 0x53D1, 0x5E72},
    };
    for (size_t k = 0; k < 3; k++) {
        UChar *in = malloc((size_t)lens[k] * sizeof *in);
        memcpy(in, cases[k], (size_t)lens[k] * sizeof *in);
        UChar *out = malloc((size_t)KB_T2S_OUT_MAX(lens[k]) * sizeof *out);
        int32_t n = kb_t2s_convert(in, lens[k], out);
        CHECK(n == lens[k]);
        if (n == lens[k]) CHECK(memcmp(out, want[k], (size_t)n * sizeof *out) == 0);
        free(in);
        free(out);
    }
    /* Nothing in, nothing out. */
    UChar one;
    CHECK(kb_t2s_convert(&one, 0, &one) == 0);
}

TEST(invalid_utf8_reaches_t2s_as_replacement_characters_and_the_rest_converts)
{
    /* kb_t2s_convert takes UTF-16: bytes that are not UTF-8 never reach it, the analyzer turns
     * them into U+FFFD first. A bad byte between two characters also breaks a phrase. */
    const struct {
        const char *in, *out;
    } cases[] = {
        {"\xff頭髮\xc3", "\xef\xbf\xbd头发\xef\xbf\xbd"},
        {"計\xe7\x95畫", "计\xef\xbf\xbd画"}, /* not 计划: 計 and 畫 are not adjacent */
        {"\xed\xa0\x80乾燥", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd干燥"}, /* an encoded surrogate */
    };
    char err[256];
    kb_analyzer *an = kb_analyzer_new(err, sizeof err);
    CHECK(an != NULL);
    for (size_t i = 0; an && i < sizeof cases / sizeof cases[0]; i++) {
        char *f = kb_analyzer_fold(an, cases[i].in, strlen(cases[i].in));
        CHECK_STR_EQ(f, cases[i].out);
        free(f);
    }
    kb_analyzer_free(an);
}

TEST(a_long_text_converts_in_one_call_like_its_pieces)
{
    /* 200,000 repetitions of a piece with phrases, characters that grow to surrogate pairs and
     * ASCII: the whole must be the conversion of the piece repeated, and fit KB_T2S_OUT_MAX. */
    const char *piece = "計畫乾燥䂎ab";
    const char *want_piece = "计划干燥𥎝ab";
    size_t reps = 200000, pl = strlen(piece), wl = strlen(want_piece);
    char *in = malloc(pl * reps + 1), *want = malloc(wl * reps + 1);
    for (size_t i = 0; i < reps; i++) {
        memcpy(in + i * pl, piece, pl);
        memcpy(want + i * wl, want_piece, wl);
    }
    in[pl * reps] = want[wl * reps] = 0;
    char *got = t2s(in);
    CHECK(strlen(got) == wl * reps);
    CHECK(strcmp(got, want) == 0);
    free(in);
    free(want);
    free(got);
}

/* Call fn(key, first value) for each "key TAB value[ value…]" line of an embedded dictionary. */
static void each_entry(const char *dict, void (*fn)(const char *key, const char *value, void *),
                       void *user)
{
    char key[256], value[256];
    for (const char *line = dict; *line;) {
        const char *nl = strchr(line, '\n');
        const char *end = nl ? nl : line + strlen(line);
        const char *tab = memchr(line, '\t', (size_t)(end - line));
        if (tab && (size_t)(tab - line) < sizeof key) {
            const char *v = tab + 1, *sp = memchr(v, ' ', (size_t)(end - v));
            size_t vl = (size_t)((sp ? sp : end) - v);
            if (vl < sizeof value) {
                memcpy(key, line, (size_t)(tab - line));
                key[tab - line] = 0;
                memcpy(value, v, vl);
                value[vl] = 0;
                fn(key, value, user);
            }
        }
        line = nl ? nl + 1 : end;
    }
}

static void check_entry_alone(const char *key, const char *value, void *count)
{
    char *got = t2s(key);
    if (strcmp(got, value) != 0) {
        printf("  \"%s\" converted alone gave \"%s\", its dictionary value is \"%s\"\n", key, got,
               value);
        check_current_failed = 1;
    }
    free(got);
    ++*(size_t *)count;
}

/* Text converted character by character (kb_t2s_char), then kb_t2s_phrases_aligned over it:
 * what snippets fold with, as UTF-8 (malloc'd). The input holds BMP characters only. */
static char *t2s_aligned(const char *in)
{
    uint32_t *cps = calloc(strlen(in) + 1, sizeof *cps), *out = calloc(strlen(in) + 1, sizeof *out);
    size_t n = 0;
    for (int32_t i = 0, len = (int32_t)strlen(in); i < len;) {
        UChar32 c;
        U8_NEXT((const uint8_t *)in, i, len, c);
        cps[n] = (uint32_t)c;
        out[n++] = (uint32_t)kb_t2s_char(c);
    }
    kb_t2s_phrases_aligned(cps, n, out);
    char *s = malloc(n * 4 + 1);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        UBool err = 0;
        U8_APPEND((uint8_t *)s, at, n * 4, (UChar32)out[i], err);
        (void)err;
    }
    s[at] = 0;
    free(cps);
    free(out);
    return s;
}

/* Each phrase: converted as in the dictionary when the conversion keeps its length, else
 * character by character (the aligned form never changes the length). */
static void check_entry_aligned(const char *key, const char *value, void *counts)
{
    size_t *n = counts;
    int32_t kl = 0, vl = 0;
    UErrorCode e = U_ZERO_ERROR;
    u_strFromUTF8(NULL, 0, &kl, key, -1, &e);
    e = U_ZERO_ERROR;
    u_strFromUTF8(NULL, 0, &vl, value, -1, &e);
    int has_astral = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) has_astral |= *p >= 0xF0;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) has_astral |= *p >= 0xF0;
    if (has_astral) return; /* the aligned form takes BMP text */
    char *got = t2s_aligned(key);
    char *want = kl == vl ? strdup(value) : NULL;
    if (!want) { /* character by character: each character converted alone */
        want = calloc(1, strlen(key) * 3 + 1);
        for (const char *p = key; *p;) {
            size_t len = 1;
            while (((unsigned char)p[len] & 0xC0) == 0x80) len++;
            char one[8] = {0};
            memcpy(one, p, len);
            UChar u[2];
            int32_t un = 0;
            e = U_ZERO_ERROR;
            u_strFromUTF8(u, 2, &un, one, -1, &e);
            UChar32 c = kb_t2s_char(u[0]);
            char conv[8] = {0};
            int32_t cn = 0;
            UChar cu[2];
            int32_t cun = 0;
            if (c < 0x10000) cu[cun++] = (UChar)c;
            else cu[cun++] = u[0];
            e = U_ZERO_ERROR;
            u_strToUTF8(conv, sizeof conv, &cn, cu, cun, &e);
            strcat(want, conv);
            p += len;
        }
        n[1]++;
    } else {
        n[0]++;
    }
    if (strcmp(got, want) != 0) {
        printf("  \"%s\" aligned gave \"%s\", expected \"%s\"\n", key, got, want);
        check_current_failed = 1;
    }
    free(got);
    free(want);
}

TEST(the_aligned_conversion_applies_each_phrase_that_keeps_its_length_and_never_moves_text)
{
    /* Snippets mark matches in the original text by position, so the conversion they use keeps
     * one unit out for each unit in. */
    uint32_t simplified[] = {0x8BA1, 0x5212}, out[2] = {1, 2}; /* 计划: nothing Traditional */
    CHECK(kb_t2s_phrases_aligned(simplified, 2, out) == 0 && out[0] == 1 && out[1] == 2);
    char *got = t2s_aligned("這個計畫需要瞭解，請回覆。Abc 5G");
    CHECK_STR_EQ(got, "这个计划需要了解，请回复。Abc 5G");
    free(got);
    size_t counts[2] = {0, 0}; /* phrases that keep their length, phrases that do not */
    each_entry(kb_t2s_TSPhrases, check_entry_aligned, counts);
    CHECK(counts[0] > 100);
    printf("  %zu phrases keep their length, %zu do not\n", counts[0], counts[1]); /* 276, 0 */
}

TEST(every_dictionary_entry_on_its_own_converts_to_its_first_value)
{
    size_t phrases = 0, chars = 0;
    each_entry(kb_t2s_TSPhrases, check_entry_alone, &phrases);
    each_entry(kb_t2s_TSCharacters, check_entry_alone, &chars);
    CHECK(phrases > 100); /* OpenCC 1.1: 277 phrases, 4,113 characters */
    CHECK(chars > 3000);
}

typedef struct {
    char *text;
    size_t len, cap;
} text_buf;

static void append(text_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->text = realloc(b->text, b->cap);
    }
    memcpy(b->text + b->len, s, n + 1);
    b->len += n;
}

/* Each key on a line of its own, each run into its neighbours, and each phrase followed by
 * every other, so that phrases overlap phrases and characters and the longest match, left to
 * right, has to choose (藉助 + 於琳 reads 藉助於 + 琳). */
static void add_key(const char *key, const char *value, void *buf)
{
    (void)value;
    append(buf, key);
    append(buf, "\n");
}

static void add_key_run_on(const char *key, const char *value, void *buf)
{
    (void)value;
    append(buf, key);
}

typedef struct {
    const char *first;
    text_buf *out;
} pair_ctx;

static void add_pair(const char *key, const char *value, void *user)
{
    (void)value;
    pair_ctx *c = user;
    append(c->out, c->first);
    append(c->out, key);
    append(c->out, "\n");
}

static void add_pairs_starting_with(const char *key, const char *value, void *buf)
{
    (void)value;
    pair_ctx c = {key, buf};
    each_entry(kb_t2s_TSPhrases, add_pair, &c);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    text_buf b = {0};
    char chunk[65536];
    size_t n;
    append(&b, "");
    while ((n = fread(chunk, 1, sizeof chunk - 1, f)) > 0) {
        chunk[n] = 0;
        append(&b, chunk);
    }
    fclose(f);
    return b.text;
}

TEST(output_equals_opencc_t2s_over_every_dictionary_entry_alone_and_run_together)
{
    text_buf corpus = {0};
    append(&corpus, "");
    each_entry(kb_t2s_TSPhrases, add_key, &corpus);
    each_entry(kb_t2s_TSCharacters, add_key, &corpus);
    each_entry(kb_t2s_TSPhrases, add_key_run_on, &corpus);
    append(&corpus, "\n");
    each_entry(kb_t2s_TSCharacters, add_key_run_on, &corpus);
    append(&corpus, "\n");
    each_entry(kb_t2s_TSPhrases, add_pairs_starting_with, &corpus);
    append(&corpus, "出國前請撥打10099開通國際漫遊，頭髮乾燥請用護髮素。\n");

    char in_path[64], out_path[64], cmd[256];
    snprintf(in_path, sizeof in_path, "/tmp/kb-test-t2s-%d.in", (int)getpid());
    snprintf(out_path, sizeof out_path, "/tmp/kb-test-t2s-%d.out", (int)getpid());
    FILE *f = fopen(in_path, "wb");
    CHECK(f != NULL);
    if (!f) {
        free(corpus.text);
        return;
    }
    fwrite(corpus.text, 1, corpus.len, f);
    fclose(f);
    /* opencc is a build dependency (tools/gen-t2s.sh reads its dictionaries with opencc_dict),
     * so it is there wherever this test was built: a missing one is a failure, not a skip. */
    snprintf(cmd, sizeof cmd, "opencc -c t2s.json -i %s -o %s", in_path, out_path);
    int rc = system(cmd);
    if (rc != 0) printf("  `%s` failed (status %d): install Debian's opencc\n", cmd, rc);
    CHECK(rc == 0);
    char *want = rc == 0 ? read_file(out_path) : NULL;
    if (want) {
        char *got = t2s(corpus.text);
        CHECK(strlen(got) == strlen(want));
        if (strcmp(got, want) != 0) {
            /* Show the first line that differs. */
            const char *g = got, *w = want;
            while (*g && *g == *w) g++, w++;
            while (g > got && g[-1] != '\n') g--, w--;
            printf("  first difference from opencc: ours \"%.*s\", opencc \"%.*s\"\n",
                   (int)strcspn(g, "\n"), g, (int)strcspn(w, "\n"), w);
            check_current_failed = 1;
        }
        free(got);
    }
    free(want);
    free(corpus.text);
    unlink(in_path);
    unlink(out_path);
}

int main(void)
{
    if (kb_t2s_init() != 0) {
        printf("FAIL kb_t2s_init: the embedded dictionaries are empty or memory ran out\n");
        return 1;
    }
    RUN(initialising_again_is_harmless);
    RUN(characters_outside_any_phrase_take_their_simplified_form);
    RUN(a_phrase_wins_over_its_characters);
    RUN(the_longest_phrase_at_a_position_wins_and_matching_goes_on_after_it);
    RUN(matching_goes_left_to_right_and_a_phrase_hides_the_one_it_overlaps);
    RUN(a_character_with_several_candidates_takes_the_first);
    RUN(characters_beyond_the_basic_plane_convert_and_may_grow);
    RUN(ascii_simplified_and_other_scripts_pass_through_unchanged);
    RUN(mixed_scripts_convert_only_the_traditional_characters);
    RUN(the_character_table_alone_ignores_phrases);
    RUN(units_that_may_change_are_flagged_and_text_of_other_units_converts_to_itself);
    RUN(lone_surrogates_pass_through_without_reading_past_the_end);
    RUN(invalid_utf8_reaches_t2s_as_replacement_characters_and_the_rest_converts);
    RUN(a_long_text_converts_in_one_call_like_its_pieces);
    RUN(the_aligned_conversion_applies_each_phrase_that_keeps_its_length_and_never_moves_text);
    RUN(every_dictionary_entry_on_its_own_converts_to_its_first_value);
    RUN(output_equals_opencc_t2s_over_every_dictionary_entry_alone_and_run_together);
    CHECK_MAIN_END();
}
