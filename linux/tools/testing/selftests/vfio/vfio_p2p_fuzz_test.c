// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_p2p_fuzz_test: hostile VFIO_IOMMU_MAP_DMA / VFIO_IOMMU_UNMAP_DMA
 * arguments over BAR ranges, in a type1v2 container of edu and ivshmem;
 * and hostile IOMMU_IOAS_MAP / IOMMU_IOAS_UNMAP / IOMMU_IOAS_COPY over
 * the same ranges, in an iommufd whose IOAS edu and ivshmem are attached
 * to (the two IOMMU modes of vfio_p2p_iommu_modes.h; type1 (v1) is left
 * out, see below).
 *
 * A seeded generator draws each call's address from a set of regions, the
 * peer's BAR mmap (read/write, read-only, through a device fd closed since),
 * edu's BAR0, anonymous and memfd-private memory, PROT_NONE memory, a hole,
 * and [BAR][RAM][BAR] in one range, or a wild address; its size and IOVA
 * from aligned, unaligned, zero and overflowing values; its flags from the
 * valid ones (READ, WRITE, VADDR, GET_DIRTY_BITMAP, ALL) and invalid bits.
 * Over iommufd, "BAR2 of a closed fd" is a PROT_NONE mmap of BAR2 instead
 * (a cdev is open once at a time), and the flags are iommufd's (FIXED_IOVA
 * or an IOVA iommufd picks, READABLE, WRITEABLE, undefined bits, a
 * __reserved field set), with a short struct size and a wrong IOAS id.
 * A model keeps what the container maps:
 *
 *  - every call succeeds or fails with an errno the uAPI (vfio.h) or the
 *    P2P documentation (Documentation/driver-api/vfio-p2p.rst, "The
 *    errors, in one place") gives for these ioctls;
 *  - a MAP_DMA that succeeds adds its range; an UNMAP_DMA that succeeds
 *    returns exactly the size of the model's ranges inside it (VADDR: it
 *    only marks them);
 *  - at the end UNMAP_ALL returns exactly what the model still holds, a
 *    second one returns nothing, and the BAR maps and takes edu's DMA.
 *
 * Over iommufd the model holds areas, as iommufd does: a map of a range
 * that holds P2P-capable vfio VMAs (its mmaps of /dev/vfio/devices/vfioN)
 * is one area per such VMA and one per stretch between them
 * (Documentation/driver-api/vfio-p2p.rst, "iommufd"); an unmap removes,
 * in IOVA order, the areas it covers whole, up to the first it covers in
 * part (ENOENT; also for nothing covered); a copy of a range its areas
 * cover without a gap makes one area per piece at the destination.  The
 * errnos are iommufd's (EOPNOTSUPP, EOVERFLOW, EINVAL, ENOENT, EEXIST,
 * ENOSPC for no IOVA to pick, EPERM, E2BIG) and the P2P ones above.  At
 * the end the full unmap (iova 0, length U64_MAX) returns what the model
 * holds, and a test-IOMMU client attached to the IOAS shows its domain
 * empty: no link or page left mapped by any path.
 *
 * The rig scans the kernel log for reports (lockdep, KASAN, WARN) and runs
 * kmemleak afterwards.  A divergence prints the seed and step;
 * VFIO_P2P_FUZZ_SEED=N (and VFIO_P2P_FUZZ_STEPS) replays one seed.
 * type1v2 only: v1's unmap semantics (coalesced, offset unmaps that
 * succeed with size 0) leave the model nothing exact to check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>

#include <linux/iommufd.h>

#include "../kselftest_harness.h"
#include "vfio_p2p_util.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_test_iommu.h"

#define PG		4096ULL
#define MIB		(1024ULL * 1024)
#define IOVA_BASE	0x100000000ULL	/* the fuzzer's IOVAs: 64 slots of 16 MiB */
#define IOVA_SLOTS	64
#define IOVA_SLOT	(16 * MIB)
#define MAX_RANGES	1024
#define DEFAULT_STEPS	1500
#define NR_REGIONS	10
/* Where in the BAR the closing DMA writes: no other program's host check. */
#define OFF		0xf80000ULL

struct region {
	const char *name;
	uint8_t *addr;
	uint64_t len;
};

struct range {
	uint64_t iova, size;
	bool vaddr_invalid;
};

struct fuzz {
	struct vfio_p2p_ctx c;
	bool ifd;		/* the iommufd mode: c.container is an iommufd */
	uint32_t ioas;
	struct p2p_ti_dev t;	/* iommufd: a test-IOMMU client of the IOAS */
	struct region r[NR_REGIONS];
	int nr;
	struct range m[MAX_RANGES];
	int nm;
	uint64_t rng;
	unsigned long calls;
	/* (op, errno) paths seen: op 0 map, 1 unmap, 2 copy; errno 0..133 */
	bool seen[3][134];
};

