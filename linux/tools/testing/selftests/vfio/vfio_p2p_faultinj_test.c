// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_p2p_faultinj_test: every P2P path, with each allocation and each
 * IOMMU map call on it failed in turn.
 *
 * Systematic fault injection, the way syzkaller does it: for an operation
 * and N = 1, 2, ..., write N to /proc/thread-self/fail-nth, do the
 * operation, and read fail-nth back.  0 means the Nth site the task reached
 * failed; still armed means the operation reached fewer than N sites, and
 * the loop for that operation ends.  A site is any should_fail() the task
 * reaches with fail-nth armed: every slab allocation (failslab) and page
 * allocation (fail_page_alloc, from order 0: intel-iommu's page tables) that
 * may sleep or not, and every map call of the test IOMMU (a site of its
 * own: p2p_ti_fail_nth_here() in drivers/vfio/p2p_test_iommu.c; not
 * fail_function, whose kprobe fail-nth does not count on x86).  Fault
 * injection stays off for every other task: the probability of each
 * capability is 0, so only fail-nth fails anything, and verbose is 0, so a
 * failure prints nothing the rig would take for a kernel report.
 *
 * Each path runs in two IOMMU modes (vfio_p2p_iommu_modes.h; type1 (v1) is
 * left out: these paths map a BAR as type1v2 does).  A type1v2 container,
 * or an iommufd with one IOAS (the devices' cdevs bound and attached to
 * it), holds edu and the ivshmem peer (Intel IOMMU) and the test IOMMU's
 * clients (one strict domain, or hwpt, per instance, read back through
 * debugfs).  After each injected failure:
 *  - the call failed with an errno of the documented set (ENOMEM, or what
 *    the path turns an allocation failure into; over iommufd also EINVAL,
 *    which iommufd's own CONFIG_IOMMUFD_TEST failure points, sites here
 *    like any other, return), or it succeeded because the
 *    failure was absorbed (kmemleak's and debugobjects' pools, a fallback),
 *    and then it must have done all its work;
 *  - every test-IOMMU domain maps exactly what the user was told is mapped
 *    (a failed MAP_DMA: nothing of it), and UNMAP_DMA of the range returns
 *    exactly what the MAP_DMA reported (after a failed IOMMU_IOAS_MAP,
 *    IOMMU_IOAS_UNMAP of the range finds nothing: ENOENT);
 *  - the same operation without injection then succeeds and a device's DMA
 *    lands where it must.
 * The paths, in both modes: MAP_DMA (IOMMU_IOAS_MAP) of a BAR; one of
 * [BAR][RAM][BAR]; attach of a second test-IOMMU domain while links are
 * live (VFIO_GROUP_SET_CONTAINER; VFIO_DEVICE_ATTACH_IOMMUFD_PT of a bound
 * cdev, which makes a second hwpt); the restore at decode on (ENABLE; a
 * failed restore leaves each link revoked in every domain, and the next
 * UNMAP_DMA or IOMMU_IOAS_UNMAP maps it again); the teardown at the peer's
 * last close (RELEASE: over iommufd the close of its cdev, which unbinds
 * it too).  In type1v2 only, the peer's first open
 * (VFIO_GROUP_GET_DEVICE_FD) and mmap of the BAR, which no IOMMU mode
 * changes.  Last, in each mode, the peer's unbind from vfio-pci must
 * complete (no reference leaked by a failed path), and the number of sites
 * reached is reported per path and mode, and in all.  The rig's kmemleak
 * scan and report check after the run judge the rest (rig/guest/init,
 * rig/summary.py).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include "vfio_p2p_util.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_test_iommu.h"

#define PG		4096UL
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
/* A slice of BAR2, so that each pass is cheap. */
#define IOVA_BAR	0x40000000ULL
#define BAR_OFF		0xb00000UL
#define BAR_LEN		0x10000UL
/* [BAR part][RAM][BAR part] */
#define IOVA_MIX	0x80000000ULL
#define MIX_PART	0x4000UL
#define MIX_SIZE	(3 * MIX_PART)
#define MIX_OFF0	0x400000UL
#define MIX_OFF1	0x600000UL
#define MAX_SITES	4000
#define MAX_PTES	1024
#define DBG		"/sys/kernel/debug"
#define UNSAFE_IRQS	"/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"
#define SITES_FILE	"/tmp/vfio_p2p_faultinj.sites"

/* One range a domain must map: BAR (pfn != 0) or RAM (pinned at @vaddr). */
struct want {
	uint64_t iova;
	uint64_t len;
	uint64_t pfn;
	const uint8_t *vaddr;
	bool live;
};

/* What the loop of one path saw. */
struct tally {
	unsigned int sites;	/* reached: each failed once */
	unsigned int failed;	/* ... and the call returned an error */
	unsigned int absorbed;	/* ... and the call still succeeded */
	int err[8], nerr[8];	/* errnos seen, and how often */
};

struct fi {
	struct vfio_p2p_ctx c;
	bool ifd;		/* the iommufd mode: c.container is an iommufd */
	uint32_t ioas;		/* ... and its IOAS */
	const char *mode;	/* "type1v2" or "iommufd" */
	struct p2p_ti_dev t[P2P_TI_COUNT];
	uint64_t bar_pfn;
	uint8_t *slice;		/* BAR_LEN bytes of BAR2 at BAR_OFF */
	uint8_t *mix;		/* MIX_SIZE bytes of address space */
	struct want w[8];
	int nw;
	int nth;		/* /proc/thread-self/fail-nth */
	struct tally tl;
};

static struct p2p_ti_pte got[MAX_PTES], exp_ptes[MAX_PTES];

/* The debugfs knobs we set, and what they are set back to after a test. */
static const struct knob {
	const char *path, *on, *off;
} knobs[] = {
	{ DBG "/failslab/ignore-gfp-wait", "N", "Y" },
	{ DBG "/failslab/verbose", "0", "2" },
	{ DBG "/fail_page_alloc/ignore-gfp-wait", "N", "Y" },
	{ DBG "/fail_page_alloc/ignore-gfp-highmem", "N", "Y" },
	{ DBG "/fail_page_alloc/min-order", "0", "1" },
	{ DBG "/fail_page_alloc/verbose", "0", "2" },
	/* iommufd's own points (CONFIG_IOMMUFD_TEST), where it has them */
	{ DBG "/fail_iommufd/verbose", "0", "2" },
};

static const char * const zero_probability[] = {
	DBG "/failslab/probability",
	DBG "/fail_page_alloc/probability",
	DBG "/fail_iommufd/probability",
};

static void fi_knobs(bool on)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(knobs); i++)
		vfio_p2p_sysfs_write(knobs[i].path, on ? knobs[i].on : knobs[i].off);
}

