/*
 * check.h — the unit tests' tiny harness.
 *
 * A test file defines TEST(name) functions and a main() that RUNs them and ends with
 * CHECK_MAIN_END(). Each test prints "PASS name" or "FAIL name" with the failed checks; the
 * runner (tests/run-all.sh) counts those lines across every test program.
 */
#ifndef KB_TEST_CHECK_H
#define KB_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_current_failed;
static int check_passed, check_failed;

#define TEST(name) static void name(void)

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            printf("  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);         \
            check_current_failed = 1;                                                  \
        }                                                                              \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                             \
    do {                                                                               \
        const char *check_a_ = (a), *check_b_ = (b);                                   \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {               \
            printf("  %s:%d: expected \"%s\", got \"%s\" (%s)\n", __FILE__, __LINE__,  \
                   check_b_ ? check_b_ : "(null)", check_a_ ? check_a_ : "(null)", #a);   \
            check_current_failed = 1;                                                  \
        }                                                                              \
    } while (0)

#define RUN(name)                                                                      \
    do {                                                                               \
        check_current_failed = 0;                                                      \
        name();                                                                        \
        printf("%s %s\n", check_current_failed ? "FAIL" : "PASS", #name);              \
        fflush(stdout);                                                                \
        if (check_current_failed) check_failed++; else check_passed++;                 \
    } while (0)

#define CHECK_MAIN_END() return check_failed ? 1 : 0

#endif
