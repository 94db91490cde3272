/* test_index_search.c — index writer and searcher together: replace, remove, sync, expiry,
 * categories, both scripts, snippets, confidence, atomic publishing and crash safety. */
#include "check.h"
#include "index/index_prepared.h" /* kb_index_writer_is_bulk: which writer a run chose */
#include "kb/index.h"
#include "kb/search.h"
#include "util/index_schema.h" /* KB_TERM_MUST_KNOW */
#include "xapian/xapian.h"     /* to count the documents holding it */

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char index_dir[256];

#include "index_fixture.h"

static void base_docs(test_doc d[4])
{
    make_doc(&d[0], "roam-001", "国际漫游开通办理",
             "出国前请拨打10099或登录APP开通国际漫游，开通后在境外可以正常接打电话和使用流量。",
             "业务办理/漫游", "出国了手机怎么用");
    make_doc(&d[1], "bill-001", "帳單查詢與發票",
             "您可以在手機營業廳查詢每月帳單，並申請開具電子發票。", "账单/发票", NULL);
    make_doc(&d[2], "card-lost", "信用卡挂失",
             "信用卡丢失后请立即拨打4008-123-456挂失，挂失后原卡立即停用。", "信用卡/挂失", "卡丢了怎么办");
    make_doc(&d[3], "promo-2025", "2025年双十一流量包优惠",
             "活动期间办理流量包享五折优惠，活动已于2025年11月30日结束。", "营销/活动", NULL);
    snprintf(d[3].doc.valid_from, 11, "2025-11-01");
    snprintf(d[3].doc.valid_until, 11, "2025-11-30");
}

TEST(a_question_in_either_script_finds_documents_in_both)
{
    test_doc d[4];
    base_docs(d);
    CHECK(index_docs(KB_INDEX_REBUILD, d, 4) == 0);
    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK(kb_searcher_doccount(s) == 4);
    CHECK_STR_EQ(top(s, "出國漫遊怎麼開通", 0, NULL), "roam-001");   /* Traditional query, Simplified doc */
    CHECK_STR_EQ(top(s, "账单查询", 0, NULL), "bill-001");           /* Simplified query, Traditional doc */
    CHECK_STR_EQ(top(s, "电子发票怎么开", 0, NULL), "bill-001");
    CHECK_STR_EQ(top(s, "4008123456", 0, NULL), "card-lost");        /* code typed without dashes */
    CHECK_STR_EQ(top(s, "卡丢了", 0, NULL), "card-lost");
    kb_searcher_close(s);
}

TEST(expired_documents_hidden_by_default)
{
    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    if (!s) { CHECK(s != NULL); return; }
    CHECK(returns(s, "双十一流量包优惠", "promo-2025", 0, "2026-06-01") == 0);
    CHECK_STR_EQ(top(s, "双十一流量包优惠", 1, "2026-06-01"), "promo-2025");
    CHECK_STR_EQ(top(s, "双十一流量包优惠", 0, "2025-11-15"), "promo-2025");
    CHECK(returns(s, "双十一流量包优惠", "promo-2025", 0, "2025-10-15") == 0); /* not yet started */
    kb_search_request req = {.text = "双十一流量包优惠", .limit = 5, .include_expired = 1, .today = "2026-06-01"};
    kb_search_result res;
    CHECK(kb_search(s, &req, &res) == KB_OK);
    CHECK(res.n_hits >= 1 && res.hits[0].expired == 1);
    kb_search_result_free(&res);
    kb_searcher_close(s);
}

TEST(a_category_filter_matches_any_level_in_either_script)
{
    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    if (!s) { CHECK(s != NULL); return; }
    const char *cats[] = {"業務辦理"};
    kb_search_request req = {.text = "开通 挂失", .limit = 10, .categories = cats, .n_categories = 1};
    kb_search_result res;
    CHECK(kb_search(s, &req, &res) == KB_OK);
    CHECK(res.n_hits == 1);
    if (res.n_hits) CHECK_STR_EQ(res.hits[0].id, "roam-001");
    kb_search_result_free(&res);
    kb_searcher_close(s);
}

