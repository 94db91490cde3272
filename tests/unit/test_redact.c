/* test_redact.c — redaction of phone, ID-card, bank-card numbers and e-mail addresses (kb/redact.h):
 * each pattern in Chinese context, the check digits, what must be kept, bad input, speed, threads. */
#include "check.h"
#include "kb/redact.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

/* Redact a C string; returns a static copy (the tests compare it right away). */
static char last[4096];
static int last_found;
static const char *R(const char *s)
{
    char *r = kb_redact(s, strlen(s), &last_found);
    snprintf(last, sizeof last, "%s", r ? r : "(null)");
    free(r);
    return last;
}

/* Text that must come out unchanged, with nothing found. */
#define KEPT(s)                                                                        \
    do {                                                                               \
        CHECK_STR_EQ(R(s), s);                                                         \
        CHECK(last_found == 0);                                                        \
    } while (0)

static int valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!k || i + k > n) return 0;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[i + 1] < 0xA0) return 0;
        if (c == 0xED && s[i + 1] > 0x9F) return 0;
        if (c == 0xF0 && s[i + 1] < 0x90) return 0;
        if (c == 0xF4 && s[i + 1] > 0x8F) return 0;
        i += k;
    }
    return 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST(mobile_numbers_are_redacted_in_every_spelling)
{
    CHECK_STR_EQ(R("我的手机13800138000打不通"), "我的手机[手机号]打不通");
    CHECK(last_found == 1);
    CHECK_STR_EQ(R("客户电话138 0013 8000，请回电"), "客户电话[手机号]，请回电");
    CHECK_STR_EQ(R("138-0013-8000"), "[手机号]");
    CHECK_STR_EQ(R("1380013 8000"), "[手机号]");
    CHECK_STR_EQ(R("1380 013 8000"), "[手机号]");
    CHECK_STR_EQ(R("1380-0138-000"), "[手机号]");
    CHECK_STR_EQ(R("号码+86 138 0013 8000"), "号码[手机号]");
    CHECK_STR_EQ(R("+8613800138000"), "[手机号]");
    CHECK_STR_EQ(R("0086-138-0013-8000"), "[手机号]");
    CHECK_STR_EQ(R("(+86)15912345678"), "[手机号]");
    CHECK_STR_EQ(R("8613800138000"), "[手机号]");
    CHECK_STR_EQ(R("外地手机013800138000"), "外地手机[手机号]");
    CHECK_STR_EQ(R("13800138000、19912345678都停机了"), "[手机号]、[手机号]都停机了");
    CHECK(last_found == 2);
    /* Full-width digits (typed with a Chinese IME) and the ideographic space. */
    CHECK_STR_EQ(R("手机号１３８００１３８０００谢谢"), "手机号[手机号]谢谢");
    CHECK_STR_EQ(R("１３８　００１３　８０００"), "[手机号]");
    CHECK_STR_EQ(R("＋８６１３８００１３８０００"), "[手机号]");
    /* Not mobiles: wrong prefix, wrong length, part of a longer digit run. */
    KEPT("12345678901");
    KEPT("1380013800");
    KEPT("138001380001");
    KEPT("订单号138001380001号");
    KEPT("180 200 300 40G流量"); /* eleven digits in a list are no phone number */
    KEPT("1380013800012345"); /* 16 digits, Luhn-invalid: no phone cut out of it */
}

TEST(landline_numbers_are_redacted_in_every_spelling)
{
    CHECK_STR_EQ(R("010-62345678"), "[电话]");
    CHECK_STR_EQ(R("公司座机0755 8888 6666转人工"), "公司座机[电话]转人工");
    CHECK_STR_EQ(R("02162345678"), "[电话]");
    CHECK_STR_EQ(R("(010)62345678"), "[电话]");
    CHECK_STR_EQ(R("（０１０）６２３４　５６７８"), "[电话]");
    CHECK_STR_EQ(R("0571-8765432"), "[电话]");
    CHECK_STR_EQ(R("+86 10 6234 5678"), "[电话]");
    CHECK_STR_EQ(R("010-62345678-8001"), "[电话]-8001"); /* the extension is no identifier */
    KEPT("010-1234567");                                  /* local numbers never start with 1 */
}

