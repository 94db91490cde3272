/*
 * confidence.c — how likely the top hit answers the question (see search/confidence.h).
 *
 * The model: confidence = 1 / (1 + exp(-z)), z = w0 + sum of w_i x_i over these features of the
 * ranking, each general (nothing in it knows a data set). Coverage is the share of the
 * question's informative weight (weight x IDF of its typed, non-stop terms) the top hit holds.
 *
 *   word_share     how much of the question's informative weight is in words (and bigrams,
 *                  Latin words, numbers, codes) rather than single characters: a question of
 *                  unknown words and single characters is weak evidence whatever it matches
 *   margin_held    the top hit's lead over the second (relative to its score) x mutual: a
 *                  near tie lowers confidence, and a lead counts only as much as the top hit and
 *                  the question hold of each other. mutual = coverage x (1 - title_beyond x bare):
 *                  the share of the question in the top hit (a lone weak match in a small
 *                  knowledge base leads by far), and for an entry that is a question alone, the
 *                  share of that entry the question states. Such an entry asking much more than
 *                  the question (腾讯征信 → 还款日当天晚几个小时会影响腾讯征信吗, 不放 →
 *                  到底放不放款) is the only one holding the question's rare word, so it leads
 *                  by far, yet it is another, narrower question than the one asked
 *   coverage_lead  how much more of the question the top hit covers than the second
 *   tenth_held     the top hit's lead over the 10th x mutual: when many documents match about
 *                  as well, the match is in words that many documents share
 *   few_words      max(0, ln 4 - ln(1 + words of the question)), its words being dictionary
 *                  words, in-word bigrams, Latin words, numbers and codes that are not question
 *                  words: a question of a word or two says little about which document answers it
 *   restated       max(0, 0.3 - beyond) / 0.3, beyond being the share of the top document that
 *                  is not the question's own terms: a short entry that only restates the
 *                  question holds nothing that answers it
 *   title_lead     the top hit's title_held minus the second's, title_held being the share of
 *                  the question's informative weight in words that the hit's title states (1
 *                  when the question is one of its <questions> verbatim) x the share of the
 *                  document that is an answer beyond its title: of two documents on one
 *                  product, the one whose title names what was asked is the likelier answer
 *   bare           1 - the top hit's answer share: an entry that is its title alone (a list of
 *                  customers' questions) answers nothing, however well it matches
 *
 * Entries that are a question alone (a list of customers' questions without answers) get a
 * second set of weights on the same inputs, ANSWERLESS, added in proportion to
 * answerless_share: there a lead and a full cover say little (such lists hold
 * near-identical questions of other intents), unless agents taught the question (taught).
 *
 * The weights in FITTED are fitted by bench/fit_confidence.py (maximum likelihood, L2 1e-3)
 * once for all kinds of knowledge base together: passages (cmrc-trial, drcd-dev), articles in
 * sections (drcd-dev-articles) and short FAQ entries (bq-dev, bq-dev-intents), each with its
 * whole knowledge base and with half of it left out (kbeval --gaps's split), each kind weighing
 * the same; ANSWERLESS after them, with FITTED's z as an offset, so it changes nothing on
 * documents that hold answers. Re-fit after any change to ranking, analysis or the index's weights:
 * `bench/fit_confidence.py --write` (docs/SEARCH.md, "Confidence and unresolved").
 */
#include "search/confidence.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/utf8.h>

/* ---------------------------------------------------------------- features */

/* 1 when typed term i is in the hit, itself or through one of its synonyms. */
static int present(const kb_query *q, uint64_t matched, size_t i, size_t n)
{
    if (matched >> i & 1) return 1;
    for (size_t j = 0; j < n; j++)
        if (q->terms[j].expansion && (matched >> j & 1) && strcmp(q->terms[j].origin, q->terms[i].text) == 0)
            return 1;
    return 0;
}

/* What a hit holds of the question's informative weight, in words (and the like) and in single
 * characters, each as a share of the whole. */
typedef struct {
    double words, chars;
} held;

static held hit_holds(const kb_query *q, uint64_t xapian_bits)
{
    held h = {0, 0};
    if (q->info_mass <= 0) return h;
    uint64_t matched = kb_query_matched_bits(q, xapian_bits);
    size_t n = q->n_terms < 64 ? q->n_terms : 64;
    for (size_t i = 0; i < n; i++) {
        const kb_query_term *t = &q->terms[i];
        if (t->stop || t->expansion || !present(q, matched, i, n)) continue;
        if (t->kind == KB_TERM_UNIGRAM) h.chars += t->weight * t->idf;
        else h.words += t->weight * t->idf;
    }
    h.words /= q->info_mass;
    h.chars /= q->info_mass;
    return h;
}

double kb_confidence_hit_coverage(const kb_query *q, uint64_t xapian_bits)
{
    held h = hit_holds(q, xapian_bits);
    return h.words + h.chars;
}

