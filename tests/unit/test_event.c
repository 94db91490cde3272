/* test_event.c — an event's spool record (kb/events/event.h): every field comes back as it was
 * (NULL and "" told apart, doubles exact, Chinese text), and a record this program did not
 * write — another version, cut short, with bytes left over — is refused. */
#include "check.h"
#include "events/event.h"

#include <stdlib.h>

TEST(an_event_comes_back_from_its_record_as_it_was)
{
    kb_event ev = {.type = KB_EV_HELP, .time_ms = 1767225600123, .id = 4000000001,
                   .confidence = 0.1 + 0.2, .took_ms = -0.0, .flag = 1, .count = -7};
    ev.s[0] = "agent007";
    ev.s[1] = "";
    ev.s[2] = "客户[手机号]问国际漫游怎么开通";
    ev.s[4] = "roam-intl-001";
    ev.s[7] = "lead";
    unsigned char *rec = NULL;
    size_t len = 0;
    CHECK(kb_event_encode(&ev, &rec, &len) == 0 && rec[0] == 1);
    kb_event back;
    CHECK(kb_event_decode(rec, len, &back) == 0);
    CHECK(back.type == KB_EV_HELP && back.time_ms == ev.time_ms && back.id == ev.id);
    CHECK(back.confidence == ev.confidence && back.took_ms == 0 && back.flag == 1 && back.count == -7);
    CHECK_STR_EQ(back.s[0], "agent007");
    CHECK_STR_EQ(back.s[1], "");
    CHECK_STR_EQ(back.s[2], ev.s[2]);
    CHECK(back.s[3] == NULL && back.s[5] == NULL && back.s[6] == NULL);
    CHECK_STR_EQ(back.s[4], "roam-intl-001");
    CHECK_STR_EQ(back.s[7], "lead");
    CHECK(back.next == NULL && back.acked == 0 && back.err == NULL);
    kb_event_free_strings(&back);
    free(rec);
}

TEST(a_record_this_program_did_not_write_is_refused)
{
    kb_event ev = {.type = KB_EV_SEARCH, .time_ms = 5};
    ev.s[0] = "s-1";
    ev.s[2] = "宽带报修";
    unsigned char *rec = NULL;
    size_t len = 0;
    CHECK(kb_event_encode(&ev, &rec, &len) == 0);
    if (!rec) return;
    kb_event back;
    for (size_t cut = 0; cut < len; cut++) CHECK(kb_event_decode(rec, cut, &back) != 0);
    unsigned char *more = malloc(len + 1);
    memcpy(more, rec, len);
    more[len] = 'x';
    CHECK(kb_event_decode(more, len + 1, &back) != 0); /* bytes left over */
    memcpy(more, rec, len);
    more[0] = 2; /* a later version */
    CHECK(kb_event_decode(more, len, &back) != 0);
    memcpy(more, rec, len);
    more[1] = 9; /* no such type */
    CHECK(kb_event_decode(more, len, &back) != 0);
    memcpy(more, rec, len);
    unsigned char *text = memmem(more, len, "宽带报修", strlen("宽带报修"));
    CHECK(text != NULL);
    if (text) text[3] = '\0'; /* a NUL inside a string */
    CHECK(kb_event_decode(more, len, &back) != 0);
    CHECK(kb_event_decode(rec, len, &back) == 0 && !strcmp(back.s[2], "宽带报修"));
    kb_event_free_strings(&back);
    free(more);
    free(rec);
}

int main(void)
{
    RUN(an_event_comes_back_from_its_record_as_it_was);
    RUN(a_record_this_program_did_not_write_is_refused);
    CHECK_MAIN_END();
}