TEST(email_addresses_are_redacted)
{
    CHECK_STR_EQ(R("邮箱zhang.san+kb@example.com.cn谢谢"), "邮箱[邮箱]谢谢");
    CHECK_STR_EQ(R("发到 a_b-c@mail.163.com 了"), "发到 [邮箱] 了");
    CHECK_STR_EQ(R("ＡＢＣ＠ｑｑ．ｃｏｍ"), "[邮箱]");
    /* An e-mail wins over the phone number inside it. */
    CHECK_STR_EQ(R("13800138000@139.com"), "[邮箱]");
    CHECK(last_found == 1);
    KEPT("a@b");
    KEPT("@张三 你好");
    KEPT("user@localhost");
}

TEST(id_card_numbers_are_redacted)
{
    CHECK_STR_EQ(R("身份证号11010519491231002X，"), "身份证号[身份证]，");
    CHECK_STR_EQ(R("11010519491231002x"), "[身份证]");
    CHECK_STR_EQ(R("证件310101198512120016办理"), "证件[身份证]办理");
    CHECK_STR_EQ(R("440304199003071248"), "[身份证]");
    CHECK_STR_EQ(R("110105 19491231 002X"), "[身份证]");
    CHECK_STR_EQ(R("110105 1949 1231 002X"), "[身份证]");
    CHECK_STR_EQ(R("110-105-1949-1231-002X"), "[身份证]");
    CHECK_STR_EQ(R("生于闰日110105200002291235"), "生于闰日[身份证]");
    CHECK_STR_EQ(R("１１０１０５１９４９１２３１００２Ｘ"), "[身份证]");
    CHECK_STR_EQ(R("老身份证110105491231002"), "老身份证[身份证]");
    /* Impossible birth month 13, and 78 is no province: not an ID card (nor a card). */
    KEPT("780105194913310021");
    /* 15 digits with an impossible month: not an old ID card (and not Luhn-valid). */
    KEPT("110105491331002");
    KEPT("110105490031002"); /* day 00 */
}

/* A mistyped identifier is still the customer's: what has the shape of an ID card, a bank card
 * or a phone number goes, whether or not its check digit adds up. */
