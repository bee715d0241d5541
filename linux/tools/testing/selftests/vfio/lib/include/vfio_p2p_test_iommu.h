/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for tests over the vfio-p2p test IOMMU (CONFIG_VFIO_P2P_TEST_IOMMU,
 * drivers/vfio/p2p_test_iommu.c and p2p_test_dev.c).
 *
 * The test IOMMU has P2P_TI_COUNT instances; instance N has one client,
 * the platform device "vfio-p2p-test-dev.N", alone in its IOMMU group and
 * bound to a vfio driver.  Each instance's paging domains are its own, so a
 * type1 container holding both clients has one domain per instance, next
 * to the Intel IOMMU domain of the PCI devices.
 *
 * Read-back, per instance, in debugfs P2P_TI_DEBUGFS/N/:
 *   mappings  "domain <id>" (or "domain none"), then one line per run of
 *             contiguous IOVAs and pfns of the attached domain:
 *             "<iova> <first pfn> <pages> <r|-><w|->" (hex, hex, decimal)
 *   stats     "domain <id>", then "<counter> <value>" lines: map_calls,
 *             unmap_calls, iotlb_sync, iotlb_sync_map, flush_all,
 *             violations (map over mapped, unmap of a hole), mapped_pages;
 *             and, domain or none, freed_mapped_pages: what was still
 *             mapped in the instance's domains when they were freed
 *   fail_map  RW: fail that many next map calls of the instance (-ENOMEM)
 *   fail_iova RW: only map calls whose range holds this IOVA (~0: any)
 *   faults    RO: DMA of the client refused by its IOMMU (pages)
 *
 * The client's DMA engine is its region 0 (read/write on the device fd);
 * the registers below.  Its DMA goes through the attached domain only.
 * The test IOMMU tracks dirty entries (an iommufd HWPT allocated with
 * IOMMU_HWPT_ALLOC_DIRTY_TRACKING): while it tracks, a client's write
 * dirties what it wrote, and its dirty walk fails at a hole, WARNing.
 */
#ifndef VFIO_P2P_TEST_IOMMU_H
#define VFIO_P2P_TEST_IOMMU_H

#include <stddef.h>
#include <stdint.h>

#include "vfio_p2p_device.h"

#define P2P_TI_COUNT		2
#define P2P_TI_DEV_NAME		"vfio-p2p-test-dev"
#define P2P_TI_DEBUGFS		"/sys/kernel/debug/vfio-p2p-test-iommu"

/* Region 0 of a client: mirrors drivers/vfio/p2p_test_dev.c. */
#define P2P_TD_MAGIC		0x50325444
#define P2P_TD_REG_MAGIC	0x00
#define P2P_TD_REG_INSTANCE	0x04
#define P2P_TD_REG_IOVA		0x08	/* 64 bit */
#define P2P_TD_REG_LEN		0x10
#define P2P_TD_REG_PATTERN	0x14
#define P2P_TD_REG_CMD		0x18	/* runs the command before write() returns */
#define P2P_TD_REG_STATUS	0x1c	/* 0 or -errno (s32) */
#define P2P_TD_REG_DONE		0x20
#define P2P_TD_REG_FAULTS	0x24
#define P2P_TD_DATA		0x1000
#define P2P_TD_DATA_SIZE	0x4000
#define P2P_TD_CMD_WRITE_PATTERN	1
#define P2P_TD_CMD_WRITE_DATA		2
#define P2P_TD_CMD_READ			3

struct p2p_ti_dev {
	struct vfio_p2p_dev dev;	/* dev.bdf is unused */
	char name[32];			/* the platform device's name */
	int instance;
	uint64_t region;		/* offset of region 0 in the device fd */
};

/* The IOMMU group number of @instance's client, or -errno. */
int p2p_ti_group(int instance);
/* 0 if instance @instance exists with its client bound to vfio, else -ENODEV. */
int p2p_ti_present(int instance);
/*
 * Open the client's group into @container (which has its IOMMU type set:
 * this attaches the group) and get its device fd.  The client has no MSI
 * and so no isolated MSI: type1's allow_unsafe_interrupts is set for the
 * attach and restored after it.  When @container is an iommufd of
 * vfio_p2p_iommufd_open(), the client's cdev is bound to it (iommufd's
 * allow_unsafe_interrupts set for the bind) and attached to its IOAS,
 * where iommufd gives it a domain of its own instance.  0 or -errno.
 */
int p2p_ti_open(struct p2p_ti_dev *t, int instance, int container);
/*
 * The same for a container with no group yet: the client's group is its
 * first, and the container gets @iommu_type (attaching the group).
 */
int p2p_ti_open_type(struct p2p_ti_dev *t, int instance, int container,
		     int iommu_type);
/*
 * The iommufd mode: open the client's vfio cdev and bind it to @iommufd
 * (iommufd's allow_unsafe_interrupts set for the bind and restored after
 * it, as above); then attach it to @pt_id (an IOAS: iommufd finds or
 * makes the hwpt of the client's instance).  0 or -errno.
 */
int p2p_ti_bind(struct p2p_ti_dev *t, int instance, int iommufd);
int p2p_ti_attach(struct p2p_ti_dev *t, uint32_t pt_id);
void p2p_ti_close(struct p2p_ti_dev *t);
void p2p_ti_init(struct p2p_ti_dev *t);

/* DMA through the client's IOMMU: the command's STATUS (0 or -errno). */
int p2p_ti_dma_write_pattern(struct p2p_ti_dev *t, uint64_t iova, uint32_t len,
			     uint32_t pattern);
int p2p_ti_dma_write(struct p2p_ti_dev *t, uint64_t iova, const void *buf,
		     uint32_t len);
int p2p_ti_dma_read(struct p2p_ti_dev *t, uint64_t iova, void *buf, uint32_t len);
/* A 32-bit register of region 0, or -errno. */
int64_t p2p_ti_reg(struct p2p_ti_dev *t, unsigned int reg);

/* One 4 KiB entry of a domain. */
struct p2p_ti_pte {
	uint64_t iova;
	uint64_t pfn;
	int prot;		/* 1 read, 2 write */
};

/*
 * The entries of the domain attached to @instance's client, sorted by IOVA,
 * into @ptes (at most @max); *domain gets its id (0 for none).  Returns the
 * number of entries, or -errno (-ENOSPC if more than @max).
 */
long p2p_ti_mappings(int instance, struct p2p_ti_pte *ptes, size_t max,
		     unsigned int *domain);
/* One counter of P2P_TI_DEBUGFS/@instance/stats: 0 or -errno. */
int p2p_ti_stat(int instance, const char *name, uint64_t *val);
/* Fail the next @n map calls of @instance with -ENOMEM. */
int p2p_ti_fail_map(int instance, unsigned int n);
/* The same, counting only map calls whose range holds @iova (~0: any). */
int p2p_ti_fail_map_at(int instance, unsigned int n, uint64_t iova);
#define P2P_TI_ANY_IOVA		(~0ULL)

/* What type1 has charged to our mm->locked_vm (VmLck), in KiB, or -1. */
long vfio_p2p_locked_kib(void);

/* The pfn behind a present page of ours (/proc/self/pagemap), or 0. */
uint64_t vfio_p2p_pagemap_pfn(const void *vaddr);
/* Start of a PCI device's BAR (sysfs resource), or 0. */
uint64_t vfio_p2p_bar_phys(const char *bdf, int bar);

#endif /* VFIO_P2P_TEST_IOMMU_H */
