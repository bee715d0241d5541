// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite vfio_p2p_test_iommu: the test IOMMU (p2p_test_iommu.c) keeps
 * the promises the multi-domain kselftest rests on.  A map over a mapped
 * IOVA is refused and leaves the old entry; an unmap stops at the first
 * hole; a domain refuses a device of another instance; what is mapped reads
 * back, IOVA to physical address; a dirty walk reports the entries a
 * client wrote while the domain tracked, clears them, and fails at a hole.
 * Each case gets a fresh paging domain of instance 0 in quiet mode
 * (violations are counted, not WARNed) and four pages to map.
 */
#include <kunit/test.h>
#include <linux/gfp.h>
#include <linux/iommu.h>
#include <linux/mm.h>

#include <uapi/linux/iommufd.h>

#include "p2p_test_iommu.h"

#define PG		PAGE_SIZE
#define IOVA		0x100000UL
#define RW		(IOMMU_READ | IOMMU_WRITE)

struct p2p_ti_kunit {
	struct iommu_domain *domain;
	struct page *pages;
	phys_addr_t phys;
};

KUNIT_DEFINE_ACTION_WRAPPER(p2p_ti_domain_free, iommu_domain_free,
			    struct iommu_domain *);

static void p2p_ti_pages_free(void *pages)
{
	__free_pages(pages, 2);
}

/* The fixture: each piece is freed by its own action when the case ends. */
static int p2p_ti_kunit_init(struct kunit *test)
{
	struct device *dev = p2p_test_iommu_client(0);
	struct p2p_ti_kunit *k;
	int ret;

	KUNIT_ASSERT_NOT_NULL_MSG(test, dev, "no test IOMMU instance 0");
	k = kunit_kzalloc(test, sizeof(*k), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, k);
	test->priv = k;
	k->domain = iommu_paging_domain_alloc(dev);
	if (IS_ERR(k->domain)) {
		k->domain = NULL;
		KUNIT_FAIL_AND_ABORT(test, "no paging domain for instance 0");
	}
	ret = kunit_add_action_or_reset(test, p2p_ti_domain_free, k->domain);
	KUNIT_ASSERT_EQ(test, ret, 0);
	p2p_test_iommu_set_quiet(k->domain, true);
	k->pages = alloc_pages(GFP_KERNEL, 2);
	KUNIT_ASSERT_NOT_NULL(test, k->pages);
	ret = kunit_add_action_or_reset(test, p2p_ti_pages_free, k->pages);
	KUNIT_ASSERT_EQ(test, ret, 0);
	k->phys = page_to_phys(k->pages);
	return 0;
}

static u64 violations_of(struct iommu_domain *d)
{
	struct p2p_test_iommu_stats st;

	p2p_test_iommu_get_stats(d, &st);
	return st.violations;
}

static u64 violations(struct p2p_ti_kunit *k)
{
	return violations_of(k->domain);
}