static uint64_t rnd(struct fuzz *f)
{
	/* xorshift64* */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t pick(struct fuzz *f, uint64_t n)
{
	return n ? rnd(f) % n : 0;
}

static void add_region(struct fuzz *f, const char *name, void *addr, uint64_t len)
{
	f->r[f->nr++] = (struct region){ name, addr, len };
}

/* An address: inside a region (aligned or not), or wild. */
static uint64_t draw_vaddr(struct fuzz *f, const struct region **rp)
{
	const struct region *r = &f->r[pick(f, f->nr)];

	*rp = r;
	switch (pick(f, 8)) {
	case 0:
		*rp = NULL;
		return pick(f, 2) ? rnd(f) : (pick(f, 2) ? 0 : ~0ULL - pick(f, 3) * PG);
	case 1:
		return (uint64_t)(uintptr_t)r->addr + pick(f, r->len);
	default:
		return (uint64_t)(uintptr_t)r->addr + pick(f, r->len / PG) * PG;
	}
}

static uint64_t draw_size(struct fuzz *f, const struct region *r, uint64_t vaddr)
{
	uint64_t left = r ? (uint64_t)(uintptr_t)r->addr + r->len - vaddr : 16 * MIB;

	switch (pick(f, 10)) {
	case 0:
		return 0;
	case 1:
		return pick(f, 2) ? ~0ULL - pick(f, 2) * PG : 1ULL << 63;
	case 2:
		return pick(f, 64 * MIB) + 1;		/* unaligned, maybe past the end */
	case 3:
		return left + PG;			/* one page past the region */
	default:
		return (pick(f, left / PG) + 1) * PG;	/* inside the region */
	}
}

static uint64_t draw_iova(struct fuzz *f)
{
	uint64_t slot = IOVA_BASE + pick(f, IOVA_SLOTS) * IOVA_SLOT;

	switch (pick(f, 12)) {
	case 0:
		return ~0ULL - pick(f, 4) * PG;		/* wraps */
	case 1:
		return slot + pick(f, PG);		/* unaligned */
	case 2:
		return 0;
	case 3:
		return slot + pick(f, IOVA_SLOT / PG) * PG;
	default:
		return slot;
	}
}

static bool errno_ok(int op, int err)
{
	switch (err) {
	case EINVAL:	/* bad size, alignment, flags, overlap, bisected unmap */
	case EFAULT:	/* no usable memory at the address; strict_mmio_maps */
	case EEXIST:	/* map over a mapped IOVA */
	case ENOMEM:	/* locked memory limit, allocation */
	case ENOSPC:	/* dma_entry_limit, or the P2P link cap */
	case ENOENT:	/* VADDR update of nothing */
	case EPERM:	/* prot not allowed */
	case EBUSY:	/* VADDR with an mdev in the container */
	case EAGAIN:	/* P2P: device events kept racing the lookup */
	case EINTR:	/* P2P: a fatal signal while waiting out a reset */
		return true;
	default:
		return false;
	}
}

static int model_find(struct fuzz *f, uint64_t iova)
{
	int i;

	for (i = 0; i < f->nm; i++)
		if (f->m[i].iova <= iova && iova - f->m[i].iova < f->m[i].size)
			return i;
	return -1;
}

/* Is range @i inside [iova, last]?  (last, not end: 2^64 is an end.) */
static bool model_in(struct fuzz *f, int i, uint64_t iova, uint64_t last)
{
	return f->m[i].iova >= iova && f->m[i].iova + f->m[i].size - 1 <= last;
}

/* What the model maps inside [iova, last]. */
static uint64_t model_inside(struct fuzz *f, uint64_t iova, uint64_t last)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < f->nm; i++)
		if (model_in(f, i, iova, last))
			sum += f->m[i].size;
	return sum;
}

/* Does any range of the model overlap [iova, last]? */
static bool model_overlaps(struct fuzz *f, uint64_t iova, uint64_t last)
{
	int i;

	for (i = 0; i < f->nm; i++)
		if (f->m[i].iova <= last && iova <= f->m[i].iova + f->m[i].size - 1)
			return true;
	return false;
}

static void model_remove(struct fuzz *f, uint64_t iova, uint64_t last)
{
	int i, j = 0;

	for (i = 0; i < f->nm; i++)
		if (!model_in(f, i, iova, last))
			f->m[j++] = f->m[i];
	f->nm = j;
}

static void model_invalidate(struct fuzz *f, uint64_t iova, uint64_t last)
{
	int i;

	for (i = 0; i < f->nm; i++)
		if (model_in(f, i, iova, last))
			f->m[i].vaddr_invalid = true;
}

static void seen(struct fuzz *f, int op, int err)
{
	if (err >= 0 && err < 134)
		f->seen[op][err] = true;
}

