# Build, run and test the knowledge-base search engine.
#
#   make            build bin/kb-indexer, bin/kb-searchd, bin/kb-report
#   make run        install missing Debian packages, build, index docs/sample-kb, serve on loopback
#   make check      install missing packages, build, run every test; last line "N passed, N failed"
#   make bench      indexing and search benchmarks (see bench/README.md)
#   make fuzz       the libFuzzer harnesses, FUZZ_SECONDS (300) each (see tests/fuzz/README.md)
#   make SANITIZE=1 check   the same tests under AddressSanitizer + UBSan (separate build dir)
#   make valgrind   the end-to-end tests with every binary under valgrind (leaks, memory errors)
#   make soak       a bounded soak of kb-searchd, SOAK_SECONDS (600) (see tests/soak/soak.py)
#   make install    install the binaries under $(PREFIX)/bin (kb-searchd under $(SBINDIR))
#   make man        the man pages, from docs/man/*.md and docs/FORMAT.md, into $(BUILD)/man
#   make deb        the Debian package kb-search, into build/deb-pkg (see docs/DEPLOY.md)
#   make deb-test   build it, install it, use it, upgrade it, remove and purge it (as root;
#                   changes this machine: for CI and throw-away machines, see docs/DEPLOY.md)
#   make systemd-test   the package under a real systemd: boots a Debian 12 container
#                   (systemd-nspawn; as root; the image is cached in /var/tmp, see docs/DEPLOY.md)
#   make cluster-test   three search nodes, PostgreSQL and haproxy on loopback addresses of this
#                   machine under load, through a publication, a node's death, the database
#                   down for 30 s, the gap worker's death and its node cut off from the
#                   database by the network (about 2 minutes; docs/DEPLOY.md)

PKGS := xapian-core libxml-2.0 libpcre2-8 icu-uc icu-i18n sqlite3 libpq libmicrohttpd libcjson libzstd
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/bin

CC  ?= cc
CXX ?= c++
OPT ?= -O2
WARN := -Wall -Wextra -Werror
ifeq ($(SANITIZE),1)
  BUILD := build/san
  OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDSAN := -fsanitize=address,undefined
else
  BUILD := build/rel
endif
BIN := bin
ifeq ($(SANITIZE),1)
  BIN := build/san/bin
endif

# The libFuzzer harnesses (tests/fuzz) need the whole library built by clang with coverage
# instrumentation, ASan and UBSan, in a build dir of its own; `make fuzz` and `make check` ask
# for it with FUZZ=1. It wins over SANITIZE=1 (which sub-makes inherit) and over BUILD/BIN.
ifeq ($(FUZZ),1)
  CC := clang-14
  CXX := clang++-14
  override BUILD := build/fuzz
  override BIN := build/fuzz/bin
  OPT := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
         -fno-sanitize-recover=undefined -fno-sanitize=vptr,function
  LDSAN := -fsanitize=address,undefined -fno-sanitize=vptr,function
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS   += -std=c11 $(OPT) -g $(WARN) -D_DEFAULT_SOURCE -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS)
# The bulk builder writes Xapian 1.4's glass format; headers of another Xapian series stop the
# build (kb/index/glass/glass_version.c) unless XAPIAN_UNCHECKED=1, and kb-indexer then always
# uses Xapian's writer.
ifeq ($(XAPIAN_UNCHECKED),1)
  CFLAGS += -DKB_GLASS_UNCHECKED_XAPIAN
endif
CXXFLAGS += -std=c++17 $(OPT) -g $(WARN) -Iinclude $(PKG_CFLAGS)
LDLIBS   += $(LDSAN) $(PKG_LIBS) -lstdc++ -lpthread -lm

# libkb: one folder per concern under kb/ (docs/ARCHITECTURE.md). Its sources see their own
# private headers (-Ikb, "util/buf.h"); the programs see only the public API in include/kb/.
LIB_C   := $(sort $(shell find kb -name '*.c'))
LIB_CXX := $(sort $(shell find kb -name '*.cc'))
LIB_OBJ := $(LIB_C:%.c=$(BUILD)/%.o) $(LIB_CXX:%.cc=$(BUILD)/%.o)
# The document schema (docs/kb-document.rng) is compiled into the library, so the binaries do
# not depend on the working directory; see the rule for $(BUILD)/gen/kb_document_schema.c.
LIB_OBJ += $(BUILD)/gen/kb_document_schema.o
LIB_OBJ += $(BUILD)/gen/t2s_data.o
LIB     := $(BUILD)/libkb.a
$(LIB_OBJ): CFLAGS += -Ikb
$(LIB_OBJ): CXXFLAGS += -Ikb