/* [start, end) of the kernel function @name, from /proc/kallsyms. */
static bool sym_range(const char *name, unsigned long *start, unsigned long *end)
{
	unsigned long addr, next = ~0UL;
	char line[256], sym[128], type;
	FILE *f = fopen("/proc/kallsyms", "r");

	*start = 0;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx %c %127s", &addr, &type, sym) == 3 &&
		    !strcmp(sym, name)) {
			*start = addr;
			break;
		}
	rewind(f);
	while (*start && fgets(line, sizeof(line), f)) {
		addr = strtoul(line, NULL, 16);
		if (addr > *start && addr < next)
			next = addr;
	}
	fclose(f);
	*end = next;
	return *start && next != ~0UL;
}

/*
 * Keep fail-nth out of iommu_device_release_dma_owner(): when an iommufd
 * cdev closes, it puts the group's default domain back and WARNs if that
 * fails (iommu core's "must succeed"), which the intel driver's attach
 * can under injection.  No P2P path is in it; the sites in it are not
 * counted either.  Needs CONFIG_FAULT_INJECTION_STACKTRACE_FILTER.
 */
static bool fi_reject(bool on)
{
	static const char * const attrs[] = { "failslab", "fail_page_alloc", "fail_iommufd" };
	static unsigned long start, end;
	char path[96], val[24];
	bool ok = true;
	size_t i;

	if (on && !start && !sym_range("iommu_device_release_dma_owner", &start, &end))
		return false;
	for (i = 0; i < ARRAY_SIZE(attrs); i++) {
		snprintf(path, sizeof(path), DBG "/%s/reject-end", attrs[i]);
		snprintf(val, sizeof(val), "%#lx", on ? end : 0);
		ok &= !vfio_p2p_sysfs_write(path, val) || i == 2;
		snprintf(path, sizeof(path), DBG "/%s/reject-start", attrs[i]);
		snprintf(val, sizeof(val), "%#lx", on ? start : 0);
		ok &= !vfio_p2p_sysfs_write(path, val) || i == 2;
	}
	return ok;
}

/* Set fault injection up: "" or why it cannot be. */
static const char *fi_setup(struct fi *s)
{
	char buf[32];
	size_t i;

	s->nth = open("/proc/thread-self/fail-nth", O_RDWR);
	if (s->nth < 0)
		return "no /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION)";
	if (access(DBG "/failslab", F_OK) || access(DBG "/fail_page_alloc", F_OK))
		return "no failslab or fail_page_alloc in debugfs";
	for (i = 0; i < ARRAY_SIZE(zero_probability); i++) {
		int ret = vfio_p2p_sysfs_read(zero_probability[i], buf, sizeof(buf));

		/* fail_iommufd exists only with CONFIG_IOMMUFD_TEST. */
		if ((ret && i < 2) || (!ret && atoi(buf)))
			return "a fault-injection probability is not 0";
	}
	fi_knobs(true);
	if (!fi_reject(true))
		return "no fault-injection reject-start (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER)";
	return "";
}

/* Arm: fail the @n-th site from now on. */
static void nth_arm(struct fi *s, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (pwrite(s->nth, buf, len, 0) != len)
		abort();
}

/* Disarm; was the armed site reached (and failed)? */
static bool nth_fired(struct fi *s)
{
	char buf[16] = "";
	ssize_t n = pread(s->nth, buf, sizeof(buf) - 1, 0);

	if (n <= 0 || pwrite(s->nth, "0", 1, 0) != 1)
		abort();
	return strtoul(buf, NULL, 10) == 0;
}

static void tally_err(struct tally *t, int err)
{
	int i;

	for (i = 0; i < 8; i++) {
		if (!t->nerr[i])
			t->err[i] = err;
		if (t->err[i] == err) {
			t->nerr[i]++;
			return;
		}
	}
}

/*
 * What a failing path may return for a failed allocation or map call; over
 * iommufd also what its own failure points return: EINVAL (the xarray of
 * pinned pfns and the reserved regions of an attach, in pages.c and
 * io_pagetable.c) and ENOENT (the object lookup of every ioctl, in main.c).
 */
static bool errno_ok(const struct fi *s, int err)
{
	return err == ENOMEM || err == EFAULT || err == EAGAIN ||
	       (s->ifd && (err == EINVAL || err == ENOENT));
}

/* What UNMAP of a range with nothing mapped returns. */
static int64_t unmapped_nothing(const struct fi *s)
{
	return s->ifd ? -ENOENT : 0;
}

static void tally_report(struct __test_metadata *_metadata, const struct fi *s,
			 const char *path, const struct tally *t)
{
	char errs[128] = "";
	size_t n = 0;
	FILE *f;
	int i;

	for (i = 0; i < 8 && t->nerr[i]; i++)
		n += snprintf(errs + n, sizeof(errs) - n, "%s%s %d", i ? ", " : "",
			      strerror(t->err[i]), t->nerr[i]);
	printf("# faultinj: %s: %s: %u sites reached; %u failed the call (%s), %u absorbed\n",
	       s->mode, path, t->sites, t->failed, n ? errs : "none", t->absorbed);
	f = fopen(SITES_FILE, "a");
	if (f) {
		fprintf(f, "%u %s %s\n", t->sites, s->mode, path);
		fclose(f);
	}
}