/* One MAP_DMA; false on a divergence (logged). */
static bool fuzz_map(struct __test_metadata *_metadata, struct fuzz *f,
		     unsigned long step)
{
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
	const struct region *r;
	int ret, err;

	map.vaddr = draw_vaddr(f, &r);
	map.size = draw_size(f, r, map.vaddr);
	map.iova = draw_iova(f);
	map.flags = VFIO_DMA_MAP_FLAG_READ | (pick(f, 4) ? VFIO_DMA_MAP_FLAG_WRITE : 0);
	switch (pick(f, 16)) {
	case 0:
		map.flags = VFIO_DMA_MAP_FLAG_VADDR;	/* update a range's vaddr */
		break;
	case 1:
		map.flags |= 1u << (3 + pick(f, 29));	/* an undefined bit */
		break;
	case 2:
		map.flags = 0;
		break;
	case 3:
		map.argsz = pick(f, sizeof(map));	/* short */
		break;
	}
	ret = ioctl(f->c.container, VFIO_IOMMU_MAP_DMA, &map);
	err = ret ? errno : 0;
	f->calls++;
	seen(f, 0, err);
	if (ret && !errno_ok(0, err)) {
		TH_LOG("step %lu: MAP_DMA vaddr %#llx (%s) iova %#llx size %#llx %s %#x: %s %s",
		       step, (unsigned long long)map.vaddr, r ? r->name : "wild",
		       (unsigned long long)map.iova, (unsigned long long)map.size,
		       "flags", map.flags, "unexpected", strerror(err));
		return false;
	}
	if (ret)
		return true;
	if (map.flags & VFIO_DMA_MAP_FLAG_VADDR) {
		int i = model_find(f, map.iova);

		if (i < 0 || f->m[i].iova != map.iova || f->m[i].size != map.size ||
		    !f->m[i].vaddr_invalid) {
			TH_LOG("step %lu: VADDR update of iova %#llx size %#llx %s",
			       step, (unsigned long long)map.iova, (unsigned long long)map.size,
			       "succeeded on no invalidated range");
			return false;
		}
		f->m[i].vaddr_invalid = false;
		return true;
	}
	if (model_overlaps(f, map.iova, map.iova + map.size - 1) || f->nm == MAX_RANGES) {
		TH_LOG("step %lu: MAP_DMA iova %#llx size %#llx succeeded over a mapped range",
		       step, (unsigned long long)map.iova, (unsigned long long)map.size);
		return false;
	}
	f->m[f->nm++] = (struct range){ map.iova, map.size, false };
	return true;
}

/* One UNMAP_DMA; false on a divergence (logged). */
static bool fuzz_unmap(struct __test_metadata *_metadata, struct fuzz *f,
		       unsigned long step)
{
	struct {
		struct vfio_iommu_type1_dma_unmap unmap;
		struct vfio_bitmap bitmap;
	} u = { .unmap.argsz = sizeof(u.unmap) };
	uint64_t bits[4] = { 0 }, want, iova, size, last;
	bool vaddr = false;
	int ret, err, i;

	iova = pick(f, 3) || !f->nm ? draw_iova(f) : f->m[pick(f, f->nm)].iova;
	i = model_find(f, iova);
	size = pick(f, 3) || i < 0 ? draw_size(f, NULL, 0) : f->m[i].size;
	u.unmap.iova = iova;
	u.unmap.size = size;
	switch (pick(f, 12)) {
	case 0:
		u.unmap.flags = VFIO_DMA_UNMAP_FLAG_VADDR;
		vaddr = true;
		break;
	case 1:
		u.unmap.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
		u.unmap.argsz = sizeof(u);
		u.bitmap.pgsize = PG;
		u.bitmap.size = sizeof(bits);
		u.bitmap.data = (__u64 *)bits;
		break;
	case 2:
		u.unmap.flags = 1u << (3 + pick(f, 29));
		break;
	case 3:
		u.unmap.flags = VFIO_DMA_UNMAP_FLAG_ALL;	/* with an iova and size */
		break;
	}
	/* UNMAP_ALL wants iova and size 0; anything else is EINVAL. */
	last = u.unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL ? ~0ULL : iova + size - 1;
	want = model_inside(f, iova, last);
	ret = ioctl(f->c.container, VFIO_IOMMU_UNMAP_DMA, &u.unmap);
	err = ret ? errno : 0;
	f->calls++;
	seen(f, 1, err);
	if (ret && !errno_ok(1, err)) {
		TH_LOG("step %lu: UNMAP_DMA iova %#llx size %#llx flags %#x: unexpected %s",
		       step, (unsigned long long)iova, (unsigned long long)size,
		       u.unmap.flags, strerror(err));
		return false;
	}
	if (ret)
		return true;
	if (u.unmap.size != want) {
		TH_LOG("step %lu: UNMAP_DMA iova %#llx size %#llx flags %#x: %#llx, %s %#llx",
		       step, (unsigned long long)iova, (unsigned long long)size,
		       u.unmap.flags, (unsigned long long)u.unmap.size,
		       "the model maps", (unsigned long long)want);
		return false;
	}
	if (vaddr)
		model_invalidate(f, iova, last);
	else
		model_remove(f, iova, last);
	return true;
}