/* Share of a document that is not the question's own terms. The matcher gives the part of the
 * document's length made of the kept query terms; when terms were pruned from a long question,
 * a document restating it holds the pruned ones too, so the matched part is scaled up by the
 * question's length over the part the kept terms make of it. */
static double beyond(const kb_query *q, const kbx_hit *h)
{
    /* No length: a document found only through a taught phrasing (search/learned.h), which the
     * matcher never scored; what it holds beyond the question is unknown, not nothing. */
    if (h->doclen == 0) return 1;
    double of_question = (double)h->matched_len / h->doclen;
    if (q->kept_length > 0 && q->length > q->kept_length) of_question *= (double)q->length / q->kept_length;
    return of_question >= 1 ? 0 : 1 - of_question;
}

void kb_confidence_features(const kb_query *q, const kbx_results *xr, kb_search_features *f)
{
    f->n_terms = q->n_terms;
    double word_mass = 0;
    for (size_t i = 0; i < q->n_terms; i++) {
        const kb_query_term *t = &q->terms[i];
        if (t->stop || t->expansion || t->kind == KB_TERM_UNIGRAM) continue;
        word_mass += t->weight * t->idf;
        if (t->kind != KB_TERM_BIGRAM_CROSS) f->n_words++;
    }
    f->word_share = q->info_mass > 0 ? word_mass / q->info_mass : 0;
    if (xr->n_hits == 0) return;
    const kbx_hit *top = &xr->hits[0];
    held h = hit_holds(q, top->matched);
    f->word_coverage = h.words;
    f->char_coverage = h.chars;
    f->coverage = h.words + h.chars;
    f->top_score = top->score;
    f->second_score = xr->n_hits > 1 ? xr->hits[1].score : 0;
    f->second_coverage = xr->n_hits > 1 ? kb_confidence_hit_coverage(q, xr->hits[1].matched) : 0;
    f->tenth_score = xr->n_hits >= KB_CONFIDENCE_HITS ? xr->hits[KB_CONFIDENCE_HITS - 1].score : 0;
    f->beyond = beyond(q, top);
}

/* Longest question and title read, in characters: enough for any FAQ entry's question, and it
 * bounds the cost of a long title or question. */
#define BEYOND_MAX_CHARS 256

/* The code points of s (at most max). */
static size_t code_points(const char *s, uint32_t *out, size_t max)
{
    int32_t i = 0, len = (int32_t)strlen(s);
    size_t n = 0;
    while (i < len && n < max) {
        UChar32 c;
        U8_NEXT(s, i, len, c);
        if (c >= 0) out[n++] = (uint32_t)c;
    }
    return n;
}