TEST(mistyped_identifiers_by_shape)
{
    /* ID cards with a wrong check digit (issue 15, item 8). */
    CHECK_STR_EQ(R("身份证 110101199001011234"), "身份证 [身份证]");
    CHECK(last_found == 1);
    CHECK_STR_EQ(R("110105194912310021"), "[身份证]");
    CHECK_STR_EQ(R("客户证件号110105194912310022办卡"), "客户证件号[身份证]办卡");
    CHECK_STR_EQ(R("110101 19900101 1234"), "[身份证]");
    CHECK_STR_EQ(R("110-101-1990-0101-1234"), "[身份证]");
    CHECK_STR_EQ(R("１１０１０１１９９００１０１１２３４"), "[身份证]");
    /* A date that is no real day (a typo in the day): February 30th, 1900-02-29. */
    CHECK_STR_EQ(R("110105199002301231"), "[身份证]");
    CHECK_STR_EQ(R("110105190002291239"), "[身份证]");
    /* One wrong digit in the date (month 13, year 1099, day 00) of an ID from a real province. */
    CHECK_STR_EQ(R("110101199013011234"), "[身份证]");
    CHECK_STR_EQ(R("110105194913310021"), "[身份证]");
    CHECK_STR_EQ(R("440304109903071248"), "[身份证]");
    CHECK_STR_EQ(R("310101 19851200 0016"), "[身份证]");
    CHECK_STR_EQ(R("010105194912310021"), "[身份证]"); /* no region starts with 0, a typo can */
    /* 17 digits and X: nothing but an ID card looks like that, whatever the date says. */
    CHECK_STR_EQ(R("11010519491331002X"), "[身份证]");
    CHECK_STR_EQ(R("99999999999999999x号"), "[身份证]号");
    /* The check character left off: 17 digits with a birth date in its place. */
    CHECK_STR_EQ(R("身份证号11010519491231002，"), "身份证号[身份证]，");
    /* Old 15-digit form with a date no calendar has. */
    CHECK_STR_EQ(R("110105490230002"), "[身份证]");
    CHECK_STR_EQ(R("110105 490230 002"), "[身份证]");

    /* Bank cards failing Luhn, with an issuer's first digits. */
    CHECK_STR_EQ(R("卡号6222021234567890还款"), "卡号[银行卡]还款");
    CHECK_STR_EQ(R("6222 0212 3456 7890"), "[银行卡]");
    CHECK_STR_EQ(R("6222-0212-3456-7890-127"), "[银行卡]");
    CHECK_STR_EQ(R("4111 1111 1111 1112"), "[银行卡]");
    CHECK_STR_EQ(R("5500000000000005"), "[银行卡]");
    CHECK_STR_EQ(R("2221 0000 0000 0000"), "[银行卡]");
    CHECK_STR_EQ(R("3782 822463 10006"), "[银行卡]");
    CHECK_STR_EQ(R("9558801234567890123"), "[银行卡]");
    CHECK_STR_EQ(R("６２２２０２１２３４５６７８９０"), "[银行卡]");
    CHECK_STR_EQ(R("6222 021234567890"), "[银行卡]");
    CHECK_STR_EQ(R("6222.0212.3456.7890"), "[银行卡]");

    /* Phone numbers with more kinds of separators. */
    CHECK_STR_EQ(R("手机138.0013.8000"), "手机[手机号]");
    CHECK_STR_EQ(R("138  0013  8000"), "[手机号]");
    CHECK_STR_EQ(R("138 - 0013 - 8000"), "[手机号]");
    CHECK_STR_EQ(R("+86 138.0013.8000"), "[手机号]");
    CHECK_STR_EQ(R("+86 - 138 0013 8000"), "[手机号]");
    CHECK_STR_EQ(R("(86)13800138000"), "[手机号]");
    CHECK_STR_EQ(R("﹢86 138 0013 8000"), "[手机号]"); /* U+FE62 small plus */
    CHECK_STR_EQ(R("＋８６　１３８－００１３－８０００"), "[手机号]");
    CHECK_STR_EQ(R("138﹣0013﹣8000"), "[手机号]"); /* U+FE63 small hyphen-minus */
    CHECK_STR_EQ(R("010.6234.5678"), "[电话]");

    /* Order numbers, dates and the like that no issuer, region or network would hand out stay. */
    KEPT("1234567890123456");            /* no card starts with 1 */
    KEPT("价格 5988 3988 2988 1988 元");  /* no issuer starts with 59 */
    KEPT("订单号3456789012345678902");     /* 34 is Amex, and Amex numbers have 15 digits */
    KEPT("ICCID 8986001234567890123");  /* SIM numbers start with 89 */
    KEPT("订单号2026030212345678");       /* a date first: 20..., and Luhn-invalid */
    KEPT("订单20260302123456789");        /* 17 digits without a birth date in place */
    KEPT("流水号201912345678901234");     /* 18 digits, no birth date at digits 7-14 */
    KEPT("流水号781234567890123456");     /* no date, no province, no card */
    KEPT("192.168.100.200");
    KEPT("2026.03.02");
    KEPT("v1.3.8");
    KEPT("1.000.000元");
    KEPT("金额12345678.90元");
}

TEST(bank_card_numbers_are_redacted)
{
    CHECK_STR_EQ(R("卡号6222021234567890128还款"), "卡号[银行卡]还款");
    CHECK_STR_EQ(R("6222 0212 3456 7890 128"), "[银行卡]");
    CHECK_STR_EQ(R("6222-0212-3456-7890-128"), "[银行卡]");
    CHECK_STR_EQ(R("信用卡4111 1111 1111 1111被冻结"), "信用卡[银行卡]被冻结");
    CHECK_STR_EQ(R("4111111111111111"), "[银行卡]");
    CHECK_STR_EQ(R("3782 822463 10005"), "[银行卡]");
    CHECK_STR_EQ(R("622848 0012345671"), "[银行卡]");
    CHECK_STR_EQ(R("６２２２０２１２３４５６７８９０１２８"), "[银行卡]");
    /* A Luhn-valid 19-digit run that starts like a phone number is one card, not a phone. */
    CHECK_STR_EQ(R("1380013800012345677"), "[银行卡]");
    CHECK(last_found == 1);
    /* Longer than any card: left whole, nothing cut out of it. */
    KEPT("13800138000138001380");
}