/* iommufd: what IOMMU_IOAS_MAP, _UNMAP and _COPY may fail with. */
static bool ioas_errno_ok(int err)
{
	switch (err) {
	case EOPNOTSUPP:	/* undefined flags, __reserved set */
	case EOVERFLOW:		/* iova or length at or past ULONG_MAX, wraps */
	case E2BIG:		/* a struct size past ours with bytes set */
	case ENOENT:		/* no such IOAS; unmap or copy of no whole area */
		return true;
	default:
		/* the rest as type1's: EINVAL, EFAULT, EEXIST, ENOSPC, ... */
		return errno_ok(0, err);
	}
}

/* A VMA of ours (/proc/self/maps), and whether it is a vfio device mmap. */
struct vma {
	uint64_t start, end;
	bool p2p;
};

static int read_vmas(struct vma *v, int max)
{
	char line[512], path[256];
	unsigned long long start, end;
	FILE *fp = fopen("/proc/self/maps", "r");
	int n = 0;

	if (!fp)
		return -1;
	while (n < max && fgets(line, sizeof(line), fp)) {
		path[0] = '\0';
		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %255s", &start, &end, path) < 2)
			continue;
		v[n].start = start;
		v[n].end = end;
		v[n].p2p = !strncmp(path, "/dev/vfio/", 10);
		n++;
	}
	fclose(fp);
	return n;
}

/* Add an area to the model; false if it has no room or overlaps. */
static bool model_add(struct fuzz *f, uint64_t iova, uint64_t size)
{
	if (f->nm == MAX_RANGES || model_overlaps(f, iova, iova + size - 1))
		return false;
	f->m[f->nm++] = (struct range){ iova, size, false };
	return true;
}

/*
 * The areas of a successful IOMMU_IOAS_MAP of [@vaddr, +@len) at @iova, as
 * iopt_p2p_pages_list() cuts it: unless the range is page aligned and holds
 * a vfio VMA, one area; else one per vfio VMA and one per stretch between.
 */
static bool ioas_model_map(struct fuzz *f, uint64_t vaddr, uint64_t len, uint64_t iova)
{
	static struct vma v[512];
	uint64_t end = vaddr + len, cur = vaddr, next;
	bool any = false;
	int n, i;

	n = (vaddr | len) & (PG - 1) || end < vaddr ? 0 : read_vmas(v, 512);
	while (cur < end) {
		next = end;
		for (i = 0; i < n; i++) {
			if (!v[i].p2p || v[i].end <= cur || v[i].start >= end)
				continue;
			next = v[i].start > cur ? v[i].start : (v[i].end < end ? v[i].end : end);
			break;
		}
		if (!any && next == end)
			break;
		any = true;
		if (!model_add(f, iova + (cur - vaddr), next - cur))
			return false;
		cur = next;
	}
	return any || model_add(f, iova, len);
}

/* The model's area that holds @iova, lowest first: index, or -1. */
static int model_first(struct fuzz *f, uint64_t iova, uint64_t last)
{
	int i, best = -1;

	for (i = 0; i < f->nm; i++)
		if (f->m[i].iova <= last && iova <= f->m[i].iova + f->m[i].size - 1 &&
		    (best < 0 || f->m[i].iova < f->m[best].iova))
			best = i;
	return best;
}

static void model_drop(struct fuzz *f, int i)
{
	f->m[i] = f->m[--f->nm];
}

/*
 * iopt_unmap_iova_range() on the model: removes the areas inside [iova,
 * last] in IOVA order up to the first it covers in part; the bytes removed,
 * and -ENOENT for that part (0 if none).
 */
static int ioas_model_unmap(struct fuzz *f, uint64_t iova, uint64_t last,
			    uint64_t *unmapped)
{
	int i;

	*unmapped = 0;
	while ((i = model_first(f, iova, last)) >= 0) {
		uint64_t a_last = f->m[i].iova + f->m[i].size - 1;

		if (f->m[i].iova < iova || a_last > last)
			return -ENOENT;
		*unmapped += f->m[i].size;
		model_drop(f, i);
		if (a_last >= last)
			break;
		iova = a_last + 1;
	}
	return 0;
}

static int ioas_ioctl(struct fuzz *f, unsigned long op, void *arg, int idx)
{
	int err = ioctl(f->c.container, op, arg) ? errno : 0;

	f->calls++;
	seen(f, idx, err);
	return err;
}

