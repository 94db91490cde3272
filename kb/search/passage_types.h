/*
 * search/passage_types.h — what kind of answer a question asks for, and what kind of content a
 * sentence holds, so that passage choice (snippet.h) can prefer the sentence that answers.
 *
 * An agent asking 投诉多久处理 wants the time limit, not the sentence that repeats 投诉 and 处理
 * most often; 国际漫游怎么开通 wants the steps, not the line the agent reads to the customer
 * afterwards. Question words say which kind of answer is wanted (多少 a number, 多久 a duration,
 * 什么时候 a date, 哪里 a place, 需要什么 a list, 怎么开通 steps, 为什么 a reason), and the kinds
 * can be recognised in text cheaply and in general Chinese: digits and numerals with their
 * units, dates and times, channels and places, enumerations, imperative steps, causal words.
 * Script lines (话术, what the agent says to the customer) are a kind of their own: wanted only
 * when the question asks what to say.
 *
 * Both sides work on folded text (kb_analyzer_fold: NFKC, lower case, Simplified), so
 * Traditional and Cantonese questions (幾多, 幾時, 喺邊度, 點樣) are read through their folded
 * forms (几多, 几时, 喺边度, 点样). A kind is a hint that lifts a passage that already matches
 * the question; it never makes a passage match.
 */
#ifndef KB_PASSAGE_TYPES_H
#define KB_PASSAGE_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Kinds of answer, as bits: a question may ask for several (多长时间 is a duration and a
 * number), a sentence may hold several. */
enum {
    KB_KIND_NUMBER = 1 << 0,   /* amounts, prices, rates, counts: 多少, 几, 多大 */
    KB_KIND_DURATION = 1 << 1, /* 多久, 多长时间, 几天 */
    KB_KIND_DATE = 1 << 2,     /* 什么时候, 何时, 哪天, 哪一年, 几点 */
    KB_KIND_PLACE = 1 << 3,    /* 哪里, 在哪, 何处 */
    KB_KIND_LIST = 1 << 4,     /* 需要什么, 哪些, 什么材料 */
    KB_KIND_STEPS = 1 << 5,    /* 怎么办理, 如何开通, 步骤 */
    KB_KIND_REASON = 1 << 6,   /* 为什么, 原因 */
    KB_KIND_SCRIPT = 1 << 7,   /* what to say: 怎么说, 话术, 怎么解释 */
    KB_KIND_MEASURE = 1 << 8,  /* lengths, heights, areas, weights: 多长, 多高, 多重 */
    KB_KIND_AGE = 1 << 9,      /* 几岁, 多大年纪 */
    KB_KIND_YESNO = 1 << 10    /* 能退吗, 是否, 可不可以: a sentence that allows or denies */
};

/* The kinds of answer a question asks for, from its folded text (NULL or "" gives 0). */
unsigned kb_passage_asks(const char *folded_question);

/* 1 when a folded query term is part of how the question is asked, not of what it is about:
 * 多长 and 有多 of 东关街有多长, 么时 of 什么时候. The query keeps some of these as content
 * (kb_query_is_stopword lists whole words only), but a sentence holding 有多处 says nothing
 * about length. */
int kb_passage_is_question_word(const char *term);

/* The kinds of content in folded text cps[0..n) (a sentence, a row). KB_KIND_SCRIPT is not
 * judged here: quotes are found over a whole block (kb_passage_sentences). */
unsigned kb_passage_holds(const uint32_t *cps, size_t n);

/* The kinds of content that a label names, from folded text cps[0..n) (a section title, a
 * table's header row): 处理时限 labels durations, 所需材料 a list, 年费 an amount, 开通方式
 * steps. The rows and sentences under the label hold what it names. */
unsigned kb_passage_labels(const uint32_t *cps, size_t n);

/* 1 when folded text cps[0..n) (a section title, or the start of a block) names a script, as
 * in 参考话术, 建议话术, 建議對答 (folded 建议对答): text the agent says to the customer. */
int kb_passage_names_script(const uint32_t *cps, size_t n);

#endif