TEST(service_numbers_and_codes_kept)
{
    KEPT("10086");
    KEPT("拨打95588转0");
    KEPT("4008-123-456");
    KEPT("400-820-8820");
    KEPT("4008123456");
    KEPT("8008101818");
    KEPT("800-810-1818");
    KEPT("12315投诉");
    KEPT("2026-03-02");
    KEPT("2026年3月2日");
    KEPT("20260302");
    KEPT("199元套餐");
    KEPT("1,000.00元");
    KEPT("HX-5G-199");
    KEPT("SM-G9900");
    KEPT("iPhone 15 Pro Max 256G");
    KEPT("2019-2026年");
    KEPT("流量包10GB，月费39元，有效期至2026-12-31");
    /* Lists set apart with the marks a number can be split by: their groupings are no
     * identifier's. */
    KEPT("套餐199/299/399元");
    KEPT("2026/03/02");
    KEPT("1,380,013,800元");
    KEPT("编号_2026_0302");
    KEPT("10086、10010、10000");
    KEPT("9:00~18:00");
    KEPT("2019~2026年");
    KEPT("套餐HX-5G-199，6895-1436");
    KEPT("");
}

/* Text copied from a chat window, a spreadsheet or a web page carries more than the spaces, dashes
 * and dots a person types: tabs and line breaks between the groups, typographic spaces,
 * invisible characters (zero-width space, word joiner, byte-order mark, soft hyphen, direction
 * marks), combining marks and emoji keycaps on the digits, and the digits of other scripts. To a
 * reader each of these still shows the customer's number, so each is redacted like it. */
