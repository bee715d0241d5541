// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_p2p_multidomain_test: P2P mappings in a type1 container, or an
 * iommufd IOAS, with three IOMMU domains.
 *
 * One type1v2 container holds edu and the ivshmem peer (Intel IOMMU, one
 * domain) and the clients of the test IOMMU (drivers/vfio/p2p_test_iommu.c:
 * one domain per instance, strict like ARM SMMU page tables: a map over a
 * mapped IOVA and an unmap of a hole WARN, and an unmap stops at the hole).
 * type1 adds a new domain at the head of its list, so the first test
 * client's domain is one of "domains 2..N", the ones type1 does not walk.
 *
 * Each step is followed by a read-back: every test-IOMMU domain maps
 * exactly what it must (a live link: the BAR's pfns; RAM: the pfn of the
 * pinned page, from /proc/self/pagemap; nothing else), so after an
 * UNMAP_DMA no IOVA of it is left in any domain and no RAM page stays
 * mapped after it was unpinned.  DMA by the test clients (through their
 * own domain) and by edu (through the Intel one) shows the same from the
 * device side.  The steps: map the BAR; one MAP_DMA of [BAR][RAM][BAR];
 * decode off and on; decode off then UNMAP_DMA; release then UNMAP_DMA;
 * unbind of the peer; VFIO_DEVICE_RESET of the peer; attach of a second
 * test client while links are live and while they are revoked; a failed
 * map (fault injection); and a plain BAR UNMAP_DMA with everything live.
 * With fault injection too: a restore at decode on that fails in one
 * domain (the links stay revoked in all of them, and the next UNMAP_DMA
 * maps them again), and an attach that fails in type1's replay or at a
 * live link (nothing stays mapped or pinned).  The IOTLB syncs of the test
 * domains show one sync per domain per event, however many links.
 *
 * Each test runs for type1v2 and iommufd (vfio_p2p_iommu_modes.h; type1
 * v1 is left out: nothing here depends on its unmap semantics).  Over
 * iommufd every device is a vfio cdev attached to one IOAS: iommufd gives
 * edu and ivshmem one HWPT (the Intel domain) and each test client, which
 * the Intel domain and the other instance's refuse, a HWPT of its own, so
 * the IOAS has three domains, each of which the read-back checks; closing
 * a client takes its domain out of the IOAS.  The
 * only difference a test sees: an UNMAP of a range with nothing mapped
 * (which still retries a failed restore) is ENOENT, not 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_util.h"
#include "vfio_p2p_test_iommu.h"

#define PG		4096UL
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define IOVA_BAR	0x40000000ULL	/* the whole BAR2 */
#define IOVA_MIX	0x80000000ULL	/* [BAR part][RAM][BAR part] */
#define MIX_BAR		0x100000UL	/* size of each BAR part */
#define MIX_RAM		0x10000UL
#define MIX_SIZE	(2 * MIX_BAR + MIX_RAM)
#define MIX_OFF0	0x200000UL	/* BAR offsets of the two parts */
#define MIX_OFF1	0x400000UL
/*
 * Where in the BAR the DMA tests write: away from every offset the other
 * programs leave for the rig's host-side check of the backing file.
 */
#define OFF		0xe00000UL
#define MAX_PTES	16384

/* One range a domain must map: BAR (pfn != 0) or RAM (pinned at @vaddr). */
struct want {
	uint64_t iova;
	uint64_t len;
	uint64_t pfn;
	const uint8_t *vaddr;
	bool live;		/* BAR: the link is live, so it must be mapped */
};

struct md {
	int iommu_type;
	struct vfio_p2p_ctx c;
	struct p2p_ti_dev t[P2P_TI_COUNT];
	uint64_t bar_pfn;
	uint8_t *bar;		/* the whole BAR2, read/write */
	uint8_t *mix;		/* MIX_SIZE bytes of address space */
	struct want w[8];
	int nw;
};

static struct p2p_ti_pte got[MAX_PTES], exp_ptes[MAX_PTES];

static void want_add(struct md *s, uint64_t iova, uint64_t len, uint64_t pfn,
		     const uint8_t *vaddr)
{
	s->w[s->nw++] = (struct want){ iova, len, pfn, vaddr, true };
}

/* Drop every range inside [iova, iova + len), as UNMAP_DMA does. */
static void want_del(struct md *s, uint64_t iova, uint64_t len)
{
	int i, j = 0;

	for (i = 0; i < s->nw; i++)
		if (s->w[i].iova < iova || s->w[i].iova >= iova + len)
			s->w[j++] = s->w[i];
	s->nw = j;
}

static void bar_links_live(struct md *s, bool live)
{
	int i;

	for (i = 0; i < s->nw; i++)
		if (s->w[i].pfn)
			s->w[i].live = live;
}

