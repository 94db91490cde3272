/*
 * util/crc32c.h — CRC-32C (Castagnoli), the checksum of the event spool's records
 * (events/spool.h).
 *
 * CRC-32C rather than zlib's CRC-32: it is the checksum iSCSI, ext4, Btrfs and PostgreSQL's WAL
 * use for records on disk, it detects more of the error patterns a torn or bit-flipped record
 * shows, and it is what docs/CLUSTER.md specifies for the spool. Computed in software, eight
 * bytes at a time (about 1 GB/s here: far above what the spool writes).
 */
#ifndef KB_CRC32C_H
#define KB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of n bytes, continuing from crc (0 to start): kb_crc32c(0, "123456789", 9) is
 * 0xE3069283. */
uint32_t kb_crc32c(uint32_t crc, const void *data, size_t n);

#endif
