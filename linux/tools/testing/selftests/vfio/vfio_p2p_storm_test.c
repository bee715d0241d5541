// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_p2p_storm_test: a seeded random storm of operations on the peer BAR
 * and on RAM in a type1v2 container, or in an IOAS of iommufd, checked step
 * by step against a model.
 *
 * The container holds edu (the DMA engine) and the ivshmem peer.  The storm
 * works on WIN pages of the peer's BAR2 (at WIN_OFF, where no other program
 * writes) and on 2 * WIN pages of anonymous RAM, mapped at NIOVA pages of
 * IOVA.  A seeded generator draws each step from:
 *
 *  - MAP_DMA of RAM, of the BAR mmap, of a range that mixes both, or of a
 *    range with a hole in its address space;
 *  - UNMAP_DMA of one mapping, of several with holes between, of a range
 *    that bisects a mapping, and UNMAP_ALL;
 *  - munmap, mmap again and mremap of parts of the BAR mmap (to a second
 *    place and back), so that the BAR is mapped by several VMAs;
 *  - fork: a child that writes the BAR through its inherited mmap and its
 *    copy of RAM and exits, or a child that holds the peer while the parent
 *    lets go of it, and exits later;
 *  - memory decode off and on, VFIO_DEVICE_RESET of the peer;
 *  - close and reopen of the peer's device fd, alone (the mmaps keep the
 *    device open) or after every mmap went (RELEASE);
 *  - between sessions (no fd, no mmap, no child holding the peer): unbind
 *    of the peer from vfio-pci (bounded: nothing holds it), bind again
 *    (drivers_probe) and reopen, a new vfio device;
 *  - with an mslice parent (samples/vfio-mdev/mslice.c): an mdev created,
 *    added to container 0, its BAR0 mmapped and filled (which places its
 *    slice), and runs of it mapped; then let go of and removed (RELEASE);
 *  - with the test IOMMU (CONFIG_VFIO_P2P_TEST_IOMMU): attach and detach of
 *    its first client to the container (a second domain), and a second
 *    container with the second client in it, created, mapped and closed;
 *  - iommufd only: IOMMU_IOAS_COPY of a run of areas of IOAS 0 (whole or
 *    cut) to IOAS 0 or IOAS 1;
 *  - DMA probes.
 *
 * It runs in two IOMMU modes (vfio_p2p_iommu_modes.h, type1 v1 left out:
 * its unmap may bisect a mapping, which the model does not do), each with
 * half of make check's seeds and half of a soak's time.  In the iommufd
 * mode the devices are cdevs bound to one iommufd and attached to its IOAS
 * 0; MAP and UNMAP are IOMMU_IOAS_MAP and IOMMU_IOAS_UNMAP; container 1 is
 * IOAS 1 of the same iommufd (so that IOAS_COPY reaches it).  What the
 * model does differently there: a MAP makes one area per segment (each
 * P2P-capable VMA, each stretch of RAM between them), an UNMAP takes whole
 * areas in IOVA order up to the first that reaches out of its range
 * (ENOENT, with those before it gone; ENOENT for a range of none); a COPY
 * maps what the source's addresses show at the time (the current session's
 * BAR pages, EFAULT if one is not there or decode is off); and a second
 * bind of the peer's cdev while its session lives (its mmaps or a child
 * hold it) fails with EINVAL, so a reopen needs the session ended.
 *
 * The model keeps, for each IOVA page of each container, nothing, RAM page
 * r, BAR page b or mdev page b, and the peer's session (or the mdev) the
 * link was made in; the peer's state (fd open, which BAR pages are mapped
 * where, decode, a child holding it).  A BAR link is live while its session
 * is the peer's open one and decode is on; it is revoked while decode is off
 * (and during a reset) and dead once the session ended (the last fd and mmap
 * went; an unbind and rebind come only after that), until the user unmaps
 * it.  An mdev link is live while its mdev exists and dead once it was
 * removed: DMA there faults, and the unmap still returns its size.  From
 * that it predicts each ioctl's result (0, the unmapped size, EEXIST,
 * EFAULT, EINVAL, ENOENT) and, for each probe (edu writes a
 * fresh pattern to an IOVA; a test client does so through its domain),
 * where the bytes land or that they fault.  After every probe the RAM and
 * every readable BAR page must hold exactly what the model's shadow copy
 * holds, so a write that lands anywhere else is caught too.  After every
 * step each test-IOMMU domain's mappings are read back and must be exactly
 * the model's live pages.  At the end of each seed the whole BAR window is
 * compared through a fresh mmap, and the rig compares the host's backing
 * file with it after power-off.
 *
 * A divergence prints the seed, the step and the operation, with the last
 * steps before it.  STORM_SEED=N runs that seed alone, STORM_STEPS=N bounds
 * the steps of each seed, STORM_VERBOSE=1 logs every step.  STORM_SECONDS=N
 * is the soak (make soak): random seeds for N seconds, then the operations
 * per second and the seeds covered.  Without them, a fixed set of seeds
 * runs (make check).
 *
 * Not in the storm: an unbind while the peer is held, an mdev removed while
 * open (both wait for the user: the order of what the user sees is a race),
 * mdev decode and reset, the mdev in container 1, an IOAS_COPY of a removed
 * mdev's area (what its address shows then is not the storm's), iommufd's
 * type1-compat container (make compat-check does not run this program),
 * and events racing
 * an in-flight DMA (vfio_p2p_lifetime_test and vfio_p2p_mdev_test have
 * those; their outcome is a race, not a prediction).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_util.h"
#include "vfio_p2p_test_iommu.h"

#define PG		4096UL
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define WIN		64		/* BAR pages the storm uses */
#define WIN_OFF		0xc00000UL	/* their offset in BAR2: no other program's */
#define NRAM		(2 * WIN)	/* RAM pages: two slots of WIN */
#define NIOVA		128		/* IOVA pages of each container */
#define NCONT		2
#define MAX_RUN		12		/* pages of one MAP_DMA at most */
#define CHUNK		256		/* bytes of the edu buffer per probe */
#define PROBES		3		/* edu probes per buffer load */
#define MAX_PTES	1024
#define DEFAULT_STEPS	175
#define SEED_CAP_S	60		/* no seed of make check runs longer */
#define HISTORY		12
#define SETTLE_MS	2000
#define MWIN		16		/* pages of the mdev's BAR0 the storm uses */
#define MDEV_TYPE	"mslice-1m"

static const uint64_t iova_base[NCONT] = { 0x200000000ULL, 0x300000000ULL };
/* make check's seeds, split between the modes: not each mode all of them. */
static const uint32_t check_seeds_type1v2[] = { 1, 2 };
static const uint32_t check_seeds_iommufd[] = { 3, 4 };

/*
 * The address space the storm maps from, one reservation: RAM1, MAIN (where
 * the BAR mmap starts out), RAM2, a gap, ALT (where mremap moves BAR pages
 * to).  A MAP_DMA may start in RAM1 and end in MAIN, or start in MAIN and
 * end in RAM2: a mixed range.  What is not mapped is PROT_NONE.
 */
enum slot { S_RAM1, S_MAIN, S_RAM2, S_GAP, S_ALT, NSLOT };
#define NOWHERE		NSLOT

enum kind { K_NONE, K_RAM, K_BAR, K_HOLE, K_MDEV };

struct ipage {
	uint8_t kind;
	uint8_t slot;		/* K_BAR: the slot it was mapped from */
	uint16_t idx;		/* RAM page (0..NRAM), BAR or mdev window page */
	/* K_BAR: the peer session it was mapped in; K_MDEV: its mdev */
	unsigned int session;
};

/* A type1 mapping; in the iommufd mode, an area (one MAP can make several). */
struct dma {
	unsigned int first, n;	/* IOVA pages */
};

struct cont {
	int fd;			/* the container (iommufd: shared by both), or -1 */
	uint32_t ioas;		/* the iommufd mode: its IOAS */
	struct ipage pg[NIOVA];
	struct dma dma[NIOVA];
	int ndma;
	struct p2p_ti_dev ti;	/* its test client, when ti.dev.fd >= 0 */
	int inst;
};

/* What the storm did, for its report: outcomes the model predicted. */
enum storm_stat {
	ST_MAP_RAM, ST_MAP_BAR, ST_MAP_MIXED, ST_MAP_EEXIST, ST_MAP_EFAULT,
	ST_UNMAP, ST_UNMAP_NOTHING, ST_UNMAP_EINVAL, ST_LAND_RAM, ST_LAND_BAR,
	ST_FAULT_REVOKED, ST_FAULT_DEAD, ST_FAULT_NONE, ST_RELEASE, ST_MAP_MDEV,
	ST_LAND_MDEV, ST_MDEV_RELEASE, ST_REBIND, ST_UNMAP_ENOENT, ST_COPY,
	ST_COPY_EFAULT, ST_COPY_EEXIST, ST_REOPEN_EINVAL, NR_STATS,
};

static const char *const stat_name[NR_STATS] = {
	"map RAM", "map BAR", "map mixed", "map EEXIST", "map EFAULT",
	"unmap", "unmap of nothing", "unmap EINVAL", "DMA into RAM", "DMA into BAR",
	"DMA fault (revoked)", "DMA fault (dead)", "DMA fault (unmapped)", "RELEASE",
	"map mdev", "DMA into mdev", "mdev RELEASE", "rebind", "unmap ENOENT",
	"copy", "copy EFAULT", "copy EEXIST", "reopen EINVAL",
};

/* The storm's mslice mdev (samples/vfio-mdev/mslice.c), while it exists. */
struct smdev {
	bool up;		/* created, open in container 0, BAR0 mmapped */
	unsigned int gen;	/* which mdev: links of an earlier one are dead */
	char uuid[40];
	struct vfio_p2p_dev dev;
	struct vfio_p2p_region bar0;
	uint8_t *bar;		/* MWIN pages of BAR0, mmapped */
	uint64_t pfn;		/* pfn of its first page (its slice in the parent) */
};

