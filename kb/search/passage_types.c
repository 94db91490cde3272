/*
 * passage_types.c — kinds of answer asked for and held (see search/passage_types.h).
 *
 * Every list below is general Chinese (and the Cantonese and Taiwanese forms agents type), in
 * folded form; none is taken from a particular knowledge base. The lists are short on purpose:
 * a kind only lifts a passage that already matches, so a missed form costs little, while a
 * pattern that fires on ordinary text (一种, 以后) would lift every passage alike.
 */
#include "search/passage_types.h"

#include <pthread.h>
#include <string.h>
#include <unicode/utf8.h>

/* ---------------------------------------------------------------- the question */

typedef struct {
    const char *text;
    unsigned kinds;
} pattern;

/* Question forms, matched anywhere in the folded question. */
static const pattern ASKS[] = {
    /* amounts, counts, prices, rates */
    {"多少", KB_KIND_NUMBER}, {"几", KB_KIND_NUMBER}, {"多大", KB_KIND_NUMBER | KB_KIND_MEASURE},
    {"多高", KB_KIND_MEASURE}, {"多重", KB_KIND_MEASURE}, {"多远", KB_KIND_MEASURE},
    {"多贵", KB_KIND_NUMBER}, {"多宽", KB_KIND_MEASURE}, {"多深", KB_KIND_MEASURE},
    {"价格", KB_KIND_NUMBER}, {"价钱", KB_KIND_NUMBER}, {"什么价", KB_KIND_NUMBER},
    {"啥价", KB_KIND_NUMBER}, {"费率", KB_KIND_NUMBER}, {"利率", KB_KIND_NUMBER},
    {"百分之", KB_KIND_NUMBER}, {"比例", KB_KIND_NUMBER}, {"限额", KB_KIND_NUMBER},
    {"额度", KB_KIND_NUMBER}, {"费吗", KB_KIND_NUMBER}, {"要钱", KB_KIND_NUMBER},
    {"收钱", KB_KIND_NUMBER}, {"免费吗", KB_KIND_NUMBER}, {"怎么算", KB_KIND_NUMBER},
    {"如何计算", KB_KIND_NUMBER}, {"怎么计算", KB_KIND_NUMBER}, {"怎么收费", KB_KIND_NUMBER},
    {"how much", KB_KIND_NUMBER}, {"how many", KB_KIND_NUMBER},
    /* durations (幾耐: Cantonese "how long") */
    {"多久", KB_KIND_DURATION | KB_KIND_NUMBER}, {"多长", KB_KIND_DURATION | KB_KIND_MEASURE},
    {"多少天", KB_KIND_DURATION}, {"多少时间", KB_KIND_DURATION}, {"几天", KB_KIND_DURATION},
    {"几日", KB_KIND_DURATION}, {"几个月", KB_KIND_DURATION}, {"几年", KB_KIND_DURATION},
    {"几小时", KB_KIND_DURATION}, {"几个小时", KB_KIND_DURATION}, {"几分钟", KB_KIND_DURATION},
    {"几个工作日", KB_KIND_DURATION}, {"几周", KB_KIND_DURATION}, {"几耐", KB_KIND_DURATION},
    {"多快", KB_KIND_DURATION}, {"期限", KB_KIND_DURATION}, {"时限", KB_KIND_DURATION},
    {"时效", KB_KIND_DURATION}, {"有效期", KB_KIND_DURATION}, {"how long", KB_KIND_DURATION},
    /* dates and times (幾時: Cantonese "when") */
    {"什么时候", KB_KIND_DATE}, {"啥时候", KB_KIND_DATE}, {"何时", KB_KIND_DATE},
    {"哪天", KB_KIND_DATE}, {"哪一天", KB_KIND_DATE}, {"哪年", KB_KIND_DATE},
    {"哪一年", KB_KIND_DATE}, {"哪个月", KB_KIND_DATE}, {"几月", KB_KIND_DATE},
    {"几号", KB_KIND_DATE}, {"几点", KB_KIND_DATE}, {"几时", KB_KIND_DATE},
    {"什么时间", KB_KIND_DATE}, {"啥时间", KB_KIND_DATE}, {"日期", KB_KIND_DATE},
    {"when", KB_KIND_DATE},
    /* places and channels (喺邊, 邊度: Cantonese "where") */
    {"哪里", KB_KIND_PLACE}, {"哪儿", KB_KIND_PLACE}, {"在哪", KB_KIND_PLACE},
    {"去哪", KB_KIND_PLACE}, {"到哪", KB_KIND_PLACE}, {"何处", KB_KIND_PLACE},
    {"什么地方", KB_KIND_PLACE}, {"啥地方", KB_KIND_PLACE}, {"哪个地方", KB_KIND_PLACE},
    {"边度", KB_KIND_PLACE}, {"喺边", KB_KIND_PLACE}, {"where", KB_KIND_PLACE},
    /* lists: what is needed, which ones (乜嘢: Cantonese "what") */
    {"需要什么", KB_KIND_LIST}, {"要什么", KB_KIND_LIST}, {"带什么", KB_KIND_LIST},
    {"准备什么", KB_KIND_LIST}, {"需要啥", KB_KIND_LIST}, {"要啥", KB_KIND_LIST},
    {"带啥", KB_KIND_LIST}, {"哪些", KB_KIND_LIST}, {"什么材料", KB_KIND_LIST},
    {"什么资料", KB_KIND_LIST}, {"什么证件", KB_KIND_LIST}, {"什么条件", KB_KIND_LIST},
    {"什么手续", KB_KIND_LIST}, {"材料", KB_KIND_LIST}, {"资料", KB_KIND_LIST},
    {"证件", KB_KIND_LIST}, {"条件", KB_KIND_LIST}, {"乜嘢", KB_KIND_LIST},
    /* steps (點樣: Cantonese "how") */
    {"步骤", KB_KIND_STEPS}, {"流程", KB_KIND_STEPS}, {"方法", KB_KIND_STEPS},
    {"办法", KB_KIND_STEPS}, {"途径", KB_KIND_STEPS}, {"渠道", KB_KIND_STEPS},
    {"how to", KB_KIND_STEPS}, {"how do", KB_KIND_STEPS},
    /* ages */
    {"几岁", KB_KIND_AGE}, {"多少岁", KB_KIND_AGE}, {"年纪", KB_KIND_AGE}, {"年龄", KB_KIND_AGE},
    {"岁数", KB_KIND_AGE},
    /* yes or no (a question ending in 吗 is found in kb_passage_asks; 得唔得, 可唔可以,
     * 有冇: Cantonese) */
    {"是否", KB_KIND_YESNO}, {"能否", KB_KIND_YESNO}, {"可否", KB_KIND_YESNO},
    {"能不能", KB_KIND_YESNO}, {"可不可以", KB_KIND_YESNO}, {"会不会", KB_KIND_YESNO},
    {"有没有", KB_KIND_YESNO}, {"要不要", KB_KIND_YESNO}, {"是不是", KB_KIND_YESNO},
    {"行不行", KB_KIND_YESNO}, {"得唔得", KB_KIND_YESNO}, {"可唔可以", KB_KIND_YESNO},
    {"有冇", KB_KIND_YESNO}, {"会唔会", KB_KIND_YESNO},
    /* reasons (點解: Cantonese "why") */
    {"为什么", KB_KIND_REASON}, {"为何", KB_KIND_REASON}, {"为啥", KB_KIND_REASON},
    {"怎么会", KB_KIND_REASON}, {"咋会", KB_KIND_REASON}, {"怎么回事", KB_KIND_REASON},
    {"原因", KB_KIND_REASON}, {"点解", KB_KIND_REASON}, {"何故", KB_KIND_REASON},
    {"why", KB_KIND_REASON},
    /* what to say to the customer */
    {"话术", KB_KIND_SCRIPT}, {"说什么", KB_KIND_SCRIPT}, {"讲什么", KB_KIND_SCRIPT},
    {"说啥", KB_KIND_SCRIPT}, {"怎么回答", KB_KIND_SCRIPT}, {"如何回答", KB_KIND_SCRIPT},
    {"怎么答", KB_KIND_SCRIPT},
    {"怎么解释", KB_KIND_SCRIPT}, {"如何解释", KB_KIND_SCRIPT}, {"怎么告诉", KB_KIND_SCRIPT},
    {"如何告知", KB_KIND_SCRIPT}, {"怎么安抚", KB_KIND_SCRIPT}, {"如何安抚", KB_KIND_SCRIPT},
    {"怎么回应", KB_KIND_SCRIPT}, {"怎么道歉", KB_KIND_SCRIPT}, {"对答", KB_KIND_SCRIPT},
    {"点讲", KB_KIND_SCRIPT}, {"点答", KB_KIND_SCRIPT}, {"开场白", KB_KIND_SCRIPT},
    {"第一句", KB_KIND_SCRIPT}, {"口径", KB_KIND_SCRIPT}, {"what to say", KB_KIND_SCRIPT},
};