TEST(numbers_with_invisible_characters_or_other_blanks_are_redacted)
{
    /* Blanks of every kind between the groups, and any number of them. */
    CHECK_STR_EQ(R("客户号码138\t1234\t5678查询"), "客户号码[手机号]查询");
    CHECK_STR_EQ(R("回拨\n138\n1234\n5678"), "回拨\n[手机号]");
    CHECK_STR_EQ(R("138\r\n1234\r\n5678"), "[手机号]");
    CHECK_STR_EQ(R("138    1234    5678"), "[手机号]");
    CHECK_STR_EQ(R("138 \t 1234 \t 5678"), "[手机号]");
    CHECK_STR_EQ(R("138\xE2\x80\x89" "1234\xE2\x80\x89" "5678"), "[手机号]");  /* thin space */
    CHECK_STR_EQ(R("138\xE2\x80\xAF" "1234\xE2\x80\xAF" "5678"), "[手机号]");  /* narrow no-break */
    CHECK_STR_EQ(R("110101\t19900307\t1234"), "[身份证]");
    CHECK_STR_EQ(R("卡号6222\t0212\t3456\t7894"), "卡号[银行卡]");
    CHECK_STR_EQ(R("6222\n0212\n3456\n7894"), "[银行卡]");
    /* Invisible characters between or inside the groups. */
    CHECK_STR_EQ(R("138\xE2\x80\x8B" "1234\xE2\x80\x8B" "5678"), "[手机号]");  /* zero-width space */
    CHECK_STR_EQ(R("138\xE2\x81\xA0" "1234\xE2\x81\xA0" "5678"), "[手机号]");  /* word joiner */
    CHECK_STR_EQ(R("138\xEF\xBB\xBF" "1234\xEF\xBB\xBF" "5678"), "[手机号]");  /* BOM */
    CHECK_STR_EQ(R("138\xC2\xAD" "1234\xC2\xAD" "5678"), "[手机号]");          /* soft hyphen */
    CHECK_STR_EQ(R("138\xE2\x80\x8F" "1234\xE2\x80\x8F" "5678"), "[手机号]");  /* RLM */
    CHECK_STR_EQ(R("1\xE2\x80\x8C" "3\xE2\x80\x8D" "800138000"), "[手机号]");  /* ZWNJ, ZWJ */
    CHECK_STR_EQ(R("\xE2\x80\xAE" "13800138000\xE2\x80\xAC"), "\xE2\x80\xAE[手机号]\xE2\x80\xAC"); /* RLO, PDF */
    CHECK_STR_EQ(R("6222\xE2\x80\x8B" "0212\xE2\x80\x8B" "3456\xE2\x80\x8B" "7894"), "[银行卡]");
    /* Combining marks on the digits, emoji keycaps (digit, VS16, U+20E3). */
    CHECK_STR_EQ(R("1\xCC\x81" "3\xCC\x81" "8\xCC\x81" "00138000"), "[手机号]");
    CHECK_STR_EQ(R("1\xEF\xB8\x8F\xE2\x83\xA3" "3\xEF\xB8\x8F\xE2\x83\xA3" "800138000"), "[手机号]");
    /* Decimal digits of other scripts: Arabic-Indic, extended Arabic-Indic, mathematical bold. */
    CHECK_STR_EQ(R("\xD9\xA1\xD9\xA3\xD9\xA8\xD9\xA0\xD9\xA0\xD9\xA1\xD9\xA3\xD9\xA8\xD9\xA0\xD9\xA0\xD9\xA0"),
                 "[手机号]");
    CHECK_STR_EQ(R("\xDB\xB1\xDB\xB3\xDB\xB8\xDB\xB0\xDB\xB0\xDB\xB1\xDB\xB3\xDB\xB8\xDB\xB0\xDB\xB0\xDB\xB0"),
                 "[手机号]");
    CHECK_STR_EQ(R("号码\xF0\x9D\x9F\x8F\xF0\x9D\x9F\x91\xF0\x9D\x9F\x96\xF0\x9D\x9F\x8E\xF0\x9D\x9F\x8E"
                   "\xF0\x9D\x9F\x8F\xF0\x9D\x9F\x91\xF0\x9D\x9F\x96\xF0\x9D\x9F\x8E\xF0\x9D\x9F\x8E"
                   "\xF0\x9D\x9F\x8E。"),
                 "号码[手机号]。");
    /* What is around a redacted number is kept exactly, invisible characters included. */
    CHECK_STR_EQ(R("a\xE2\x80\x8B" "b 13800138000 \xE2\x80\x8B" "c"), "a\xE2\x80\x8B" "b [手机号] \xE2\x80\x8B" "c");
    CHECK_STR_EQ(R("第一行\n\n第二行\t\t完"), "第一行\n\n第二行\t\t完");
    CHECK(last_found == 0);
    /* Blanks and invisible characters do not join what the patterns keep apart: a 400 number
     * after a line break, a price list, a date and a year on their own lines. */
    KEPT("热线\n4008-123-456\n10086");
    KEPT("2026-03-02\n2026年");
    KEPT("99\t129\t199\t299元");
    KEPT("10086\xE2\x80\x8B" "10010");
}

/* Digit groups set apart with a slash, underscore, tilde or middle dot are still the customer's
 * number to a reader. (Not with commas: a comma ends one item of a list, "HX-5G-199，6895-…".) */
TEST(numbers_split_by_other_punctuation_are_redacted)
{
    CHECK_STR_EQ(R("客户138/0013/8000"), "客户[手机号]");
    CHECK_STR_EQ(R("138_0013_8000"), "[手机号]");
    CHECK_STR_EQ(R("138～0013～8000"), "[手机号]");
    CHECK_STR_EQ(R("138〜0013〜8000"), "[手机号]");
    CHECK_STR_EQ(R("号码138/0013/8000打不通"), "号码[手机号]打不通");
    CHECK_STR_EQ(R("138·0013·8000"), "[手机号]");
    CHECK_STR_EQ(R("010/6234/5678"), "[电话]");
    CHECK_STR_EQ(R("卡号6222/0212/3456/7890/128"), "卡号[银行卡]");
    CHECK_STR_EQ(R("6222_0212_3456_7890"), "[银行卡]");
    CHECK_STR_EQ(R("身份证110101/19900307/1234"), "身份证[身份证]");
}