/* The flags of a map or copy, hostile now and then. */
static uint32_t ioas_flags(struct fuzz *f)
{
	uint32_t flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 (pick(f, 4) ? IOMMU_IOAS_MAP_WRITEABLE : 0);

	switch (pick(f, 16)) {
	case 0:
	case 1:
		return flags & ~IOMMU_IOAS_MAP_FIXED_IOVA;	/* iommufd picks */
	case 2:
		/* An undefined bit; not 16, the mock's syzkaller bit (IOMMUFD_TEST). */
		return flags | 1u << (3 + pick(f, 13));
	case 3:
		return IOMMU_IOAS_MAP_FIXED_IOVA;		/* neither R nor W */
	case 4:
		return IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_FIXED_IOVA;
	}
	return flags;
}

/* A hostile struct size, IOAS id: now and then. */
static void ioas_header(struct fuzz *f, uint32_t *size, uint32_t *ioas, uint32_t full)
{
	*size = full;
	*ioas = f->ioas;
	switch (pick(f, 24)) {
	case 0:
		*size = pick(f, full);			/* short: EINVAL */
		break;
	case 1:
		*size = full + 8;			/* longer, zero tail: fine */
		break;
	case 2:
		*ioas = f->ioas + 1 + pick(f, 4);	/* no such IOAS, or not one */
		break;
	}
}

/* One IOMMU_IOAS_MAP; false on a divergence (logged). */
static bool ioas_map(struct __test_metadata *_metadata, struct fuzz *f,
		     unsigned long step)
{
	struct {
		struct iommu_ioas_map map;
		uint64_t tail;
	} a = { .tail = 0 };
	struct iommu_ioas_map *m = &a.map;
	const struct region *r;
	int err;

	ioas_header(f, &m->size, &m->ioas_id, sizeof(*m));
	m->user_va = draw_vaddr(f, &r);
	m->length = draw_size(f, r, m->user_va);
	m->iova = draw_iova(f);
	m->flags = ioas_flags(f);
	m->__reserved = pick(f, 32) ? 0 : 1 + pick(f, 7);
	err = ioas_ioctl(f, IOMMU_IOAS_MAP, &a, 0);
	if (err && !ioas_errno_ok(err)) {
		TH_LOG("step %lu: IOAS_MAP va %#llx (%s) iova %#llx length %#llx flags %#x: %s %s",
		       step, (unsigned long long)m->user_va, r ? r->name : "wild",
		       (unsigned long long)m->iova, (unsigned long long)m->length,
		       m->flags, "unexpected", strerror(err));
		return false;
	}
	if (err)
		return true;
	if (m->size < sizeof(*m) || m->ioas_id != f->ioas || m->__reserved ||
	    !ioas_model_map(f, m->user_va, m->length, m->iova)) {
		TH_LOG("step %lu: IOAS_MAP iova %#llx length %#llx size %u ioas %u %s",
		       step, (unsigned long long)m->iova, (unsigned long long)m->length,
		       m->size, m->ioas_id, "succeeded where it must fail");
		return false;
	}
	return true;
}

/* One IOMMU_IOAS_UNMAP; false on a divergence (logged). */
static bool ioas_unmap(struct __test_metadata *_metadata, struct fuzz *f,
		       unsigned long step)
{
	struct {
		struct iommu_ioas_unmap u;
		uint64_t tail;		/* zero: a longer struct size is fine */
	} a = { .tail = 0 };
	struct iommu_ioas_unmap *u = &a.u;
	uint64_t want = 0, iova, len;
	int err, merr = 0, i;
	bool bad;

	ioas_header(f, &u->size, &u->ioas_id, sizeof(*u));
	iova = pick(f, 3) || !f->nm ? draw_iova(f) : f->m[pick(f, f->nm)].iova;
	i = model_find(f, iova);
	len = pick(f, 3) || i < 0 ? draw_size(f, NULL, 0) : f->m[i].size;
	if (!pick(f, 12)) {
		/* All, or a near miss of it. */
		iova = pick(f, 2) ? 0 : PG;
		len = UINT64_MAX - pick(f, 2);
	}
	u->iova = iova;
	u->length = len;
	bad = u->size < sizeof(*u) || u->ioas_id != f->ioas;
	/* The model says what iommufd does, including what a failure unmapped. */
	if (bad)
		merr = -1;
	else if (!iova && len == UINT64_MAX)
		merr = -ioas_model_unmap(f, 0, UINT64_MAX, &want);
	else if (iova >= UINT64_MAX || len >= UINT64_MAX)
		merr = EOVERFLOW;
	else if (!len)
		merr = EINVAL;
	else if (iova + len - 1 < iova)
		merr = EOVERFLOW;
	else
		merr = -ioas_model_unmap(f, iova, iova + len - 1, &want);
	if (!bad && !merr && !want && (iova || len != UINT64_MAX))
		merr = ENOENT;		/* nothing unmapped, but for all */
	err = ioas_ioctl(f, IOMMU_IOAS_UNMAP, &a, 1);
	if (err && !ioas_errno_ok(err)) {
		TH_LOG("step %lu: IOAS_UNMAP iova %#llx length %#llx: unexpected %s",
		       step, (unsigned long long)iova, (unsigned long long)len,
		       strerror(err));
		return false;
	}
	if (bad) {
		if (!err) {
			TH_LOG("step %lu: IOAS_UNMAP with size %u ioas %u succeeded",
			       step, u->size, u->ioas_id);
			return false;
		}
		return true;
	}
	if (err != merr || (!err && u->length != want)) {
		TH_LOG("step %lu: IOAS_UNMAP iova %#llx length %#llx: %s, %#llx; %s %s, %#llx",
		       step, (unsigned long long)iova, (unsigned long long)len,
		       err ? strerror(err) : "ok", err ? 0ULL : (unsigned long long)u->length,
		       "the model says", merr ? strerror(merr) : "ok",
		       (unsigned long long)want);
		return false;
	}
	return true;
}