TEST(snippet_marks_matches_and_escapes)
{
    test_doc d;
    make_doc(&d, "xss", "安全提示", "请勿点击<script>alert(1)</script>短信中的链接，谨防诈骗。", NULL, NULL);
    CHECK(index_docs(KB_INDEX_UPDATE, &d, 1) == 0);
    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    if (!s) { CHECK(s != NULL); return; }
    kb_search_request req = {.text = "谨防诈骗", .limit = 3};
    kb_search_result res;
    CHECK(kb_search(s, &req, &res) == KB_OK);
    CHECK(res.n_hits >= 1);
    if (res.n_hits) {
        CHECK_STR_EQ(res.hits[0].id, "xss");
        CHECK(strstr(res.hits[0].snippet, "<mark>诈骗</mark>") != NULL || strstr(res.hits[0].snippet, "<mark>谨防诈骗</mark>") != NULL);
        CHECK(strstr(res.hits[0].snippet, "<script>") == NULL);
        CHECK(strstr(res.hits[0].snippet, "&lt;script&gt;") != NULL);
        CHECK_STR_EQ(res.hits[0].section_id, "main");
    }
    kb_search_result_free(&res);
    /* Traditional text is marked in its own script for a Simplified query. */
    req.text = "账单";
    CHECK(kb_search(s, &req, &res) == KB_OK);
    if (res.n_hits) CHECK(strstr(res.hits[0].snippet, "<mark>帳單</mark>") != NULL);
    kb_search_result_free(&res);
    kb_searcher_close(s);
}

TEST(a_changed_document_is_replaced_and_an_unchanged_one_skipped)
{
    test_doc d;
    make_doc(&d, "roam-001", "国际漫游开通办理（新版）", "境外使用前请先开通国际漫游，现在也可以通过短信开通。",
             "业务办理/漫游", NULL);
    kb_index_writer *w = kb_index_writer_open(index_dir, KB_INDEX_UPDATE);
    CHECK(w && kb_index_writer_add(w, &d.doc) == KB_OK);
    CHECK(kb_index_writer_commit(w) == KB_OK);
    kb_index_stats st;
    kb_index_writer_stats(w, &st);
    CHECK(st.replaced == 1 && st.added == 0 && st.total == 5);
    kb_index_writer_close(w);

    w = kb_index_writer_open(index_dir, KB_INDEX_UPDATE);
    CHECK(w && kb_index_writer_add(w, &d.doc) == KB_OK);
    CHECK(kb_index_writer_commit(w) == KB_OK);
    kb_index_writer_stats(w, &st);
    CHECK(st.unchanged == 1 && st.replaced == 0);
    kb_index_writer_close(w);

    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    if (!s) { CHECK(s != NULL); return; }
    CHECK(kb_searcher_doccount(s) == 5);
    CHECK_STR_EQ(top(s, "短信开通漫游", 0, NULL), "roam-001");
    kb_document *doc = NULL;
    CHECK(kb_searcher_get_document(s, "roam-001", &doc) == KB_OK);
    CHECK(doc && strstr(doc->title, "（新版）") != NULL);
    kb_searcher_document_free(doc);
    CHECK(kb_searcher_get_document(s, "nope", &doc) == KB_NOT_FOUND);
    kb_searcher_close(s);
}

TEST(duplicate_id_in_one_run_keeps_first)
{
    test_doc d[2];
    make_doc(&d[0], "dup", "第一个", "第一份内容", NULL, NULL);
    make_doc(&d[1], "dup", "第二个", "第二份内容", NULL, NULL);
    kb_index_writer *w = kb_index_writer_open(index_dir, KB_INDEX_UPDATE);
    CHECK(kb_index_writer_add(w, &d[0].doc) == KB_OK);
    CHECK(kb_index_writer_add(w, &d[1].doc) == KB_ERROR);
    CHECK(kb_index_writer_status(w) == KB_OK);
    CHECK(strstr(kb_index_writer_errmsg(w), "test.xml:1") != NULL);
    CHECK(kb_index_writer_commit(w) == KB_OK);
    kb_index_writer_close(w);
}

TEST(sync_removes_unseen_and_rebuild_starts_empty)
{
    test_doc d[4];
    base_docs(d);
    /* Sync with only two of the documents: the others go. */
    CHECK(index_docs(KB_INDEX_SYNC, d, 2) == 0);
    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    if (!s) { CHECK(s != NULL); return; }
    CHECK(kb_searcher_doccount(s) == 2);
    CHECK(returns(s, "信用卡挂失", "card-lost", 0, NULL) == 0);
    /* keep_unseen: a sync that saw invalid input removes nothing. */
    kb_index_writer *w = kb_index_writer_open(index_dir, KB_INDEX_SYNC);
    kb_index_writer_add(w, &d[2].doc);
    kb_index_writer_keep_unseen(w);
    CHECK(kb_index_writer_commit(w) == KB_OK);
    kb_index_writer_close(w);
    CHECK(kb_searcher_refresh(s) == 1);
    CHECK(kb_searcher_doccount(s) == 3);
    CHECK(index_docs(KB_INDEX_REBUILD, d + 3, 1) == 0);
    CHECK(kb_searcher_refresh(s) == 1);
    CHECK(kb_searcher_doccount(s) == 1);
    kb_searcher_close(s);
}