TEST(several_kinds_in_one_text)
{
    CHECK_STR_EQ(R("客户张三，手机13800138000，身份证11010519491231002X，卡号6222021234567890128，"
                   "邮箱zs@qq.com，座机010-62345678，要办10086的HX-5G-199套餐"),
                 "客户张三，手机[手机号]，身份证[身份证]，卡号[银行卡]，邮箱[邮箱]，座机[电话]，"
                 "要办10086的HX-5G-199套餐");
    CHECK(last_found == 5);
}

TEST(invalid_utf8_is_redacted_without_overreads)
{
    const char bad[] = "\xff手机13800138000\xc3";
    char *r = kb_redact(bad, sizeof bad - 1, NULL);
    CHECK_STR_EQ(r, "\xEF\xBF\xBD手机[手机号]\xEF\xBF\xBD");
    free(r);
    /* Overlong form, UTF-16 surrogate, above U+10FFFF, truncated sequence, stray continuation. */
    const char *cases[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe4\xbd", "\x80\x80",
                           "ok\xe4\xbd\xa0\xe4"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r = kb_redact(cases[i], strlen(cases[i]), NULL);
        CHECK(r != NULL && valid_utf8((const unsigned char *)r, strlen(r)));
        CHECK(r != NULL && strstr(r, "\xEF\xBF\xBD") != NULL);
        free(r);
    }
    /* An embedded NUL does not cut the text short. */
    r = kb_redact("a\0b 13800138000", 15, NULL);
    CHECK_STR_EQ(r, "a\xEF\xBF\xBD" "b [手机号]");
    free(r);
    /* Random bytes: never a crash, always valid UTF-8. */
    srand(7);
    for (int t = 0; t < 2000; t++) {
        char s[64];
        size_t n = (size_t)(rand() % 64);
        for (size_t i = 0; i < n; i++) s[i] = (char)(rand() % 4 ? "0123456789 -+@.\xef\xbc\x91"[rand() % 18]
                                                              : rand());
        r = kb_redact(s, n, NULL);
        CHECK(r != NULL && valid_utf8((const unsigned char *)r, strlen(r)));
        free(r);
    }
}

TEST(empty_and_null_text_redact_to_empty)
{
    int found = -1;
    char *r = kb_redact("", 0, &found);
    CHECK_STR_EQ(r, "");
    CHECK(found == 0);
    free(r);
    r = kb_redact(NULL, 0, &found);
    CHECK_STR_EQ(r, "");
    free(r);
    /* len is honoured: the phone after it is not part of the text. */
    r = kb_redact("abc13800138000", 3, NULL);
    CHECK_STR_EQ(r, "abc");
    free(r);
}

/* Natively each case takes tens of milliseconds; the bound leaves room for valgrind and the
 * sanitizers while still catching anything quadratic (that would take hours on 1 MB). */
#define MAX_SECONDS 5.0

TEST(long_input_is_fast)
{
    const char *unit = "客户13800138000说卡号6222021234567890128不能用，";
    size_t ul = strlen(unit), n = (1u << 20) / ul + 1;
    char *s = malloc(n * ul + 1);
    for (size_t i = 0; i < n; i++) memcpy(s + i * ul, unit, ul);
    s[n * ul] = '\0';
    double t0 = now_s();
    int found = 0;
    char *r = kb_redact(s, n * ul, &found);
    double t1 = now_s();
    CHECK(r != NULL);
    CHECK(found == (int)(2 * n));
    CHECK(r && strstr(r, "13800138000") == NULL && strstr(r, "6222021234567890128") == NULL);
    printf("  info: 1 MB of text with %d identifiers redacted in %.1f ms\n", found, (t1 - t0) * 1e3);
    CHECK(t1 - t0 < MAX_SECONDS);
    free(r);

    /* Worst cases for the patterns: one huge digit run, one huge word, many '@'. */
    const char fill[] = {'1', 'a', '@', '.'};
    for (size_t f = 0; f < sizeof fill; f++) {
        memset(s, fill[f], n * ul);
        if (fill[f] == '.') for (size_t i = 0; i < n * ul; i += 2) s[i] = 'a';
        t0 = now_s();
        r = kb_redact(s, n * ul, &found);
        t1 = now_s();
        CHECK(r != NULL && found == 0 && memcmp(r, s, n * ul) == 0);
        CHECK(t1 - t0 < MAX_SECONDS);
        if (t1 - t0 >= MAX_SECONDS) printf("  slow on fill '%c': %.1f s\n", fill[f], t1 - t0);
        free(r);
    }
    free(s);
}

