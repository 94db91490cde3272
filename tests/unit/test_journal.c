/*
 * test_journal.c — kb/journal.h: the priority prefixes on stderr when stderr is the journal.
 *
 * stderr is pointed at a temporary file and $JOURNAL_STREAM at that file's device and inode,
 * which is how systemd tells a service that its stderr is the journal. (kb_journal_stderr
 * decides once per process, so the case of another stderr is tested end to end, in
 * tests/e2e/test_service_manager.py.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "kb/journal.h"

static char path[] = "/tmp/kb-test-journal.XXXXXX";

/* What was written to stderr since the last call (the file is emptied). */
static char *written(void) {
    static char buf[20000];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = '\0';
    if (ftruncate(STDERR_FILENO, 0) != 0 || lseek(STDERR_FILENO, 0, SEEK_SET) != 0) buf[0] = '\0';
    return buf;
}

TEST(stderr_that_journal_stream_names_is_the_journal) {
    CHECK(kb_journal_stderr() == 1);
}

TEST(each_priority_has_its_prefix) {
    CHECK_STR_EQ(kb_journal_prefix(KB_PRIO_ERR), "<3>");
    CHECK_STR_EQ(kb_journal_prefix(KB_PRIO_WARNING), "<4>");
    CHECK_STR_EQ(kb_journal_prefix(KB_PRIO_INFO), "<6>");
    CHECK_STR_EQ(kb_journal_prefix(-1), "<0>");
    CHECK_STR_EQ(kb_journal_prefix(9), "<7>");
}

TEST(a_line_gets_its_priority) {
    kb_journal_printf(KB_PRIO_ERR, "%s:%d: %s\n", "kb/bad.xml", 3, "unknown element");
    CHECK_STR_EQ(written(), "<3>kb/bad.xml:3: unknown element\n");
}

TEST(every_line_of_a_message_gets_the_priority) {
    /* The journal stores each line as an entry: a line without the prefix would be "info". */
    kb_journal_printf(KB_PRIO_WARNING, "first\nsecond\n\nfourth\n");
    CHECK_STR_EQ(written(), "<4>first\n<4>second\n<4>\n<4>fourth\n");
    kb_journal_printf(KB_PRIO_INFO, "no newline at the end");
    CHECK_STR_EQ(written(), "<6>no newline at the end");
}

TEST(a_long_message_is_written_whole) {
    static char big[5000];
    memset(big, 'x', sizeof big - 1);
    kb_journal_printf(KB_PRIO_ERR, "kb-indexer: %s\n", big);
    const char *w = written();
    CHECK(strlen(w) == 3 + 12 + sizeof big - 1 + 1);
    CHECK(strncmp(w, "<3>kb-indexer: xxx", 18) == 0);
    CHECK(w[strlen(w) - 1] == '\n');
}

int main(void) {
    int fd = mkstemp(path);
    struct stat st;
    if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || fstat(STDERR_FILENO, &st) != 0) {
        printf("FAIL setup: cannot point stderr at a temporary file\n");
        return 1;
    }
    close(fd);
    char stream[64];
    snprintf(stream, sizeof stream, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", stream, 1);
    RUN(stderr_that_journal_stream_names_is_the_journal);
    RUN(each_priority_has_its_prefix);
    RUN(a_line_gets_its_priority);
    RUN(every_line_of_a_message_gets_the_priority);
    RUN(a_long_message_is_written_whole);
    unlink(path);
    CHECK_MAIN_END();
}