struct storm {
	struct vfio_p2p_ctx c;
	bool fdmode;		/* iommufd (cdev + IOAS), else type1v2 */
	bool have_ti, have_reset;
	int pagemap;		/* /proc/self/pagemap */
	uint64_t bar_pfn;	/* pfn of the window's first page */
	uint8_t *va;		/* the reservation: NSLOT * WIN pages */
	/* The peer. */
	uint8_t where[WIN];	/* slot each BAR page is mapped at, or NOWHERE */
	unsigned int vma[WIN];	/* which VMA maps it (mremap stays in one) */
	unsigned int vma_next;
	unsigned int session;
	bool alive;		/* the session is open */
	bool decode;
	pid_t holder;		/* a child holding the peer, or 0 */
	int holder_pipe;	/* write end: closing it lets the child exit */
	/* What memory must hold. */
	uint8_t ram_shadow[NRAM * PG];
	uint8_t bar_shadow[WIN * PG];
	uint8_t load[EDU_DMA_MAX];	/* what the edu buffer holds */
	struct cont ct[NCONT];
	/* The mdev, and its parent (the second ivshmem, bound to mslice). */
	bool have_mdev;
	char parent[16];
	uint64_t parent_phys;	/* bus address of the parent's BAR2 */
	struct smdev m;
	uint8_t mdev_shadow[MWIN * PG];
	/* The run. */
	uint32_t seed;
	unsigned int step;
	uint64_t rng;
	const char *op;
	char what[160];
	char hist[HISTORY][200];
	bool verbose, broken;
	unsigned long n_ops, n_dma, n_ti, n_readback;
	unsigned long stats[NR_STATS], ops[32];
	int64_t op_ms[32];
	struct __test_metadata *md;
};

static struct p2p_ti_pte got[MAX_PTES], want[MAX_PTES];

static uint64_t rnd(struct storm *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 0x2545f4914f6cdd1dULL;
}

