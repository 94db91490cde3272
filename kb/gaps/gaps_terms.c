/*
 * gaps_terms.c — the terms a question is grouped by (see kb/gaps.h, docs/GAPS.md "Grouping").
 *
 * Two questions ask the same thing when they share their informative terms, whatever the
 * script or the wording. The question is analyzed like a search (NFKC, case folding,
 * Traditional -> Simplified, ICU word breaks; kb/analyzer.h), then:
 *   - words, in-word bigrams, Latin words, numbers and codes are kept as they are;
 *   - single Han characters are kept with a "~" mark: they are weak evidence on their own, but
 *     short colloquial questions (我的卡掉了) often share nothing else with their paraphrases;
 *   - question and function words (kb_query_is_stopword, plus a few colloquial fillers such as
 *     咋整 and 一直 that say nothing about the subject) are dropped;
 *   - a member of a synonym group (analysis/synonyms.h: 丢了/遗失/掉了, 出国/境外 …) is replaced by
 *     the group's first member, so paraphrases that swap service words share the term;
 *   - redaction placeholders ([手机号], [身份证] …, kb/redact.h) and numbers made of digits only
 *     (reference numbers, card tails, staff ids) are left out: they say whose case it is, not
 *     what is asked, and questions about anything share them (issue 15: 挂失, 销户 and 停机
 *     grouped through [手机号] [身份证] and an ID number). Codes with letters (5g, esim) stay.
 * Bigrams that straddle a word's edge are dropped: in a short
 * question they are mostly noise.
 */
#include "kb/gaps.h"

#include <stdlib.h>
#include <string.h>

#include "search/query.h"
#include "kb/redact.h"
#include "analysis/synonyms.h"

/* Colloquial fillers that are not in the search's stop list (there they cost nothing) but
 * would make unrelated questions look alike here. Folded (Simplified) forms, sorted by bytes. */
static const char *const FILLERS[] = {
    "一直", "不了", "么办", "可以", "咋办", "咋弄", "咋整", "弄", "怎么弄", "搞", "整", "能",
    "需要", "么", "该", "办", "办法", "应该", "的话", "现在", "客户", "我的", "一下子", "请问一下",
};

/* Whether word (not empty) is t. The lists here are scanned for every term of every question
 * taken in; comparing the first two bytes inline passes over nearly every word without a call
 * to strcmp (Han characters rarely share their first two bytes), which made the scans most of
 * a question's analysis. */
static int same_word(const char *word, const char *t)
{
    return word[0] == t[0] && word[1] == t[1] && strcmp(word, t) == 0;
}

static int is_filler(const char *t)
{
    for (size_t i = 0; i < sizeof FILLERS / sizeof FILLERS[0]; i++)
        if (same_word(FILLERS[i], t)) return 1;
    return 0;
}

/* Words that name the same thing in customers' questions but are not interchangeable enough
 * for search expansion (analysis/synonyms.h): for grouping, each row counts as one term (its first
 * member). General call-centre vocabulary, not tuned to any data set. */
static const char *const RELATED[][6] = {
    {"快递", "物流", "包裹", "快件", NULL},
    {"理赔", "报销", "赔付", NULL},
    {"运费", "邮费", "快递费", NULL},
    {"复机", "开机", NULL},
    {"冻结", "止付", NULL},
    {"挂失", "挂湿", NULL},
};

/* The term that stands for a word when grouping: its RELATED row's first member, else its
 * synonym group's (analysis/synonyms.h) first member in byte order, stable whichever was typed.
 * *service is set to 1 when the term belongs to a RELATED row or a synonym group (丢了, 掉了:
 * kept although 了 is a stop word), else 0. */
static const char *canonical(const char *term, int *service)
{
    *service = 1;
    for (size_t r = 0; r < sizeof RELATED / sizeof RELATED[0]; r++)
        for (size_t m = 0; RELATED[r][m]; m++)
            if (same_word(RELATED[r][m], term)) return RELATED[r][0];
    const char *others[KB_SYNONYMS_MAX];
    size_t n = kb_synonyms_of(term, others);
    *service = n > 0;
    const char *best = term;
    for (size_t i = 0; i < n; i++)
        if (strcmp(others[i], best) < 0) best = others[i];
    return best;
}

/* 1 when a bigram holds a character that is a stop word or filler on its own (了要, 卡吗):
 * such bigrams straddle the edge of a one-character segment and carry no subject. */
static int has_stop_char(const char *bigram)
{
    const unsigned char *p = (const unsigned char *)bigram;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
        char ch[5] = {0};
        for (size_t i = 0; i < n && p[i]; i++) ch[i] = (char)p[i];
        if (kb_query_is_stopword(ch) || is_filler(ch)) return 1;
        p += strnlen((const char *)p, n);
    }
    return 0;
}

/* 1 when the bigram lies inside a longer word of the question (信用 in 信用卡). Bigrams of
 * unknown words, which the segmenter splits into single characters (挂失 as 挂|失), are the
 * only evidence of those words and keep their full weight. */