TEST(uncommitted_run_is_invisible_and_a_killed_writer_leaves_old_index)
{
    test_doc d[4];
    base_docs(d);
    CHECK(index_docs(KB_INDEX_REBUILD, d, 4) == 0);
    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    if (!s) { CHECK(s != NULL); return; }
    uint64_t rev = kb_searcher_revision(s);

    /* A run closed without commit publishes nothing. */
    kb_index_writer *w = kb_index_writer_open(index_dir, KB_INDEX_REBUILD);
    kb_index_writer_close(w);
    CHECK(kb_searcher_refresh(s) == 0);
    CHECK(kb_searcher_doccount(s) == 4);

    /* A writer killed mid-run (after thousands of flushed documents) leaves the old index. */
    pid_t pid = fork();
    if (pid == 0) {
        kb_index_writer *cw = kb_index_writer_open(index_dir, KB_INDEX_REBUILD);
        test_doc x;
        char id[32], body[128];
        for (int i = 0; i < 5000; i++) {
            snprintf(id, sizeof id, "bulk-%d", i);
            snprintf(body, sizeof body, "批量文档第%d号，测试崩溃安全。", i);
            make_doc(&x, id, "批量", body, NULL, NULL);
            kb_index_writer_add(cw, &x.doc);
        }
        raise(SIGKILL);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    CHECK(kb_searcher_refresh(s) == 0);
    CHECK(kb_searcher_revision(s) == rev);
    CHECK(kb_searcher_doccount(s) == 4);
    CHECK_STR_EQ(top(s, "国际漫游", 0, NULL), "roam-001");
    /* And the index is still writable afterwards (the lock died with the process). */
    CHECK(index_docs(KB_INDEX_UPDATE, d, 1) == 0);
    kb_searcher_close(s);
}

TEST(a_run_that_changes_nothing_publishes_no_new_revision)
{
    /* A search daemon, the editors' queue and the IDF cache key on the revision: re-running the
     * indexer on an unchanged knowledge base (every `make run`) must not make a new one. */
    test_doc d[4];
    base_docs(d);
    CHECK(index_docs(KB_INDEX_REBUILD, d, 4) == 0);
    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    if (!s) { CHECK(s != NULL); return; }
    uint64_t rev = kb_searcher_revision(s);

    CHECK(index_docs(KB_INDEX_UPDATE, d, 4) == 0); /* every document unchanged */
    CHECK(index_docs(KB_INDEX_SYNC, d, 4) == 0);   /* nothing to remove either */
    CHECK(index_docs(KB_INDEX_UPDATE, d, 0) == 0); /* no input at all */
    CHECK(kb_searcher_refresh(s) == 0);
    CHECK(kb_searcher_revision(s) == rev);
    CHECK(kb_searcher_doccount(s) == 4);

    /* The counts of an unchanged run are still right. */
    kb_index_writer *w = kb_index_writer_open(index_dir, KB_INDEX_UPDATE);
    CHECK(w && kb_index_writer_add(w, &d[0].doc) == KB_OK);
    CHECK(kb_index_writer_commit(w) == KB_OK);
    kb_index_stats st;
    kb_index_writer_stats(w, &st);
    CHECK(st.unchanged == 1 && st.added == 0 && st.replaced == 0 && st.removed == 0 && st.total == 4);
    kb_index_writer_close(w);
    CHECK(kb_searcher_refresh(s) == 0);

    /* A removal, an edit and an addition each publish a new revision. */
    CHECK(index_docs(KB_INDEX_SYNC, d, 3) == 0);
    CHECK(kb_searcher_refresh(s) == 1);
    CHECK(kb_searcher_revision(s) > rev);
    rev = kb_searcher_revision(s);
    d[0].doc.title = "国际漫游开通办理（修订）";
    CHECK(index_docs(KB_INDEX_UPDATE, d, 1) == 0);
    CHECK(kb_searcher_refresh(s) == 1);
    CHECK(kb_searcher_revision(s) > rev);
    rev = kb_searcher_revision(s);
    CHECK(index_docs(KB_INDEX_UPDATE, d + 3, 1) == 0);
    CHECK(kb_searcher_refresh(s) == 1);
    CHECK(kb_searcher_revision(s) > rev);
    CHECK(kb_searcher_doccount(s) == 4);
    /* --rebuild rewrites every document on purpose: a new revision even when nothing changed. */
    rev = kb_searcher_revision(s);
    CHECK(index_docs(KB_INDEX_REBUILD, d, 4) == 0);
    CHECK(kb_searcher_refresh(s) == 1);
    CHECK(kb_searcher_revision(s) > rev);
    kb_searcher_close(s);
}

TEST(odd_queries_never_fail)
{
    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    if (!s) { CHECK(s != NULL); return; }
    const char *odd[] = {"", "   ", "？？？！！", "\xff\xfe\xfd", "😀😀", "a", "的", "\"'<>&%", "AND OR NOT", "*", "漫"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        kb_search_request req = {.text = odd[i], .limit = 10};
        kb_search_result res;
        CHECK(kb_search(s, &req, &res) == KB_OK);
        CHECK(res.confidence >= 0 && res.confidence <= 1);
        if (res.n_hits == 0) CHECK(res.unresolved == 1);
        kb_search_result_free(&res);
    }
    /* A one-character query finds documents with that character. */
    CHECK_STR_EQ(top(s, "漫", 0, NULL), "roam-001");
    kb_searcher_close(s);
}

TEST(confidence_separates_answered_from_missing)
{
    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    if (!s) { CHECK(s != NULL); return; }
    kb_search_request req = {.text = "出国前怎么开通国际漫游", .limit = 3};
    kb_search_result res;
    CHECK(kb_search(s, &req, &res) == KB_OK);
    CHECK(res.unresolved == 0);
    CHECK(res.top_id && strcmp(res.top_id, "roam-001") == 0);
    double answered = res.confidence;
    kb_search_result_free(&res);
    /* A later page judges the same top hit: same top id and confidence. */
    req.offset = 1;
    CHECK(kb_search(s, &req, &res) == KB_OK);
    CHECK(res.top_id && strcmp(res.top_id, "roam-001") == 0);
    CHECK(res.confidence == answered && res.unresolved == 0);
    CHECK(res.n_hits == 0 || strcmp(res.hits[0].id, "roam-001") != 0);
    kb_search_result_free(&res);
    req.offset = 0;
    req.text = "股票开户需要带什么证件";
    CHECK(kb_search(s, &req, &res) == KB_OK);
    CHECK(res.unresolved == 1);
    CHECK(res.confidence < answered);
    kb_search_result_free(&res);
    kb_searcher_close(s);
}

/* A directory of its own for a test (removed first), beside index_dir. */
static const char *fresh_dir(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s-%s", index_dir, name);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    if (system(cmd) != 0) printf("  could not remove %s\n", buf);
    return buf;
}

static void remove_dir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("  could not remove %s\n", dir);
}