/*
 * The pieces of the model's areas in [@iova, +@len), if they cover it
 * without a gap (iopt_get_pages()): how many, into @pc (offsets in the
 * range, lengths).
 */
static int model_cover(struct fuzz *f, uint64_t iova, uint64_t len,
		       uint64_t (*pc)[2], int max)
{
	uint64_t cur = iova, last = iova + len - 1;
	int n = 0, i;

	if (!len || last < iova)
		return -1;
	while (n < max) {
		uint64_t a_last, piece_last;

		i = model_find(f, cur);
		if (i < 0)
			return -1;
		a_last = f->m[i].iova + f->m[i].size - 1;
		piece_last = a_last < last ? a_last : last;
		pc[n][0] = cur - iova;
		pc[n][1] = piece_last - cur + 1;
		n++;
		if (piece_last == last)
			return n;
		cur = piece_last + 1;
	}
	return -1;
}

/* One IOMMU_IOAS_COPY within the IOAS; false on a divergence (logged). */
static bool ioas_copy(struct __test_metadata *_metadata, struct fuzz *f,
		      unsigned long step)
{
	struct {
		struct iommu_ioas_copy cp;
		uint64_t tail;
	} a = { .tail = 0 };
	struct iommu_ioas_copy *cp = &a.cp;
	static uint64_t pc[MAX_RANGES][2];
	int err, n, i, k;

	ioas_header(f, &cp->size, &cp->dst_ioas_id, sizeof(*cp));
	cp->src_ioas_id = pick(f, 24) ? f->ioas : f->ioas + 1 + pick(f, 4);
	cp->flags = ioas_flags(f);
	if (f->nm && pick(f, 4)) {
		k = pick(f, f->nm);
		cp->src_iova = f->m[k].iova + (pick(f, 4) ? 0 : pick(f, f->m[k].size / PG) * PG);
		cp->length = pick(f, 4) ? f->m[k].iova + f->m[k].size - cp->src_iova :
					 draw_size(f, NULL, 0);
	} else {
		cp->src_iova = draw_iova(f);
		cp->length = draw_size(f, NULL, 0);
	}
	cp->dst_iova = draw_iova(f);
	err = ioas_ioctl(f, IOMMU_IOAS_COPY, &a, 2);
	if (err && !ioas_errno_ok(err)) {
		TH_LOG("step %lu: IOAS_COPY %#llx -> %#llx length %#llx flags %#x: unexpected %s",
		       step, (unsigned long long)cp->src_iova, (unsigned long long)cp->dst_iova,
		       (unsigned long long)cp->length, cp->flags, strerror(err));
		return false;
	}
	if (err)
		return true;
	n = model_cover(f, cp->src_iova, cp->length, pc, MAX_RANGES);
	if (cp->size < sizeof(*cp) || cp->src_ioas_id != f->ioas ||
	    cp->dst_ioas_id != f->ioas || n < 0) {
		TH_LOG("step %lu: IOAS_COPY %#llx length %#llx: %s",
		       step, (unsigned long long)cp->src_iova, (unsigned long long)cp->length,
		       "succeeded where it must fail");
		return false;
	}
	for (i = 0; i < n; i++) {
		if (!model_add(f, cp->dst_iova + pc[i][0], pc[i][1])) {
			TH_LOG("step %lu: IOAS_COPY to %#llx length %#llx: %s",
			       step, (unsigned long long)cp->dst_iova,
			       (unsigned long long)cp->length, "succeeded over a mapped range");
			return false;
		}
	}
	return true;
}

FIXTURE(fuzz) {
	struct fuzz f;
	uint8_t *bar, *bar_ro, *bar_closed, *anon, *none, *mfd, *mix;
	int memfd;
};

FIXTURE_VARIANT(fuzz) {
	int iommu_type;
};

#define VFIO_P2P_MODES_FIXTURE fuzz
#define VFIO_P2P_MODES_NO_TYPE1
#include "vfio_p2p_iommu_modes.h"

