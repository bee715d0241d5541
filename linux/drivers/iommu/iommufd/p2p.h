/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * iommufd areas of vfio device memory (p2p.c), for io_pagetable.c, pages.c
 * and device.c.  Without CONFIG_VFIO_P2P no area is one, and these do
 * nothing.
 */
#ifndef __IOMMUFD_P2P_H
#define __IOMMUFD_P2P_H

#include <linux/list.h>
#include <linux/types.h>

struct iommu_domain;
struct iommufd_ctx;
struct io_pagetable;
struct iopt_area;
struct iopt_pages;

#if IS_ENABLED(CONFIG_VFIO_P2P)
int iopt_p2p_pages_list(struct iommufd_ctx *ictx, void __user *uptr,
			unsigned long length, bool writable,
			struct list_head *pages_list);
int iopt_p2p_fill(struct iopt_area *area, struct iopt_pages *pages);
void iopt_p2p_unfill(struct iopt_area *area);
bool iopt_p2p_area_live(struct iopt_area *area, unsigned long iova,
			unsigned long length);
void iopt_p2p_domains_lock(struct io_pagetable *iopt);
void iopt_p2p_domains_unlock(struct io_pagetable *iopt);
int iopt_p2p_fill_domain(struct io_pagetable *iopt,
			 struct iommu_domain *domain);
void iopt_p2p_unfill_domain(struct io_pagetable *iopt,
			    struct iommu_domain *domain);
void iopt_p2p_retry(struct io_pagetable *iopt);
void iopt_p2p_destroy(struct io_pagetable *iopt);
#if IS_ENABLED(CONFIG_IOMMUFD_P2P_KUNIT_TEST)
struct vfio_p2p_tracker;
void iommufd_p2p_test_override(const struct vfio_p2p_tracker *tracker);
#endif
#else
static inline int iopt_p2p_pages_list(struct iommufd_ctx *ictx,
				      void __user *uptr, unsigned long length,
				      bool writable,
				      struct list_head *pages_list)
{
	return 1;
}

static inline int iopt_p2p_fill(struct iopt_area *area,
				struct iopt_pages *pages)
{
	return -EFAULT;
}

static inline void iopt_p2p_unfill(struct iopt_area *area)
{
}

static inline bool iopt_p2p_area_live(struct iopt_area *area,
				      unsigned long iova, unsigned long length)
{
	return true;
}

static inline void iopt_p2p_domains_lock(struct io_pagetable *iopt)
{
}

static inline void iopt_p2p_domains_unlock(struct io_pagetable *iopt)
{
}

static inline int iopt_p2p_fill_domain(struct io_pagetable *iopt,
				       struct iommu_domain *domain)
{
	return 0;
}

static inline void iopt_p2p_unfill_domain(struct io_pagetable *iopt,
					  struct iommu_domain *domain)
{
}

static inline void iopt_p2p_retry(struct io_pagetable *iopt)
{
}

static inline void iopt_p2p_destroy(struct io_pagetable *iopt)
{
}
#endif

#endif /* __IOMMUFD_P2P_H */