static void want_add(struct fi *s, uint64_t iova, uint64_t len, uint64_t pfn,
		     const uint8_t *vaddr)
{
	s->w[s->nw++] = (struct want){ iova, len, pfn, vaddr, true };
}

static void want_del(struct fi *s, uint64_t iova, uint64_t len)
{
	int i, j = 0;

	for (i = 0; i < s->nw; i++)
		if (s->w[i].iova < iova || s->w[i].iova >= iova + len)
			s->w[j++] = s->w[i];
	s->nw = j;
}

static void links_live(struct fi *s, bool live)
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

/*
 * Does the domain of @inst map exactly what @s says?  Logs the first miss
 * (as vfio_p2p_multidomain_test does).
 */
static bool domain_ok(struct __test_metadata *_metadata, struct fi *s, int inst,
		      bool quiet)
{
	unsigned int domain;
	long n, ne = 0, i;
	uint64_t off;
	int k;

	n = p2p_ti_mappings(inst, got, MAX_PTES, &domain);
	if (n < 0 || !domain) {
		if (quiet)
			return false;
		TH_LOG("instance %d: no mappings to read: %s", inst,
		       n < 0 ? strerror(-n) : "no domain");
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
		else
			TH_LOG("instance %d domain %u: IOVA %#llx: want pfn %#llx",
			       inst, domain, (unsigned long long)exp_ptes[i].iova,
			       (unsigned long long)exp_ptes[i].pfn);
		TH_LOG("instance %d domain %u: %ld entries mapped, %ld expected",
		       inst, domain, n, ne);
		return false;
	}
	return true;
}

static bool domains_ok(struct __test_metadata *_metadata, struct fi *s)
{
	bool ok = true;
	int i;

	for (i = 0; i < P2P_TI_COUNT; i++)
		if (s->t[i].dev.fd >= 0)
			ok &= domain_ok(_metadata, s, i, false);
	return ok;
}

/* The same, allowing 2 s for an asynchronous teardown. */
static bool domains_settle(struct __test_metadata *_metadata, struct fi *s)
{
	int tries;

	for (tries = 0; tries < 20; tries++) {
		bool ok = true;
		int i;

		for (i = 0; i < P2P_TI_COUNT; i++) {
			if (s->t[i].dev.fd < 0)
				continue;
			ok &= domain_ok(_metadata, s, i, true);
		}
		if (ok)
			return true;
		usleep(100000);
	}
	return domains_ok(_metadata, s);
}

static bool pattern_at(const uint8_t *p, uint32_t len, uint32_t pattern)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (uint8_t)(pattern >> (8 * (i % 4))))
			return false;
	return true;
}

/* A test client's DMA to @iova lands at @where (a BAR mmap). */
static bool dma_lands(struct fi *s, int inst, uint64_t iova, const uint8_t *where)
{
	uint32_t seed = vfio_p2p_seed();

	return !p2p_ti_dma_write_pattern(&s->t[inst], iova, 64, seed) &&
	       pattern_at(where, 64, seed);
}