INDEXER_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard indexer/*.c))
SEARCHD_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard searchd/*.c))
REPORT_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(wildcard report/*.c))
# The web pages (searchd/web: HTML, CSS, JS) are compiled into kb-searchd; see the rule for
# $(BUILD)/gen/web_assets.c. The folders are prerequisites too, so adding or removing a file
# regenerates the table.
WEB_ASSETS := $(sort $(wildcard searchd/web/*.* searchd/web/*/*.*))
WEB_DIRS   := $(wildcard searchd/web searchd/web/*/)
SEARCHD_OBJ += $(BUILD)/gen/web_assets.o

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

PROGRAMS := $(BIN)/kb-indexer $(BIN)/kb-searchd
ifneq ($(REPORT_OBJ),)
  PROGRAMS += $(BIN)/kb-report
endif

.PHONY: all deps pkgs-present run check unit e2e bench install clean fuzz fuzz-build valgrind soak man deb deb-test systemd-test cluster-test
all: $(PROGRAMS)

# Say which libraries are missing, rather than fail on a header: a machine set up before a
# library joined PKGS (libpq, for kb/db) needs `make deps` once.
$(LIB_OBJ): | pkgs-present

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

# docs/kb-document.rng as a C array (od and sed, no xxd), NUL-terminated; the length excludes the NUL.
$(BUILD)/gen/kb_document_schema.c: docs/kb-document.rng
	@mkdir -p $(dir $@)
	{ printf '/* Generated from %s by the Makefile: do not edit. */\n#include <stddef.h>\n' '$<'; \
	  printf 'extern const char kb_document_schema_rng[];\nextern const size_t kb_document_schema_rng_len;\n'; \
	  printf 'const char kb_document_schema_rng[] = {\n'; \
	  od -An -v -tx1 $< | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  printf '0x00};\nconst size_t kb_document_schema_rng_len = sizeof kb_document_schema_rng - 1;\n'; \
	} > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/kb_document_schema.o: $(BUILD)/gen/kb_document_schema.c
	$(CC) $(CFLAGS) -c $< -o $@

# OpenCC's Traditional→Simplified dictionaries, as text, for kb/t2s.c (tools/gen-t2s.sh).
OPENCC_DATA ?= /usr/share/opencc
$(BUILD)/gen/t2s_data.c: $(OPENCC_DATA)/TSPhrases.ocd2 $(OPENCC_DATA)/TSCharacters.ocd2 tools/gen-t2s.sh
	@mkdir -p $(dir $@)
	tools/gen-t2s.sh $(OPENCC_DATA) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/t2s_data.o: $(BUILD)/gen/t2s_data.c
	$(CC) $(CFLAGS) -c $< -o $@

# Every file of searchd/web as a C array (od and sed, like the schema) plus the table static.c
# looks paths up in. File names are limited to [A-Za-z0-9._-/] so they are safe in C strings.
$(BUILD)/gen/web_assets.c: $(WEB_ASSETS) $(WEB_DIRS)
	@mkdir -p $(dir $@)
	@for f in $(WEB_ASSETS); do case "$$f" in *[!A-Za-z0-9._/-]*) \
	    echo "web asset name $$f: use only A-Z a-z 0-9 . _ - /" >&2; exit 1;; esac; done
	@echo "embedding searchd/web ($(words $(WEB_ASSETS)) files) into $@"
	@{ printf '/* Generated from searchd/web by the Makefile: do not edit. */\n#include "static.h"\n'; \
	  i=0; for f in $(WEB_ASSETS); do \
	    printf 'static const unsigned char a%d[] = {\n' $$i; \
	    od -An -v -tx1 "$$f" | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	    printf '0x00};\n'; i=$$((i + 1)); \
	  done; \
	  printf 'const searchd_web_asset searchd_web_assets[] = {\n'; \
	  i=0; for f in $(WEB_ASSETS); do \
	    printf '    {"%s", a%d, sizeof a%d - 1},\n' "$${f#searchd/web/}" $$i $$i; i=$$((i + 1)); \
	  done; \
	  printf '    {0, 0, 0}};\nconst size_t searchd_web_assets_count = %d;\n' $$i; \
	} > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/web_assets.o: $(BUILD)/gen/web_assets.c searchd/static.h
	$(CC) $(CFLAGS) -Isearchd -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BIN)/kb-indexer: $(INDEXER_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/kb-searchd: $(SEARCHD_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# kb-report prints the queue, content health and the leads' results with the API's own JSON
# code (searchd/json_*.c), so the two cannot drift.
$(BIN)/kb-report: $(REPORT_OBJ) $(BUILD)/searchd/json_review.o $(BUILD)/searchd/json_gaps.o $(BUILD)/searchd/json_coaching.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Tools for tuning and benchmarks (not installed).
$(BUILD)/bench/kb-query: bench/kb-query.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/bench/kb-words: bench/kb-words.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/bench/kb-gaps-bench: bench/kb-gaps-bench.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/bench/kb-gaps-cost: bench/kb-gaps-cost.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ikb -Itests/unit -o $@ $< $(LIB) $(LDLIBS)

# libFuzzer harnesses (tests/fuzz/README.md), built with FUZZ=1 (clang, ASan, UBSan). The http
# harness drives the daemon's request handling, so it links every searchd object but main.o.
FUZZ_TARGETS := document analyzer query http
FUZZ_BINS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz_%)
FUZZ_SECONDS ?= 300
FUZZ_SEARCHD_OBJ := $(filter-out $(BUILD)/searchd/main.o,$(SEARCHD_OBJ))

$(BUILD)/fuzz_http: $(FUZZ_SEARCHD_OBJ)
$(BUILD)/fuzz_document: $(BUILD)/searchd/document_json.o
$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_check.h tests/fuzz/fuzz_sample_index.h $(LIB)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -Ikb -Isearchd -o $@ $< $(filter %.o,$^) $(LIB) $(LDLIBS)

ifeq ($(FUZZ),1)
fuzz-build: $(FUZZ_BINS)
else
fuzz-build:
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
endif

# Each harness for FUZZ_SECONDS (default 300) on a working corpus under build/fuzz/corpus.
fuzz: deps
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_TARGETS)

