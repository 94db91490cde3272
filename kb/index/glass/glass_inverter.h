/*
 * glass_inverter.h — turn documents' term lists into posting lists sorted by term, in bounded
 * memory, for the bulk builder (glass_build.c). Private to libkb.
 *
 * Postings are collected in memory per term (docid gaps and wdfs, varint-coded) until the
 * collection passes its memory budget; then the terms are sorted and the run is appended to a
 * scratch file, and collection starts again. At the end the runs are merged by term: each term
 * comes out once, with its frequencies summed and its postings in docid order (runs hold
 * increasing docid ranges, so a term's postings are its runs' postings one after the other).
 * This is the classic single-pass in-memory inversion (SPIMI) with a k-way merge.
 */
#ifndef KB_GLASS_INVERTER_H
#define KB_GLASS_INVERTER_H

#include <stddef.h>
#include <stdint.h>

typedef struct glass_inverter glass_inverter;

/* One term's postings during the merge, read with glass_postings_next(). */
typedef struct glass_postings glass_postings;

/* scratch_fd: a file the runs may be written to (read and written with pread/pwrite; the
 * caller closes it). memory_budget: bytes of postings and terms held before a run is written. */
glass_inverter *glass_inverter_new(int scratch_fd, size_t memory_budget);
void glass_inverter_free(glass_inverter *inv);

/* Record that document did holds term with this wdf. For each term, docids must increase from
 * call to call. Returns 0, or -1 when memory ran out. */
int glass_inverter_add(glass_inverter *inv, const char *term, size_t len, uint32_t did,
                       uint32_t wdf);

/* Call between documents: writes the run out when the budget is passed. Returns 0 or -1. */
int glass_inverter_end_document(glass_inverter *inv);

/* Merge: call fn once per distinct term in increasing byte order. fn reads the term's
 * postings with glass_postings_next() (all of them, in order) and returns 0 to go on.
 * Returns 0, -1 on an I/O or memory error (see glass_inverter_errmsg), or fn's non-zero. */
typedef int (*glass_term_fn)(const char *term, size_t len, uint32_t termfreq, uint64_t collfreq,
                             glass_postings *postings, void *user);
int glass_inverter_merge(glass_inverter *inv, glass_term_fn fn, void *user);

/* The next posting of the current term: 1 and did/wdf set, or 0 at the end, -1 on error. */
int glass_postings_next(glass_postings *p, uint32_t *did, uint32_t *wdf);

/* The last error. */
const char *glass_inverter_errmsg(const glass_inverter *inv);

#endif