/* One run into dir of docs, prepared as kb-indexer prepares them: by a preparer the writer
 * made, on this thread. Returns 0 when it committed; *bulk says whether it was a bulk build. */
static int run_with_writers_preparer(const char *dir, test_doc *docs, size_t n, int *bulk)
{
    kb_index_writer *w = kb_index_writer_open(dir, KB_INDEX_UPDATE);
    if (!w || kb_index_writer_status(w) != KB_OK) {
        printf("  open %s: %s\n", dir, w ? kb_index_writer_errmsg(w) : "out of memory");
        kb_index_writer_close(w);
        return -1;
    }
    *bulk = kb_index_writer_is_bulk(w);
    char err[256];
    kb_index_preparer *p = kb_index_writer_new_preparer(w, err, sizeof err);
    int rc = p ? 0 : -1;
    if (!p) printf("  preparer: %s\n", err);
    for (size_t i = 0; p && i < n && rc == 0; i++) {
        kb_prepared_doc *d = kb_index_prepare(p, &docs[i].doc);
        if (!d || kb_index_writer_add_prepared(w, d) != KB_OK) {
            printf("  add %s: %s\n", docs[i].doc.id, kb_index_writer_errmsg(w));
            rc = -1;
        }
        kb_prepared_doc_free(d);
    }
    if (rc == 0 && kb_index_writer_commit(w) != KB_OK) {
        printf("  commit: %s\n", kb_index_writer_errmsg(w));
        rc = -1;
    }
    kb_index_preparer_free(p);
    kb_index_writer_close(w);
    return rc;
}