static int inside_longer_word(const kb_term_list *l, const kb_term *b)
{
    size_t blen = strlen(b->text);
    for (size_t i = 0; i < l->count; i++) {
        const kb_term *t = &l->terms[i];
        if (t->kind == KB_TERM_WORD && strlen(t->text) > blen && strstr(t->text, b->text))
            return 1;
    }
    return 0;
}

/* General service words that occur in questions about anything (办理, 流程, 多少钱 …): kept,
 * but with KB_GAPS_GENERIC_WEIGHT, so that two questions sharing only "how do I apply" are not
 * taken for the same question. Folded forms. */
static const char *const GENERIC[] = {
    "办理", "流程", "条件", "申请", "手续", "多久", "多少钱", "少钱", "电话", "处理", "方法",
    "方式", "功能", "时间", "问题", "情况", "显示", "号码", "一天", "家里", "收到", "没到",
    "没有", "不能", "不想", "想要", "东西", "为啥", "标准", "材料", "哪里", "在哪", "手机",
    "要求", "规定", "费用", "收费", "多长时间", "一直", "还是", "已经", "之后", "以后",
};

static int is_generic(const char *t)
{
    for (size_t i = 0; i < sizeof GENERIC / sizeof GENERIC[0]; i++)
        if (same_word(GENERIC[i], t)) return 1;
    return 0;
}

/* 1 when a term is a number of ASCII digits only (a code such as 4008-123-456 is folded into
 * one digit run too). */
static int digits_only(const char *t)
{
    if (!*t) return 0;
    for (; *t; t++)
        if (*t < '0' || *t > '9') return 0;
    return 1;
}

/* The question without its redaction placeholders, each replaced by a space so that the
 * characters on either side do not form a bigram (malloc'd; NULL when out of memory). */
static char *without_placeholders(const char *question)
{
    size_t n = strnlen(question, 4096);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t p = kb_redact_placeholder_at(question + i);
        if (p && i + p <= n) {
            out[o++] = ' ';
            i += p;
        } else {
            out[o++] = question[i++];
        }
    }
    out[o] = '\0';
    return out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *kb_gaps_terms(kb_analyzer *a, const char *question)
{
    if (!a || !question) return NULL;
    char *text = without_placeholders(question);
    if (!text) return NULL;
    kb_term_list terms;
    kb_term_list_init(&terms);
    int analyzed = kb_analyze(a, text, strlen(text), &terms);
    free(text);
    if (analyzed < 0) {
        kb_term_list_free(&terms);
        return NULL;
    }
    /* Each kept term as its own string: "~" + character for single characters, "^" + bigram
     * for a bigram inside a longer word (信用 and 用卡 in 信用卡: evidence for the same
     * concept as the word, so they must not outweigh a second, distinct word). */
    char **keep = calloc(terms.count + 1, sizeof *keep);
    size_t n = 0, bytes = 1;
    int oom = !keep;
    for (size_t i = 0; !oom && i < terms.count; i++) {
        const kb_term *t = &terms.terms[i];
        if (t->kind == KB_TERM_BIGRAM_CROSS) continue;
        if (kb_query_is_stopword(t->text) || is_filler(t->text)) continue;
        if ((t->kind == KB_TERM_NUMBER || t->kind == KB_TERM_CODE) && digits_only(t->text))
            continue;
        int service = 0;
        const char *text = t->kind == KB_TERM_UNIGRAM ? t->text : canonical(t->text, &service);
        if (t->kind == KB_TERM_BIGRAM && has_stop_char(t->text) && !service) continue;
        char mark = t->kind == KB_TERM_UNIGRAM                                   ? '~'
                    : is_generic(text)                                           ? '='
                    : t->kind == KB_TERM_BIGRAM && inside_longer_word(&terms, t) ? '^'
                                                                                 : 0;
        size_t len = strlen(text);
        if (len == 0 || strchr(text, ' ')) continue;
        char *s = malloc(len + 2);
        if (!s) {
            oom = 1;
            break;
        }
        if (mark) {
            s[0] = mark;
            memcpy(s + 1, text, len + 1);
        } else {
            memcpy(s, text, len + 1);
        }
        keep[n++] = s;
        bytes += strlen(s) + 1;
    }
    char *out = oom ? NULL : malloc(bytes);
    if (out) {
        qsort(keep, n, sizeof *keep, cmp_str);
        size_t len = 0;
        out[0] = '\0';
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && strcmp(keep[i], keep[i - 1]) == 0) continue;
            size_t l = strlen(keep[i]);
            if (len) out[len++] = ' ';
            memcpy(out + len, keep[i], l + 1);
            len += l;
        }
    }
    for (size_t i = 0; keep && i < n; i++) free(keep[i]);
    free(keep);
    kb_term_list_free(&terms);
    return out;
}