pkgs-present:
	@missing=""; for p in $(PKGS); do pkg-config --exists $$p 2>/dev/null || missing="$$missing $$p"; done; \
	[ -z "$$missing" ] || { echo "missing libraries (pkg-config):$$missing; run 'make deps' (tools/install-deps.sh) first" >&2; exit 1; }

# Install the Debian packages the build, tests and benchmarks need, when missing.
deps:
	@tools/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@tools/run-sample.sh

check: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS)
	@[ "$(SANITIZE)" = 1 ] || $(MAKE) --no-print-directory fuzz-build
	@BIN=$(BIN) UNIT_DIR=$(BUILD)/tests KB_SANITIZED=$(filter 1,$(SANITIZE)) tests/run-all.sh

unit: all $(UNIT_BINS)
	@BIN=$(BIN) UNIT_DIR=$(BUILD)/tests tests/run-all.sh --unit-only

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/kb-query $(BUILD)/bench/kb-words $(BUILD)/bench/kb-gaps-bench \
	    $(BUILD)/tests/test_store
	@BUILD=$(BUILD) bench/run.sh

# The end-to-end tests with every binary they start under valgrind's memcheck (KB_VALGRIND in
# tests/e2e/harness.py; suppressions in tests/valgrind.supp); the browser tests are left out.
valgrind: deps
	@$(MAKE) --no-print-directory all
	@BIN=$(BIN) KB_VALGRIND=1 tests/run-all.sh --e2e-only

# Mixed load against one kb-searchd for SOAK_SECONDS (default 600) with re-indexes; memory and
# file descriptors must stay flat and no request may fail (tests/soak/soak.py says how).
soak: deps
	@$(MAKE) --no-print-directory all
	@BIN=$(BIN) SOAK_SECONDS=$(or $(SOAK_SECONDS),600) nice python3 tests/soak/soak.py

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SBINDIR)
	install -m 755 $(filter-out %/kb-searchd,$(PROGRAMS)) $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(BIN)/kb-searchd $(DESTDIR)$(SBINDIR)/

# The man pages are the docs themselves, rendered (tools/md2man.py): kb-indexer(1),
# kb-report(1) and kb-searchd(8) from docs/man/*.md, kb-document(5) from docs/FORMAT.md, the
# editors' guide to the format. tests/e2e/test_man_pages.py checks that they render without
# warnings and that their options are exactly the programs' --help options.
MAN_PAGES := $(BUILD)/man/kb-indexer.1 $(BUILD)/man/kb-report.1 $(BUILD)/man/kb-searchd.8 \
             $(BUILD)/man/kb-document.5
man: $(MAN_PAGES)

$(BUILD)/man/%: docs/man/%.md tools/md2man.py debian/changelog
	python3 tools/md2man.py $< $@

$(BUILD)/man/kb-document.5: docs/FORMAT.md tools/md2man.py debian/changelog
	python3 tools/md2man.py $< $@ --name kb-document --section 5 \
	    --description "knowledge-base XML document format" \
	    --see-also "kb-indexer(1), kb-searchd(8); the schema /usr/share/kb-search/kb-document.rng"

# The Debian package, built by debhelper in a copy of the tree (tools/make-deb.sh says why),
# which installs debhelper and lintian first when they are missing.
deb:
	@tools/make-deb.sh

deb-test:
	@tools/deb-test.sh

systemd-test:
	@tools/systemd-test.sh

# Not in `make check`: it takes minutes and two cores' worth of load (tests/cluster/cluster_test.py).
cluster-test: deps
	@$(MAKE) --no-print-directory all
	@BIN=$(BIN) python3 tests/cluster/cluster_test.py

clean:
	rm -rf build bin

# (Not the package's build tree, build/deb-pkg, which has folders named *.d, e.g. logrotate.d.)
-include $(shell find build -path build/deb-pkg -prune -o -name '*.d' -type f -print 2>/dev/null)
