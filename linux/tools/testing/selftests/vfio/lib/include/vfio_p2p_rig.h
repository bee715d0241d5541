/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What only the rig gives the vfio-p2p selftests: the host-side check of
 * the ivshmem backing file after power-off, the guest's kernel log, sysfs
 * reads and writes, who holds a busy vfio group, and make check BREAK=1.
 */
#ifndef VFIO_P2P_RIG_H
#define VFIO_P2P_RIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Tell the rig what a BAR must hold at the end of the run: after power-off it
 * compares @len bytes at @offset of the device's host backing file with the
 * hash of the pattern.  The last line for an offset wins.
 */
void vfio_p2p_host_expect(const char *bdf, uint64_t offset, size_t len,
			  uint32_t seed);
/* The same for arbitrary bytes. */
void vfio_p2p_host_expect_bytes(const char *bdf, uint64_t offset,
				const void *buf, size_t len);

/* Print on stderr every process holding a vfio group or device fd (or cdev). */
void vfio_p2p_report_holders(void);

/* Read a sysfs file into @buf (NUL-terminated), or write @val to one: 0 or -errno. */
int vfio_p2p_sysfs_read(const char *path, char *buf, size_t len);
int vfio_p2p_sysfs_write(const char *path, const char *val);

/*
 * The kernel log: open /dev/kmsg positioned at its end, then wait up to
 * @timeout_ms for a new record containing @needle.
 */
int vfio_p2p_kmsg_open(void);
bool vfio_p2p_kmsg_wait(int fd, const char *needle, int timeout_ms);

/* Set by the rig (make check BREAK=1) to prove that a wrong result fails. */
bool vfio_p2p_break_requested(void);

#endif /* VFIO_P2P_RIG_H */