/* "How" words: asking how to do something is asking for steps, unless what follows makes it
 * a question of what to say (怎么跟客户说), of why (怎么会) or of how good (怎么样). */
static const char *const HOW[] = {"怎么", "怎样", "如何", "咋", "点样", "点做", "点搞"};
static const char *const HOW_SAY[] = {"说", "讲", "解释", "回答", "介绍"};
static const char *const HOW_NOT_STEPS[] = {"样", "会", "回事", "算", "计算", "收费"};

/* Byte length of the UTF-8 character at s. */
static size_t char_len(const char *s)
{
    unsigned char c = (unsigned char)*s;
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

unsigned kb_passage_asks(const char *q)
{
    if (!q || !*q) return 0;
    unsigned kinds = 0;
    for (size_t i = 0; i < sizeof ASKS / sizeof ASKS[0]; i++)
        if (strstr(q, ASKS[i].text)) kinds |= ASKS[i].kinds;
    for (size_t h = 0; h < sizeof HOW / sizeof HOW[0]; h++) {
        for (const char *at = strstr(q, HOW[h]); at; at = strstr(at + 1, HOW[h])) {
            const char *after = at + strlen(HOW[h]);
            int steps = 1;
            for (size_t k = 0; k < sizeof HOW_NOT_STEPS / sizeof HOW_NOT_STEPS[0]; k++)
                if (!strncmp(after, HOW_NOT_STEPS[k], strlen(HOW_NOT_STEPS[k]))) steps = 0;
            /* 怎么跟客户说, 如何向他解释: a verb of saying within a few characters. */
            const char *p = after;
            for (int c = 0; c < 5 && *p; c++, p += char_len(p))
                for (size_t k = 0; k < sizeof HOW_SAY / sizeof HOW_SAY[0]; k++)
                    if (!strncmp(p, HOW_SAY[k], strlen(HOW_SAY[k]))) {
                        kinds |= KB_KIND_SCRIPT;
                        steps = 0;
                    }
            if (steps) kinds |= KB_KIND_STEPS;
        }
    }
    /* A question that ends in 吗 (or 嗎, folded) asks yes or no. */
    size_t len = strlen(q);
    while (len > 0 && strchr("?!. \t", q[len - 1])) len--;
    while (len >= 3 && (!strncmp(q + len - 3, "？", 3) || !strncmp(q + len - 3, "！", 3))) len -= 3;
    if (len >= 3 && (!strncmp(q + len - 3, "吗", 3) || !strncmp(q + len - 3, "咩", 3))) kinds |= KB_KIND_YESNO;
    if (kinds & KB_KIND_SCRIPT) kinds &= ~(unsigned)KB_KIND_STEPS;
    return kinds;
}

/* Question phrases, for kb_passage_is_question_word. */
static const char *const QUESTION_PHRASES[] = {
    "多少", "多大", "多高", "多重", "多远", "多贵", "多宽", "多深", "多久", "多长时间", "多长",
    "有多", "几天", "几个", "几年", "几月", "几号", "几点", "几时", "几多", "几耐", "几次",
    "哪里", "哪儿", "在哪里", "去哪里", "到哪里", "何处", "何时", "哪天", "哪一天", "哪一年",
    "哪年", "哪个", "哪些", "什么时候", "什么时间", "什么地方", "什么样", "什么", "啥时候",
    "为什么", "为何", "为啥", "怎么样", "怎么办", "怎么", "怎样", "如何", "点样", "点解", "边度",
    "喺边度", "乜嘢", "是否", "能否", "可否", "是不是", "能不能", "可不可以", "有没有", "要不要",
    "会不会",
};
/* Characters that make a piece of a question phrase a question word (么时 of 什么时候, not 时间
 * of 多长时间): 什么哪几多怎何啥为否没不. */
static int is_question_char(uint32_t c)
{
    switch (c) {
    case 0x4EC0: case 0x4E48: case 0x54EA: case 0x51E0: case 0x591A: case 0x600E: case 0x4F55:
    case 0x5565: case 0x4E3A: case 0x5426: case 0x6CA1: case 0x4E0D:
        return 1;
    }
    return 0;
}

int kb_passage_is_question_word(const char *term)
{
    size_t len = strlen(term);
    if (!len || len > 15) return 0;
    /* Most terms hold no question character: done without the phrases. */
    int asking = 0;
    for (int32_t i = 0, n = (int32_t)len; i < n && !asking;) {
        UChar32 c;
        U8_NEXT((const uint8_t *)term, i, n, c);
        asking = is_question_char((uint32_t)c);
    }
    if (!asking) return 0;
    int inside = 0;
    for (size_t i = 0; i < sizeof QUESTION_PHRASES / sizeof QUESTION_PHRASES[0]; i++) {
        if (!strcmp(term, QUESTION_PHRASES[i])) return 1;
        if (strstr(QUESTION_PHRASES[i], term)) inside = 1;
    }
    return inside;
}

/* ---------------------------------------------------------------- the text */

/* Words that show a kind of content, matched in folded text. */
static const pattern HOLDS[] = {
    /* times and dates in words */
    {"星期", KB_KIND_DATE}, {"周一", KB_KIND_DATE}, {"周二", KB_KIND_DATE},
    {"周三", KB_KIND_DATE}, {"周四", KB_KIND_DATE}, {"周五", KB_KIND_DATE},
    {"周六", KB_KIND_DATE}, {"周日", KB_KIND_DATE}, {"周末", KB_KIND_DATE},
    {"上午", KB_KIND_DATE}, {"下午", KB_KIND_DATE}, {"凌晨", KB_KIND_DATE},
    {"晚上", KB_KIND_DATE}, {"中午", KB_KIND_DATE}, {"早上", KB_KIND_DATE},
    {"月初", KB_KIND_DATE}, {"月底", KB_KIND_DATE}, {"月末", KB_KIND_DATE},
    {"年初", KB_KIND_DATE}, {"年底", KB_KIND_DATE}, {"年末", KB_KIND_DATE},
    {"世纪", KB_KIND_DATE}, {"年代", KB_KIND_DATE}, {"节假日", KB_KIND_DATE},
    {"春季", KB_KIND_DATE}, {"夏季", KB_KIND_DATE}, {"秋季", KB_KIND_DATE},
    {"冬季", KB_KIND_DATE},
    /* times that are also how long it takes */
    {"次日", KB_KIND_DATE | KB_KIND_DURATION}, {"次月", KB_KIND_DATE | KB_KIND_DURATION},
    {"当天", KB_KIND_DATE | KB_KIND_DURATION}, {"当日", KB_KIND_DATE | KB_KIND_DURATION},
    {"当月", KB_KIND_DATE | KB_KIND_DURATION}, {"隔天", KB_KIND_DATE | KB_KIND_DURATION},
    {"即时", KB_KIND_DURATION}, {"实时", KB_KIND_DURATION}, {"立即", KB_KIND_DURATION},
    {"马上", KB_KIND_DURATION}, {"当场", KB_KIND_DURATION}, {"永久", KB_KIND_DURATION},
    {"长期", KB_KIND_DURATION},
    /* places and channels */
    {"位于", KB_KIND_PLACE}, {"坐落", KB_KIND_PLACE}, {"地处", KB_KIND_PLACE},
    {"分布于", KB_KIND_PLACE}, {"分布在", KB_KIND_PLACE}, {"发源于", KB_KIND_PLACE},
    {"产于", KB_KIND_PLACE}, {"原产", KB_KIND_PLACE}, {"生于", KB_KIND_PLACE | KB_KIND_DATE}, {"设于", KB_KIND_PLACE},
    {"设在", KB_KIND_PLACE}, {"总部", KB_KIND_PLACE}, {"营业厅", KB_KIND_PLACE},
    {"网点", KB_KIND_PLACE}, {"柜台", KB_KIND_PLACE}, {"柜面", KB_KIND_PLACE},
    {"门店", KB_KIND_PLACE}, {"官网", KB_KIND_PLACE}, {"网站", KB_KIND_PLACE},
    {"app", KB_KIND_PLACE}, {"手机银行", KB_KIND_PLACE}, {"网上银行", KB_KIND_PLACE},
    {"网银", KB_KIND_PLACE}, {"公众号", KB_KIND_PLACE}, {"小程序", KB_KIND_PLACE},
    {"窗口", KB_KIND_PLACE}, {"分行", KB_KIND_PLACE}, {"支行", KB_KIND_PLACE},
    {"便利店", KB_KIND_PLACE}, {"便利商店", KB_KIND_PLACE}, {"机场", KB_KIND_PLACE},
    {"车站", KB_KIND_PLACE}, {"医院", KB_KIND_PLACE}, {"派出所", KB_KIND_PLACE},
    {"境内", KB_KIND_PLACE}, {"境外", KB_KIND_PLACE},
    /* enumerations */
    {"包括", KB_KIND_LIST}, {"包含", KB_KIND_LIST}, {"如下", KB_KIND_LIST},
    {"以下", KB_KIND_LIST}, {"分为", KB_KIND_LIST}, {"分别", KB_KIND_LIST},
    /* steps: sequence words, arrows of a menu path, imperative verbs of service steps */
    {"第一步", KB_KIND_STEPS}, {"步骤", KB_KIND_STEPS}, {"首先", KB_KIND_STEPS},
    {"然后", KB_KIND_STEPS}, {"其次", KB_KIND_STEPS}, {"接着", KB_KIND_STEPS},
    {"最后", KB_KIND_STEPS}, {"→", KB_KIND_STEPS}, {"->", KB_KIND_STEPS},
    {"点击", KB_KIND_STEPS}, {"点选", KB_KIND_STEPS}, {"选择", KB_KIND_STEPS},
    {"进入", KB_KIND_STEPS}, {"登录", KB_KIND_STEPS}, {"登入", KB_KIND_STEPS},
    {"打开", KB_KIND_STEPS}, {"输入", KB_KIND_STEPS}, {"填写", KB_KIND_STEPS},
    {"提交", KB_KIND_STEPS}, {"发送", KB_KIND_STEPS}, {"拨打", KB_KIND_STEPS},
    {"携带", KB_KIND_STEPS}, {"前往", KB_KIND_STEPS}, {"扫描", KB_KIND_STEPS},
    {"扫码", KB_KIND_STEPS}, {"下载", KB_KIND_STEPS}, {"致电", KB_KIND_STEPS},
    {"转人工", KB_KIND_STEPS},
    /* what is allowed, needed or refused: the answer to a yes-or-no question */
    {"可以", KB_KIND_YESNO}, {"不可", KB_KIND_YESNO}, {"不能", KB_KIND_YESNO},
    {"能够", KB_KIND_YESNO}, {"无法", KB_KIND_YESNO}, {"不得", KB_KIND_YESNO},
    {"允许", KB_KIND_YESNO}, {"禁止", KB_KIND_YESNO}, {"无需", KB_KIND_YESNO},
    {"不需", KB_KIND_YESNO}, {"无须", KB_KIND_YESNO}, {"不用", KB_KIND_YESNO},
    {"必须", KB_KIND_YESNO}, {"支持", KB_KIND_YESNO}, {"不会", KB_KIND_YESNO},
    {"不予", KB_KIND_YESNO}, {"不收", KB_KIND_YESNO | KB_KIND_NUMBER},
    {"免费", KB_KIND_YESNO | KB_KIND_NUMBER}, {"不退", KB_KIND_YESNO}, {"仅限", KB_KIND_YESNO},
    {"不限", KB_KIND_YESNO}, {"照收", KB_KIND_YESNO}, {"不再", KB_KIND_YESNO},
    {"不补", KB_KIND_YESNO}, {"不保", KB_KIND_YESNO}, {"可能", KB_KIND_YESNO},
    /* causes and purposes */
    {"因为", KB_KIND_REASON}, {"由于", KB_KIND_REASON}, {"因此", KB_KIND_REASON},
    {"所以", KB_KIND_REASON}, {"为了", KB_KIND_REASON}, {"原因", KB_KIND_REASON},
    {"导致", KB_KIND_REASON}, {"因而", KB_KIND_REASON}, {"以便", KB_KIND_REASON},
    {"以免", KB_KIND_REASON}, {"鉴于", KB_KIND_REASON},
};

/* Words of titles and column headers that name what the text under them holds. */
static const pattern LABELS[] = {
    {"时限", KB_KIND_DURATION}, {"时效", KB_KIND_DURATION}, {"时长", KB_KIND_DURATION},
    {"期限", KB_KIND_DURATION}, {"天数", KB_KIND_DURATION}, {"周期", KB_KIND_DURATION},
    {"有效期", KB_KIND_DURATION}, {"多久", KB_KIND_DURATION},
    {"时间", KB_KIND_DATE | KB_KIND_DURATION}, {"日期", KB_KIND_DATE}, {"生效", KB_KIND_DATE},
    {"到期", KB_KIND_DATE},
    {"费用", KB_KIND_NUMBER}, {"收费", KB_KIND_NUMBER}, {"费率", KB_KIND_NUMBER},
    {"利率", KB_KIND_NUMBER}, {"价格", KB_KIND_NUMBER}, {"资费", KB_KIND_NUMBER},
    {"金额", KB_KIND_NUMBER}, {"标准", KB_KIND_NUMBER}, {"年费", KB_KIND_NUMBER},
    {"月费", KB_KIND_NUMBER}, {"月租", KB_KIND_NUMBER}, {"手续费", KB_KIND_NUMBER},
    {"额度", KB_KIND_NUMBER}, {"限额", KB_KIND_NUMBER}, {"价目", KB_KIND_NUMBER},
    {"比例", KB_KIND_NUMBER}, {"数量", KB_KIND_NUMBER}, {"上限", KB_KIND_NUMBER},
    {"地点", KB_KIND_PLACE}, {"地址", KB_KIND_PLACE}, {"渠道", KB_KIND_PLACE | KB_KIND_STEPS},
    {"网点", KB_KIND_PLACE}, {"位置", KB_KIND_PLACE},
    {"材料", KB_KIND_LIST}, {"资料", KB_KIND_LIST}, {"证件", KB_KIND_LIST},
    {"条件", KB_KIND_LIST}, {"清单", KB_KIND_LIST}, {"所需", KB_KIND_LIST},
    {"范围", KB_KIND_LIST},
    {"步骤", KB_KIND_STEPS}, {"流程", KB_KIND_STEPS}, {"方式", KB_KIND_STEPS},
    {"方法", KB_KIND_STEPS}, {"办理", KB_KIND_STEPS}, {"操作", KB_KIND_STEPS},
    {"办法", KB_KIND_STEPS}, {"指引", KB_KIND_STEPS},
    {"原因", KB_KIND_REASON},
};

/* Titles and openings that name a script. */
static const pattern SCRIPT_NAMES[] = {
    {"话术", KB_KIND_SCRIPT},     {"对答", KB_KIND_SCRIPT},     {"应答", KB_KIND_SCRIPT},
    {"口径", KB_KIND_SCRIPT},     {"参考回答", KB_KIND_SCRIPT}, {"建议回答", KB_KIND_SCRIPT},
    {"可以说", KB_KIND_SCRIPT},   {"可说", KB_KIND_SCRIPT},
};

#define MAX_PATTERN 8
#define MAX_PATTERNS 160

/* Patterns decoded to code points once, chained by the low bits of their first code point
 * (like the needles of snippet.c), so a position is compared only with patterns that can start
 * there. */
typedef struct {
    const pattern *src;
    size_t n;
    uint32_t cps[MAX_PATTERNS][MAX_PATTERN];
    uint8_t len[MAX_PATTERNS];
    int16_t next[MAX_PATTERNS];
    int16_t head[256];
} pattern_table;

_Static_assert(sizeof HOLDS / sizeof HOLDS[0] <= MAX_PATTERNS, "HOLDS outgrew MAX_PATTERNS");
_Static_assert(sizeof LABELS / sizeof LABELS[0] <= MAX_PATTERNS, "LABELS outgrew MAX_PATTERNS");
static pattern_table holds = {.src = HOLDS, .n = sizeof HOLDS / sizeof HOLDS[0]};
static pattern_table labels = {.src = LABELS, .n = sizeof LABELS / sizeof LABELS[0]};
static pattern_table scripts = {.src = SCRIPT_NAMES, .n = sizeof SCRIPT_NAMES / sizeof SCRIPT_NAMES[0]};
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static size_t decode(const char *s, uint32_t *out, size_t cap)
{
    size_t n = 0;
    int32_t i = 0, len = (int32_t)strlen(s);
    while (i < len && n < cap) {
        UChar32 c;
        U8_NEXT((const uint8_t *)s, i, len, c);
        out[n++] = (uint32_t)c;
    }
    return n;
}

static void build_table(pattern_table *t)
{
    for (int b = 0; b < 256; b++) t->head[b] = -1;
    for (size_t k = t->n < MAX_PATTERNS ? t->n : MAX_PATTERNS; k-- > 0;) {
        t->len[k] = (uint8_t)decode(t->src[k].text, t->cps[k], MAX_PATTERN);
        t->next[k] = t->head[t->cps[k][0] & 0xFF];
        t->head[t->cps[k][0] & 0xFF] = (int16_t)k;
    }
}

static void build_tables(void)
{
    build_table(&holds);
    build_table(&labels);
    build_table(&scripts);
}

/* The kinds of the patterns of t that start at cps[i]. */
static inline unsigned patterns_at(const pattern_table *t, const uint32_t *cps, size_t n, size_t i)
{
    unsigned kinds = 0;
    uint32_t c = cps[i];
    for (int k = t->head[c & 0xFF]; k >= 0; k = t->next[k]) {
        size_t l = t->len[k], j = 1;
        if (t->cps[k][0] != c || i + l > n) continue;
        while (j < l && cps[i + j] == t->cps[k][j]) j++;
        if (j == l) kinds |= t->src[k].kinds;
    }
    return kinds;
}

static int is_digit(uint32_t c) { return c >= '0' && c <= '9'; }

/* Chinese numerals (一 alone is too common to count: 一种, 一般, 一起). */
static inline int is_han_numeral(uint32_t c)
{
    /* Bit (c & 63) of the numerals below: most characters are ruled out by one test. */
    const uint64_t sieve = 1ull << (0x96F6 & 63) | 1ull << (0x3007 & 63) | 1ull << (0x4E00 & 63) |
                           1ull << (0x4E8C & 63) | 1ull << (0x4E24 & 63) | 1ull << (0x4E09 & 63) |
                           1ull << (0x56DB & 63) | 1ull << (0x4E94 & 63) | 1ull << (0x516D & 63) |
                           1ull << (0x4E03 & 63) | 1ull << (0x516B & 63) | 1ull << (0x4E5D & 63) |
                           1ull << (0x5341 & 63) | 1ull << (0x767E & 63) | 1ull << (0x5343 & 63) |
                           1ull << (0x4E07 & 63) | 1ull << (0x4EBF & 63) | 1ull << (0x534A & 63);
    if (c < 0x3007 || c > 0x96F6 || !(sieve >> (c & 63) & 1)) return 0;
    switch (c) {
    case 0x96F6: case 0x3007: case 0x4E00: case 0x4E8C: case 0x4E24: case 0x4E09: case 0x56DB:
    case 0x4E94: case 0x516D: case 0x4E03: case 0x516B: case 0x4E5D: case 0x5341: case 0x767E:
    case 0x5343: case 0x4E07: case 0x4EBF: case 0x534A: /* 零〇一二两三四五六七八九十百千万亿半 */
        return 1;
    }
    return 0;
}

/* What a unit after a number says: a span of time (天, 个月, 小时, 工作日), a point in time
 * (年, 月, 日, 号, 点), or a plain amount (元, 次, %, 倍 …). */
static unsigned unit_kinds(const uint32_t *cps, size_t n, size_t i)
{
    /* Skip approximations and classifiers: 30多天, 3个月, 两个工作日. */
    while (i < n && (cps[i] == 0x591A /* 多 */ || cps[i] == 0x4F59 /* 余 */ ||
                     cps[i] == 0x4E2A /* 个 */ || cps[i] == ' '))
        i++;
    if (i >= n) return 0;
    switch (cps[i]) {
    case 0x5468: /* 周, or 周岁 */
        return i + 1 < n && cps[i + 1] == 0x5C81 ? KB_KIND_AGE | KB_KIND_DATE : KB_KIND_DURATION;
    case 0x5929: /* 天 */
    case 0x79D2: /* 秒 */
    case 0x949F: /* 钟 */
    case 0x5C0F: /* 小(时) */
    case 0x5DE5: /* 工(作日) */
    case 0x661F: /* 星(期) */
    case 0x5206: /* 分(钟) */
        return KB_KIND_DURATION;
    case 0x5E74: /* 年 */
    case 0x6708: /* 月 */
    case 0x65E5: /* 日 */
    case 0x65F6: /* 时 */
        return KB_KIND_DURATION | KB_KIND_DATE;
    case 0x7C73: /* 米 (厘米, 公里 …: the unit's last character) */
    case 0x91CC: /* 里 */
    case 0x5C3A: /* 尺 */
    case 0x5428: /* 吨 */
    case 0x65A4: /* 斤 */
    case 0x514B: /* 克 */
    case 0x4EA9: /* 亩 */
        return KB_KIND_MEASURE;
    case 0x516C: /* 公(里, 尺, 斤, 顷, 分) */
    case 0x5343: /* 千(米, 克) */
    case 0x5398: /* 厘(米) */
    case 0x6BEB: /* 毫(米, 升) */
    case 0x5E73: /* 平(方) */
    case 0x82F1: /* 英(里, 尺) */
        return i + 1 < n && (cps[i + 1] == 0x7C73 || cps[i + 1] == 0x91CC || cps[i + 1] == 0x5C3A ||
                             cps[i + 1] == 0x65A4 || cps[i + 1] == 0x514B || cps[i + 1] == 0x987A ||
                             cps[i + 1] == 0x5206 || cps[i + 1] == 0x65B9 || cps[i + 1] == 0x5347)
                   ? KB_KIND_MEASURE
                   : 0;
    case 'm':
    case 'k':
    case 'c':
        return KB_KIND_MEASURE; /* m, km, cm, kg (a Latin letter right after the figure) */
    case 0x53F7: /* 号 */
    case 0x70B9: /* 点 */
        return KB_KIND_DATE;
    case 0x5C81: /* 岁: an age, which also answers "when" in a life (自十八岁开始) */
        return KB_KIND_AGE | KB_KIND_DATE;
    case ':':
        return i + 1 < n && is_digit(cps[i + 1]) ? KB_KIND_DATE : 0;
    }
    return 0;
}

/* Units that make a lone Chinese numeral a quantity (三个, 两次, 五元, 十倍). */
static int is_measure(uint32_t c)
{
    static const uint32_t M[] = {0x4E2A, 0x6B21, 0x5143, 0x500D, 0x5929, 0x5E74, 0x6708,
                                 0x65E5, 0x5468, 0x5C0F, 0x5206, 0x79D2, 0x5C81, 0x5F20,
                                 0x6761, 0x4F4D, 0x540D, 0x9879, 0x7B14, 0x4EFD, 0x6210,
                                 0x6298, 0x4E07, 0x5343, 0x767E, 0x5757, 0x89D2, 0x53F7};
    /* 个次元倍天年月日周小分秒岁张条位名项笔份成折万千百块角号 */
    for (size_t i = 0; i < sizeof M / sizeof M[0]; i++)
        if (M[i] == c) return 1;
    return 0;
}

static int is_latin(uint32_t c) { return c >= 'a' && c <= 'z'; }

/* A token of letters, digits and joiners from i (hx-5g-99, 4008-123-456, 0.80, 30gb): its end,
 * and whether it is a code, whose digits are a name rather than an amount: a letter before a
 * digit (hx-5g-99, a-135, n64) or a lone g after one (5g). Digits followed by a unit (30gb,
 * 35cm) are an amount. */
static size_t token_end(const uint32_t *cps, size_t n, size_t i, int *code)
{
    int letter_seen = 0, letter_then_digit = 0;
    size_t start = i;
    while (i < n) {
        uint32_t c = cps[i];
        if (is_latin(c)) letter_seen = 1;
        else if (is_digit(c)) letter_then_digit |= letter_seen;
        else if (!((c == '-' || c == '_' || c == '.' || c == '/') && i + 1 < n &&
                   (is_digit(cps[i + 1]) || is_latin(cps[i + 1]))))
            break;
        i++;
    }
    int lone_g = i >= start + 2 && cps[i - 1] == 'g' && is_digit(cps[i - 2]);
    *code = letter_then_digit || lone_g;
    return i;
}

unsigned kb_passage_holds(const uint32_t *cps, size_t n)
{
    pthread_once(&tables_once, build_tables);
    unsigned kinds = 0;
    size_t enumerations = 0, code_until = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c = cps[i];
        if ((is_digit(c) || is_latin(c)) && i >= code_until) {
            /* Digits in a code (5g, hx-5g-99, a-135) are names, not amounts. */
            int code;
            size_t end = token_end(cps, n, i, &code);
            if (code) code_until = end;
        }
        if (is_digit(c) && i < code_until) {
            i++;
            continue;
        }
        if (is_digit(c)) {
            size_t j = i;
            while (j < n && (is_digit(cps[j]) || ((cps[j] == '.' || cps[j] == ',') && j + 1 < n &&
                                                  is_digit(cps[j + 1]))))
                j++;
            kinds |= KB_KIND_NUMBER | unit_kinds(cps, n, j);
            /* 第20天, 第3日: a day counted from something is a date. */
            if (i > 0 && cps[i - 1] == 0x7B2C /* 第 */ && (unit_kinds(cps, n, j) & KB_KIND_DURATION))
                kinds |= KB_KIND_DATE;
            i = j;
            continue;
        }
        if (is_han_numeral(c)) {
            size_t j = i;
            while (j < n && is_han_numeral(cps[j])) j++;
            int lone_one = j - i == 1 && c == 0x4E00;
            if (j < n && is_measure(cps[j]) && !(lone_one && cps[j] == 0x4E2A /* 一个 */))
                kinds |= KB_KIND_NUMBER | unit_kinds(cps, n, j);
            else if (j - i >= 2)
                kinds |= KB_KIND_NUMBER;
            i = j;
            continue;
        }
        if (c == '%' || c == 0xFF05) kinds |= KB_KIND_NUMBER;
        if (c == 0x3001 /* 、 */ || c == 0xFF1B /* ； */) enumerations++;
        kinds |= patterns_at(&holds, cps, n, i);
        i++;
    }
    if (enumerations >= 2) kinds |= KB_KIND_LIST;
    return kinds;
}

unsigned kb_passage_labels(const uint32_t *cps, size_t n)
{
    pthread_once(&tables_once, build_tables);
    unsigned kinds = 0;
    for (size_t i = 0; i < n; i++) kinds |= patterns_at(&labels, cps, n, i);
    return kinds;
}

int kb_passage_names_script(const uint32_t *cps, size_t n)
{
    pthread_once(&tables_once, build_tables);
    for (size_t i = 0; i < n; i++)
        if (patterns_at(&scripts, cps, n, i)) return 1;
    return 0;
}