/* The number of documents in the index at dir, or -1 when it cannot be opened. */
static long doccount_of(const char *dir)
{
    char err[256];
    kb_searcher *s = kb_searcher_open(dir, err, sizeof err);
    if (!s) {
        printf("  open %s: %s\n", dir, err);
        return -1;
    }
    long n = (long)kb_searcher_doccount(s);
    kb_searcher_close(s);
    return n;
}

TEST(the_writers_preparer_fits_a_bulk_build_and_xapians_writer_alike)
{
    test_doc d[4];
    base_docs(d);
    char dir[300];
    fresh_dir(dir, sizeof dir, "preparer");
    int bulk = -1;
    /* An empty index: a bulk build, whose documents need no Xapian document. */
    CHECK(run_with_writers_preparer(dir, d, 2, &bulk) == 0);
    CHECK(bulk == 1);
    CHECK(doccount_of(dir) == 2);
    /* The next run goes through Xapian's writer, whose documents must carry one. */
    CHECK(run_with_writers_preparer(dir, d + 2, 2, &bulk) == 0);
    CHECK(bulk == 0);
    CHECK(doccount_of(dir) == 4);
    char err[256];
    kb_searcher *s = kb_searcher_open(dir, err, sizeof err);
    CHECK(s != NULL);
    if (s) {
        CHECK_STR_EQ(top(s, "出国了手机怎么用", 1, NULL), "roam-001");
        CHECK_STR_EQ(top(s, "信用卡挂失", 1, NULL), "card-lost");
        kb_searcher_close(s);
    }
    /* KB_BULK_BUILD=0 still makes an empty index go through Xapian's writer. */
    fresh_dir(dir, sizeof dir, "preparer");
    setenv("KB_BULK_BUILD", "0", 1);
    CHECK(run_with_writers_preparer(dir, d, 4, &bulk) == 0);
    unsetenv("KB_BULK_BUILD");
    CHECK(bulk == 0);
    CHECK(doccount_of(dir) == 4);
    remove_dir(dir);
}

TEST(a_document_prepared_for_a_bulk_build_is_refused_by_xapians_writer)
{
    test_doc d[4];
    base_docs(d);
    char empty[300], full[300], err[256];
    fresh_dir(empty, sizeof empty, "empty");
    fresh_dir(full, sizeof full, "full");
    int bulk = -1;
    CHECK(run_with_writers_preparer(full, d, 1, &bulk) == 0);
    kb_index_writer *bulk_w = kb_index_writer_open(empty, KB_INDEX_UPDATE);
    kb_index_writer *xapian_w = kb_index_writer_open(full, KB_INDEX_UPDATE);
    CHECK(bulk_w && kb_index_writer_is_bulk(bulk_w));
    CHECK(xapian_w && !kb_index_writer_is_bulk(xapian_w));
    kb_index_preparer *p = bulk_w ? kb_index_writer_new_preparer(bulk_w, err, sizeof err) : NULL;
    kb_prepared_doc *doc = p ? kb_index_prepare(p, &d[1].doc) : NULL;
    CHECK(doc != NULL);
    if (doc && xapian_w) {
        CHECK(kb_index_writer_add_prepared(xapian_w, doc) == KB_ERROR);
        CHECK(strstr(kb_index_writer_errmsg(xapian_w), "kb_index_writer_new_preparer") != NULL);
        printf("  (refused: %s)\n", kb_index_writer_errmsg(xapian_w));
    }
    kb_prepared_doc_free(doc);
    kb_index_preparer_free(p);
    kb_index_writer_close(bulk_w);
    kb_index_writer_close(xapian_w);
    CHECK(doccount_of(full) == 1);
    remove_dir(empty);
    remove_dir(full);
}

/* What fn wrote to stderr (at most len-1 bytes, NUL-terminated). */
static void capture_stderr(void (*fn)(void *), void *arg, char *out, size_t len)
{
    char path[300];
    snprintf(path, sizeof path, "%s-stderr", index_dir);
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    if (saved < 0 || fd < 0) {
        snprintf(out, len, "(cannot redirect stderr)");
        return;
    }
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, out, len - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
}

typedef struct {
    const char *dir;
    test_doc *docs;
    int rc, bulk;
} run_args;