static void map_over_mapped_is_refused(struct kunit *test)
{
	struct p2p_ti_kunit *k = test->priv;
	struct iommu_domain *d = k->domain;

	KUNIT_ASSERT_EQ(test, 0, iommu_map(d, IOVA, k->phys, 2 * PG, RW, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, -EEXIST,
			iommu_map(d, IOVA + PG, k->phys + 2 * PG, PG, RW, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, 1, violations(k));
	/* The old entry stays. */
	KUNIT_EXPECT_EQ(test, k->phys + PG, iommu_iova_to_phys(d, IOVA + PG));
	/* A map that runs into a mapped page is unrolled by the core. */
	KUNIT_EXPECT_EQ(test, -EEXIST,
			iommu_map(d, IOVA - PG, k->phys + 2 * PG, 2 * PG, RW, GFP_KERNEL));
	KUNIT_EXPECT_EQ(test, 0, iommu_iova_to_phys(d, IOVA - PG));
	KUNIT_EXPECT_EQ(test, k->phys, iommu_iova_to_phys(d, IOVA));
	KUNIT_EXPECT_EQ(test, 2 * PG, iommu_unmap(d, IOVA, 2 * PG));
	KUNIT_EXPECT_EQ(test, 2, violations(k));
}

static void unmap_stops_at_first_hole(struct kunit *test)
{
	struct p2p_ti_kunit *k = test->priv;
	struct iommu_domain *d = k->domain;

	KUNIT_ASSERT_EQ(test, 0, iommu_map(d, IOVA, k->phys, 2 * PG, RW, GFP_KERNEL));
	KUNIT_ASSERT_EQ(test, 0, iommu_map(d, IOVA + 3 * PG, k->phys + 3 * PG, PG,
					   RW, GFP_KERNEL));
	/* Pages 0 and 1 go, page 2 is a hole, page 3 stays mapped. */
	KUNIT_EXPECT_EQ(test, 2 * PG, iommu_unmap(d, IOVA, 4 * PG));
	KUNIT_EXPECT_EQ(test, 1, violations(k));
	KUNIT_EXPECT_EQ(test, 0, iommu_iova_to_phys(d, IOVA));
	KUNIT_EXPECT_EQ(test, k->phys + 3 * PG, iommu_iova_to_phys(d, IOVA + 3 * PG));
	/* A double unmap unmaps nothing and is a violation. */
	KUNIT_EXPECT_EQ(test, 0, iommu_unmap(d, IOVA, PG));
	KUNIT_EXPECT_EQ(test, 2, violations(k));
	KUNIT_EXPECT_EQ(test, PG, iommu_unmap(d, IOVA + 3 * PG, PG));
	KUNIT_EXPECT_EQ(test, 2, violations(k));
}

static void mappings_read_back(struct kunit *test)
{
	struct p2p_ti_kunit *k = test->priv;
	struct iommu_domain *d = k->domain;
	struct p2p_test_iommu_stats st;
	int i;

	KUNIT_ASSERT_EQ(test, 0, iommu_map(d, IOVA, k->phys, 4 * PG, IOMMU_READ,
					   GFP_KERNEL));
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_EQ(test, k->phys + i * PG + 0x123,
				iommu_iova_to_phys(d, IOVA + i * PG + 0x123));
	KUNIT_EXPECT_EQ(test, 0, iommu_iova_to_phys(d, IOVA + 4 * PG));
	p2p_test_iommu_get_stats(d, &st);
	KUNIT_EXPECT_EQ(test, 4, st.mapped_pages);
	KUNIT_EXPECT_EQ(test, 1, st.map_calls);
	KUNIT_EXPECT_EQ(test, 4 * PG, iommu_unmap(d, IOVA, 4 * PG));
	p2p_test_iommu_get_stats(d, &st);
	KUNIT_EXPECT_EQ(test, 0, st.mapped_pages);
	KUNIT_EXPECT_EQ(test, 1, st.iotlb_sync);
	KUNIT_EXPECT_EQ(test, 0, st.violations);
	/* Beyond the 48-bit aperture. */
	KUNIT_EXPECT_EQ(test, -EINVAL, iommu_map(d, BIT_ULL(48), k->phys, PG, RW,
						 GFP_KERNEL));
}

static void domain_refuses_other_instance(struct kunit *test)
{
	struct p2p_ti_kunit *k = test->priv;
	struct device *other = p2p_test_iommu_client(1);

	KUNIT_ASSERT_NOT_NULL(test, other);
	KUNIT_EXPECT_EQ(test, -EINVAL, iommu_attach_device(k->domain, other));
}

/* A dirty-tracking domain of instance 0, as iommufd allocates one. */
static struct iommu_domain *dirty_domain(struct kunit *test)
{
	struct device *dev = p2p_test_iommu_client(0);
	struct iommu_domain *d;
	int ret;

	d = p2p_test_iommu_alloc_user_domain(dev, IOMMU_HWPT_ALLOC_DIRTY_TRACKING);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, d);
	ret = kunit_add_action_or_reset(test, p2p_ti_domain_free, d);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_ASSERT_NOT_NULL(test, d->dirty_ops);
	p2p_test_iommu_set_quiet(d, true);
	return d;
}

/* One dirty walk of [IOVA, IOVA + 4 pages): the range it recorded. */
static int dirty_walk(struct iommu_domain *d, unsigned long flags,
		      struct iommu_iotlb_gather *gather)
{
	struct iommu_dirty_bitmap dirty;

	iommu_iotlb_gather_init(gather);
	iommu_dirty_bitmap_init(&dirty, NULL, gather);
	return d->dirty_ops->read_and_clear_dirty(d, IOVA, 4 * PG, flags, &dirty);
}

static void dirty_walk_reports_and_clears(struct kunit *test)
{
	struct p2p_ti_kunit *k = test->priv;
	struct device *dev = p2p_test_iommu_client(0);
	struct iommu_domain *d = dirty_domain(test);
	struct iommu_iotlb_gather g;
	phys_addr_t phys;

	KUNIT_ASSERT_EQ(test, 0, iommu_map(d, IOVA, k->phys, 4 * PG, RW, GFP_KERNEL));
	KUNIT_ASSERT_EQ(test, 0, iommu_attach_device(d, dev));
	/* Not tracking: a write dirties nothing. */
	KUNIT_EXPECT_EQ(test, 0, p2p_test_iommu_translate(dev, IOVA, true, &phys));
	KUNIT_ASSERT_EQ(test, 0, d->dirty_ops->set_dirty_tracking(d, true));
	KUNIT_EXPECT_EQ(test, 0, p2p_test_iommu_translate(dev, IOVA + PG, true, &phys));
	KUNIT_EXPECT_EQ(test, k->phys + PG, phys);
	KUNIT_EXPECT_EQ(test, 0,
			p2p_test_iommu_translate(dev, IOVA + 2 * PG, true, &phys));
	/* A read dirties nothing. */
	KUNIT_EXPECT_EQ(test, 0,
			p2p_test_iommu_translate(dev, IOVA + 3 * PG, false, &phys));
	iommu_detach_device(d, dev);
	KUNIT_EXPECT_EQ(test, 0, dirty_walk(d, IOMMU_DIRTY_NO_CLEAR, &g));
	KUNIT_EXPECT_EQ(test, IOVA + PG, g.start);
	KUNIT_EXPECT_EQ(test, IOVA + 3 * PG - 1, g.end);
	KUNIT_EXPECT_EQ(test, 0, dirty_walk(d, 0, &g));
	KUNIT_EXPECT_EQ(test, IOVA + PG, g.start);
	/* Cleared by the walk before. */
	KUNIT_EXPECT_EQ(test, 0, dirty_walk(d, 0, &g));
	KUNIT_EXPECT_EQ(test, ULONG_MAX, g.start);
	KUNIT_EXPECT_EQ(test, 0, violations_of(d));
	KUNIT_EXPECT_EQ(test, 4 * PG, iommu_unmap(d, IOVA, 4 * PG));
}

static void dirty_walk_fails_at_hole(struct kunit *test)
{
	struct p2p_ti_kunit *k = test->priv;
	struct iommu_domain *d = dirty_domain(test);
	struct iommu_iotlb_gather g;

	KUNIT_ASSERT_EQ(test, 0, iommu_map(d, IOVA, k->phys, 2 * PG, RW, GFP_KERNEL));
	KUNIT_ASSERT_EQ(test, 0, iommu_map(d, IOVA + 3 * PG, k->phys + 3 * PG, PG,
					   RW, GFP_KERNEL));
	KUNIT_ASSERT_EQ(test, 0, d->dirty_ops->set_dirty_tracking(d, true));
	KUNIT_EXPECT_EQ(test, -EINVAL, dirty_walk(d, 0, &g));
	KUNIT_EXPECT_EQ(test, 1, violations_of(d));
	KUNIT_EXPECT_EQ(test, 2 * PG, iommu_unmap(d, IOVA, 2 * PG));
	KUNIT_EXPECT_EQ(test, PG, iommu_unmap(d, IOVA + 3 * PG, PG));
}

static struct kunit_case p2p_ti_kunit_cases[] = {
	KUNIT_CASE(map_over_mapped_is_refused),
	KUNIT_CASE(unmap_stops_at_first_hole),
	KUNIT_CASE(mappings_read_back),
	KUNIT_CASE(domain_refuses_other_instance),
	KUNIT_CASE(dirty_walk_reports_and_clears),
	KUNIT_CASE(dirty_walk_fails_at_hole),
	{}
};

static struct kunit_suite p2p_ti_kunit_suite = {
	.name = "vfio_p2p_test_iommu",
	.init = p2p_ti_kunit_init,
	.test_cases = p2p_ti_kunit_cases,
};

kunit_test_suite(p2p_ti_kunit_suite);