static unsigned int pick(struct storm *s, unsigned int n)
{
	return n ? rnd(s) % n : 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static uint8_t *slot_va(struct storm *s, int slot, unsigned int page)
{
	return s->va + ((size_t)slot * WIN + page) * PG;
}

static uint8_t *ram_va(struct storm *s, unsigned int r)
{
	return r < WIN ? slot_va(s, S_RAM1, r) : slot_va(s, S_RAM2, r - WIN);
}

/* Say what the step does; kept for the report of a divergence. */
static void note(struct storm *s, const char *op, const char *fmt, ...)
{
	va_list ap;
	int n;

	s->op = op;
	n = snprintf(s->what, sizeof(s->what), "%s ", op);
	va_start(ap, fmt);
	vsnprintf(s->what + n, sizeof(s->what) - n, fmt, ap);
	va_end(ap);
	snprintf(s->hist[s->step % HISTORY], sizeof(s->hist[0]), "step %u: %s",
		 s->step, s->what);
	if (s->verbose)
		printf("# storm: seed %u step %u: %s\n", s->seed, s->step, s->what);
}

/* The model and the kernel disagree: say where, and how to replay it. */
static bool diverge(struct storm *s, const char *fmt, ...)
{
	struct __test_metadata *_metadata = s->md;
	unsigned int i, first;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	first = s->step >= HISTORY ? s->step - HISTORY + 1 : 0;
	for (i = first; i < s->step; i++)
		TH_LOG("  before: %s", s->hist[i % HISTORY]);
	TH_LOG("DIVERGENCE seed %u step %u op %s: %s", s->seed, s->step, s->what, msg);
	TH_LOG("replay: make check ONLY=vfio:vfio_p2p_storm_test STORM_SEED=%u STORM_STEPS=%u (%s)",
	       s->seed, s->step + 1, s->fdmode ? "iommufd" : "type1v2");
	return false;
}

/* Is BAR link @p of container @k live: mapped in every domain? */
static bool live(struct storm *s, const struct ipage *p)
{
	if (p->kind == K_MDEV)
		return s->m.up && p->session == s->m.gen;
	return p->kind == K_BAR && p->session == s->session && s->alive && s->decode;
}

/* The pfn a live link maps. */
static uint64_t live_pfn(struct storm *s, const struct ipage *p)
{
	return p->kind == K_MDEV ? s->m.pfn + p->idx : s->bar_pfn + p->idx;
}

static bool peer_held(struct storm *s)
{
	int i;

	if (s->c.shm.fd >= 0 || s->holder)
		return true;
	for (i = 0; i < WIN; i++)
		if (s->where[i] != NOWHERE)
			return true;
	return false;
}

/* Did that drop the peer's last holder?  Then the session ends (RELEASE). */
static bool peer_update(struct storm *s)
{
	if (s->alive && !peer_held(s)) {
		s->alive = false;
		s->stats[ST_RELEASE]++;
		return true;
	}
	return false;
}

/* Can the CPU read BAR page @i now, and where? */
static uint8_t *bar_view(struct storm *s, unsigned int i)
{
	if (!s->alive || !s->decode || s->where[i] == NOWHERE)
		return NULL;
	return slot_va(s, s->where[i], i);
}

static bool check_bytes(struct storm *s, const char *name, unsigned int page,
			const uint8_t *got_p, const uint8_t *want_p)
{
	unsigned int off;

	if (!memcmp(got_p, want_p, PG))
		return true;
	for (off = 0; got_p[off] == want_p[off]; off++)
		;
	return diverge(s, "%s page %u byte %#x holds %#04x, the model says %#04x",
		       name, page, off, got_p[off], want_p[off]);
}

/* RAM and every BAR page the CPU can read hold what the model says. */
static bool check_memory(struct storm *s)
{
	unsigned int i;
	uint8_t *v;

	for (i = 0; i < NRAM; i++)
		if (!check_bytes(s, "RAM", i, ram_va(s, i), s->ram_shadow + i * PG))
			return false;
	for (i = 0; i < WIN; i++) {
		v = bar_view(s, i);
		if (v && !check_bytes(s, "BAR", i, v, s->bar_shadow + i * PG))
			return false;
	}
	for (i = 0; s->m.up && i < MWIN; i++)
		if (!check_bytes(s, "mdev BAR", i, s->m.bar + i * PG, s->mdev_shadow + i * PG))
			return false;
	return true;
}

static int pte_cmp(const void *a, const void *b)
{
	const struct p2p_ti_pte *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

/* The pfns behind @n <= WIN pages from @va (0: none), in one read. */
static void pagemap_pfns(struct storm *s, const uint8_t *va, unsigned int n,
			 uint64_t *pfn)
{
	uint64_t e[WIN];
	ssize_t len = n * sizeof(e[0]);
	unsigned int i;
	bool ok;

	ok = pread(s->pagemap, e, len, (uintptr_t)va / PG * sizeof(e[0])) == len;
	/* Bit 63: present; bits 0-54: the pfn. */
	for (i = 0; i < n; i++)
		pfn[i] = ok && e[i] >> 63 ? e[i] & ((1ULL << 55) - 1) : 0;
}

/* What the domain of container @k's test client must map, sorted. */
static long expected_ptes(struct storm *s, int k)
{
	uint64_t ram_pfn[NRAM], staging[VFIO_P2P_RAM_SIZE / PG];
	struct cont *ct = &s->ct[k];
	long n = 0;
	unsigned int p;

	pagemap_pfns(s, ram_va(s, 0), WIN, ram_pfn);
	pagemap_pfns(s, ram_va(s, WIN), WIN, ram_pfn + WIN);
	if (k == 0) {
		pagemap_pfns(s, s->c.ram, VFIO_P2P_RAM_SIZE / PG, staging);
		for (p = 0; p < VFIO_P2P_RAM_SIZE / PG; p++, n++) {
			want[n].iova = VFIO_P2P_IOVA_RAM + p * PG;
			want[n].pfn = staging[p];
		}
	}
	for (p = 0; p < NIOVA; p++) {
		const struct ipage *pg = &ct->pg[p];

		if (pg->kind == K_RAM) {
			want[n].iova = iova_base[k] + p * PG;
			want[n++].pfn = ram_pfn[pg->idx];
		} else if (live(s, pg)) {
			want[n].iova = iova_base[k] + p * PG;
			want[n++].pfn = live_pfn(s, pg);
		}
	}
	qsort(want, n, sizeof(want[0]), pte_cmp);
	return n;
}

/* One read-back of @k's domain against the model: true if equal. */
static bool readback_once(struct storm *s, int k, bool quiet)
{
	struct cont *ct = &s->ct[k];
	unsigned int domain;
	long n, ne, i;

	n = p2p_ti_mappings(ct->inst, got, MAX_PTES, &domain);
	if (n < 0)
		return quiet ? false : diverge(s, "instance %d: reading the mappings: %s",
					       ct->inst, strerror(-n));
	if (!domain)
		return quiet ? false : diverge(s, "instance %d: no domain attached", ct->inst);
	ne = expected_ptes(s, k);
	for (i = 0; i < n || i < ne; i++) {
		if (i < n && i < ne && got[i].iova == want[i].iova &&
		    got[i].pfn == want[i].pfn && want[i].pfn && got[i].prot == 3)
			continue;
		if (quiet)
			return false;
		if (i >= ne || (i < n && got[i].iova < want[i].iova))
			return diverge(s,
				       "container %d domain %u: IOVA %#llx maps pfn %#llx, the model has nothing there",
				       k, domain, (unsigned long long)got[i].iova,
				       (unsigned long long)got[i].pfn);
		if (i >= n || got[i].iova > want[i].iova)
			return diverge(s,
				       "container %d domain %u: IOVA %#llx is not mapped, the model has pfn %#llx",
				       k, domain, (unsigned long long)want[i].iova,
				       (unsigned long long)want[i].pfn);
		return diverge(s,
			       "container %d domain %u: IOVA %#llx maps pfn %#llx prot %d, the model has pfn %#llx rw",
			       k, domain, (unsigned long long)got[i].iova,
			       (unsigned long long)got[i].pfn, got[i].prot,
			       (unsigned long long)want[i].pfn);
	}
	return true;
}

/* Every test-IOMMU domain maps exactly the model's pages. */
static bool readback(struct storm *s, bool settle)
{
	int64_t end = now_ms() + (settle ? SETTLE_MS : 0);
	int k;

	for (k = 0; k < NCONT; k++) {
		if (s->ct[k].ti.dev.fd < 0)
			continue;
		s->n_readback++;
		while (!readback_once(s, k, true) && now_ms() < end)
			usleep(50000);
		if (!readback_once(s, k, false))
			return false;
	}
	return true;
}

/* The model's prediction for a write of @len bytes at @off of IOVA page @p. */
static uint8_t *landing(struct storm *s, int k, unsigned int p, unsigned int off)
{
	const struct ipage *pg = &s->ct[k].pg[p];

	if (pg->kind == K_RAM)
		return s->ram_shadow + pg->idx * PG + off;
	if (live(s, pg) && pg->kind == K_MDEV)
		return s->mdev_shadow + pg->idx * PG + off;
	if (live(s, pg))
		return s->bar_shadow + pg->idx * PG + off;
	return NULL;
}

static const char *landing_name(struct storm *s, int k, unsigned int p, char *buf,
				size_t len)
{
	const struct ipage *pg = &s->ct[k].pg[p];

	if (pg->kind == K_RAM)
		snprintf(buf, len, "RAM page %u", pg->idx);
	else if (pg->kind == K_MDEV)
		snprintf(buf, len, live(s, pg) ? "mdev %u page %u" :
			 "a fault (mdev %u page %u, removed)", pg->session, pg->idx);
	else if (live(s, pg))
		snprintf(buf, len, "BAR page %u", pg->idx);
	else if (pg->kind == K_BAR)
		snprintf(buf, len, "a fault (BAR page %u, session %u, %s)", pg->idx,
			 pg->session, pg->session != s->session || !s->alive ? "dead" : "revoked");
	else
		snprintf(buf, len, "a fault (nothing mapped)");
	return buf;
}

static enum storm_stat landing_stat(struct storm *s, int k, unsigned int p)
{
	const struct ipage *pg = &s->ct[k].pg[p];

	if (pg->kind == K_RAM)
		return ST_LAND_RAM;
	if (pg->kind == K_MDEV)
		return live(s, pg) ? ST_LAND_MDEV : ST_FAULT_DEAD;
	if (live(s, pg))
		return ST_LAND_BAR;
	if (pg->kind != K_BAR)
		return ST_FAULT_NONE;
	return pg->session != s->session || !s->alive ? ST_FAULT_DEAD : ST_FAULT_REVOKED;
}

/* An IOVA page to probe: mostly one the model maps. */
static unsigned int probe_page(struct storm *s, int k)
{
	unsigned int mapped[NIOVA], bar[NIOVA], nm = 0, nb = 0, p;

	for (p = 0; p < NIOVA; p++) {
		if (s->ct[k].pg[p].kind != K_NONE)
			mapped[nm++] = p;
		if (s->ct[k].pg[p].kind == K_BAR || s->ct[k].pg[p].kind == K_MDEV)
			bar[nb++] = p;
	}
	p = pick(s, 8);
	if (!p)
		return pick(s, NIOVA);
	if (p < 4 && nb)
		return bar[pick(s, nb)];
	return nm ? mapped[pick(s, nm)] : pick(s, NIOVA);
}

/* edu writes fresh bytes to PROBES IOVAs of container 0. */
static bool op_probe_edu(struct storm *s)
{
	struct vfio_p2p_ctx *c = &s->c;
	uint32_t pat = s->seed * 0x9e3779b9U ^ s->step * 0x85ebca6bU;
	unsigned int i, p, off, len;
	char buf[80];
	uint8_t *dst;
	int ret;

	note(s, "probe-edu", "pattern %#x", pat);
	vfio_p2p_fill(s->load, sizeof(s->load), pat);
	memcpy(c->ram, s->load, sizeof(s->load));
	ret = edu_dma_from_iova(c->edu_regs, VFIO_P2P_IOVA_RAM, sizeof(s->load));
	if (ret)
		return diverge(s, "loading the edu buffer: %s", strerror(-ret));
	s->n_dma++;
	for (i = 0; i < PROBES; i++) {
		p = probe_page(s, 0);
		len = 32 + pick(s, CHUNK - 31);
		off = pick(s, PG - len + 1);
		note(s, "probe-edu", "pattern %#x: %u bytes to IOVA %#llx (page %u), model: %s",
		     pat, len, (unsigned long long)(iova_base[0] + p * PG + off), p,
		     landing_name(s, 0, p, buf, sizeof(buf)));
		s->stats[landing_stat(s, 0, p)]++;
		ret = edu_dma_buf_to_iova(c->edu_regs, i * CHUNK,
					  iova_base[0] + p * PG + off, len);
		if (ret)
			return diverge(s, "edu DMA: %s", strerror(-ret));
		s->n_dma++;
		dst = landing(s, 0, p, off);
		if (dst)
			memcpy(dst, s->load + i * CHUNK, len);
		if (!check_memory(s))
			return false;
	}
	return true;
}

/* A test client writes its pattern to an IOVA of its container. */
static bool op_probe_ti(struct storm *s, int k)
{
	struct cont *ct = &s->ct[k];
	unsigned int p, off, len, i;
	uint32_t pat = (uint32_t)rnd(s) | 1;
	char buf[80];
	uint8_t *dst;
	int ret, exp;

	p = probe_page(s, k);
	len = 16 + pick(s, CHUNK - 15);
	off = pick(s, PG - len + 1);
	dst = landing(s, k, p, off);
	exp = dst ? 0 : -EFAULT;
	note(s, "probe-ti", "client %d: %u bytes of %#x to IOVA %#llx (page %u), model: %s",
	     ct->inst, len, pat, (unsigned long long)(iova_base[k] + p * PG + off), p,
	     landing_name(s, k, p, buf, sizeof(buf)));
	s->stats[landing_stat(s, k, p)]++;
	ret = p2p_ti_dma_write_pattern(&ct->ti, iova_base[k] + p * PG + off, len, pat);
	s->n_ti++;
	if (ret != exp)
		return diverge(s, "the client's DMA returned %d (%s), the model says %d",
			       ret, strerror(-ret), exp);
	for (i = 0; dst && i < len; i++)
		dst[i] = (uint8_t)(pat >> (8 * (i % 4)));
	return check_memory(s);
}

/* What the address page @v of the reservation (slots RAM1..RAM2, ALT) shows. */
static struct ipage va_page(struct storm *s, int slot, unsigned int page)
{
	struct ipage pg = { .kind = K_HOLE };

	if (slot == S_RAM1 || slot == S_RAM2) {
		pg.kind = K_RAM;
		pg.idx = (slot == S_RAM2 ? WIN : 0) + page;
	} else if ((slot == S_MAIN || slot == S_ALT) && s->where[page] == slot) {
		pg.kind = K_BAR;
		pg.idx = page;
		pg.session = s->session;
	}
	return pg;
}

static int dma_at(struct cont *ct, unsigned int p)
{
	int i;

	for (i = 0; i < ct->ndma; i++)
		if (p >= ct->dma[i].first && p < ct->dma[i].first + ct->dma[i].n)
			return i;
	return -1;
}

static const char *const slot_name[NSLOT + 1] = {
	"RAM1", "MAIN", "RAM2", "GAP", "ALT", "nowhere",
};

/* MAP_DMA, or IOMMU_IOAS_MAP on the container's IOAS. */
static int cont_map(struct storm *s, int k, void *vaddr, uint64_t iova, uint64_t size)
{
	struct cont *ct = &s->ct[k];

	if (s->fdmode)
		return vfio_p2p_ioas_map(ct->fd, ct->ioas, vaddr, iova, size, RW);
	return vfio_p2p_map(ct->fd, vaddr, iova, size, RW);
}

/* UNMAP_DMA (@all: UNMAP_ALL), or IOMMU_IOAS_UNMAP (@all: 0, UINT64_MAX). */
static int64_t cont_unmap(struct storm *s, int k, uint64_t iova, uint64_t size, bool all)
{
	struct cont *ct = &s->ct[k];

	if (s->fdmode)
		return vfio_p2p_ioas_unmap(ct->fd, ct->ioas, all ? 0 : iova,
					   all ? UINT64_MAX : size);
	return vfio_p2p_unmap(ct->fd, all ? 0 : iova, all ? 0 : size,
			      all ? VFIO_DMA_UNMAP_FLAG_ALL : 0);
}

/*
 * What makes an iommufd area: each P2P-capable VMA is one, and so is each
 * stretch of anything else (RAM) between them.
 */
static unsigned int seg_key(struct storm *s, const struct ipage *pg)
{
	if (pg->kind == K_BAR)
		return 1 + s->vma[pg->idx];
	if (pg->kind == K_MDEV)
		return 0x80000000U | pg->session;
	return 0;
}

/*
 * Record a MAP of @n pages at IOVA page @p: one mapping under type1; under
 * iommufd one area per segment (a MAP of RAM and BAR, or of two VMAs of the
 * BAR, makes several, each of which unmaps alone).
 */
static void add_dmas(struct storm *s, struct cont *ct, unsigned int p,
		     const struct ipage *pg, unsigned int n)
{
	unsigned int i, first = 0;

	for (i = 0; i < n; i++)
		ct->pg[p + i] = pg[i];
	for (i = 1; i <= n; i++) {
		if (i < n && (!s->fdmode || seg_key(s, &pg[i]) == seg_key(s, &pg[i - 1])))
			continue;
		ct->dma[ct->ndma++] = (struct dma){ p + first, i - first };
		first = i;
	}
}

static bool op_map(struct storm *s, int k)
{
	struct cont *ct = &s->ct[k];
	struct ipage pg[MAX_RUN];
	unsigned int n = 1 + pick(s, MAX_RUN), i, p, start, tries;
	int slot, exp = 0, ret;
	bool bar = false, hole = false, busy = false;
	uint8_t *vaddr;

	switch (pick(s, 8)) {
	case 0:
	case 1:
		slot = pick(s, 2) ? S_RAM2 : S_RAM1;
		start = pick(s, WIN - n + 1);
		break;
	case 2:
	case 3:
	case 4:
		/* Mostly from a BAR page that is mapped, within its run. */
		start = pick(s, WIN);
		for (i = 0; i < WIN && s->where[(start + i) % WIN] == NOWHERE; i++)
			;
		start = (start + i) % WIN;
		slot = s->where[start] == NOWHERE ? S_MAIN : s->where[start];
		for (i = 1; i < n && start + i < WIN && s->where[start + i] == slot; i++)
			;
		if (pick(s, 6))
			n = i;
		start = start + n > WIN ? WIN - n : start;
		break;
	case 5:
	case 6:
		/* Mixed: across RAM1 | MAIN or MAIN | RAM2. */
		n = n < 2 ? 2 : n;
		slot = pick(s, 2) ? S_RAM1 : S_MAIN;
		start = WIN - 1 - pick(s, n - 1);
		break;
	default:
		/* Anywhere in RAM1 | MAIN | RAM2: holes or not. */
		slot = S_RAM1;
		start = pick(s, 3 * WIN - n + 1);
		break;
	}
	vaddr = slot_va(s, slot, 0) + (size_t)start * PG;
	for (i = 0; i < n; i++) {
		unsigned int v = start + i;

		pg[i] = va_page(s, slot + v / WIN, v % WIN);
		pg[i].slot = slot + v / WIN;
		hole |= pg[i].kind == K_HOLE;
		bar |= pg[i].kind == K_BAR;
	}
	/* Mostly a free IOVA range, so that most maps are made. */
	p = pick(s, NIOVA - n + 1);
	for (tries = 0; tries < 16 && pick(s, 5); tries++) {
		for (i = 0; i < n && dma_at(ct, p + i) < 0; i++)
			;
		if (i == n)
			break;
		p = pick(s, NIOVA - n + 1);
	}
	for (i = 0; i < n; i++)
		busy |= dma_at(ct, p + i) >= 0;
	if (busy)
		exp = -EEXIST;
	else if (hole || (bar && !s->decode))
		exp = -EFAULT;
	note(s, "map", "container %d: %u pages from %s+%u at IOVA page %u%s%s: model %d",
	     k, n, slot_name[slot], start, p, bar ? " (BAR)" : "",
	     hole ? " (hole)" : "", exp);
	ret = cont_map(s, k, vaddr, iova_base[k] + p * PG, n * PG);
	if (ret != exp)
		return diverge(s, "MAP_DMA returned %d (%s), the model says %d", ret,
			       strerror(-ret), exp);
	if (ret) {
		s->stats[ret == -EEXIST ? ST_MAP_EEXIST : ST_MAP_EFAULT]++;
		return true;
	}
	s->stats[!bar ? ST_MAP_RAM : pg[0].kind == pg[n - 1].kind &&
		 pg[0].kind == K_BAR ? ST_MAP_BAR : ST_MAP_MIXED]++;
	add_dmas(s, ct, p, pg, n);
	return true;
}

static int dma_cmp(const void *a, const void *b)
{
	const struct dma *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

/*
 * IOMMU_IOAS_UNMAP of IOVA pages [a, b) as iommufd does it: the areas in
 * it go in IOVA order, up to the first that reaches out of it (ENOENT,
 * with those before it unmapped); ENOENT too if none is in it.  Marks in
 * @gone the areas that go; returns the size or -ENOENT.
 */
static int64_t ioas_unmap_model(struct cont *ct, unsigned int a, unsigned int b, bool *gone)
{
	int64_t size = 0;
	int i;

	qsort(ct->dma, ct->ndma, sizeof(ct->dma[0]), dma_cmp);
	for (i = 0; i < ct->ndma; i++) {
		const struct dma *d = &ct->dma[i];

		gone[i] = false;
		if (d->first + d->n <= a || d->first >= b)
			continue;
		if (d->first < a || d->first + d->n > b)
			return -ENOENT;
		gone[i] = true;
		size += d->n * PG;
	}
	return size ? size : -ENOENT;
}

/* UNMAP_DMA of IOVA pages [a, b) as type1v2 does it, or IOAS_UNMAP. */
static bool op_unmap(struct storm *s, int k)
{
	struct cont *ct = &s->ct[k];
	bool gone[NIOVA] = { false };
	unsigned int a, b, i;
	int64_t exp = 0, ret;
	int d, j;

	switch (ct->ndma ? pick(s, 6) : 3) {
	case 0:
		d = pick(s, ct->ndma);
		a = ct->dma[d].first;
		b = a + ct->dma[d].n;
		break;
	case 1:
		/* From one mapping's start to another's end: several, holes. */
		d = pick(s, ct->ndma);
		j = pick(s, ct->ndma);
		a = ct->dma[d].first;
		b = ct->dma[j].first + ct->dma[j].n;
		if (b <= a) {
			a = ct->dma[j].first;
			b = ct->dma[d].first + ct->dma[d].n;
		}
		break;
	case 4:
	case 5:
		/* Bisects a mapping (if it has two pages). */
		d = pick(s, ct->ndma);
		a = ct->dma[d].first + (ct->dma[d].n > 1);
		b = ct->dma[d].first + ct->dma[d].n;
		break;
	case 2:
		/* From a mapping's start over several and a hole or two. */
		d = pick(s, ct->ndma);
		a = ct->dma[d].first;
		b = a + 1 + pick(s, NIOVA - a);
		break;
	default:
		a = pick(s, NIOVA);
		b = a + 1 + pick(s, NIOVA - a);
		break;
	}
	d = dma_at(ct, a);
	j = dma_at(ct, b - 1);
	if (s->fdmode) {
		exp = ioas_unmap_model(ct, a, b, gone);
	} else if ((d >= 0 && ct->dma[d].first != a) ||
		   (j >= 0 && ct->dma[j].first + ct->dma[j].n != b)) {
		exp = -EINVAL;
	} else {
		for (i = 0; i < (unsigned int)ct->ndma; i++) {
			gone[i] = ct->dma[i].first >= a && ct->dma[i].first < b;
			exp += gone[i] ? ct->dma[i].n * PG : 0;
		}
	}
	note(s, "unmap", "container %d: IOVA pages [%u, %u): model %lld", k, a, b,
	     (long long)exp);
	ret = cont_unmap(s, k, iova_base[k] + a * PG, (uint64_t)(b - a) * PG, false);
	if (ret != exp)
		return diverge(s, "UNMAP_DMA returned %lld, the model says %lld",
			       (long long)ret, (long long)exp);
	s->stats[ret == -ENOENT ? ST_UNMAP_ENOENT : ret < 0 ? ST_UNMAP_EINVAL :
		 ret ? ST_UNMAP : ST_UNMAP_NOTHING]++;
	/* iommufd's ENOENT may come after areas went. */
	for (i = 0, j = 0; i < (unsigned int)ct->ndma; i++) {
		if (gone[i])
			memset(&ct->pg[ct->dma[i].first], 0, ct->dma[i].n * sizeof(ct->pg[0]));
		else
			ct->dma[j++] = ct->dma[i];
	}
	ct->ndma = j;
	return true;
}

static bool op_unmap_all(struct storm *s, int k)
{
	struct cont *ct = &s->ct[k];
	int64_t exp = k == 0 ? VFIO_P2P_RAM_SIZE : 0, ret;
	int i;

	for (i = 0; i < ct->ndma; i++)
		exp += ct->dma[i].n * PG;
	note(s, "unmap-all", "container %d: model %lld", k, (long long)exp);
	ret = cont_unmap(s, k, 0, 0, true);
	if (ret != exp)
		return diverge(s, "UNMAP_DMA(ALL) returned %lld, the model says %lld",
			       (long long)ret, (long long)exp);
	memset(ct->pg, 0, sizeof(ct->pg));
	ct->ndma = 0;
	/* Container 0 keeps the edu buffer's staging RAM. */
	if (k == 0) {
		ret = cont_map(s, 0, s->c.ram, VFIO_P2P_IOVA_RAM, VFIO_P2P_RAM_SIZE);
		if (ret)
			return diverge(s, "mapping the staging RAM again: %s",
				       strerror((int)-ret));
	}
	return true;
}

static unsigned int pick_iova(struct storm *s, struct cont *ct, unsigned int n);

/*
 * iommufd: IOMMU_IOAS_COPY of a run of container 0's areas (whole, or cut
 * at either end) to a free run of container 0 or of container 1's IOAS.
 * It maps what the source's user addresses show now: RAM the same pages; a
 * BAR page the current session's if its address still maps it, EFAULT for
 * all if one does not or decode is off; a live mdev page the same.  A run
 * stops before an area of a removed mdev (what its address shows now is
 * not the storm's to say).  The copy's areas are the source's, cut.
 */
static bool op_copy(struct storm *s)
{
	struct cont *src = &s->ct[0], *dst;
	struct ipage pg[MAX_RUN];
	unsigned int a, b, n, p, i;
	int k = s->ct[1].fd >= 0 && pick(s, 2), exp, ret, d, j;
	bool busy = false, fault = false;

	dst = &s->ct[k];
	if (!src->ndma) {
		note(s, "copy", "nothing: container 0 has no area");
		return true;
	}
	d = pick(s, src->ndma);
	a = src->dma[d].first;
	b = a + src->dma[d].n;
	/* Over the areas that follow without a gap, sometimes. */
	while (b - a < MAX_RUN && b < NIOVA && (j = dma_at(src, b)) >= 0 && pick(s, 2))
		b = src->dma[j].first + src->dma[j].n;
	b = b - a > MAX_RUN ? a + MAX_RUN : b;
	if (!pick(s, 3))
		a += pick(s, b - a);
	if (!pick(s, 3))
		b -= pick(s, b - a);
	for (n = 0; n < b - a; n++) {
		const struct ipage *sp = &src->pg[a + n];

		pg[n] = *sp;
		if (sp->kind == K_MDEV && !live(s, sp))
			break;
		if (sp->kind == K_BAR) {
			pg[n] = va_page(s, sp->slot, sp->idx);
			pg[n].slot = sp->slot;
			fault |= pg[n].kind != K_BAR || !s->decode;
		}
	}
	if (!n) {
		note(s, "copy", "nothing: IOVA page %u is a removed mdev's", a);
		return true;
	}
	p = pick_iova(s, dst, n);
	for (i = 0; i < n; i++)
		busy |= dma_at(dst, p + i) >= 0;
	exp = busy ? -EEXIST : fault ? -EFAULT : 0;
	note(s, "copy", "IOVA pages [%u, %u) of IOAS 0 to page %u of IOAS %d%s: model %d",
	     a, a + n, p, k, fault ? " (BAR not there)" : "", exp);
	ret = vfio_p2p_ioas_copy(dst->fd, dst->ioas, iova_base[k] + p * PG, src->ioas,
				 iova_base[0] + a * PG, n * PG);
	if (ret != exp)
		return diverge(s, "IOMMU_IOAS_COPY returned %d (%s), the model says %d", ret,
			       strerror(-ret), exp);
	s->stats[ret == -EEXIST ? ST_COPY_EEXIST : ret ? ST_COPY_EFAULT : ST_COPY]++;
	if (ret)
		return true;
	for (i = 0; i < n; i++)
		dst->pg[p + i] = pg[i];
	/* The source's areas, cut to the range (ndma of the source may grow). */
	for (j = 0, d = src->ndma; j < d; j++) {
		unsigned int lo = src->dma[j].first, hi = lo + src->dma[j].n;

		lo = lo < a ? a : lo;
		hi = hi > a + n ? a + n : hi;
		if (lo < hi)
			dst->dma[dst->ndma++] = (struct dma){ p + lo - a, hi - lo };
	}
	return true;
}

static bool op_decode(struct storm *s)
{
	bool on = !s->decode;
	int ret;

	note(s, "decode", "%s", on ? "on" : "off");
	ret = vfio_p2p_pci_command(&s->c.shm, on ? PCI_COMMAND_MEMORY : 0,
				   on ? 0 : PCI_COMMAND_MEMORY);
	if (ret)
		return diverge(s, "PCI command write: %s", strerror(-ret));
	s->decode = on;
	/* Break the model on request (make check BREAK=1): decode on restores nothing. */
	if (on && s->broken)
		s->session++;
	return true;
}

static bool op_reset(struct storm *s)
{
	note(s, "reset", "VFIO_DEVICE_RESET, decode %s", s->decode ? "on" : "off");
	if (ioctl(s->c.shm.fd, VFIO_DEVICE_RESET))
		return diverge(s, "VFIO_DEVICE_RESET: %s", strerror(errno));
	return true;
}

/* Put the PROT_NONE reservation back over pages of a slot. */
static bool reserve(struct storm *s, int slot, unsigned int first, unsigned int n)
{
	void *p = mmap(slot_va(s, slot, first), n * PG, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	if (p != slot_va(s, slot, first))
		return diverge(s, "mmap of the reservation: %s", strerror(errno));
	return true;
}

static bool op_munmap(struct storm *s)
{
	int slot = pick(s, 3) ? S_MAIN : S_ALT;
	unsigned int n = 1 + pick(s, pick(s, 8) ? 8 : WIN), first = pick(s, WIN - n + 1), i;
	bool released;

	note(s, "munmap", "BAR pages [%u, %u) at %s", first, first + n, slot_name[slot]);
	if (munmap(slot_va(s, slot, first), n * PG))
		return diverge(s, "munmap: %s", strerror(errno));
	if (!reserve(s, slot, first, n))
		return false;
	for (i = first; i < first + n; i++)
		if (s->where[i] == slot)
			s->where[i] = NOWHERE;
	released = peer_update(s);
	if (released)
		note(s, "munmap", "BAR pages [%u, %u) at %s: the last holder, RELEASE",
		     first, first + n, slot_name[slot]);
	return readback(s, released);
}

/* mmap of BAR pages that are mapped nowhere (or at that slot already). */
static bool op_mmap(struct storm *s)
{
	int slot = pick(s, 4) ? S_MAIN : S_ALT;
	unsigned int first = pick(s, WIN), n = 0, max = 1 + pick(s, WIN), i;
	void *p;

	for (i = 0; i < WIN && s->where[(first + i) % WIN] != NOWHERE; i++)
		;
	if (i < WIN && pick(s, 4))
		first = (first + i) % WIN;

	while (first + n < WIN && n < max &&
	       (s->where[first + n] == NOWHERE || s->where[first + n] == slot))
		n++;
	if (!n) {
		note(s, "mmap", "nothing: BAR page %u is mapped at the other slot", first);
		return true;
	}
	note(s, "mmap", "BAR pages [%u, %u) at %s", first, first + n, slot_name[slot]);
	p = mmap(slot_va(s, slot, first), n * PG, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, s->c.shm.fd,
		 s->c.bar2.offset + WIN_OFF + first * PG);
	if (p != slot_va(s, slot, first))
		return diverge(s, "mmap of the BAR: %s", strerror(errno));
	for (i = first; i < first + n; i++) {
		s->where[i] = slot;
		s->vma[i] = s->vma_next;
	}
	s->vma_next++;
	return check_memory(s);
}

/* mremap a run of BAR pages of one VMA to the other slot, same offsets. */
static bool op_mremap(struct storm *s)
{
	unsigned int i = pick(s, WIN), lo, hi, a, b, j;
	int from, to;
	void *p;

	if (s->where[i] == NOWHERE) {
		note(s, "mremap", "nothing: BAR page %u is mapped nowhere", i);
		return true;
	}
	from = s->where[i];
	to = from == S_MAIN ? S_ALT : S_MAIN;
	for (lo = i; lo > 0 && s->where[lo - 1] == from && s->vma[lo - 1] == s->vma[i]; lo--)
		;
	for (hi = i + 1; hi < WIN && s->where[hi] == from && s->vma[hi] == s->vma[i]; hi++)
		;
	a = lo + pick(s, hi - lo);
	b = a + 1 + pick(s, hi - a);
	note(s, "mremap", "BAR pages [%u, %u) from %s to %s", a, b, slot_name[from],
	     slot_name[to]);
	p = mremap(slot_va(s, from, a), (b - a) * PG, (b - a) * PG,
		   MREMAP_MAYMOVE | MREMAP_FIXED, slot_va(s, to, a));
	if (p != slot_va(s, to, a))
		return diverge(s, "mremap: %s", strerror(errno));
	if (!reserve(s, from, a, b - a))
		return false;
	for (j = a; j < b; j++) {
		s->where[j] = to;
		s->vma[j] = s->vma_next;
	}
	s->vma_next++;
	return check_memory(s);
}

/* munmap every BAR page, at both slots. */
static bool munmap_bar(struct storm *s)
{
	unsigned int i;

	if (munmap(slot_va(s, S_MAIN, 0), WIN * PG) || !reserve(s, S_MAIN, 0, WIN) ||
	    munmap(slot_va(s, S_ALT, 0), WIN * PG) || !reserve(s, S_ALT, 0, WIN))
		return diverge(s, "munmap of the BAR mmaps: %s", strerror(errno));
	for (i = 0; i < WIN; i++)
		s->where[i] = NOWHERE;
	return true;
}

/* The user lets go of the peer: its mmaps, then its fd. */
static bool op_release(struct storm *s)
{
	bool released;

	note(s, "release", "munmap every BAR page, close the fd");
	if (!munmap_bar(s))
		return false;
	if (s->c.shm.fd >= 0)
		close(s->c.shm.fd);
	s->c.shm.fd = -1;
	released = peer_update(s);
	if (released)
		note(s, "release", "munmap every BAR page, close the fd: RELEASE");
	return readback(s, released);
}

/*
 * A child writes a BAR page through its inherited mmap (shared: the parent
 * sees it) and its copy of RAM (private: the parent does not), and exits.
 */
static bool op_fork_touch(struct storm *s)
{
	unsigned int i = pick(s, WIN), r = pick(s, NRAM), off = pick(s, PG - 64), j;
	uint8_t bytes[64];
	uint8_t *bar = bar_view(s, i);
	int status;
	pid_t pid;

	vfio_p2p_fill(bytes, sizeof(bytes), s->seed ^ (s->step << 8));
	note(s, "fork", "a child writes %s BAR page %u and RAM page %u, exits",
	     bar ? "" : "(not readable)", i, r);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return diverge(s, "fork: %s", strerror(errno));
	if (!pid) {
		if (bar)
			memcpy(bar + off, bytes, sizeof(bytes));
		for (j = 0; j < PG; j += 64)
			ram_va(s, r)[j] ^= 0xff;
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return diverge(s, "the child ended with status %#x", status);
	if (bar)
		memcpy(s->bar_shadow + i * PG + off, bytes, sizeof(bytes));
	return check_memory(s) && readback(s, false);
}

/*
 * A child holds the peer (its copies of the fd and the mmaps) while the
 * parent lets go of both: the session lives on until the child exits
 * (op_holder_exit).
 */
static bool op_fork_hold(struct storm *s)
{
	int p[2];
	pid_t pid;
	char b;

	note(s, "fork-hold", "a child holds the peer; the parent closes its fd and munmaps");
	if (pipe(p))
		return diverge(s, "pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return diverge(s, "fork: %s", strerror(errno));
	if (!pid) {
		close(p[1]);
		/* Returns when the parent closes its end (or dies). */
		while (read(p[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	s->holder = pid;
	s->holder_pipe = p[1];
	if (!munmap_bar(s))
		return false;
	if (s->c.shm.fd >= 0)
		close(s->c.shm.fd);
	s->c.shm.fd = -1;
	if (peer_update(s))
		return diverge(s, "(model) a held peer released");
	return readback(s, false);
}

static bool holder_reap(struct storm *s)
{
	int status;

	close(s->holder_pipe);
	if (waitpid(s->holder, &status, 0) != s->holder || !WIFEXITED(status))
		return diverge(s, "the holding child ended with status %#x", status);
	s->holder = 0;
	return true;
}

static bool op_holder_exit(struct storm *s)
{
	bool released;

	note(s, "holder-exit", "the holding child exits");
	if (!holder_reap(s))
		return false;
	released = peer_update(s);
	if (released)
		note(s, "holder-exit", "the holding child exits: the last holder, RELEASE");
	return readback(s, released);
}

static bool op_close(struct storm *s)
{
	bool released;

	note(s, "close", "the peer's device fd");
	close(s->c.shm.fd);
	s->c.shm.fd = -1;
	released = peer_update(s);
	if (released)
		note(s, "close", "the peer's device fd: the last holder, RELEASE");
	return readback(s, released);
}

static bool op_reopen(struct storm *s)
{
	struct vfio_p2p_ctx *c = &s->c;
	bool fresh = !s->alive;
	int ret;

	if (s->fdmode && !fresh) {
		/* A cdev is open once at a time: vfio_df_open() refuses a second bind. */
		note(s, "reopen", "the peer's cdev while its session lives: model EINVAL");
		ret = vfio_p2p_dev_reopen(&c->shm);
		if (ret >= 0) {
			close(c->shm.fd);
			c->shm.fd = -1;
		}
		if (ret != -EINVAL)
			return diverge(s, "a second bind of the cdev: %s, the model says EINVAL",
				       ret >= 0 ? "success" : strerror(-ret));
		s->stats[ST_REOPEN_EINVAL]++;
		return true;
	}
	note(s, "reopen", "the peer's device fd (%s session)", fresh ? "a new" : "the same");
	/* The group's VFIO_GROUP_GET_DEVICE_FD, or the cdev bound and attached. */
	ret = vfio_p2p_dev_reopen(&c->shm);
	if (ret < 0)
		return diverge(s, "opening the peer again: %s", strerror(-ret));
	if (fresh) {
		s->session++;
		s->alive = true;
		/* A new open decodes memory (vfio-pci enables the device). */
		ret = vfio_p2p_pci_command(&c->shm, PCI_COMMAND_MEMORY, 0);
		if (ret)
			return diverge(s, "PCI command write: %s", strerror(-ret));
		s->decode = true;
	}
	return readback(s, false);
}

/* The first test client joins container 0 (a second domain) or leaves it. */
static bool op_attach(struct storm *s)
{
	struct cont *ct = &s->ct[0];
	int ret;

	if (ct->ti.dev.fd >= 0) {
		note(s, "detach", "test client 0 leaves container 0");
		p2p_ti_close(&ct->ti);
		return true;
	}
	note(s, "attach", "test client 0 joins container 0");
	ret = p2p_ti_open(&ct->ti, 0, ct->fd);
	if (ret) {
		p2p_ti_close(&ct->ti);
		return diverge(s, "attach: %s", strerror(-ret));
	}
	return readback(s, false);
}

/* IOMMU_DESTROY of container 1's IOAS (with its areas): 0 or -errno. */
static int ioas_destroy(struct cont *ct)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = ct->ioas };
	int tries;

	/* The client's hwpt may still hold it for a moment after its close. */
	for (tries = 0; ioctl(ct->fd, IOMMU_DESTROY, &d); tries++) {
		if (errno != EBUSY || tries >= 100)
			return -errno;
		usleep(10000);
	}
	return 0;
}

/*
 * Container 1, holding the second test client only: made or closed.  In
 * the iommufd mode, a second IOAS of container 0's iommufd.
 */
static bool op_container(struct storm *s)
{
	struct cont *ct = &s->ct[1];
	int ret;

	if (ct->fd >= 0) {
		note(s, "container-close", "container 1 (%d mappings)", ct->ndma);
		p2p_ti_close(&ct->ti);
		if (s->fdmode)
			ret = ioas_destroy(ct);
		else
			ret = close(ct->fd) ? -errno : 0;
		ct->fd = -1;
		memset(ct->pg, 0, sizeof(ct->pg));
		ct->ndma = 0;
		if (ret)
			return diverge(s, "closing container 1: %s", strerror(-ret));
		return true;
	}
	if (s->fdmode) {
		/* A second IOAS of the same iommufd: IOAS_COPY reaches it. */
		struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

		note(s, "container-open", "IOAS 1 with test client 1");
		if (ioctl(s->ct[0].fd, IOMMU_IOAS_ALLOC, &alloc))
			return diverge(s, "IOMMU_IOAS_ALLOC: %s", strerror(errno));
		ct->fd = s->ct[0].fd;
		ct->ioas = alloc.out_ioas_id;
		ret = p2p_ti_bind(&ct->ti, 1, ct->fd);
		if (!ret)
			ret = p2p_ti_attach(&ct->ti, ct->ioas);
		if (ret) {
			p2p_ti_close(&ct->ti);
			return diverge(s, "attach test client 1 to IOAS %u: %s", ct->ioas,
				       strerror(-ret));
		}
		return readback(s, false);
	}
	note(s, "container-open", "container 1 with test client 1");
	ct->fd = vfio_p2p_container_open();
	if (ct->fd < 0)
		return diverge(s, "open /dev/vfio/vfio: %s", strerror(-ct->fd));
	ret = p2p_ti_open_type(&ct->ti, 1, ct->fd, VFIO_TYPE1v2_IOMMU);
	if (ret) {
		p2p_ti_close(&ct->ti);
		return diverge(s, "attach test client 1: %s", strerror(-ret));
	}
	return readback(s, false);
}

/* The first PCI function bound to the mslice driver: the mdev parent. */
static int find_parent(char *bdf, size_t len)
{
	DIR *d = opendir("/sys/bus/pci/drivers/mslice");
	struct dirent *de;
	int ret = -ENODEV;

	if (!d)
		return -ENODEV;
	while ((de = readdir(d))) {
		if (strchr(de->d_name, ':') && strlen(de->d_name) < len) {
			memcpy(bdf, de->d_name, strlen(de->d_name) + 1);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

/* The mdev's group into container 0, its device fd and BAR0's region. */
static int mdev_open(struct storm *s)
{
	struct smdev *m = &s->m;
	int ret;

	if (s->fdmode)
		ret = vfio_p2p_cdev_open(&m->dev, m->uuid, s->ct[0].fd, s->ct[0].ioas);
	else
		ret = vfio_p2p_mdev_open(&m->dev, m->uuid, s->ct[0].fd, 0);
	if (ret)
		return ret;
	return vfio_p2p_region_info(&m->dev, VFIO_PCI_BAR0_REGION_INDEX, &m->bar0);
}

/* The user lets go of the mdev (its mmap, its fds), then removes it. */
static int mdev_down(struct storm *s)
{
	struct smdev *m = &s->m;
	char path[PATH_MAX];

	if (m->bar)
		munmap(m->bar, MWIN * PG);
	m->bar = NULL;
	vfio_p2p_dev_close(&m->dev);
	m->dev.fd = -1;
	m->dev.group_fd = -1;
	m->up = false;
	if (!m->uuid[0])
		return 0;
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/remove", m->uuid);
	m->uuid[0] = '\0';
	return vfio_p2p_sysfs_write(path, "1");
}

/* A free run of @n IOVA pages of container @k, mostly. */
static unsigned int pick_iova(struct storm *s, struct cont *ct, unsigned int n)
{
	unsigned int p = pick(s, NIOVA - n + 1), tries, i;

	for (tries = 0; tries < 16 && pick(s, 5); tries++) {
		for (i = 0; i < n && dma_at(ct, p + i) < 0; i++)
			;
		if (i == n)
			break;
		p = pick(s, NIOVA - n + 1);
	}
	return p;
}

/* MAP_DMA of a run of the mdev's BAR0 mmap into container 0. */
static bool mdev_map(struct storm *s)
{
	struct cont *ct = &s->ct[0];
	unsigned int n = 1 + pick(s, MAX_RUN), first = pick(s, MWIN - n + 1), p, i;
	struct ipage pg[MAX_RUN];
	int exp = 0, ret;

	p = pick_iova(s, ct, n);
	for (i = 0; i < n; i++)
		if (dma_at(ct, p + i) >= 0)
			exp = -EEXIST;
	note(s, "mdev-map", "mdev %u pages [%u, %u) at IOVA page %u: model %d", s->m.gen,
	     first, first + n, p, exp);
	ret = cont_map(s, 0, s->m.bar + first * PG, iova_base[0] + p * PG, n * PG);
	if (ret != exp)
		return diverge(s, "MAP_DMA returned %d (%s), the model says %d", ret,
			       strerror(-ret), exp);
	if (ret) {
		s->stats[ST_MAP_EEXIST]++;
		return true;
	}
	s->stats[ST_MAP_MDEV]++;
	for (i = 0; i < n; i++)
		pg[i] = (struct ipage){ .kind = K_MDEV, .idx = first + i, .session = s->m.gen };
	add_dmas(s, ct, p, pg, n);
	return true;
}

/*
 * The mdev: created, opened into container 0, its BAR0 mmapped, filled
 * (the first touch places its slice) and a run of it mapped; or, while it
 * is up, another run mapped; or let go of and removed (RELEASE: its links
 * die, DMA there faults, the user's unmap still returns their size).
 */
static bool op_mdev(struct storm *s)
{
	struct smdev *m = &s->m;
	static unsigned int counter;
	char path[PATH_MAX], buf[32];
	int ret;
	void *p;

	if (m->up && pick(s, 3))
		return mdev_map(s) && readback(s, false);
	if (m->up) {
		note(s, "mdev-remove", "mdev %u: munmap, close, remove: RELEASE", m->gen);
		ret = mdev_down(s);
		if (ret)
			return diverge(s, "removing the mdev: %s", strerror(-ret));
		s->stats[ST_MDEV_RELEASE]++;
		return readback(s, true);
	}
	m->gen++;
	snprintf(m->uuid, sizeof(m->uuid), "%08x-5707-4000-8000-%012x",
		 (unsigned int)getpid(), ++counter);
	note(s, "mdev-create", "mdev %u (%s), into container 0", m->gen, m->uuid);
	snprintf(path, sizeof(path), "/sys/class/mdev_bus/%s/mdev_supported_types/%s/create",
		 s->parent, MDEV_TYPE);
	ret = vfio_p2p_sysfs_write(path, m->uuid);
	if (ret) {
		m->uuid[0] = '\0';
		return diverge(s, "creating an mdev: %s", strerror(-ret));
	}
	ret = mdev_open(s);
	if (ret)
		return diverge(s, "opening the mdev: %s", strerror(-ret));
	p = vfio_p2p_region_mmap(&m->dev, &m->bar0, 0, MWIN * PG, PROT_READ | PROT_WRITE);
	if (p == MAP_FAILED)
		return diverge(s, "mmap of the mdev's BAR0: %s", strerror(errno));
	m->bar = p;
	vfio_p2p_fill(s->mdev_shadow, sizeof(s->mdev_shadow), s->seed ^ (m->gen << 20));
	memcpy(m->bar, s->mdev_shadow, sizeof(s->mdev_shadow));
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/mslice/slice_offset", m->uuid);
	ret = vfio_p2p_sysfs_read(path, buf, sizeof(buf));
	if (ret || !strncmp(buf, "none", 4))
		return diverge(s, "no slice after the first touch: %s", ret ? strerror(-ret) : buf);
	m->pfn = (s->parent_phys + strtoull(buf, NULL, 16)) / PG;
	m->up = true;
	return mdev_map(s) && check_memory(s) && readback(s, false);
}

static bool bound_to_vfio(const char *bdf)
{
	char path[128], link[128];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return !!strstr(link, "vfio-pci");
}

static void *unbind_thread(void *arg)
{
	return (void *)(long)vfio_p2p_sysfs_write("/sys/bus/pci/drivers/vfio-pci/unbind", arg);
}

static bool op_reopen(struct storm *s);

/*
 * Between sessions (no fd, no mmap, no child holds the peer): the peer
 * unbinds from vfio-pci, which needs no wait for its user, binds again and
 * is opened again: a new vfio group (in the container again), a new vfio
 * device and a new session.  The links of the
 * earlier sessions stay dead until unmapped; new maps work.
 */
static bool op_rebind(struct storm *s)
{
	const char *bdf = s->c.shm.bdf;
	struct timespec deadline;
	char path[64];
	pthread_t t;
	void *ret;
	int err;

	note(s, "rebind", "unbind the peer from vfio-pci, bind it again, reopen");
	err = pthread_create(&t, NULL, unbind_thread, (void *)bdf);
	if (err)
		return diverge(s, "pthread_create: %s", strerror(err));
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 20;
	err = pthread_timedjoin_np(t, &ret, &deadline);
	if (err)
		return diverge(s, "the unbind of a released peer did not complete in 20 s");
	if ((long)ret)
		return diverge(s, "unbind: %s", strerror(-(long)ret));
	if (bound_to_vfio(bdf))
		return diverge(s, "still bound to vfio-pci after the unbind");
	if (!readback(s, true))
		return false;
	err = vfio_p2p_sysfs_write("/sys/bus/pci/drivers_probe", bdf);
	if (err || !bound_to_vfio(bdf))
		return diverge(s, "binding to vfio-pci again: %s", err ? strerror(-err) : "no");
	/*
	 * The unbind of the group's last device ended its vfio group (and took
	 * it out of the container): the group is opened and added again.  The
	 * iommufd mode has no group: the reopen finds the new cdev.
	 */
	if (s->fdmode) {
		s->stats[ST_REBIND]++;
		return op_reopen(s);
	}
	close(s->c.shm.group_fd);
	snprintf(path, sizeof(path), "/dev/vfio/%d", s->c.shm.group_id);
	s->c.shm.group_fd = open(path, O_RDWR);
	if (s->c.shm.group_fd < 0)
		return diverge(s, "open %s: %s", path, strerror(errno));
	if (ioctl(s->c.shm.group_fd, VFIO_GROUP_SET_CONTAINER, &s->ct[0].fd))
		return diverge(s, "VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
	s->stats[ST_REBIND]++;
	return op_reopen(s);
}

enum op {
	OP_MAP, OP_UNMAP, OP_UNMAP_ALL, OP_PROBE_EDU, OP_PROBE_TI, OP_DECODE,
	OP_RESET, OP_MUNMAP, OP_MMAP, OP_MREMAP, OP_FORK, OP_FORK_HOLD,
	OP_HOLDER_EXIT, OP_CLOSE, OP_RELEASE, OP_REOPEN, OP_ATTACH, OP_CONTAINER,
	OP_REBIND, OP_MDEV, OP_COPY, NR_OPS,
};

static const char *const op_name[NR_OPS] = {
	"map", "unmap", "unmap-all", "probe-edu", "probe-ti", "decode", "reset",
	"munmap", "mmap", "mremap", "fork", "fork-hold", "holder-exit", "close",
	"release", "reopen", "attach/detach", "container", "rebind", "mdev", "copy",
};

static const unsigned int weight[NR_OPS] = {
	[OP_MAP] = 22, [OP_UNMAP] = 12, [OP_UNMAP_ALL] = 1, [OP_PROBE_EDU] = 10,
	[OP_PROBE_TI] = 14, [OP_DECODE] = 4, [OP_RESET] = 3, [OP_MUNMAP] = 4,
	[OP_MMAP] = 6, [OP_MREMAP] = 4, [OP_FORK] = 2, [OP_FORK_HOLD] = 1,
	[OP_HOLDER_EXIT] = 3, [OP_CLOSE] = 2, [OP_RELEASE] = 2, [OP_REOPEN] = 6, [OP_ATTACH] = 2,
	[OP_CONTAINER] = 2, [OP_REBIND] = 8, [OP_MDEV] = 3, [OP_COPY] = 5,
};

/* Can @op run in this state? */
static bool op_ok(struct storm *s, enum op op)
{
	bool fd = s->c.shm.fd >= 0;

	switch (op) {
	case OP_PROBE_TI:
		return s->ct[0].ti.dev.fd >= 0 || s->ct[1].ti.dev.fd >= 0;
	case OP_DECODE:
		return fd;
	case OP_RESET:
		return fd && s->have_reset;
	case OP_MMAP:
	case OP_CLOSE:
		return fd;
	case OP_FORK_HOLD:
		return !s->holder && s->alive;
	case OP_HOLDER_EXIT:
		return s->holder;
	case OP_REOPEN:
		return !fd;
	case OP_ATTACH:
	case OP_CONTAINER:
		/* A holding child has copies of their fds. */
		return s->have_ti && !s->holder;
	case OP_REBIND:
		/* The peer is let go of: the unbind need not wait. */
		return !fd && !s->alive && !s->holder;
	case OP_MDEV:
		/* A holding child would keep a removed mdev open. */
		return s->have_mdev && !s->holder;
	case OP_COPY:
		return s->fdmode;
	default:
		return true;
	}
}

/* A container for MAP/UNMAP: mostly 0, container 1 when it exists. */
static int pick_cont(struct storm *s)
{
	return s->ct[1].fd >= 0 && !pick(s, 3) ? 1 : 0;
}

static bool do_step(struct storm *s, enum op op);

/* Draw an op that can run now, run it, account its time. */
static bool step(struct storm *s)
{
	unsigned int total = 0, nowhere = 0, r, i, w[NR_OPS];
	int64_t t0;
	enum op op;
	bool ok;

	for (i = 0; i < WIN; i++)
		nowhere += s->where[i] == NOWHERE;
	/* Decode off, the peer closed, the BAR unmapped: short states, as in real use. */
	for (i = 0; i < NR_OPS; i++) {
		/* Not drawn under type1: its seeds draw what they did before. */
		w[i] = i == OP_COPY && !s->fdmode ? 0 : weight[i];
		if ((i == OP_DECODE && !s->decode) || (i == OP_REOPEN && s->c.shm.fd < 0) ||
		    (i == OP_MMAP && nowhere > WIN / 2))
			w[i] *= 4;
		total += w[i];
	}
	do {
		r = pick(s, total);
		for (op = 0; r >= w[op]; op++)
			r -= w[op];
	} while (!op_ok(s, op));
	s->n_ops++;
	s->ops[op]++;
	t0 = now_ms();
	ok = do_step(s, op);
	s->op_ms[op] += now_ms() - t0;
	return ok;
}

static bool do_step(struct storm *s, enum op op)
{
	int k;

	switch (op) {
	case OP_MAP:
		k = pick_cont(s);
		return op_map(s, k) && readback(s, false);
	case OP_UNMAP:
		k = pick_cont(s);
		return op_unmap(s, k) && readback(s, false);
	case OP_UNMAP_ALL:
		k = pick_cont(s);
		return op_unmap_all(s, k) && readback(s, false);
	case OP_PROBE_EDU:
		return op_probe_edu(s);
	case OP_PROBE_TI:
		k = s->ct[1].ti.dev.fd >= 0 && (s->ct[0].ti.dev.fd < 0 || pick(s, 2));
		return op_probe_ti(s, k);
	case OP_DECODE:
		return op_decode(s) && readback(s, false) && check_memory(s);
	case OP_RESET:
		return op_reset(s) && readback(s, false) && check_memory(s);
	case OP_MUNMAP:
		return op_munmap(s);
	case OP_MMAP:
		return op_mmap(s);
	case OP_MREMAP:
		return op_mremap(s);
	case OP_FORK:
		return op_fork_touch(s);
	case OP_FORK_HOLD:
		return op_fork_hold(s);
	case OP_HOLDER_EXIT:
		return op_holder_exit(s);
	case OP_CLOSE:
		return op_close(s);
	case OP_RELEASE:
		return op_release(s);
	case OP_REOPEN:
		return op_reopen(s);
	case OP_ATTACH:
		return op_attach(s);
	case OP_CONTAINER:
		return op_container(s);
	case OP_REBIND:
		return op_rebind(s);
	case OP_MDEV:
		return op_mdev(s);
	case OP_COPY:
		return op_copy(s) && readback(s, false);
	default:
		return diverge(s, "no such op %d", op);
	}
}

/* Before each seed: the peer open and mapped at MAIN, decode on, fresh bytes. */
static bool seed_begin(struct storm *s, uint32_t seed)
{
	struct vfio_p2p_ctx *c = &s->c;
	unsigned int i;
	int ret;
	void *p;

	s->seed = seed;
	s->step = 0;
	s->rng = 0x9e3779b97f4a7c15ULL * (seed + 1);
	for (i = 0; i < 4; i++)
		rnd(s);
	memset(s->hist, 0, sizeof(s->hist));
	note(s, "begin", "seed %u", seed);
	if (c->shm.fd < 0) {
		ret = vfio_p2p_dev_reopen(&c->shm);
		if (ret < 0)
			return diverge(s, "opening the peer again: %s", strerror(-ret));
		if (!s->alive)
			s->session++;
	}
	s->alive = true;
	ret = vfio_p2p_pci_command(&c->shm, PCI_COMMAND_MEMORY, 0);
	if (ret)
		return diverge(s, "decode on: %s", strerror(-ret));
	s->decode = true;
	p = mmap(slot_va(s, S_MAIN, 0), WIN * PG, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, c->shm.fd, c->bar2.offset + WIN_OFF);
	if (p != slot_va(s, S_MAIN, 0))
		return diverge(s, "mmap of the BAR window: %s", strerror(errno));
	if (!reserve(s, S_ALT, 0, WIN))
		return false;
	for (i = 0; i < WIN; i++) {
		s->where[i] = S_MAIN;
		s->vma[i] = s->vma_next;
	}
	s->vma_next++;
	vfio_p2p_fill(s->bar_shadow, sizeof(s->bar_shadow), seed ^ 0xba5eba11U);
	memcpy(p, s->bar_shadow, sizeof(s->bar_shadow));
	vfio_p2p_fill(s->ram_shadow, sizeof(s->ram_shadow), seed ^ 0x5eed0000U);
	for (i = 0; i < NRAM; i++)
		memcpy(ram_va(s, i), s->ram_shadow + i * PG, PG);
	if (s->have_ti) {
		ret = p2p_ti_open(&s->ct[0].ti, 0, s->ct[0].fd);
		if (ret)
			return diverge(s, "attach test client 0: %s", strerror(-ret));
	}
	return check_memory(s) && readback(s, false);
}

/*
 * After each seed: let go of children and container 1, compare the whole
 * window through a fresh mmap, tell the rig what the host file must hold,
 * and unmap everything (UNMAP_ALL returns exactly what the model has).
 */
static bool seed_end(struct storm *s)
{
	struct vfio_p2p_ctx *c = &s->c;
	bool ok = true;
	unsigned int i;
	uint8_t *view;

	s->step++;
	note(s, "end", "seed %u", s->seed);
	if (s->holder && !holder_reap(s))
		return false;
	peer_update(s);
	if (s->ct[1].fd >= 0 && !op_container(s))
		return false;
	if (s->m.up) {
		note(s, "end", "seed %u: the mdev removed", s->seed);
		int ret = mdev_down(s);

		if (ret)
			return diverge(s, "removing the mdev: %s", strerror(-ret));
	}
	/* iommufd: a new bind needs the session ended (mmaps only left). */
	if (s->fdmode && c->shm.fd < 0 && s->alive) {
		note(s, "end", "seed %u: munmap the BAR: RELEASE, for the cdev's bind", s->seed);
		if (!munmap_bar(s))
			return false;
		peer_update(s);
		if (!readback(s, true))
			return false;
	}
	if (c->shm.fd < 0 && !op_reopen(s))
		return false;
	if (!s->decode && !op_decode(s))
		return false;
	if (!readback(s, true))
		return false;
	view = mmap(NULL, WIN * PG, PROT_READ, MAP_SHARED, c->shm.fd,
		    c->bar2.offset + WIN_OFF);
	if (view == MAP_FAILED)
		return diverge(s, "mmap of the BAR window: %s", strerror(errno));
	for (i = 0; i < WIN && ok; i++)
		ok = check_bytes(s, "BAR (fresh mmap)", i, view + i * PG,
				 s->bar_shadow + i * PG);
	munmap(view, WIN * PG);
	if (!ok)
		return false;
	vfio_p2p_host_expect_bytes(c->shm.bdf, WIN_OFF, s->bar_shadow,
				   sizeof(s->bar_shadow));
	if (!op_unmap_all(s, 0))
		return false;
	if (s->ct[0].ti.dev.fd >= 0)
		p2p_ti_close(&s->ct[0].ti);
	return munmap_bar(s);
}

/* One seed: @steps steps or @cap_ms, whichever comes first.  True if no divergence. */
static bool run_seed(struct storm *s, uint32_t seed, unsigned int steps, int64_t cap_ms)
{
	struct __test_metadata *_metadata = s->md;
	int64_t t0 = now_ms(), end = t0 + cap_ms;
	unsigned long ops0 = s->n_ops, dma0 = s->n_dma, ti0 = s->n_ti;
	bool ok;

	ok = seed_begin(s, seed);
	while (ok && s->step + 1 < steps && now_ms() < end) {
		s->step++;
		ok = step(s);
	}
	if (ok && s->step + 1 < steps)
		TH_LOG("seed %u: the time cap stopped it after step %u", seed, s->step);
	ok = ok && seed_end(s);
	TH_LOG("seed %u: %s after %u steps, %lu ops (%lu edu DMAs, %lu client DMAs) in %.1f s",
	       seed, ok ? "agrees" : "DIVERGED", s->step, s->n_ops - ops0,
	       s->n_dma - dma0, s->n_ti - ti0, (now_ms() - t0) / 1000.0);
	return ok;
}

/* Say how often each op ran and each outcome was predicted. */
static void report(struct storm *s)
{
	struct __test_metadata *_metadata = s->md;
	char line[1024];
	int i, n;

	for (i = 0, n = 0; i < NR_OPS; i++)
		n += snprintf(line + n, sizeof(line) - n, "%s%s %lu (%lld ms)", i ? ", " : "",
			      op_name[i], s->ops[i], (long long)s->op_ms[i]);
	TH_LOG("ops: %s", line);
	for (i = 0, n = 0; i < NR_STATS; i++)
		n += snprintf(line + n, sizeof(line) - n, "%s%s %lu", i ? ", " : "",
			      stat_name[i], s->stats[i]);
	TH_LOG("outcomes: %s", line);
}

FIXTURE(storm) {
	struct storm *s;
};

FIXTURE_VARIANT(storm) {
	int iommu_type;
};

/* type1v2 and iommufd: the model's unmap is v2's or iommufd's. */
#define VFIO_P2P_MODES_FIXTURE storm
#define VFIO_P2P_MODES_NO_TYPE1
#include "vfio_p2p_iommu_modes.h"

FIXTURE_SETUP(storm)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct storm *s;
	const char *what;
	int ret, k;

	s = calloc(1, sizeof(*s));
	ASSERT_NE(NULL, s);
	self->s = s;
	s->md = _metadata;
	s->va = MAP_FAILED;
	s->pagemap = open("/proc/self/pagemap", O_RDONLY);
	ASSERT_LE(0, s->pagemap);
	for (k = 0; k < NCONT; k++) {
		s->ct[k].fd = -1;
		s->ct[k].inst = k;
		p2p_ti_init(&s->ct[k].ti);
	}
	s->fdmode = variant->iommu_type == VFIO_P2P_IOMMUFD;
	ret = vfio_p2p_ctx_open_wait(&s->c, variant->iommu_type, &what, 30);
	if (ret == -ENODEV || ret == -EOPNOTSUPP)
		SKIP(return, "%s: %s", what, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", what, strerror(-ret));
	ASSERT_LE(WIN_OFF + WIN * PG, s->c.bar2.size);
	s->ct[0].fd = s->c.container;
	if (s->fdmode)
		ASSERT_TRUE(vfio_p2p_iommufd_ioas(s->c.container, &s->ct[0].ioas));
	s->have_ti = !p2p_ti_present(0) && !p2p_ti_present(1);
	if (!s->have_ti)
		TH_LOG("no test IOMMU (CONFIG_VFIO_P2P_TEST_IOMMU): %s",
		       "no read-back, no second domain or container");
	ASSERT_EQ(0, ioctl(s->c.shm.fd, VFIO_DEVICE_GET_INFO, &info));
	s->have_reset = info.flags & VFIO_DEVICE_FLAGS_RESET;
	s->bar_pfn = (vfio_p2p_bar_phys(s->c.shm.bdf, IVSHMEM_BAR) + WIN_OFF) / PG;
	ASSERT_NE(WIN_OFF / PG, s->bar_pfn);
	ASSERT_NE(0, vfio_p2p_pagemap_pfn(s->c.ram)) TH_LOG("no pfns in /proc/self/pagemap");
	s->va = mmap(NULL, NSLOT * WIN * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, s->va);
	for (k = S_RAM1; k <= S_RAM2; k += S_RAM2 - S_RAM1) {
		void *p = mmap(slot_va(s, k, 0), WIN * PG, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

		ASSERT_EQ(slot_va(s, k, 0), p);
	}
	s->m.dev.fd = -1;
	s->m.dev.group_fd = -1;
	s->have_mdev = !find_parent(s->parent, sizeof(s->parent));
	if (s->have_mdev)
		s->parent_phys = vfio_p2p_bar_phys(s->parent, IVSHMEM_BAR);
	else
		TH_LOG("no device bound to the mslice driver: no mdev in the storm");
	memset(s->where, NOWHERE, sizeof(s->where));
	s->alive = true;
	s->decode = true;
	s->verbose = getenv("STORM_VERBOSE") && atoi(getenv("STORM_VERBOSE"));
	s->broken = vfio_p2p_break_requested();
}

FIXTURE_TEARDOWN(storm)
{
	struct storm *s = self->s;
	int k;

	if (!s)
		return;
	if (s->holder) {
		kill(s->holder, SIGKILL);
		waitpid(s->holder, NULL, 0);
	}
	for (k = 0; k < NCONT; k++)
		p2p_ti_close(&s->ct[k].ti);
	mdev_down(s);
	/* iommufd: container 1 is an IOAS of container 0's iommufd. */
	if (s->ct[1].fd >= 0 && !s->fdmode)
		close(s->ct[1].fd);
	if (s->va != MAP_FAILED)
		munmap(s->va, NSLOT * WIN * PG);
	if (s->pagemap >= 0)
		close(s->pagemap);
	vfio_p2p_ctx_close(&s->c);
	free(s);
}

static long env_num(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 0) : def;
}

/*
 * make check: the fixed seeds (or STORM_SEED alone), STORM_STEPS steps each.
 * The soak (STORM_SECONDS): random seeds until the time is up.
 */
TEST_F_TIMEOUT(storm, seeds, 360)
{
	struct storm *s = self->s;
	long steps = env_num("STORM_STEPS", DEFAULT_STEPS);
	/* The soak's time, as make check's seeds, is split between the modes. */
	long soak = env_num("STORM_SECONDS", 0) / 2;
	const uint32_t *check_seeds = s->fdmode ? check_seeds_iommufd : check_seeds_type1v2;
	unsigned int nseeds = s->fdmode ? ARRAY_SIZE(check_seeds_iommufd) :
				ARRAY_SIZE(check_seeds_type1v2);
	int64_t t0 = now_ms();
	unsigned int n = 0, i;
	double secs;
	bool ok = true;

	ASSERT_LT(0, steps);
	if (soak > 0) {
		uint32_t seed = vfio_p2p_seed() & 0xfffffff;

		char list[1024] = "";
		size_t len = 0;

		TH_LOG("soak (%s): random seeds from %u for %ld s, %ld steps each",
		       s->fdmode ? "iommufd" : "type1v2", seed, soak, steps);
		while (ok && now_ms() - t0 < soak * 1000) {
			ok = run_seed(s, seed, steps, soak * 1000 - (now_ms() - t0) + 1);
			n++;
			if (len < sizeof(list) - 16)
				len += snprintf(list + len, sizeof(list) - len, " %u", seed);
			seed = seed * 1103515245U + 12345U;
			seed &= 0xfffffff;
		}
		TH_LOG("soak: the seeds covered:%s", list);
	} else if (getenv("STORM_SEED")) {
		ok = run_seed(s, env_num("STORM_SEED", 0), steps, SEED_CAP_S * 1000);
		n = 1;
	} else {
		for (i = 0; ok && i < nseeds; i++, n++)
			ok = run_seed(s, check_seeds[i], steps, SEED_CAP_S * 1000);
	}
	secs = (now_ms() - t0) / 1000.0;
	TH_LOG("%s: %u seed(s), %lu ops (%lu edu DMAs, %lu client DMAs, %lu read-backs)",
	       s->fdmode ? "iommufd" : "type1v2", n, s->n_ops, s->n_dma, s->n_ti,
	       s->n_readback);
	TH_LOG("in %.1f s: %.1f ops/s", secs, s->n_ops / secs);
	report(s);
	ASSERT_TRUE(ok);
}

/*
 * The harness arms its timeout from the test's metadata before the test
 * runs; a soak longer than the default gets a longer one here (after the
 * harness's constructors registered the test).
 */
static void __attribute__((constructor(KSELFTEST_PRIO_TEST + 1))) storm_soak_timeout(void)
{
	long soak = env_num("STORM_SECONDS", 0);

	if (soak > 0)
		_storm_seeds_object->timeout = soak + 300;
}

TEST_HARNESS_MAIN