static void run_for_capture(void *arg)
{
    run_args *a = arg;
    a->rc = run_with_writers_preparer(a->dir, a->docs, 4, &a->bulk);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

TEST(under_another_xapian_than_1_4_an_empty_index_gets_xapians_writer_and_one_warning)
{
    test_doc d[4];
    base_docs(d);
    char dir[300], text[2048];
    run_args a = {.dir = fresh_dir(dir, sizeof dir, "other-xapian"), .docs = d};
    /* KB_TEST_XAPIAN_VERSION pretends the linked libxapian is another release. */
    setenv("KB_TEST_XAPIAN_VERSION", "1.5.0", 1);
    capture_stderr(run_for_capture, &a, text, sizeof text);
    CHECK(a.rc == 0);
    CHECK(a.bulk == 0);
    CHECK(count_lines(text) == 1);
    CHECK(strstr(text, "warning") != NULL);
    CHECK(strstr(text, "1.5.0") != NULL);
    CHECK(strstr(text, "1.4") != NULL);
    CHECK(strstr(text, "Xapian's writer") != NULL);
    printf("  (stderr: %s)\n", text);
    CHECK(doccount_of(dir) == 4);
    /* An index that exists always goes through Xapian's writer: nothing to warn about. */
    capture_stderr(run_for_capture, &a, text, sizeof text);
    CHECK(a.rc == 0 && a.bulk == 0);
    CHECK_STR_EQ(text, "");
    /* Any 1.4.x builds in bulk, silently. */
    setenv("KB_TEST_XAPIAN_VERSION", "1.4.30", 1);
    fresh_dir(dir, sizeof dir, "other-xapian");
    capture_stderr(run_for_capture, &a, text, sizeof text);
    CHECK(a.rc == 0 && a.bulk == 1);
    CHECK_STR_EQ(text, "");
    /* And so does the libxapian actually linked (this build's is 1.4). */
    unsetenv("KB_TEST_XAPIAN_VERSION");
    fresh_dir(dir, sizeof dir, "other-xapian");
    capture_stderr(run_for_capture, &a, text, sizeof text);
    CHECK(a.rc == 0 && a.bulk == 1);
    CHECK_STR_EQ(text, "");
    remove_dir(dir);
}

TEST(good_matches_count_the_hits_that_answer_not_every_shared_character)
{
    /* "total" counts every document sharing a character with the question (most of a small
     * knowledge base); good_matches counts the hits that likely answer it. */
    test_doc d[4];
    base_docs(d);
    test_doc more[3];
    make_doc(&more[0], "card-apply", "信用卡申请", "申请信用卡需要身份证和收入证明，审批约七个工作日。", "信用卡/申请", NULL);
    make_doc(&more[1], "card-fee", "信用卡年费", "信用卡年费可通过每年刷卡六次免除。", "信用卡/年费", NULL);
    make_doc(&more[2], "weather", "营业厅开放时间", "营业厅每天九点开门，节假日照常营业，请客户带好证件。", "服务/网点", NULL);
    CHECK(index_docs(KB_INDEX_REBUILD, d, 4) == 0);
    CHECK(index_docs(KB_INDEX_UPDATE, more, 3) == 0);
    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    if (!s) { CHECK(s != NULL); return; }

    kb_search_request req = {.text = "信用卡丢了怎么挂失", .limit = 10, .today = "2026-06-01"};
    kb_search_result res;
    CHECK(kb_search(s, &req, &res) == KB_OK);
    CHECK(res.unresolved == 0 && res.n_hits >= 3);
    CHECK(res.n_hits && strcmp(res.hits[0].id, "card-lost") == 0);
    CHECK(res.good_matches >= 1 && res.good_matches < res.n_hits);
    for (size_t i = 0; i < res.n_hits; i++) CHECK(res.hits[i].coverage >= 0 && res.hits[i].coverage <= 1);
    CHECK(res.n_hits && res.hits[0].coverage == res.features.coverage);
    kb_search_result_free(&res);

    /* A topic word: every document on the topic is a good match, the others are not. */
    req.text = "信用卡";
    CHECK(kb_search(s, &req, &res) == KB_OK);
    CHECK(res.good_matches == 3);
    for (size_t i = 0; i < res.n_hits; i++)
        CHECK((strncmp(res.hits[i].id, "card-", 5) == 0) == res.hits[i].good);
    kb_search_result_free(&res);

    /* A later page counts its own hits; the top hit's confidence does not vouch for them. */
    req.offset = 1;
    CHECK(kb_search(s, &req, &res) == KB_OK);
    CHECK(res.good_matches == 2);
    kb_search_result_free(&res);
    req.offset = 0;

    /* No answer in the knowledge base: nothing is a good match, however many documents share
     * a character with the question. */
    req.text = "股票开户需要带什么证件";
    CHECK(kb_search(s, &req, &res) == KB_OK);
    CHECK(res.unresolved == 1 && res.n_hits > 0);
    CHECK(res.good_matches == 0);
    kb_search_result_free(&res);
    kb_searcher_close(s);
}

TEST(pages_of_a_reranked_search_never_overlap_and_add_up_to_the_whole_ranking)
{
    /* Structure re-ranks the first hits (search/structure.h); every page must see the same
     * order, whatever its offset and limit. */
    test_doc d[4];
    base_docs(d);
    test_doc more[3];
    make_doc(&more[0], "card-apply", "信用卡申请", "申请信用卡需要身份证和收入证明，审批约七个工作日。", "信用卡/申请", NULL);
    make_doc(&more[1], "card-fee", "信用卡年费", "信用卡年费可通过每年刷卡六次免除，挂失补卡另收工本费。", "信用卡/年费", NULL);
    make_doc(&more[2], "hall", "营业厅开放时间", "营业厅每天九点开门，信用卡挂失也可到营业厅办理。", "服务/网点", NULL);
    CHECK(index_docs(KB_INDEX_REBUILD, d, 4) == 0);
    CHECK(index_docs(KB_INDEX_UPDATE, more, 3) == 0);
    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    if (!s) { CHECK(s != NULL); return; }
    kb_search_request req = {.text = "信用卡挂失", .limit = 10, .include_expired = 1};
    kb_search_result whole, page;
    CHECK(kb_search(s, &req, &whole) == KB_OK);
    CHECK(whole.n_hits >= 4);
    size_t seen = 0;
    for (uint32_t offset = 0; offset < whole.n_hits; offset += 2) {
        req.offset = offset;
        req.limit = 2;
        CHECK(kb_search(s, &req, &page) == KB_OK);
        CHECK(page.top_id && whole.top_id && strcmp(page.top_id, whole.top_id) == 0);
        CHECK(page.confidence == whole.confidence);
        for (size_t i = 0; i < page.n_hits && seen < whole.n_hits; i++, seen++) {
            CHECK(strcmp(page.hits[i].id, whole.hits[seen].id) == 0);
            CHECK(page.hits[i].score == whole.hits[seen].score);
        }
        kb_search_result_free(&page);
    }
    CHECK(seen == whole.n_hits);
    kb_search_result_free(&whole);
    kb_searcher_close(s);
}

TEST(missing_index_is_a_clear_error)
{
    char err[512];
    kb_searcher *s = kb_searcher_open("/nonexistent/kb-index", err, sizeof err);
    CHECK(s == NULL);
    CHECK(strstr(err, "/nonexistent/kb-index") != NULL);
    CHECK(strstr(err, "kb-indexer") != NULL);
}

/* The must-know mark (应知应会, issue 19) goes through both writers into the stored document,
 * the hits and the document view, and one XM term marks every must-know document. */
TEST(must_know_reaches_hits_and_the_document_view_and_has_a_term)
{
    char saved[sizeof index_dir], cmd[600];
    memcpy(saved, index_dir, sizeof saved);
    snprintf(index_dir, sizeof index_dir, "%.200s-must-know", saved);
    snprintf(cmd, sizeof cmd, "rm -rf %s", index_dir);
    if (system(cmd) != 0) printf("  could not remove %s\n", index_dir);

    char *teams[] = {"营业一组", "投诉组"};
    test_doc d[3];
    make_doc(&d[0], "fraud", "防范电信诈骗提醒", "客户接到自称公检法的电话要求转账，一律是诈骗。", NULL, NULL);
    d[0].doc.must_know = 1; /* every team */
    make_doc(&d[1], "complaint", "投诉受理规范", "受理投诉时先致歉，再记录诉求并在二十四小时内回复。", NULL, NULL);
    d[1].doc.must_know = 1;
    d[1].doc.must_know_teams = teams;
    d[1].doc.n_must_know_teams = 2;
    make_doc(&d[2], "roam", "国际漫游开通", "出国前开通国际漫游。", NULL, NULL);
    CHECK(index_docs(KB_INDEX_REBUILD, d, 2) == 0); /* an empty index: the bulk build */
    CHECK(index_docs(KB_INDEX_UPDATE, &d[2], 1) == 0); /* then Xapian's writer */
    make_doc(&d[2], "roam2", "国际漫游资费", "漫游资费按地区计算。", NULL, NULL);
    d[2].doc.must_know = 1;
    CHECK(index_docs(KB_INDEX_UPDATE, &d[2], 1) == 0);

    char err[256];
    kb_searcher *s = kb_searcher_open(index_dir, err, sizeof err);
    CHECK(s != NULL);
    if (s) {
        kb_search_request req = {.text = "诈骗 投诉 漫游", .limit = 10};
        kb_search_result res;
        CHECK(kb_search(s, &req, &res) == KB_OK);
        int seen = 0;
        for (size_t i = 0; i < res.n_hits; i++) {
            const kb_hit *h = &res.hits[i];
            if (strcmp(h->id, "fraud") == 0) {
                seen |= 1;
                CHECK(h->must_know == 1 && h->n_must_know_teams == 0);
                CHECK(kb_hit_must_know_for(h, "营业二组") == 1 && kb_hit_must_know_for(h, NULL) == 1);
            } else if (strcmp(h->id, "complaint") == 0) {
                seen |= 2;
                CHECK(h->must_know == 1 && h->n_must_know_teams == 2);
                if (h->n_must_know_teams == 2) {
                    CHECK_STR_EQ(h->must_know_teams[0], "营业一组");
                    CHECK_STR_EQ(h->must_know_teams[1], "投诉组");
                }
                CHECK(kb_hit_must_know_for(h, "投诉组") == 1);
                CHECK(kb_hit_must_know_for(h, "营业二组") == 0 && kb_hit_must_know_for(h, "") == 0);
            } else if (strcmp(h->id, "roam") == 0) {
                seen |= 4;
                CHECK(h->must_know == 0 && h->n_must_know_teams == 0);
                CHECK(kb_hit_must_know_for(h, "投诉组") == 0 && kb_hit_must_know_for(h, NULL) == 0);
            }
        }
        CHECK(seen == 7);
        kb_search_result_free(&res);
        kb_document *doc = NULL;
        CHECK(kb_searcher_get_document(s, "complaint", &doc) == KB_OK);
        CHECK(doc && doc->must_know == 1 && doc->n_must_know_teams == 2 &&
              kb_document_must_know_for(doc, "营业一组") == 1);
        kb_searcher_document_free(doc);
        kb_searcher_close(s);
    }
    kbx_reader *r = kbx_reader_open(index_dir);
    CHECK(r && kbx_reader_status(r) == KBX_OK);
    if (r) CHECK(kbx_reader_termfreq(r, KB_TERM_MUST_KNOW) == 3); /* fraud, complaint, roam2 */
    kbx_reader_close(r);

    if (system(cmd) != 0) printf("  could not remove %s\n", index_dir);
    memcpy(index_dir, saved, sizeof saved);
}

int main(void)
{
    snprintf(index_dir, sizeof index_dir, "/tmp/kb-test-index-%d", (int)getpid());
    RUN(a_question_in_either_script_finds_documents_in_both);
    RUN(expired_documents_hidden_by_default);
    RUN(a_category_filter_matches_any_level_in_either_script);
    RUN(snippet_marks_matches_and_escapes);
    RUN(a_changed_document_is_replaced_and_an_unchanged_one_skipped);
    RUN(duplicate_id_in_one_run_keeps_first);
    RUN(sync_removes_unseen_and_rebuild_starts_empty);
    RUN(uncommitted_run_is_invisible_and_a_killed_writer_leaves_old_index);
    RUN(a_run_that_changes_nothing_publishes_no_new_revision);
    RUN(odd_queries_never_fail);
    RUN(confidence_separates_answered_from_missing);
    RUN(good_matches_count_the_hits_that_answer_not_every_shared_character);
    RUN(pages_of_a_reranked_search_never_overlap_and_add_up_to_the_whole_ranking);
    RUN(missing_index_is_a_clear_error);
    RUN(the_writers_preparer_fits_a_bulk_build_and_xapians_writer_alike);
    RUN(a_document_prepared_for_a_bulk_build_is_refused_by_xapians_writer);
    RUN(under_another_xapian_than_1_4_an_empty_index_gets_xapians_writer_and_one_warning);
    RUN(must_know_reaches_hits_and_the_document_view_and_has_a_term);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", index_dir);
    if (system(cmd) != 0) printf("  could not remove %s\n", index_dir);
    CHECK_MAIN_END();
}
