/*
 * matcher.h — ranked search over Xapian's posting lists (matcher.cc). Private to kb/xapian: only
 * xapian_wrap.cc includes it, and turns what it throws into KBX_* codes (kbx_reader_search).
 *
 * C++ only: it hands Xapian's own types across, as both files are the wrapper's inside.
 */
#ifndef KB_XAPIAN_MATCHER_H
#define KB_XAPIAN_MATCHER_H

#include <xapian.h>

#include <cstdint>
#include <string>
#include <vector>

#include "xapian/xapian.h"

namespace kbx_matcher {

/* What the matcher keeps between the searches of one reader, each table rebuilt when the index
 * revision it was read from is no longer the one being read (matcher.cc says why each exists). */
struct ReaderTables {
    /* Documents outside their validity window (kbx_query.valid_on), one bit per docid, for the
     * revision, day and slots in outside_key. */
    std::vector<uint8_t> outside;
    Xapian::doccount n_outside = 0; /* documents marked in it */
    std::string outside_key;
    /* Every document's length, indexed by docid, for the revision doclens_rev. */
    std::vector<Xapian::termcount> doclens;
    Xapian::rev doclens_rev = 0;
    bool have_doclens = false;
};

struct Hit {
    Xapian::docid docid;
    double score;
    uint64_t matched; /* as kbx_hit.matched; 0 past the first q.matched_hits hits */
    Xapian::termcount doclen;      /* as kbx_hit.doclen */
    Xapian::termcount matched_wdf; /* as kbx_hit.matched_len */
};

struct Ranking {
    std::vector<Hit> hits;          /* ranks offset .. offset+limit-1, best first */
    uint32_t matches_estimated = 0; /* as kbx_results */
    double max_possible = 0;
};

/* Rank db's documents for q (whose term weights are all >= 0: kbx_reader_search checks) into
 * out, bringing tables up to date first. Throws what Xapian throws (DatabaseModifiedError when
 * the writer recycled the revision being read) and std::bad_alloc. */
void rank(const Xapian::Database &db, ReaderTables &tables, const kbx_query &q, Ranking &out);

} // namespace kbx_matcher

#endif