static int pte_cmp(const void *a, const void *b)
{
	const struct p2p_ti_pte *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

/* Does the domain of @inst map exactly what @s says?  Logs the first miss. */
static bool domain_ok(struct __test_metadata *_metadata, struct md *s, int inst,
		      bool quiet)
{
	unsigned int domain;
	long n, ne = 0, i;
	uint64_t off;
	int k;

	n = p2p_ti_mappings(inst, got, MAX_PTES, &domain);
	if (n < 0) {
		TH_LOG("instance %d: reading the mappings: %s", inst, strerror(-n));
		return false;
	}
	if (!domain) {
		TH_LOG("instance %d: no paging domain attached", inst);
		return false;
	}
	for (k = 0; k < s->nw; k++) {
		struct want *w = &s->w[k];

		if (w->pfn && !w->live)
			continue;
		for (off = 0; off < w->len; off += PG, ne++) {
			if (ne >= MAX_PTES)
				return false;
			exp_ptes[ne].iova = w->iova + off;
			exp_ptes[ne].pfn = w->pfn ? w->pfn + off / PG :
					   vfio_p2p_pagemap_pfn(w->vaddr + off);
		}
	}
	qsort(exp_ptes, ne, sizeof(exp_ptes[0]), pte_cmp);
	for (i = 0; i < n || i < ne; i++) {
		if (i < n && i < ne && got[i].iova == exp_ptes[i].iova &&
		    got[i].pfn == exp_ptes[i].pfn && exp_ptes[i].pfn)
			continue;
		if (quiet)
			return false;
		if (i >= ne || (i < n && got[i].iova < exp_ptes[i].iova))
			TH_LOG("instance %d domain %u: IOVA %#llx maps pfn %#llx: must not",
			       inst, domain, (unsigned long long)got[i].iova,
			       (unsigned long long)got[i].pfn);
		else if (i >= n || got[i].iova > exp_ptes[i].iova)
			TH_LOG("instance %d domain %u: IOVA %#llx is not mapped, want pfn %#llx",
			       inst, domain, (unsigned long long)exp_ptes[i].iova,
			       (unsigned long long)exp_ptes[i].pfn);
		else
			TH_LOG("instance %d domain %u: IOVA %#llx maps pfn %#llx, want %#llx",
			       inst, domain, (unsigned long long)got[i].iova,
			       (unsigned long long)got[i].pfn,
			       (unsigned long long)exp_ptes[i].pfn);
		TH_LOG("instance %d domain %u: %ld entries mapped, %ld expected",
		       inst, domain, n, ne);
		return false;
	}
	return true;
}

/* Every attached test-IOMMU domain maps exactly what it must. */
static bool domains_ok(struct __test_metadata *_metadata, struct md *s)
{
	bool ok = true;
	int i;

	for (i = 0; i < P2P_TI_COUNT; i++)
		if (s->t[i].dev.fd >= 0)
			ok &= domain_ok(_metadata, s, i, false);
	return ok;
}

/* The same, allowing 2 s for an asynchronous teardown (release, unbind). */
static bool domains_settle(struct __test_metadata *_metadata, struct md *s)
{
	int i, tries;

	for (tries = 0; tries < 20; tries++) {
		bool ok = true;

		for (i = 0; i < P2P_TI_COUNT; i++)
			if (s->t[i].dev.fd >= 0)
				ok &= domain_ok(_metadata, s, i, true);
		if (ok)
			return true;
		usleep(100000);
	}
	return domains_ok(_metadata, s);
}

static void md_setup(struct __test_metadata *_metadata, struct md *s, int nattach,
		     int iommu_type)
{
	struct vfio_p2p_ctx *c = &s->c;
	const char *what;
	int i, ret;

	for (i = 0; i < P2P_TI_COUNT; i++)
		p2p_ti_init(&s->t[i]);
	s->bar = NULL;
	s->mix = MAP_FAILED;
	s->nw = 0;
	s->iommu_type = iommu_type;
	ret = vfio_p2p_ctx_open(c, iommu_type, &what);
	if (ret == -ENODEV || ret == -EOPNOTSUPP)
		SKIP(return, "%s: %s", what, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", what, strerror(-ret));
	for (i = 0; i < P2P_TI_COUNT; i++)
		if (p2p_ti_present(i))
			SKIP(return, "no test IOMMU instance %d (CONFIG_VFIO_P2P_TEST_IOMMU)", i);
	s->bar_pfn = vfio_p2p_bar_phys(c->shm.bdf, IVSHMEM_BAR) / PG;
	ASSERT_NE(0, s->bar_pfn);
	ASSERT_LE(MIX_OFF1 + MIX_BAR, c->bar2.size);
	ASSERT_NE(0, vfio_p2p_pagemap_pfn(c->ram))
		TH_LOG("/proc/self/pagemap shows no pfn (not root?)");
	s->bar = vfio_p2p_region_mmap(&c->shm, &c->bar2, 0, c->bar2.size,
				      PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, s->bar);
	c->bar2.map = s->bar;
	want_add(s, VFIO_P2P_IOVA_RAM, VFIO_P2P_RAM_SIZE, 0, c->ram);
	for (i = 0; i < nattach; i++) {
		ret = p2p_ti_open(&s->t[i], i, c->container);
		ASSERT_EQ(0, ret) TH_LOG("attach test client %d: %s", i, strerror(-ret));
	}
	/* A new domain got what the container maps (the backend's replay). */
	ASSERT_TRUE(domains_ok(_metadata, s));
}

static void md_teardown(struct md *s)
{
	int i;

	for (i = 0; i < P2P_TI_COUNT; i++) {
		p2p_ti_fail_map(i, 0);
		p2p_ti_close(&s->t[i]);
	}
	if (s->mix != MAP_FAILED)
		munmap(s->mix, MIX_SIZE);
	vfio_p2p_ctx_close(&s->c);
}

static void map_bar(struct __test_metadata *_metadata, struct md *s)
{
	ASSERT_EQ(0, vfio_p2p_map(s->c.container, s->bar, IOVA_BAR, s->c.bar2.size, RW));
	want_add(s, IOVA_BAR, s->c.bar2.size, s->bar_pfn, NULL);
}

/* One MAP_DMA of [BAR at MIX_OFF0][anonymous memory][BAR at MIX_OFF1]. */
static void map_mix(struct __test_metadata *_metadata, struct md *s)
{
	int fd = s->c.shm.fd;
	uint64_t reg = s->c.bar2.offset;
	void *p;

	s->mix = mmap(NULL, MIX_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, s->mix);
	p = mmap(s->mix, MIX_BAR, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 reg + MIX_OFF0);
	ASSERT_EQ(s->mix, p);
	p = mmap(s->mix + MIX_BAR, MIX_RAM, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(s->mix + MIX_BAR, p);
	memset(s->mix + MIX_BAR, 0x5a, MIX_RAM);
	p = mmap(s->mix + MIX_BAR + MIX_RAM, MIX_BAR, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, reg + MIX_OFF1);
	ASSERT_EQ(s->mix + MIX_BAR + MIX_RAM, p);
	ASSERT_EQ(0, vfio_p2p_map(s->c.container, s->mix, IOVA_MIX, MIX_SIZE, RW));
	want_add(s, IOVA_MIX, MIX_BAR, s->bar_pfn + MIX_OFF0 / PG, NULL);
	want_add(s, IOVA_MIX + MIX_BAR, MIX_RAM, 0, s->mix + MIX_BAR);
	want_add(s, IOVA_MIX + MIX_BAR + MIX_RAM, MIX_BAR,
		 s->bar_pfn + MIX_OFF1 / PG, NULL);
}

static void unmap(struct __test_metadata *_metadata, struct md *s, uint64_t iova,
		  uint64_t len)
{
	ASSERT_EQ((int64_t)len, vfio_p2p_unmap(s->c.container, iova, len, 0));
	want_del(s, iova, len);
}

static void decode(struct __test_metadata *_metadata, struct md *s, bool on)
{
	ASSERT_EQ(0, vfio_p2p_pci_command(&s->c.shm, on ? PCI_COMMAND_MEMORY : 0,
					  on ? 0 : PCI_COMMAND_MEMORY));
	bar_links_live(s, on);
}

/* Does @p hold @len bytes of the test client's @pattern (a repeated word)? */
static bool pattern_at(const uint8_t *p, uint32_t len, uint32_t pattern)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (uint8_t)(pattern >> (8 * (i % 4))))
			return false;
	return true;
}

/* The peer goes: its BAR mmaps, then its fd (the last one: RELEASE). */
static void release_peer(struct md *s)
{
	if (s->mix != MAP_FAILED) {
		munmap(s->mix, MIX_BAR);
		munmap(s->mix + MIX_BAR + MIX_RAM, MIX_BAR);
	}
	munmap(s->bar, s->c.bar2.size);
	s->c.bar2.map = NULL;
	s->bar = NULL;
	close(s->c.shm.fd);
	s->c.shm.fd = -1;
	bar_links_live(s, false);
}

FIXTURE(multi) {
	struct md s;
};

FIXTURE_VARIANT(multi) {
	int iommu_type;
};

#define VFIO_P2P_MODES_FIXTURE multi
#define VFIO_P2P_MODES_NO_TYPE1
#include "vfio_p2p_iommu_modes.h"

FIXTURE_SETUP(multi)
{
	md_setup(_metadata, &self->s, P2P_TI_COUNT, variant->iommu_type);
}

FIXTURE_TEARDOWN(multi)
{
	md_teardown(&self->s);
}

/* Map the whole BAR; DMA lands from every domain; a plain UNMAP_DMA. */
TEST_F_TIMEOUT(multi, map_bar_dma_unmap, 120)
{
	struct md *s = &self->s;
	uint32_t seed = vfio_p2p_seed();
	uint8_t buf[64];
	int i;

	map_bar(_metadata, s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	for (i = 0; i < P2P_TI_COUNT; i++) {
		uint64_t off = OFF + i * 2 * PG + 0x800;

		/* Crosses a page boundary of the IOVA. */
		ASSERT_EQ(0, p2p_ti_dma_write_pattern(&s->t[i], IOVA_BAR + off, PG, seed + i));
		ASSERT_TRUE(pattern_at(s->bar + off, PG, seed + i))
			TH_LOG("test client %d: DMA did not land in the BAR", i);
		ASSERT_EQ(0, p2p_ti_dma_read(&s->t[i], VFIO_P2P_IOVA_RAM, buf, sizeof(buf)));
		ASSERT_EQ(0, memcmp(buf, s->c.ram, sizeof(buf)));
	}
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(&s->c, IOVA_BAR + OFF + 8 * PG, EDU_DMA_MAX, seed));
	ASSERT_EQ(-1, vfio_p2p_check(s->bar + OFF + 8 * PG, EDU_DMA_MAX, seed));

	/* Everything live: on arm-lpae a double unmap here is a WARN. */
	unmap(_metadata, s, IOVA_BAR, s->c.bar2.size);
	ASSERT_TRUE(domains_ok(_metadata, s));
	for (i = 0; i < P2P_TI_COUNT; i++)
		ASSERT_EQ(-EFAULT, p2p_ti_dma_write_pattern(&s->t[i], IOVA_BAR + OFF, 16, 0));
}

/* One MAP_DMA of [BAR][RAM][BAR]: each part maps its own pfns. */
TEST_F_TIMEOUT(multi, interleaved_bar_and_ram, 120)
{
	struct md *s = &self->s;
	uint32_t seed = vfio_p2p_seed();
	struct p2p_ti_dev *t = &s->t[0];

	map_mix(_metadata, s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	/* BAR part 1 into RAM, across the boundary. */
	ASSERT_EQ(0, p2p_ti_dma_write_pattern(t, IOVA_MIX + MIX_BAR - 0x800, PG, seed));
	ASSERT_TRUE(pattern_at(s->bar + MIX_OFF0 + MIX_BAR - 0x800, 0x800, seed));
	ASSERT_TRUE(pattern_at(s->mix + MIX_BAR, 0x800, seed));
	/* BAR part 2, through the other domain. */
	ASSERT_EQ(0, p2p_ti_dma_write_pattern(&s->t[1], IOVA_MIX + MIX_BAR + MIX_RAM + 0x2000,
					      0x100, seed + 1));
	ASSERT_TRUE(pattern_at(s->bar + MIX_OFF1 + 0x2000, 0x100, seed + 1));
	unmap(_metadata, s, IOVA_MIX, MIX_SIZE);
	ASSERT_TRUE(domains_ok(_metadata, s));
}

/* Decode off revokes the links in every domain, decode on restores them. */
TEST_F_TIMEOUT(multi, decode_off_refuses_on_restores, 120)
{
	struct md *s = &self->s;
	uint32_t seed = vfio_p2p_seed();
	int64_t faults;
	int i;

	map_bar(_metadata, s);
	map_mix(_metadata, s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	memset(s->bar + OFF, 0, 4 * PG);

	decode(_metadata, s, false);
	ASSERT_TRUE(domains_ok(_metadata, s));
	for (i = 0; i < P2P_TI_COUNT; i++) {
		faults = p2p_ti_reg(&s->t[i], P2P_TD_REG_FAULTS);
		ASSERT_EQ(-EFAULT, p2p_ti_dma_write_pattern(&s->t[i], IOVA_BAR + OFF, 64, seed));
		ASSERT_EQ(faults + 1, p2p_ti_reg(&s->t[i], P2P_TD_REG_FAULTS));
		/* The RAM in the middle of the mixed range is still there. */
		ASSERT_EQ(0, p2p_ti_dma_write_pattern(&s->t[i], IOVA_MIX + MIX_BAR, 64, seed));
	}
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(&s->c, IOVA_BAR + OFF + PG, EDU_DMA_MAX, seed));

	decode(_metadata, s, true);
	ASSERT_TRUE(domains_ok(_metadata, s));
	ASSERT_FALSE(pattern_at(s->bar + OFF, 64, seed))
		TH_LOG("a test client's DMA reached the BAR while decode was off");
	ASSERT_NE(-1, vfio_p2p_check(s->bar + OFF + PG, EDU_DMA_MAX, seed))
		TH_LOG("edu's DMA reached the BAR while decode was off");
	for (i = 0; i < P2P_TI_COUNT; i++) {
		ASSERT_EQ(0, p2p_ti_dma_write_pattern(&s->t[i], IOVA_BAR + OFF, 64, seed + i));
		ASSERT_TRUE(pattern_at(s->bar + OFF, 64, seed + i));
	}
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(&s->c, IOVA_BAR + OFF + PG, EDU_DMA_MAX, seed));
	ASSERT_EQ(-1, vfio_p2p_check(s->bar + OFF + PG, EDU_DMA_MAX, seed));
	unmap(_metadata, s, IOVA_MIX, MIX_SIZE);
	unmap(_metadata, s, IOVA_BAR, s->c.bar2.size);
	ASSERT_TRUE(domains_ok(_metadata, s));
}

/* Decode off, then UNMAP_DMA of [BAR][RAM][BAR]: the RAM goes everywhere. */
TEST_F_TIMEOUT(multi, decode_off_then_unmap_mixed, 120)
{
	struct md *s = &self->s;
	uint8_t buf[64];
	int i;

	map_mix(_metadata, s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	decode(_metadata, s, false);
	ASSERT_TRUE(domains_ok(_metadata, s));
	unmap(_metadata, s, IOVA_MIX, MIX_SIZE);
	/* A RAM page still mapped here is unpinned memory a device can reach. */
	EXPECT_TRUE(domains_ok(_metadata, s));
	for (i = 0; i < P2P_TI_COUNT; i++)
		EXPECT_EQ(-EFAULT, p2p_ti_dma_read(&s->t[i], IOVA_MIX + MIX_BAR, buf,
						   sizeof(buf)))
			TH_LOG("test client %d reads unpinned RAM at IOVA %#llx", i,
			       IOVA_MIX + MIX_BAR);
	decode(_metadata, s, true);
	ASSERT_TRUE(domains_ok(_metadata, s));
}

/* The peer is released (last close), then UNMAP_DMA. */
TEST_F_TIMEOUT(multi, release_then_unmap, 120)
{
	struct md *s = &self->s;
	uint8_t buf[64];
	int i;

	map_bar(_metadata, s);
	map_mix(_metadata, s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	release_peer(s);
	ASSERT_TRUE(domains_settle(_metadata, s));
	for (i = 0; i < P2P_TI_COUNT; i++)
		ASSERT_EQ(-EFAULT, p2p_ti_dma_write_pattern(&s->t[i], IOVA_BAR + OFF, 64, 1));
	unmap(_metadata, s, IOVA_MIX, MIX_SIZE);
	EXPECT_TRUE(domains_ok(_metadata, s));
	for (i = 0; i < P2P_TI_COUNT; i++)
		EXPECT_EQ(-EFAULT, p2p_ti_dma_read(&s->t[i], IOVA_MIX + MIX_BAR, buf,
						   sizeof(buf)));
	unmap(_metadata, s, IOVA_BAR, s->c.bar2.size);
	ASSERT_TRUE(domains_ok(_metadata, s));
}

/* VFIO_DEVICE_RESET of the peer revokes and restores in every domain. */
TEST_F_TIMEOUT(multi, reset_revokes_then_restores, 120)
{
	struct md *s = &self->s;
	struct vfio_device_info info = { .argsz = sizeof(info) };
	uint64_t map0, unmap0, map1, unmap1, sync;
	uint32_t seed = vfio_p2p_seed();

	ASSERT_EQ(0, ioctl(s->c.shm.fd, VFIO_DEVICE_GET_INFO, &info));
	if (!(info.flags & VFIO_DEVICE_FLAGS_RESET))
		SKIP(return, "%s has no reset method", s->c.shm.bdf);
	map_bar(_metadata, s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	ASSERT_EQ(0, p2p_ti_stat(0, "map_calls", &map0));
	ASSERT_EQ(0, p2p_ti_stat(0, "unmap_calls", &unmap0));
	ASSERT_EQ(0, ioctl(s->c.shm.fd, VFIO_DEVICE_RESET))
		TH_LOG("VFIO_DEVICE_RESET: %s", strerror(errno));
	ASSERT_TRUE(domains_ok(_metadata, s));
	ASSERT_EQ(0, p2p_ti_stat(0, "map_calls", &map1));
	ASSERT_EQ(0, p2p_ti_stat(0, "unmap_calls", &unmap1));
	ASSERT_EQ(0, p2p_ti_stat(0, "iotlb_sync", &sync));
	TH_LOG("reset, domain of instance 0: %llu map, %llu unmap calls; %llu iotlb syncs in all",
	       (unsigned long long)(map1 - map0), (unsigned long long)(unmap1 - unmap0),
	       (unsigned long long)sync);
	/* The link went and came back in this domain too. */
	ASSERT_LT(map0, map1);
	ASSERT_LT(unmap0, unmap1);
	ASSERT_EQ(0, p2p_ti_dma_write_pattern(&s->t[0], IOVA_BAR + OFF, 64, seed));
	ASSERT_TRUE(pattern_at(s->bar + OFF, 64, seed));
	unmap(_metadata, s, IOVA_BAR, s->c.bar2.size);
	ASSERT_TRUE(domains_ok(_metadata, s));
}

/* A map that fails in one domain leaves nothing mapped in any. */
TEST_F_TIMEOUT(multi, failed_map_leaves_nothing, 120)
{
	struct md *s = &self->s;
	uint8_t *ram;

	ram = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ram);
	memset(ram, 1, 4 * PG);
	ASSERT_EQ(0, p2p_ti_fail_map(0, 1));
	EXPECT_EQ(-ENOMEM, vfio_p2p_map(s->c.container, ram, IOVA_MIX, 4 * PG, RW));
	ASSERT_EQ(0, p2p_ti_fail_map(0, 0));
	EXPECT_TRUE(domains_ok(_metadata, s));
	ASSERT_EQ(0, vfio_p2p_map(s->c.container, ram, IOVA_MIX, 4 * PG, RW));
	want_add(s, IOVA_MIX, 4 * PG, 0, ram);
	EXPECT_TRUE(domains_ok(_metadata, s));
	unmap(_metadata, s, IOVA_MIX, 4 * PG);
	EXPECT_TRUE(domains_ok(_metadata, s));
	munmap(ram, 4 * PG);
}

/* A counter of the domain attached to @inst's client. */
static uint64_t ti_stat(struct __test_metadata *_metadata, int inst,
			const char *name)
{
	uint64_t v = 0;

	EXPECT_EQ(0, p2p_ti_stat(inst, name, &v)) TH_LOG("stat %s", name);
	return v;
}

/* A DISABLE or a RELEASE of three links costs each domain one IOTLB sync. */
TEST_F_TIMEOUT(multi, one_iotlb_sync_per_domain_per_event, 120)
{
	struct md *s = &self->s;
	uint64_t sync[P2P_TI_COUNT], unmaps[P2P_TI_COUNT];
	int i;

	map_bar(_metadata, s);
	map_mix(_metadata, s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	for (i = 0; i < P2P_TI_COUNT; i++) {
		sync[i] = ti_stat(_metadata, i, "iotlb_sync");
		unmaps[i] = ti_stat(_metadata, i, "unmap_calls");
	}
	decode(_metadata, s, false);
	ASSERT_TRUE(domains_ok(_metadata, s));
	for (i = 0; i < P2P_TI_COUNT; i++) {
		/* Three links: at least three unmap calls, one sync. */
		EXPECT_LE(unmaps[i] + 3, ti_stat(_metadata, i, "unmap_calls"));
		EXPECT_EQ(sync[i] + 1, ti_stat(_metadata, i, "iotlb_sync"))
			TH_LOG("instance %d: decode off of 3 links", i);
	}
	/* Mapping again needs no IOTLB invalidation. */
	decode(_metadata, s, true);
	ASSERT_TRUE(domains_ok(_metadata, s));
	for (i = 0; i < P2P_TI_COUNT; i++)
		EXPECT_EQ(sync[i] + 1, ti_stat(_metadata, i, "iotlb_sync"))
			TH_LOG("instance %d: decode on of 3 links", i);
	release_peer(s);
	ASSERT_TRUE(domains_settle(_metadata, s));
	for (i = 0; i < P2P_TI_COUNT; i++)
		EXPECT_EQ(sync[i] + 2, ti_stat(_metadata, i, "iotlb_sync"))
			TH_LOG("instance %d: release of 3 links", i);
	unmap(_metadata, s, IOVA_MIX, MIX_SIZE);
	unmap(_metadata, s, IOVA_BAR, s->c.bar2.size);
	ASSERT_TRUE(domains_ok(_metadata, s));
}

/*
 * Decode on, and mapping the links again fails in one domain: they stay
 * revoked in every domain, not mapped in some, and the container's next
 * UNMAP_DMA (here of nothing) maps them again.
 */
TEST_F_TIMEOUT(multi, failed_restore_retried, 120)
{
	struct md *s = &self->s;
	uint32_t seed = vfio_p2p_seed();
	int i;

	map_bar(_metadata, s);
	map_mix(_metadata, s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	memset(s->bar + OFF, 0, 4 * PG);
	decode(_metadata, s, false);
	ASSERT_EQ(0, p2p_ti_fail_map(0, 1000));
	decode(_metadata, s, true);
	ASSERT_EQ(0, p2p_ti_fail_map(0, 0));
	bar_links_live(s, false);
	ASSERT_TRUE(domains_ok(_metadata, s));
	for (i = 0; i < P2P_TI_COUNT; i++)
		ASSERT_EQ(-EFAULT, p2p_ti_dma_write_pattern(&s->t[i], IOVA_BAR + OFF, 64, seed));
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(&s->c, IOVA_BAR + OFF + PG, EDU_DMA_MAX, seed));
	ASSERT_NE(-1, vfio_p2p_check(s->bar + OFF + PG, EDU_DMA_MAX, seed))
		TH_LOG("edu's DMA reached a link that is not restored");
	ASSERT_FALSE(pattern_at(s->bar + OFF, 64, seed));

	/* Nothing there: type1 unmaps 0 bytes, iommufd says ENOENT. */
	ASSERT_EQ(s->iommu_type == VFIO_P2P_IOMMUFD ? -ENOENT : 0,
		  vfio_p2p_unmap(s->c.container, IOVA_MIX + MIX_SIZE, PG, 0));
	bar_links_live(s, true);
	ASSERT_TRUE(domains_ok(_metadata, s));
	for (i = 0; i < P2P_TI_COUNT; i++) {
		ASSERT_EQ(0, p2p_ti_dma_write_pattern(&s->t[i], IOVA_BAR + OFF, 64, seed + i));
		ASSERT_TRUE(pattern_at(s->bar + OFF, 64, seed + i));
	}
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(&s->c, IOVA_BAR + OFF + PG, EDU_DMA_MAX, seed));
	ASSERT_EQ(-1, vfio_p2p_check(s->bar + OFF + PG, EDU_DMA_MAX, seed));
	unmap(_metadata, s, IOVA_MIX, MIX_SIZE);
	unmap(_metadata, s, IOVA_BAR, s->c.bar2.size);
	ASSERT_TRUE(domains_ok(_metadata, s));
}

static void *unbind_thread(void *arg)
{
	return (void *)(long)vfio_p2p_sysfs_write("/sys/bus/pci/drivers/vfio-pci/unbind",
						  arg);
}

/* The peer unbinds from vfio-pci (runs last: it rebinds it after). */
TEST_F_TIMEOUT(multi, unbind_then_unmap, 120)
{
	struct md *s = &self->s;
	struct timespec deadline;
	char bdf[sizeof(s->c.shm.bdf)];
	uint8_t buf[64];
	pthread_t th;
	void *ret;
	int i;

	map_mix(_metadata, s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	memcpy(bdf, s->c.shm.bdf, sizeof(bdf));
	/* A thread: a child would hold the device fd and the mmaps. */
	ASSERT_EQ(0, pthread_create(&th, NULL, unbind_thread, bdf));
	usleep(300000);
	release_peer(s);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 20;
	ASSERT_EQ(0, pthread_timedjoin_np(th, &ret, &deadline))
		TH_LOG("unbind did not complete in 20 s");
	ASSERT_EQ(0, (long)ret);
	EXPECT_TRUE(domains_settle(_metadata, s));
	unmap(_metadata, s, IOVA_MIX, MIX_SIZE);
	EXPECT_TRUE(domains_ok(_metadata, s));
	for (i = 0; i < P2P_TI_COUNT; i++)
		EXPECT_EQ(-EFAULT, p2p_ti_dma_read(&s->t[i], IOVA_MIX + MIX_BAR, buf,
						   sizeof(buf)));
	ASSERT_EQ(0, vfio_p2p_sysfs_write("/sys/bus/pci/drivers_probe", bdf));
}

/* The same container, with only the first test client attached at first. */
FIXTURE(late) {
	struct md s;
};

FIXTURE_VARIANT(late) {
	int iommu_type;
};

#define VFIO_P2P_MODES_FIXTURE late
#define VFIO_P2P_MODES_NO_TYPE1
#include "vfio_p2p_iommu_modes.h"

FIXTURE_SETUP(late)
{
	md_setup(_metadata, &self->s, 1, variant->iommu_type);
}

FIXTURE_TEARDOWN(late)
{
	md_teardown(&self->s);
}

/* A domain attached while links are live maps them. */
TEST_F_TIMEOUT(late, attach_while_live, 120)
{
	struct md *s = &self->s;
	uint32_t seed = vfio_p2p_seed();

	map_bar(_metadata, s);
	map_mix(_metadata, s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	ASSERT_EQ(0, p2p_ti_open(&s->t[1], 1, s->c.container));
	ASSERT_TRUE(domains_ok(_metadata, s));
	ASSERT_EQ(0, p2p_ti_dma_write_pattern(&s->t[1], IOVA_BAR + OFF, 64, seed));
	ASSERT_TRUE(pattern_at(s->bar + OFF, 64, seed));
	unmap(_metadata, s, IOVA_MIX, MIX_SIZE);
	unmap(_metadata, s, IOVA_BAR, s->c.bar2.size);
	ASSERT_TRUE(domains_ok(_metadata, s));
}

/*
 * Attaching a domain fails in the replay of RAM, then at a live link:
 * each time the failed domain is freed empty, nothing stays pinned, and the
 * links live on in the other domains; a third attach succeeds.
 */
TEST_F_TIMEOUT(late, failed_attach_leaves_nothing, 120)
{
	struct md *s = &self->s;
	uint32_t seed = vfio_p2p_seed();
	uint64_t freed0;
	long locked;

	map_bar(_metadata, s);
	map_mix(_metadata, s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	locked = vfio_p2p_locked_kib();
	/* iommufd charges a process with CAP_IPC_LOCK (root) nothing. */
	ASSERT_LE(s->iommu_type == VFIO_P2P_IOMMUFD ? 0 : 1, locked);
	freed0 = ti_stat(_metadata, 1, "freed_mapped_pages");

	ASSERT_EQ(0, p2p_ti_fail_map_at(1, 1, VFIO_P2P_IOVA_RAM));
	EXPECT_EQ(-ENOMEM, p2p_ti_open(&s->t[1], 1, s->c.container));
	p2p_ti_close(&s->t[1]);
	ASSERT_EQ(0, p2p_ti_fail_map_at(1, 1, IOVA_MIX + MIX_BAR + MIX_RAM));
	EXPECT_EQ(-ENOMEM, p2p_ti_open(&s->t[1], 1, s->c.container));
	p2p_ti_close(&s->t[1]);
	ASSERT_EQ(0, p2p_ti_fail_map(1, 0));
	EXPECT_EQ(freed0, ti_stat(_metadata, 1, "freed_mapped_pages"))
		TH_LOG("a failed attach freed its domain with entries mapped");
	EXPECT_EQ(locked, vfio_p2p_locked_kib());
	ASSERT_TRUE(domains_ok(_metadata, s));
	ASSERT_EQ(0, p2p_ti_dma_write_pattern(&s->t[0], IOVA_BAR + OFF, 64, seed));
	ASSERT_TRUE(pattern_at(s->bar + OFF, 64, seed));

	ASSERT_EQ(0, p2p_ti_open(&s->t[1], 1, s->c.container));
	ASSERT_TRUE(domains_ok(_metadata, s));
	EXPECT_EQ(locked, vfio_p2p_locked_kib());
	ASSERT_EQ(0, p2p_ti_dma_write_pattern(&s->t[1], IOVA_MIX + 0x1000, 64, seed + 1));
	ASSERT_TRUE(pattern_at(s->bar + MIX_OFF0 + 0x1000, 64, seed + 1));
	decode(_metadata, s, false);
	ASSERT_TRUE(domains_ok(_metadata, s));
	decode(_metadata, s, true);
	ASSERT_TRUE(domains_ok(_metadata, s));
	unmap(_metadata, s, IOVA_MIX, MIX_SIZE);
	unmap(_metadata, s, IOVA_BAR, s->c.bar2.size);
	ASSERT_TRUE(domains_ok(_metadata, s));
}

/*
 * A domain that leaves the IOAS (its only device closes, its HWPT goes)
 * has its live links unmapped first, as iommufd unmaps every RAM area
 * from it: it is freed with nothing mapped.  A revoked link is a hole
 * there, which the strict domain's unmap would WARN at, and is skipped;
 * the restore that follows maps only the domains still in the IOAS.
 * type1 frees a domain that is not its last with whatever it maps, RAM
 * too, as upstream does: there only the WARN-free detach is checked.
 */
TEST_F_TIMEOUT(late, detach_unmaps_links, 120)
{
	struct md *s = &self->s;
	uint32_t seed = vfio_p2p_seed();
	bool fd = s->iommu_type == VFIO_P2P_IOMMUFD;
	uint64_t freed0;

	map_bar(_metadata, s);
	map_mix(_metadata, s);
	freed0 = ti_stat(_metadata, 1, "freed_mapped_pages");
	ASSERT_EQ(0, p2p_ti_open(&s->t[1], 1, s->c.container));
	ASSERT_TRUE(domains_ok(_metadata, s));
	p2p_ti_close(&s->t[1]);
	if (fd)
		EXPECT_EQ(freed0, ti_stat(_metadata, 1, "freed_mapped_pages"))
			TH_LOG("a domain left the IOAS with device memory mapped");

	ASSERT_EQ(0, p2p_ti_open(&s->t[1], 1, s->c.container));
	ASSERT_TRUE(domains_ok(_metadata, s));
	decode(_metadata, s, false);
	p2p_ti_close(&s->t[1]);
	if (fd)
		EXPECT_EQ(freed0, ti_stat(_metadata, 1, "freed_mapped_pages"));
	decode(_metadata, s, true);
	ASSERT_TRUE(domains_ok(_metadata, s));
	ASSERT_EQ(0, p2p_ti_dma_write_pattern(&s->t[0], IOVA_BAR + OFF, 64, seed));
	ASSERT_TRUE(pattern_at(s->bar + OFF, 64, seed));
	unmap(_metadata, s, IOVA_MIX, MIX_SIZE);
	unmap(_metadata, s, IOVA_BAR, s->c.bar2.size);
	ASSERT_TRUE(domains_ok(_metadata, s));
}

/* A domain attached while links are revoked maps them only at decode on. */
TEST_F_TIMEOUT(late, attach_while_revoked, 120)
{
	struct md *s = &self->s;
	uint32_t seed = vfio_p2p_seed();

	map_mix(_metadata, s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	decode(_metadata, s, false);
	ASSERT_TRUE(domains_ok(_metadata, s));
	ASSERT_EQ(0, p2p_ti_open(&s->t[1], 1, s->c.container));
	ASSERT_TRUE(domains_ok(_metadata, s));
	ASSERT_EQ(-EFAULT, p2p_ti_dma_write_pattern(&s->t[1], IOVA_MIX + 0x1000, 64, seed));
	decode(_metadata, s, true);
	ASSERT_TRUE(domains_ok(_metadata, s));
	ASSERT_EQ(0, p2p_ti_dma_write_pattern(&s->t[1], IOVA_MIX + 0x1000, 64, seed));
	ASSERT_TRUE(pattern_at(s->bar + MIX_OFF0 + 0x1000, 64, seed));
	unmap(_metadata, s, IOVA_MIX, MIX_SIZE);
	ASSERT_TRUE(domains_ok(_metadata, s));
}

TEST_HARNESS_MAIN