FIXTURE_SETUP(fuzz)
{
	struct vfio_p2p_ctx *c = &self->f.c;
	struct fuzz *f = &self->f;
	uint64_t mix_len = 3 * 256 * 1024;
	const char *what;
	uint8_t *hole;
	int ret, fd;

	memset(f, 0, sizeof(*f));
	p2p_ti_init(&f->t);
	self->memfd = -1;
	f->ifd = variant->iommu_type == VFIO_P2P_IOMMUFD;
	ret = vfio_p2p_ctx_open_wait(c, variant->iommu_type, &what, 30);
	if (ret == -ENODEV || ret == -EOPNOTSUPP)
		SKIP(return, "%s: %s", what, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", what, strerror(-ret));
	ASSERT_EQ(f->ifd, vfio_p2p_iommufd_ioas(c->container, &f->ioas));
	if (f->ifd) {
		/* Its domain shows what the IOAS maps at the end. */
		ASSERT_EQ(0, p2p_ti_present(0)) TH_LOG("no test IOMMU instance 0");
		ret = p2p_ti_open(&f->t, 0, c->container);
		ASSERT_EQ(0, ret) TH_LOG("test client 0 in the IOAS: %s", strerror(-ret));
	}
	ASSERT_LE(4 * MIB, c->bar2.size);

	self->bar = vfio_p2p_region_mmap(&c->shm, &c->bar2, 0, c->bar2.size,
					 PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, self->bar);
	c->bar2.map = self->bar;
	add_region(f, "BAR2", self->bar, c->bar2.size);
	self->bar_ro = vfio_p2p_region_mmap(&c->shm, &c->bar2, 0, MIB, PROT_READ);
	ASSERT_NE(MAP_FAILED, self->bar_ro);
	add_region(f, "BAR2 read-only", self->bar_ro, MIB);
	if (f->ifd) {
		/* A cdev is open once at a time: a BAR mmap with no access instead. */
		self->bar_closed = vfio_p2p_region_mmap(&c->shm, &c->bar2, MIB, MIB,
							PROT_NONE);
		ASSERT_NE(MAP_FAILED, self->bar_closed);
		add_region(f, "BAR2 PROT_NONE", self->bar_closed, MIB);
	} else {
		/* The mmap outlives the device fd it came from. */
		fd = ioctl(c->shm.group_fd, VFIO_GROUP_GET_DEVICE_FD, c->shm.bdf);
		ASSERT_LE(0, fd);
		self->bar_closed = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
					c->bar2.offset + MIB);
		close(fd);
		ASSERT_NE(MAP_FAILED, self->bar_closed);
		add_region(f, "BAR2 of a closed fd", self->bar_closed, MIB);
	}
	add_region(f, "edu BAR0", c->edu_regs, PG);
	self->anon = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	ASSERT_NE(MAP_FAILED, self->anon);
	memset(self->anon, 0x11, MIB);
	add_region(f, "anonymous", self->anon, MIB);
	self->none = mmap(NULL, MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->none);
	add_region(f, "PROT_NONE", self->none, MIB);
	self->memfd = memfd_create("vfio-p2p-fuzz", 0);
	ASSERT_LE(0, self->memfd);
	ASSERT_EQ(0, ftruncate(self->memfd, MIB));
	self->mfd = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->memfd, 0);
	ASSERT_NE(MAP_FAILED, self->mfd);
	add_region(f, "memfd private", self->mfd, MIB);
	hole = mmap(NULL, MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	munmap(hole, MIB);
	add_region(f, "hole", hole, MIB);
	/* [BAR][RAM][BAR] in one range of address space. */
	self->mix = mmap(NULL, mix_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mix);
	ASSERT_EQ(self->mix, mmap(self->mix, mix_len / 3, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_FIXED, c->shm.fd, c->bar2.offset + 2 * MIB));
	ASSERT_EQ(self->mix + mix_len / 3,
		  mmap(self->mix + mix_len / 3, mix_len / 3, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	memset(self->mix + mix_len / 3, 0x22, mix_len / 3);
	ASSERT_EQ(self->mix + 2 * mix_len / 3,
		  mmap(self->mix + 2 * mix_len / 3, mix_len / 3, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, c->shm.fd, c->bar2.offset + 3 * MIB));
	add_region(f, "[BAR][RAM][BAR]", self->mix, mix_len);
}

FIXTURE_TEARDOWN(fuzz)
{
	p2p_ti_close(&self->f.t);
	vfio_p2p_ctx_close(&self->f.c);
	if (self->memfd >= 0)
		close(self->memfd);
}

/* One call of the mode's, drawn. */
static bool fuzz_step(struct __test_metadata *_metadata, struct fuzz *f,
		      unsigned long step)
{
	uint64_t op = pick(f, 20);

	if (!f->ifd)
		return op < 14 ? fuzz_map(_metadata, f, step) :
				 fuzz_unmap(_metadata, f, step);
	if (op < 12)
		return ioas_map(_metadata, f, step);
	return op < 17 ? ioas_unmap(_metadata, f, step) : ioas_copy(_metadata, f, step);
}

/* Over iommufd: the test client's domain maps nothing. */
static bool domain_empty(struct __test_metadata *_metadata, struct fuzz *f,
			 uint64_t seed)
{
	static struct p2p_ti_pte ptes[64];
	unsigned int domain;
	long n;

	if (!f->ifd)
		return true;
	n = p2p_ti_mappings(0, ptes, 64, &domain);
	if (n || !domain) {
		TH_LOG("seed %llu: after the full unmap the IOAS's test domain %u %s %ld",
		       (unsigned long long)seed, domain, "maps (or -errno)", n);
		if (n > 0)
			TH_LOG("first: IOVA %#llx pfn %#llx", (unsigned long long)ptes[0].iova,
			       (unsigned long long)ptes[0].pfn);
		return false;
	}
	return true;
}

/* Run @steps calls from @seed; false at the first divergence. */
static bool fuzz_run(struct __test_metadata *_metadata, struct fuzz *f,
		     uint64_t seed, unsigned long steps)
{
	uint64_t left = 0;
	unsigned long step;
	int64_t got;
	int i;

	f->rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	/* The setup's RAM, at VFIO_P2P_IOVA_RAM, is the model's first range. */
	f->m[0] = (struct range){ VFIO_P2P_IOVA_RAM, VFIO_P2P_RAM_SIZE, false };
	f->nm = 1;
	for (step = 0; step < steps; step++) {
		if (!fuzz_step(_metadata, f, step)) {
			TH_LOG("seed %llu diverged at step %lu: replay: VFIO_P2P_FUZZ_SEED=%llu",
			       (unsigned long long)seed, step, (unsigned long long)seed);
			return false;
		}
	}
	for (i = 0; i < f->nm; i++)
		left += f->m[i].size;
	/* UNMAP_ALL; over iommufd, IOMMU_IOAS_UNMAP of iova 0, length U64_MAX. */
	got = vfio_p2p_unmap(f->c.container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL);
	if (got < 0) {
		TH_LOG("seed %llu: UNMAP_ALL: %s", (unsigned long long)seed, strerror(-got));
		return false;
	}
	if ((uint64_t)got != left) {
		TH_LOG("seed %llu: UNMAP_ALL returned %#llx, the model maps %#llx",
		       (unsigned long long)seed, (unsigned long long)got,
		       (unsigned long long)left);
		return false;
	}
	got = vfio_p2p_unmap(f->c.container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL);
	if (got) {
		TH_LOG("seed %llu: a second UNMAP_ALL returned %lld", (unsigned long long)seed,
		       (long long)got);
		return false;
	}
	if (!domain_empty(_metadata, f, seed))
		return false;
	return !vfio_p2p_map(f->c.container, f->c.ram, VFIO_P2P_IOVA_RAM,
			     VFIO_P2P_RAM_SIZE, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
}

TEST_F_TIMEOUT(fuzz, map_unmap_hostile_args, 300)
{
	static const uint64_t seeds[] = { 1, 2, 3, 4 };
	struct fuzz *f = &self->f;
	const char *env = getenv("VFIO_P2P_FUZZ_SEED");
	const char *env_steps = getenv("VFIO_P2P_FUZZ_STEPS");
	unsigned long steps = env_steps ? strtoul(env_steps, NULL, 0) : DEFAULT_STEPS;
	static const char * const op_names[3] = { "map", "unmap", "copy" };
	uint32_t seed = vfio_p2p_seed();
	unsigned int i, n = 0;
	char paths[1024] = "";
	size_t len = 0;
	int op, e;

	for (i = 0; i < (env ? 1 : ARRAY_SIZE(seeds)); i++)
		ASSERT_TRUE(fuzz_run(_metadata, f, env ? strtoull(env, NULL, 0) : seeds[i],
				     steps));
	for (op = 0; op < 3; op++)
		for (e = 0; e < 134; e++) {
			if (!f->seen[op][e])
				continue;
			n++;
			len += snprintf(paths + len, sizeof(paths) - len, " %s:%s",
					op_names[op], e ? strerrorname_np(e) : "ok");
			if (len >= sizeof(paths))
				len = sizeof(paths) - 1;
		}
	TH_LOG("%s: %lu calls, %u distinct (ioctl, errno) paths:%s",
	       f->ifd ? "iommufd" : "type1v2", f->calls, n, paths);

	/* What is left works: the BAR maps whole and takes edu's DMA. */
	ASSERT_EQ(0, vfio_p2p_map(f->c.container, self->bar, IOVA_BASE, f->c.bar2.size,
				  VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
	ASSERT_EQ(0, vfio_p2p_ram_to_iova(&f->c, IOVA_BASE + OFF, EDU_DMA_MAX, seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, EDU_DMA_MAX, seed));
	vfio_p2p_host_expect(f->c.shm.bdf, OFF, EDU_DMA_MAX, seed);
}

TEST_HARNESS_MAIN