/* ---- random identifiers for the property test */

static void rand_digits(char *d, int n)
{
    for (int i = 0; i < n; i++) d[i] = (char)('0' + rand() % 10);
}

static void make_mobile(char *d) /* 11 digits */
{
    d[0] = '1';
    d[1] = (char)('3' + rand() % 7);
    rand_digits(d + 2, 9);
}

static void make_card(char *d, int n) /* n digits, Luhn-valid */
{
    d[0] = (char)('3' + rand() % 4);
    rand_digits(d + 1, n - 2);
    for (char c = '0'; c <= '9'; c++) {
        d[n - 1] = c;
        int sum = 0;
        for (int i = 0; i < n; i++) {
            int v = d[n - 1 - i] - '0';
            if (i & 1) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
            sum += v;
        }
        if (sum % 10 == 0) break;
    }
}

static void make_id(char *d) /* 18 characters: a real province, valid date and check */
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char province[][3] = {"11", "15", "23", "31", "37", "44", "46", "50", "54",
                                       "61", "65", "81", "91"};
    memcpy(d, province[rand() % 13], 2);
    rand_digits(d + 2, 4);
    unsigned y = 1940 + (unsigned)rand() % 80, m = 1 + (unsigned)rand() % 12,
             day = 1 + (unsigned)rand() % 28;
    char date[16];
    snprintf(date, sizeof date, "%04u%02u%02u", y, m, day);
    memcpy(d + 6, date, 8);
    rand_digits(d + 14, 3);
    int sum = 0;
    for (int i = 0; i < 17; i++) sum += (d[i] - '0') * w[i];
    d[17] = "10X98765432"[sum % 11];
}

/* Append digits to out in one of the ways people write them: plain, grouped by spaces, dashes
 * or dots, or in full-width characters. groups lists the group lengths. */
static size_t write_number(char *out, const char *d, int n, const int *groups, int style)
{
    size_t o = 0;
    int g = 0, in_group = 0;
    for (int i = 0; i < n; i++) {
        if (style == 1 || style == 2 || style == 4) {
            if (groups[g] && in_group == groups[g]) {
                out[o++] = style == 1 ? ' ' : style == 2 ? '-' : '.';
                g++;
                in_group = 0;
            }
            in_group++;
        }
        if (style == 3) { /* full-width: U+FF10 + digit, U+FF38 for X */
            out[o++] = (char)0xEF;
            out[o++] = (char)0xBC;
            out[o++] = (char)(d[i] == 'X' ? 0xB8 : 0x90 + (d[i] - '0'));
        } else {
            out[o++] = d[i];
        }
    }
    return o;
}

