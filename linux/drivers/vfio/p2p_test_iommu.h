/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The vfio-p2p test IOMMU: what its IOMMU driver (p2p_test_iommu.c) offers
 * to the vfio driver of its client devices (p2p_test_dev.c) and to its KUnit
 * suite (p2p_test_iommu_kunit.c).  Test-only code (CONFIG_VFIO_P2P_TEST_IOMMU).
 */
#ifndef VFIO_P2P_TEST_IOMMU_H
#define VFIO_P2P_TEST_IOMMU_H

#include <linux/types.h>

struct device;
struct iommu_domain;

/* The client platform devices are "vfio-p2p-test-dev.<instance>". */
#define P2P_TEST_DEV_NAME	"vfio-p2p-test-dev"
#define P2P_TEST_IOMMU_COUNT	2

/* The counters of one domain (all since the domain was allocated). */
struct p2p_test_iommu_stats {
	u64 map_calls;		/* ->map_pages(), failed ones included */
	u64 unmap_calls;	/* ->unmap_pages() */
	u64 iotlb_sync;		/* ->iotlb_sync() */
	u64 iotlb_sync_map;	/* ->iotlb_sync_map() */
	u64 flush_all;		/* ->flush_iotlb_all() */
	u64 violations;		/* map over mapped, unmap of a hole */
	u64 mapped_pages;	/* 4 KiB entries mapped now */
};

int p2p_test_iommu_translate(struct device *dev, u64 iova, bool write,
			     phys_addr_t *phys);
void p2p_test_iommu_count_fault(struct device *dev);
unsigned int p2p_test_iommu_instance(struct device *dev);
struct device *p2p_test_iommu_client(unsigned int instance);
struct iommu_domain *p2p_test_iommu_alloc_user_domain(struct device *dev,
						      u32 flags);
void p2p_test_iommu_set_quiet(struct iommu_domain *domain, bool quiet);
void p2p_test_iommu_get_stats(struct iommu_domain *domain,
			      struct p2p_test_iommu_stats *st);

#endif /* VFIO_P2P_TEST_IOMMU_H */