static int is_function_char(uint32_t c)
{
    char one[U8_MAX_LENGTH + 1];
    int32_t n = 0;
    U8_APPEND_UNSAFE(one, n, c);
    one[n] = '\0';
    return kb_query_is_stopword(one);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

double kb_confidence_title_beyond(kb_analyzer *a, const char *compact_question, const char *title)
{
    if (!compact_question || !*compact_question || !title || !*title) return 0;
    char *folded = kb_analyzer_fold_compact(a, title, strlen(title));
    if (!folded) return 0;
    uint32_t qc[BEYOND_MAX_CHARS], tc[BEYOND_MAX_CHARS];
    size_t nq = code_points(compact_question, qc, BEYOND_MAX_CHARS);
    size_t nt = code_points(folded, tc, BEYOND_MAX_CHARS);
    free(folded);
    /* The question's pairs of adjacent characters, sorted for lookup. */
    uint64_t pairs[BEYOND_MAX_CHARS];
    size_t np = 0;
    for (size_t i = 0; i + 1 < nq; i++) pairs[np++] = (uint64_t)qc[i] << 32 | qc[i + 1];
    qsort(pairs, np, sizeof *pairs, cmp_u64);
    unsigned char stated[BEYOND_MAX_CHARS] = {0};
    for (size_t i = 0; nt == 1 && i < nq; i++)
        if (qc[i] == tc[0]) stated[0] = 1;
    for (size_t i = 0; i + 1 < nt; i++) {
        uint64_t key = (uint64_t)tc[i] << 32 | tc[i + 1];
        if (np && bsearch(&key, pairs, np, sizeof *pairs, cmp_u64)) stated[i] = stated[i + 1] = 1;
    }
    size_t content = 0, beyond = 0;
    for (size_t i = 0; i < nt; i++) {
        if (is_function_char(tc[i])) continue;
        content++;
        beyond += !stated[i];
    }
    return content ? (double)beyond / (double)content : 0;
}

void kb_confidence_set_passage(const kb_query *q, double passage_score, kb_search_features *f)
{
    f->passage_coverage = q->info_mass > 0 && passage_score > 0 ? passage_score / q->info_mass : 0;
}

/* ---------------------------------------------------------------- the model */

enum {
    X_BIAS,
    X_WORD_SHARE,
    X_MARGIN_HELD,
    X_COVERAGE_LEAD,
    X_TENTH_HELD,
    X_FEW_WORDS,
    X_RESTATED,
    X_TITLE_LEAD,
    X_BARE,
    N_X
};

/* BEGIN FITTED: written by bench/fit_confidence.py --write; do not edit by hand. */
static const double FITTED[N_X] = {
    -6.579976, /* bias */
    3.963930, /* word_share */
    4.528126, /* margin_held */
    2.037048, /* coverage_lead */
    7.851027, /* tenth_held */
    -0.891046, /* few_words */
    -8.956020, /* restated */
    3.788093, /* title_lead */
    -0.869809, /* bare */
};
/* END FITTED */

/* Entries that are a question alone. On a list of customers' questions without answers (bq-dev,
 * bq-dev-intents) the evidence above means less than on documents that hold answers: such a list
 * pairs each question with near-identical questions of other intents, so a lead, a full cover or
 * a restated question says little about which entry is meant (docs/SEARCH.md, "Entries that are
 * a question alone"). These weights correct the model there, added to FITTED's as
 * z += answerless x sum of ANSWERLESS[i] x[i]; they were fitted after FITTED, with FITTED's z as
 * an offset, so on documents with answers (answerless 0) nothing changes. The bare slot is not
 * fitted: under the gate it is the bias. */
/* BEGIN FITTED ANSWERLESS: written by bench/fit_confidence.py --write; do not edit by hand. */
static const double ANSWERLESS[N_X] = {
    4.548246, /* bias */
    -4.019823, /* word_share */
    -6.801254, /* margin_held */
    -2.618761, /* coverage_lead */
    -5.160330, /* tenth_held */
    0.634894, /* few_words */
    7.463116, /* restated */
    0.000000, /* title_lead */
    0.000000, /* bare */
};
/* END FITTED ANSWERLESS */

/* How much the top hit is an entry that is a question alone, 0..1: none of it while at least half
 * of its text is an answer beyond its title, all of it from nine tenths title (the data hold
 * nothing between: passages and articles answer more than 0.8, customers' question lists 0).
 * What agents taught lifts it: a top hit that a taught phrasing ranked is known to answer as far
 * as that phrasing is the question, which is nearly only when it is the question itself: taught^8
 * (0.43 at a similarity of 0.9, 0.17 at 0.8). On bq-dev-intents with half of its entries taught
 * (fit_confidence.py), the question taught came back right 96% of the time, its entry's other
 * questions, whose phrasings resemble the taught ones at 0.5-0.9, 30% of the time; the power was
 * chosen there, on two splits (docs/SEARCH.md, "Entries that are a question alone"). */
static double answerless_share(const kb_search_features *f)
{
    double g = ((1 - f->answer) - 0.5) / 0.4;
    g = g < 0 ? 0 : g > 1 ? 1 : g;
    double t2 = f->taught * f->taught, t4 = t2 * t2;
    return g * (1 - t4 * t4);
}

/* a / b, or 0 when b is (nearly) 0. */
static double ratio(double a, double b)
{
    return b > 1e-9 ? a / b : 0;
}

/* The model's inputs from the features (kept in step with bench/fit_confidence.py's
 * `inputs`, which checks that both give the same confidence). */
static void inputs(const kb_search_features *f, double x[N_X])
{
    /* How much the top hit and the question hold of each other: the share of the question in
     * the hit, and for an entry that is a question alone (1 - answer), the share of that entry
     * the question states. */
    double mutual = f->coverage * (1 - f->title_beyond * (1 - f->answer));
    x[X_BIAS] = 1;
    x[X_WORD_SHARE] = f->word_share;
    x[X_MARGIN_HELD] = ratio(f->top_score - f->second_score, f->top_score) * mutual;
    x[X_COVERAGE_LEAD] = f->coverage - f->second_coverage;
    x[X_TENTH_HELD] = ratio(f->top_score - f->tenth_score, f->top_score) * mutual;
    double few = log(4.0) - log(1.0 + (double)f->n_words);
    x[X_FEW_WORDS] = few > 0 ? few : 0;
    x[X_RESTATED] = f->beyond < 0.3 ? (0.3 - f->beyond) / 0.3 : 0;
    x[X_TITLE_LEAD] = f->title_cover * f->answer - f->second_title_cover * f->second_answer;
    x[X_BARE] = 1 - f->answer;
}

double kb_confidence_of(const kb_search_features *f)
{
    if (f->top_score <= 0) return 0;
    double x[N_X], z = 0;
    inputs(f, x);
    double answerless = answerless_share(f);
    for (int i = 0; i < N_X; i++) z += (FITTED[i] + answerless * ANSWERLESS[i]) * x[i];
    return 1.0 / (1.0 + exp(-z));
}

int kb_confidence_hit_is_good(const kb_query *q, const kbx_hit *h, double top_score)
{
    return kb_confidence_hit_coverage(q, h->matched) >= KB_GOOD_MATCH_COVERAGE &&
           h->score >= KB_GOOD_MATCH_SCORE_SHARE * top_score;
}
