/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mslice: what a user of an mslice mdev sees, shared by the driver
 * (mslice.c) and its tests (tools/testing/selftests/vfio/
 * vfio_p2p_mdev_test.c, which includes this by its path in the tree).
 *
 * Plain constants only, so that both the kernel and userspace can include
 * it.  It is a sample's ABI, not the kernel's: it lives next to the sample,
 * not under include/uapi.
 */
#ifndef _SAMPLES_VFIO_MDEV_MSLICE_H
#define _SAMPLES_VFIO_MDEV_MSLICE_H

/* The emulated PCI function's IDs. */
#define MSLICE_VENDOR		0x1234
#define MSLICE_DEVICE		0x5ce1

/*
 * BAR0 is a slice of the parent's BAR2: "mslice-1m" mdevs get one unit,
 * "mslice-4m" mdevs one aligned block of MSLICE_BLOCK_UNITS units, carved
 * from the first MSLICE_MAX_BAR bytes of the parent's BAR2.
 */
#define MSLICE_UNIT		0x100000	/* 1 MiB */
#define MSLICE_BLOCK_UNITS	4
#define MSLICE_MAX_BAR		0x10000000	/* 256 MiB */

/*
 * BAR1: MSLICE_REGS_SIZE bytes of trapped little-endian registers, each
 * read or written with its own size (4 or 8 bytes) through the device fd.
 */
#define MSLICE_REGS_SIZE	0x1000
#define MSLICE_REG_ID		0x00	/* u32, RO: MSLICE_ID */
#define MSLICE_REG_CMD		0x04	/* u32, WO: MSLICE_CMD_*, runs on the write */
#define MSLICE_REG_IOVA		0x08	/* u64, RW */
#define MSLICE_REG_LEN		0x10	/* u32, RW: 1 to MSLICE_SUM_MAX, for SUM */
#define MSLICE_REG_STATUS	0x14	/* u32, RO: 0 or the last command's -errno */
#define MSLICE_REG_RESULT	0x18	/* u64, RO: the sum, or the u64 read */

#define MSLICE_ID		0x4d534c43	/* "MSLC" */

/* FNV-1a 64 of LEN bytes at IOVA, read with vfio_dma_rw(). */
#define MSLICE_CMD_SUM		1
/* vfio_pin_pages() of IOVA's page, and the u64 at IOVA (8-byte aligned). */
#define MSLICE_CMD_PIN		2

#define MSLICE_SUM_MAX		0x400000	/* 4 MiB */

#endif /* _SAMPLES_VFIO_MDEV_MSLICE_H */
