/*
 * glass_version.c — the bulk builder's coupling to one Xapian series, checked (glass.h).
 *
 * The builder writes glass as Xapian 1.4 does, byte for byte in its encodings. Nothing in
 * Xapian's API says that format is what another series writes or expects, so:
 *   - at build time, the Xapian headers must be 1.4.x: another major.minor stops the build here
 *     with what to do (checking the format against that release is a port, not a rebuild);
 *     `make XAPIAN_UNCHECKED=1` builds anyway, and kb-indexer then always uses Xapian's writer;
 *   - at run time, kb/index/index.c asks kb_glass_fits_xapian() about the libxapian actually
 *     loaded (a shared library can be another release than the headers were) and otherwise
 *     uses Xapian's writer, with a warning.
 */
#include "index/glass/glass.h"

#include <xapian/version.h> /* XAPIAN_MAJOR_VERSION, XAPIAN_MINOR_VERSION: C-compatible */

#if !defined(KB_GLASS_UNCHECKED_XAPIAN) &&                                                  \
    (XAPIAN_MAJOR_VERSION != KB_GLASS_XAPIAN_MAJOR || XAPIAN_MINOR_VERSION != KB_GLASS_XAPIAN_MINOR)
#pragma message("kb/index/glass writes Xapian 1.4's glass format, checked against Xapian " \
                KB_GLASS_CHECKED_XAPIAN ", but these headers are Xapian " XAPIAN_VERSION     \
                ". Check the builder against that release's backends/glass and update "     \
                "kb/index/glass/glass.h, or build with 'make XAPIAN_UNCHECKED=1' to have "   \
                "kb-indexer always use Xapian's writer (docs/OPERATIONS.md, bulk builder).")
#error "Xapian headers of another series than the bulk builder was checked against (see above)"
#endif

int kb_glass_fits_xapian(int major, int minor)
{
    return major == KB_GLASS_XAPIAN_MAJOR && minor == KB_GLASS_XAPIAN_MINOR;
}