static void fi_setup_ctx(struct __test_metadata *_metadata, struct fi *s,
			 int nattach, int iommu_type)
{
	struct vfio_p2p_ctx *c = &s->c;
	const char *what;
	int i, ret;
	void *p;

	memset(&s->tl, 0, sizeof(s->tl));
	s->nth = -1;
	for (i = 0; i < P2P_TI_COUNT; i++)
		p2p_ti_init(&s->t[i]);
	s->slice = MAP_FAILED;
	s->mix = MAP_FAILED;
	s->nw = 0;
	s->ifd = iommu_type == VFIO_P2P_IOMMUFD;
	s->mode = s->ifd ? "iommufd" : "type1v2";
	vfio_p2p_ctx_init(c);
	what = fi_setup(s);
	if (*what)
		SKIP(return, "%s", what);
	ret = vfio_p2p_ctx_open_wait(c, iommu_type, &what, 20);
	if (ret == -ENODEV || ret == -EOPNOTSUPP)
		SKIP(return, "%s: %s", what, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", what, strerror(-ret));
	ASSERT_EQ(s->ifd, vfio_p2p_iommufd_ioas(c->container, &s->ioas));
	for (i = 0; i < P2P_TI_COUNT; i++)
		if (p2p_ti_present(i))
			SKIP(return, "no test IOMMU instance %d", i);
	s->bar_pfn = vfio_p2p_bar_phys(c->shm.bdf, IVSHMEM_BAR) / PG;
	ASSERT_NE(0, s->bar_pfn);
	ASSERT_LE(MIX_OFF1 + MIX_PART, c->bar2.size);
	ASSERT_NE(0, vfio_p2p_pagemap_pfn(c->ram));
	want_add(s, VFIO_P2P_IOVA_RAM, VFIO_P2P_RAM_SIZE, 0, c->ram);
	for (i = 0; i < nattach; i++) {
		ret = p2p_ti_open(&s->t[i], i, c->container);
		ASSERT_EQ(0, ret) TH_LOG("attach test client %d: %s", i, strerror(-ret));
	}
	s->slice = vfio_p2p_region_mmap(&c->shm, &c->bar2, BAR_OFF, BAR_LEN,
					PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, s->slice);
	s->mix = mmap(NULL, MIX_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, s->mix);
	p = mmap(s->mix, MIX_PART, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 c->shm.fd, c->bar2.offset + MIX_OFF0);
	ASSERT_EQ(s->mix, p);
	p = mmap(s->mix + MIX_PART, MIX_PART, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(s->mix + MIX_PART, p);
	memset(s->mix + MIX_PART, 0x5a, MIX_PART);
	p = mmap(s->mix + 2 * MIX_PART, MIX_PART, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, c->shm.fd, c->bar2.offset + MIX_OFF1);
	ASSERT_EQ(s->mix + 2 * MIX_PART, p);
	ASSERT_TRUE(domains_ok(_metadata, s));
}

static void fi_teardown(struct fi *s)
{
	int i;

	if (s->nth >= 0) {
		pwrite(s->nth, "0", 1, 0);
		close(s->nth);
		fi_knobs(false);
		fi_reject(false);
	}
	for (i = 0; i < P2P_TI_COUNT; i++)
		p2p_ti_close(&s->t[i]);
	if (s->mix != MAP_FAILED)
		munmap(s->mix, MIX_SIZE);
	if (s->slice != MAP_FAILED)
		munmap(s->slice, BAR_LEN);
	vfio_p2p_ctx_close(&s->c);
}

static void want_bar(struct fi *s)
{
	want_add(s, IOVA_BAR, BAR_LEN, s->bar_pfn + BAR_OFF / PG, NULL);
}

static void want_mix(struct fi *s)
{
	want_add(s, IOVA_MIX, MIX_PART, s->bar_pfn + MIX_OFF0 / PG, NULL);
	want_add(s, IOVA_MIX + MIX_PART, MIX_PART, 0, s->mix + MIX_PART);
	want_add(s, IOVA_MIX + 2 * MIX_PART, MIX_PART, s->bar_pfn + MIX_OFF1 / PG, NULL);
}

/* Count one reached site; the call's result must be a clean one. */
static void tally_site(struct __test_metadata *_metadata, struct fi *s,
		       unsigned int n, int ret)
{
	struct tally *t = &s->tl;

	t->sites++;
	if (ret) {
		t->failed++;
		tally_err(t, -ret);
		EXPECT_TRUE(errno_ok(s, -ret))
			TH_LOG("site %u: the call failed with %s", n, strerror(-ret));
	} else {
		t->absorbed++;
	}
}

/*
 * A mapping of @len bytes at @vaddr to @iova that MAP_DMA reported: each
 * domain maps it, a DMA from each test domain lands at @iova + @dma_off,
 * and UNMAP_DMA returns all of it.
 */
static void map_works(struct __test_metadata *_metadata, struct fi *s, void *vaddr,
		      uint64_t iova, uint64_t len, void (*want)(struct fi *s),
		      uint64_t dma_off, const char *path, unsigned int n)
{
	int i;

	want(s);
	ASSERT_TRUE(domains_ok(_metadata, s)) TH_LOG("%s: site %u", path, n);
	for (i = 0; i < P2P_TI_COUNT; i++)
		ASSERT_TRUE(dma_lands(s, i, iova + dma_off, (uint8_t *)vaddr + dma_off))
			TH_LOG("%s: site %u: test client %d's DMA", path, n, i);
	ASSERT_EQ((int64_t)len, vfio_p2p_unmap(s->c.container, iova, len, 0))
		TH_LOG("%s: site %u", path, n);
	want_del(s, iova, len);
	ASSERT_TRUE(domains_ok(_metadata, s)) TH_LOG("%s: site %u", path, n);
}

/*
 * MAP_DMA of @len bytes at @vaddr to @iova, each site failed in turn.  A
 * map that succeeded anyway must have mapped it all (map_works()).  After
 * a failed one, no domain maps any of it and UNMAP_DMA finds nothing; then
 * the same map without injection works.
 */
static void map_loop(struct __test_metadata *_metadata, struct fi *s, void *vaddr,
		     uint64_t iova, uint64_t len, void (*want)(struct fi *s),
		     uint64_t dma_off, const char *path)
{
	unsigned int n;
	bool fired;
	int ret;

	for (n = 1; n < MAX_SITES; n++) {
		nth_arm(s, n);
		ret = vfio_p2p_map(s->c.container, vaddr, iova, len, RW);
		fired = nth_fired(s);
		if (fired)
			tally_site(_metadata, s, n, ret);
		ASSERT_TRUE(fired || !ret) TH_LOG("%s: with no site failed: %s", path,
						  strerror(-ret));
		if (!ret) {
			map_works(_metadata, s, vaddr, iova, len, want, dma_off, path, n);
			if (!fired)
				break;
			continue;
		}
		ASSERT_TRUE(domains_ok(_metadata, s))
			TH_LOG("%s: site %u: left behind by a map that failed with %s",
			       path, n, strerror(-ret));
		ASSERT_EQ(unmapped_nothing(s), vfio_p2p_unmap(s->c.container, iova, len, 0))
			TH_LOG("%s: site %u: UNMAP_DMA after a map that failed with %s",
			       path, n, strerror(-ret));
		/* The next identical map succeeds. */
		ASSERT_EQ(0, vfio_p2p_map(s->c.container, vaddr, iova, len, RW))
			TH_LOG("%s: after site %u", path, n);
		map_works(_metadata, s, vaddr, iova, len, want, dma_off, path, n);
	}
	ASSERT_LT(n, MAX_SITES);
	tally_report(_metadata, s, path, &s->tl);
	ASSERT_LT(0, s->tl.sites) TH_LOG("%s: no site reached", path);
	/* edu's DMA through the Intel domain, once. */
	ASSERT_EQ(0, vfio_p2p_map(s->c.container, vaddr, iova, len, RW));
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(&s->c, iova + dma_off, 256, n));
	ASSERT_EQ(-1, vfio_p2p_check((uint8_t *)vaddr + dma_off, 256, n));
	ASSERT_EQ((int64_t)len, vfio_p2p_unmap(s->c.container, iova, len, 0));
	ASSERT_TRUE(domains_ok(_metadata, s));
}

FIXTURE(inj) {
	struct fi s;
};

FIXTURE_VARIANT(inj) {
	int iommu_type;
};

#define VFIO_P2P_MODES_FIXTURE inj
#define VFIO_P2P_MODES_NO_TYPE1
#include "vfio_p2p_iommu_modes.h"

FIXTURE_SETUP(inj)
{
	fi_setup_ctx(_metadata, &self->s, P2P_TI_COUNT, variant->iommu_type);
}

FIXTURE_TEARDOWN(inj)
{
	fi_teardown(&self->s);
}

/* The first test: a fresh count of sites. */
TEST(sites_reset)
{
	unlink(SITES_FILE);
	ASSERT_EQ(0, access("/proc/thread-self/fail-nth", F_OK))
		TH_LOG("the kernel has no CONFIG_FAULT_INJECTION");
}

TEST_F_TIMEOUT(inj, map_dma_bar, 300)
{
	map_loop(_metadata, &self->s, self->s.slice, IOVA_BAR, BAR_LEN, want_bar,
		 0x1800, self->s.ifd ? "IOMMU_IOAS_MAP of a BAR" : "MAP_DMA of a BAR");
}

TEST_F_TIMEOUT(inj, map_dma_bar_ram_bar, 300)
{
	/* The DMA crosses from the first BAR part into the RAM. */
	map_loop(_metadata, &self->s, self->s.mix, IOVA_MIX, MIX_SIZE, want_mix,
		 MIX_PART - 32, self->s.ifd ? "IOMMU_IOAS_MAP of [BAR][RAM][BAR]" :
					      "MAP_DMA of [BAR][RAM][BAR]");
}

FIXTURE(late) {
	struct fi s;
};

FIXTURE_VARIANT(late) {
	int iommu_type;
};

#define VFIO_P2P_MODES_FIXTURE late
#define VFIO_P2P_MODES_NO_TYPE1
#include "vfio_p2p_iommu_modes.h"

FIXTURE_SETUP(late)
{
	fi_setup_ctx(_metadata, &self->s, 1, variant->iommu_type);
}

FIXTURE_TEARDOWN(late)
{
	fi_teardown(&self->s);
}

/*
 * VFIO_GROUP_SET_CONTAINER of the second test client while the container
 * has live links: type1 makes its domain and replays RAM and links into it.
 * Over iommufd, VFIO_DEVICE_ATTACH_IOMMUFD_PT of the client's bound cdev
 * to the IOAS: iommufd makes a hwpt of the client's instance and fills it
 * (RAM, then the live links under the space lock).  A failed attach leaves
 * no domain with entries freed (freed_mapped_pages), nothing more pinned
 * (VmLck: type1's charge; iommufd charges the user, not the mm) and the
 * links live in the first domain.
 */
TEST_F_TIMEOUT(late, attach_with_live_links, 300)
{
	struct fi *s = &self->s;
	struct p2p_ti_dev *t = &s->t[1];
	uint64_t freed0, freed1;
	char path[64], old[8] = "N";
	int group, gfd, ret;
	unsigned int n;
	long locked;
	bool fired;

	ASSERT_EQ(0, vfio_p2p_map(s->c.container, s->slice, IOVA_BAR, BAR_LEN, RW));
	want_bar(s);
	ASSERT_EQ(0, vfio_p2p_map(s->c.container, s->mix, IOVA_MIX, MIX_SIZE, RW));
	want_mix(s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	locked = vfio_p2p_locked_kib();
	if (!s->ifd)
		ASSERT_LT(0, locked);
	group = p2p_ti_group(1);
	ASSERT_LE(0, group);
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	vfio_p2p_sysfs_read(UNSAFE_IRQS, old, sizeof(old));
	old[strcspn(old, "\n")] = '\0';
	ASSERT_EQ(0, vfio_p2p_sysfs_write(UNSAFE_IRQS, "Y"));

	for (n = 1; n < MAX_SITES; n++) {
		if (s->ifd) {
			gfd = -1;
			ASSERT_EQ(0, p2p_ti_bind(t, 1, s->c.container));
		} else {
			gfd = open(path, O_RDWR);
			ASSERT_LE(0, gfd);
		}
		ASSERT_EQ(0, p2p_ti_stat(1, "freed_mapped_pages", &freed0));
		nth_arm(s, n);
		if (s->ifd)
			ret = p2p_ti_attach(t, s->ioas);
		else
			ret = ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &s->c.container) ?
			      -errno : 0;
		fired = nth_fired(s);
		if (fired)
			tally_site(_metadata, s, n, ret);
		EXPECT_TRUE(fired || !ret) TH_LOG("attach with no site failed: %s",
						  strerror(-ret));
		if (!ret) {
			/* Attached: its domain maps everything. */
			EXPECT_TRUE(domain_ok(_metadata, s, 1, false))
				TH_LOG("site %u: attach succeeded", n);
		}
		if (s->ifd)
			p2p_ti_close(t);
		else
			close(gfd);
		ASSERT_EQ(0, p2p_ti_stat(1, "freed_mapped_pages", &freed1));
		if (ret)
			EXPECT_EQ(freed0, freed1)
				TH_LOG("site %u: a failed attach freed a domain with %llu entries",
				       n, (unsigned long long)(freed1 - freed0));
		EXPECT_EQ(locked, vfio_p2p_locked_kib()) TH_LOG("site %u", n);
		ASSERT_TRUE(domain_ok(_metadata, s, 0, false)) TH_LOG("site %u", n);
		if (!fired || _metadata->exit_code)
			break;
		/* Attached anyway: its domain's read-back above is the check. */
		if (!ret)
			continue;
		/* After a failed attach the next succeeds: DMA from it lands. */
		ASSERT_EQ(0, p2p_ti_open(t, 1, s->c.container));
		ASSERT_TRUE(domain_ok(_metadata, s, 1, false));
		ASSERT_TRUE(dma_lands(s, 1, IOVA_BAR + 0x800, s->slice + 0x800));
		ASSERT_TRUE(dma_lands(s, 1, IOVA_MIX + MIX_PART - 32,
				      s->mix + MIX_PART - 32));
		p2p_ti_close(t);
		ASSERT_EQ(0, vfio_p2p_sysfs_write(UNSAFE_IRQS, "Y"));
	}
	vfio_p2p_sysfs_write(UNSAFE_IRQS, old);
	ASSERT_LT(n, MAX_SITES);
	tally_report(_metadata, s, s->ifd ? "attach of a second hwpt with live links" :
					   "attach of a second domain with live links", &s->tl);
	ASSERT_LT(0, s->tl.sites);
	ASSERT_TRUE(dma_lands(s, 0, IOVA_BAR + 0x800, s->slice + 0x800));
	ASSERT_EQ((int64_t)BAR_LEN, vfio_p2p_unmap(s->c.container, IOVA_BAR, BAR_LEN, 0));
	ASSERT_EQ((int64_t)MIX_SIZE, vfio_p2p_unmap(s->c.container, IOVA_MIX, MIX_SIZE, 0));
}

/*
 * Which links does the domain of instance 0 map?  Each BAR range must be
 * mapped whole or not at all; sets its live flag from that.
 */
static bool links_from_domain(struct __test_metadata *_metadata, struct fi *s)
{
	unsigned int domain;
	long n, i;
	int k;

	n = p2p_ti_mappings(0, got, MAX_PTES, &domain);
	if (n < 0)
		return false;
	for (k = 0; k < s->nw; k++) {
		struct want *w = &s->w[k];
		uint64_t pages = 0;

		if (!w->pfn)
			continue;
		for (i = 0; i < n; i++)
			if (got[i].iova >= w->iova && got[i].iova < w->iova + w->len)
				pages++;
		if (pages && pages != w->len / PG) {
			TH_LOG("link at IOVA %#llx: %llu of its %llu pages mapped",
			       (unsigned long long)w->iova, (unsigned long long)pages,
			       (unsigned long long)(w->len / PG));
			return false;
		}
		w->live = pages;
	}
	return true;
}

/*
 * Decode on restores the revoked links (ENABLE), each map call and
 * allocation of it failed in turn.  The config write itself succeeds; a
 * link whose restore failed stays revoked in every domain (not mapped in
 * some), and the container's next UNMAP_DMA (IOMMU_IOAS_UNMAP), here of
 * nothing, maps it again.
 */
TEST_F_TIMEOUT(inj, enable_restore, 300)
{
	struct fi *s = &self->s;
	struct vfio_p2p_region cfg;
	unsigned int n, revoked = 0;
	uint16_t cmd;
	bool fired;
	int ret, k;

	ASSERT_EQ(0, vfio_p2p_map(s->c.container, s->slice, IOVA_BAR, BAR_LEN, RW));
	want_bar(s);
	ASSERT_EQ(0, vfio_p2p_map(s->c.container, s->mix, IOVA_MIX, MIX_SIZE, RW));
	want_mix(s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	ASSERT_EQ(0, vfio_p2p_region_info(&s->c.shm, VFIO_PCI_CONFIG_REGION_INDEX, &cfg));
	ASSERT_EQ(2, pread(s->c.shm.fd, &cmd, 2, cfg.offset + PCI_COMMAND));
	ASSERT_TRUE(cmd & PCI_COMMAND_MEMORY);

	for (n = 1; n < MAX_SITES; n++) {
		ASSERT_EQ(0, vfio_p2p_pci_command(&s->c.shm, 0, PCI_COMMAND_MEMORY));
		links_live(s, false);
		ASSERT_TRUE(domains_ok(_metadata, s));
		cmd |= PCI_COMMAND_MEMORY;
		nth_arm(s, n);
		ret = pwrite(s->c.shm.fd, &cmd, 2, cfg.offset + PCI_COMMAND) == 2 ? 0 : -errno;
		fired = nth_fired(s);
		if (fired)
			tally_site(_metadata, s, n, ret);
		ASSERT_TRUE(fired || !ret) TH_LOG("decode on with no site failed: %s",
						  strerror(-ret));
		if (ret) {
			/* The write failed: decode must be off, links revoked. */
			ASSERT_TRUE(domains_ok(_metadata, s));
			ASSERT_EQ(0, vfio_p2p_pci_command(&s->c.shm, PCI_COMMAND_MEMORY, 0));
		}
		ASSERT_TRUE(links_from_domain(_metadata, s)) TH_LOG("site %u", n);
		/* Every domain maps the same links. */
		ASSERT_TRUE(domains_ok(_metadata, s)) TH_LOG("site %u", n);
		for (k = 0; k < s->nw; k++)
			if (s->w[k].pfn && !s->w[k].live)
				break;
		if (k < s->nw) {
			revoked++;
			/* A DMA to a link left revoked faults. */
			ASSERT_EQ(-EFAULT, p2p_ti_dma_write_pattern(&s->t[1], s->w[k].iova,
								    16, 0));
			ASSERT_EQ(unmapped_nothing(s),
				  vfio_p2p_unmap(s->c.container, IOVA_MIX + MIX_SIZE, PG, 0));
			links_live(s, true);
			ASSERT_TRUE(domains_ok(_metadata, s))
				TH_LOG("site %u: UNMAP_DMA did not restore the links", n);
		}
		ASSERT_TRUE(dma_lands(s, 0, IOVA_BAR + 0x800, s->slice + 0x800));
		ASSERT_TRUE(dma_lands(s, 1, IOVA_MIX + 2 * MIX_PART + 0x100,
				      s->mix + 2 * MIX_PART + 0x100));
		if (!fired)
			break;
	}
	ASSERT_LT(n, MAX_SITES);
	printf("# faultinj: %s: ENABLE restore: %u passes left links revoked, %s\n",
	       s->mode, revoked, "restored by the next unmap");
	tally_report(_metadata, s, "ENABLE restore", &s->tl);
	ASSERT_LT(0, s->tl.sites);
	ASSERT_LT(0, revoked) TH_LOG("no failed restore seen");
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(&s->c, IOVA_BAR + 0x2000, 256, n));
	ASSERT_EQ(-1, vfio_p2p_check(s->slice + 0x2000, 256, n));
	ASSERT_EQ((int64_t)BAR_LEN, vfio_p2p_unmap(s->c.container, IOVA_BAR, BAR_LEN, 0));
	ASSERT_EQ((int64_t)MIX_SIZE, vfio_p2p_unmap(s->c.container, IOVA_MIX, MIX_SIZE, 0));
}

/* With the peer's device fd @fd: mmap the slice, map it, DMA lands. */
static void peer_use(struct __test_metadata *_metadata, struct fi *s, int fd)
{
	s->c.shm.fd = fd;
	s->slice = vfio_p2p_region_mmap(&s->c.shm, &s->c.bar2, BAR_OFF, BAR_LEN,
					PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, s->slice);
	ASSERT_EQ(0, vfio_p2p_map(s->c.container, s->slice, IOVA_BAR, BAR_LEN, RW));
	want_bar(s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	ASSERT_TRUE(dma_lands(s, 0, IOVA_BAR + 0x800, s->slice + 0x800));
}

/*
 * Open the peer's device fd again (iommufd: its cdev, bound and attached
 * to the IOAS again), and peer_use() it.
 */
static void peer_reopen_map(struct __test_metadata *_metadata, struct fi *s)
{
	int fd;

	fd = vfio_p2p_dev_reopen(&s->c.shm);
	ASSERT_LE(0, fd) TH_LOG("reopening the peer: %s", strerror(-fd));
	peer_use(_metadata, s, fd);
}

/* The peer's mmaps and, last, its fd go. */
static void peer_drop_maps(struct fi *s)
{
	if (s->mix != MAP_FAILED) {
		munmap(s->mix, MIX_SIZE);
		s->mix = MAP_FAILED;
	}
	if (s->slice != MAP_FAILED) {
		munmap(s->slice, BAR_LEN);
		s->slice = MAP_FAILED;
	}
}

/*
 * The peer's last close (RELEASE; over iommufd the close of its cdev, which
 * also unbinds it from the iommufd) tears its links down, each site of the
 * close failed in turn: the links go from every domain, UNMAP_DMA still
 * returns what MAP_DMA reported, and the peer opens and maps again.
 */
TEST_F_TIMEOUT(inj, release_teardown, 300)
{
	struct fi *s = &self->s;
	unsigned int n;
	bool fired;
	int ret;

	peer_drop_maps(s);
	close(s->c.shm.fd);
	s->c.shm.fd = -1;
	for (n = 1; n < MAX_SITES; n++) {
		peer_reopen_map(_metadata, s);
		peer_drop_maps(s);
		nth_arm(s, n);
		ret = close(s->c.shm.fd) ? -errno : 0;
		fired = nth_fired(s);
		s->c.shm.fd = -1;
		ASSERT_EQ(0, ret);
		if (fired)
			tally_site(_metadata, s, n, ret);
		links_live(s, false);
		ASSERT_TRUE(domains_settle(_metadata, s)) TH_LOG("site %u", n);
		ASSERT_EQ((int64_t)BAR_LEN, vfio_p2p_unmap(s->c.container, IOVA_BAR,
							   BAR_LEN, 0));
		want_del(s, IOVA_BAR, BAR_LEN);
		if (!fired)
			break;
	}
	ASSERT_LT(n, MAX_SITES);
	tally_report(_metadata, s, "RELEASE teardown", &s->tl);
	/* The peer comes back whole. */
	peer_reopen_map(_metadata, s);
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(&s->c, IOVA_BAR + 0x2000, 256, n));
	ASSERT_EQ(-1, vfio_p2p_check(s->slice + 0x2000, 256, n));
	ASSERT_EQ((int64_t)BAR_LEN, vfio_p2p_unmap(s->c.container, IOVA_BAR, BAR_LEN, 0));
}

/* The lowest free fd: a failed open must not have taken one. */
static int lowest_fd(void)
{
	int fd = dup(0);

	close(fd);
	return fd;
}

/* The paths no IOMMU mode changes: type1v2 only. */
FIXTURE(peer) {
	struct fi s;
};

FIXTURE_SETUP(peer)
{
	fi_setup_ctx(_metadata, &self->s, P2P_TI_COUNT, VFIO_TYPE1v2_IOMMU);
}

FIXTURE_TEARDOWN(peer)
{
	fi_teardown(&self->s);
}

/*
 * The peer's first open (VFIO_GROUP_GET_DEVICE_FD: vfio-pci enables the
 * device), each site failed in turn: no fd, and the next open works, down
 * to a P2P DMA into its BAR.
 */
TEST_F_TIMEOUT(peer, device_open, 300)
{
	struct fi *s = &self->s;
	unsigned int n;
	int fd, low, err;
	bool fired;

	peer_drop_maps(s);
	close(s->c.shm.fd);
	s->c.shm.fd = -1;
	for (n = 1; n < MAX_SITES; n++) {
		low = lowest_fd();
		nth_arm(s, n);
		fd = ioctl(s->c.shm.group_fd, VFIO_GROUP_GET_DEVICE_FD, s->c.shm.bdf);
		err = fd < 0 ? errno : 0;
		fired = nth_fired(s);
		if (fired)
			tally_site(_metadata, s, n, -err);
		ASSERT_TRUE(fired || fd >= 0) TH_LOG("open with no site failed: %s",
						     strerror(err));
		if (fd >= 0) {
			/* Opened anyway: the device does P2P. */
			peer_use(_metadata, s, fd);
		} else {
			ASSERT_EQ(low, lowest_fd()) TH_LOG("site %u: a failed open left an fd", n);
			/* The next open succeeds, and the device does P2P. */
			peer_reopen_map(_metadata, s);
		}
		peer_drop_maps(s);
		ASSERT_EQ((int64_t)BAR_LEN, vfio_p2p_unmap(s->c.container, IOVA_BAR,
							   BAR_LEN, 0));
		want_del(s, IOVA_BAR, BAR_LEN);
		close(s->c.shm.fd);
		s->c.shm.fd = -1;
		if (!fired)
			break;
	}
	ASSERT_LT(n, MAX_SITES);
	tally_report(_metadata, s, "device open", &s->tl);
	ASSERT_LT(0, s->tl.sites);
	peer_reopen_map(_metadata, s);
	ASSERT_EQ((int64_t)BAR_LEN, vfio_p2p_unmap(s->c.container, IOVA_BAR, BAR_LEN, 0));
}

/* Lines of /proc/self/maps: a failed mmap must not have left a VMA. */
static int nr_vmas(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/*
 * mmap of the BAR slice, each site failed in turn: MAP_FAILED with no VMA
 * left, and the next mmap works, down to a P2P DMA into it.
 */
TEST_F_TIMEOUT(peer, mmap_bar, 300)
{
	struct fi *s = &self->s;
	unsigned int n;
	int vmas, ret;
	bool fired;
	void *p;

	peer_drop_maps(s);
	for (n = 1; n < MAX_SITES; n++) {
		vmas = nr_vmas();
		nth_arm(s, n);
		p = mmap(NULL, BAR_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, s->c.shm.fd,
			 s->c.bar2.offset + BAR_OFF);
		ret = p == MAP_FAILED ? -errno : 0;
		fired = nth_fired(s);
		if (fired)
			tally_site(_metadata, s, n, ret);
		ASSERT_TRUE(fired || !ret) TH_LOG("mmap with no site failed: %s",
						  strerror(-ret));
		if (ret) {
			ASSERT_EQ(vmas, nr_vmas()) TH_LOG("site %u: a failed mmap left a VMA", n);
			p = vfio_p2p_region_mmap(&s->c.shm, &s->c.bar2, BAR_OFF, BAR_LEN,
						 PROT_READ | PROT_WRITE);
			ASSERT_NE(MAP_FAILED, p) TH_LOG("after site %u", n);
		}
		/* What was mapped is the BAR, and P2P works through it. */
		s->slice = p;
		ASSERT_EQ(0, vfio_p2p_map(s->c.container, s->slice, IOVA_BAR, BAR_LEN, RW));
		want_bar(s);
		ASSERT_TRUE(domains_ok(_metadata, s));
		ASSERT_TRUE(dma_lands(s, 0, IOVA_BAR + 0x800, s->slice + 0x800));
		ASSERT_EQ((int64_t)BAR_LEN, vfio_p2p_unmap(s->c.container, IOVA_BAR,
							   BAR_LEN, 0));
		want_del(s, IOVA_BAR, BAR_LEN);
		peer_drop_maps(s);
		if (!fired)
			break;
	}
	ASSERT_LT(n, MAX_SITES);
	tally_report(_metadata, s, "mmap of a BAR", &s->tl);
	ASSERT_LT(0, s->tl.sites);
}

static void *unbind_thread(void *arg)
{
	return (void *)(long)vfio_p2p_sysfs_write("/sys/bus/pci/drivers/vfio-pci/unbind",
						  arg);
}

/* Runs after every other fixture's tests: the harness runs them in order. */
FIXTURE(last) {
	struct fi s;
};

FIXTURE_VARIANT(last) {
	int iommu_type;
};

#define VFIO_P2P_MODES_FIXTURE last
#define VFIO_P2P_MODES_NO_TYPE1
#include "vfio_p2p_iommu_modes.h"

FIXTURE_SETUP(last)
{
	fi_setup_ctx(_metadata, &self->s, P2P_TI_COUNT, variant->iommu_type);
}

FIXTURE_TEARDOWN(last)
{
	fi_teardown(&self->s);
}

/*
 * Last, in each mode: with links live, the peer unbinds from vfio-pci
 * within 20 s, so no failed path above leaked a reference to it; then the
 * sites of the mode's paths (type1v2 has 7, iommufd 5), and in all.
 */
TEST_F_TIMEOUT(last, unbind_completes_and_total, 120)
{
	struct fi *s = &self->s;
	char bdf[sizeof(s->c.shm.bdf)], mode[16], name[128];
	unsigned int sites, total = 0, paths = 0, all = 0, nall = 0;
	struct timespec deadline;
	pthread_t th;
	void *ret;
	FILE *f;

	ASSERT_EQ(0, vfio_p2p_map(s->c.container, s->mix, IOVA_MIX, MIX_SIZE, RW));
	want_mix(s);
	ASSERT_TRUE(domains_ok(_metadata, s));
	memcpy(bdf, s->c.shm.bdf, sizeof(bdf));
	ASSERT_EQ(0, pthread_create(&th, NULL, unbind_thread, bdf));
	usleep(300000);
	/* The peer's mmaps go; the RAM in the middle of the mix stays. */
	munmap(s->mix, MIX_PART);
	munmap(s->mix + 2 * MIX_PART, MIX_PART);
	munmap(s->slice, BAR_LEN);
	s->slice = MAP_FAILED;
	close(s->c.shm.fd);
	s->c.shm.fd = -1;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 20;
	ASSERT_EQ(0, pthread_timedjoin_np(th, &ret, &deadline))
		TH_LOG("unbind of the peer did not complete in 20 s: a reference leaked");
	ASSERT_EQ(0, (long)ret);
	links_live(s, false);
	EXPECT_TRUE(domains_settle(_metadata, s));
	ASSERT_EQ((int64_t)MIX_SIZE, vfio_p2p_unmap(s->c.container, IOVA_MIX, MIX_SIZE, 0));
	ASSERT_EQ(0, vfio_p2p_sysfs_write("/sys/bus/pci/drivers_probe", bdf));

	f = fopen(SITES_FILE, "r");
	ASSERT_NE(NULL, f) TH_LOG("no path reported its sites");
	while (fscanf(f, "%u %15s %127[^\n]\n", &sites, mode, name) == 3) {
		all += sites;
		nall++;
		if (strcmp(mode, s->mode))
			continue;
		total += sites;
		paths++;
	}
	fclose(f);
	printf("# faultinj: %s: %u injection sites reached, over %u paths\n",
	       s->mode, total, paths);
	printf("# faultinj: %u injection sites reached in all, over %u paths\n",
	       all, nall);
	ASSERT_EQ(s->ifd ? 5 : 7, paths);
}

TEST_HARNESS_MAIN