TEST(random_identifiers_in_random_text)
{
    static const char *const han[] = {"客户", "说", "的", "号码", "是", "，", "请核实", "。", "卡"};
    static const char *const keep[] = {"10086", "2026-03-02", "199元", "4008-123-456", "HX-5G-199"};
    static const int mobile_groups[] = {3, 4, 0}, card_groups[] = {4, 4, 4, 4, 0},
                     id_groups[] = {6, 8, 0};
    srand(11);
    int failures = 0;
    for (int t = 0; t < 3000 && failures < 5; t++) {
        char text[2048], ids[8][64];
        size_t o = 0;
        int n_ids = 0;
        for (int part = 0; part < 8; part++) {
            const char *h = han[rand() % 9];
            memcpy(text + o, h, strlen(h));
            o += strlen(h);
            int kind = rand() % 5, style = rand() % 5;
            char d[20];
            if (kind == 0) {
                make_mobile(d);
                o += write_number(text + o, d, 11, mobile_groups, style);
            } else if (kind == 1) {
                int n = rand() % 2 ? 16 : 19;
                make_card(d, n);
                /* Half of them mistyped: a UnionPay number whose Luhn sum may not add up. */
                if (rand() % 2) d[0] = '6', d[1] = '2', d[n - 1] = (char)('0' + rand() % 10);
                o += write_number(text + o, d, n, card_groups, style);
            } else if (kind == 2) {
                make_id(d);
                /* Mistyped: any one digit wrong (the check digit then no longer adds up). */
                if (rand() % 2) d[rand() % 18] = (char)('0' + rand() % 10);
                o += write_number(text + o, d, 18, id_groups, style);
            } else {
                const char *k = keep[rand() % 5];
                memcpy(text + o, k, strlen(k));
                o += strlen(k);
                continue;
            }
            /* Remember the digits as they appear in plain text (first 10 are enough to spot a leak). */
            memcpy(ids[n_ids], d, 10);
            ids[n_ids++][10] = '\0';
        }
        memcpy(text + o, "。", 4);
        int found;
        char *r = kb_redact(text, strlen(text), &found);
        int bad = !r || found != n_ids;
        /* No identifier survives, in any form: compare against the output with full-width digits
         * folded and separators dropped. */
        char flat[2048];
        size_t f = 0;
        for (const unsigned char *c = (const unsigned char *)(r ? r : ""); *c; c++) {
            if (c[0] == 0xEF && c[1] == 0xBC && c[2] >= 0x90 && c[2] <= 0x99) {
                flat[f++] = (char)('0' + c[2] - 0x90);
                c += 2;
            } else if (*c != ' ' && *c != '-' && *c != '.') {
                flat[f++] = (char)*c;
            }
        }
        flat[f] = '\0';
        for (int i = 0; i < n_ids; i++) bad |= strstr(flat, ids[i]) != NULL;
        for (int i = 0; i < 5; i++) bad |= strstr(text, keep[i]) && !strstr(r ? r : "", keep[i]);
        if (bad) {
            failures++;
            printf("  found %d of %d in \"%s\" -> \"%s\"\n", found, n_ids, text, r ? r : "(null)");
        }
        free(r);
    }
    CHECK(failures == 0);
}

static void *redact_many(void *arg)
{
    long bad = 0;
    for (int i = 0; i < 20000; i++) {
        const char *in = "手机13800138000卡6222021234567890128";
        char *r = kb_redact(in, strlen(in), NULL);
        if (!r || strcmp(r, "手机[手机号]卡[银行卡]") != 0) bad++;
        free(r);
    }
    *(long *)arg = bad;
    return NULL;
}

TEST(redaction_gives_the_same_result_on_many_threads)
{
    pthread_t th[8];
    long bad[8];
    for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, redact_many, &bad[i]);
    long total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        total += bad[i];
    }
    CHECK(total == 0);
}

int main(void)
{
    char err[256];
    if (kb_redact_global_init(err, sizeof err) != 0) {
        printf("FAIL init: %s\n", err);
        return 1;
    }
    CHECK(kb_redact_global_init(err, sizeof err) == 0); /* twice is fine */
    RUN(mobile_numbers_are_redacted_in_every_spelling);
    RUN(landline_numbers_are_redacted_in_every_spelling);
    RUN(email_addresses_are_redacted);
    RUN(id_card_numbers_are_redacted);
    RUN(bank_card_numbers_are_redacted);
    RUN(mistyped_identifiers_by_shape);
    RUN(service_numbers_and_codes_kept);
    RUN(numbers_with_invisible_characters_or_other_blanks_are_redacted);
    RUN(numbers_split_by_other_punctuation_are_redacted);
    RUN(several_kinds_in_one_text);
    RUN(random_identifiers_in_random_text);
    RUN(invalid_utf8_is_redacted_without_overreads);
    RUN(empty_and_null_text_redact_to_empty);
    RUN(long_input_is_fast);
    RUN(redaction_gives_the_same_result_on_many_threads);
    CHECK_MAIN_END();
}
