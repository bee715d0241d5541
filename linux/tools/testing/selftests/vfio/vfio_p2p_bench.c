// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_p2p_bench: what VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA cost, for
 * `make bench`, which boots the stock and the p2p kernel in turn and runs
 * this in both.  It is a measurement, not a test: it asserts no timing.
 *
 * Each ioctl is timed alone with clock_gettime(CLOCK_MONOTONIC) and a row
 * is reported as the median and the minimum of its repetitions: at least
 * -r (default 5), and more, up to MORE_REPS, while the row's timed ioctls
 * took less than MORE_NS in all, so that rows of microseconds, which host
 * noise disturbs most, get more samples at no cost:
 *
 *  - the ivshmem BAR2 mmap (the peer BAR) at each size, never touched by
 *    the CPU (a fresh mmap for every repetition), then touched (every page
 *    read once, so the page tables are populated) before the repetitions;
 *  - anonymous memory at each size, populated (THP where the kernel has
 *    it), so that a change in the pinning path shows; and the same with
 *    THP off for the buffer (4 KiB pages), where a per-chunk cost shows;
 *  - for N links (-l, default 1, 64 and 4096; see "Links" below), one
 *    DISABLE+ENABLE cycle of the peer's memory decode and one RELEASE of
 *    the peer (the last close of its device fd) with all N links mapped;
 *  - then the BAR and RAM rows again over iommufd (the devices' cdevs bound
 *    to an iommufd, IOMMU_IOAS_MAP and IOMMU_IOAS_UNMAP of one IOAS), rows
 *    named iommufd-ROW: no profiler and no bare iommu_map() there.  A kernel
 *    that refuses IOAS_MAP of the BAR (stock 6.12: EFAULT) gets one line
 *    saying so per size instead of the BAR rows.
 *
 * When the kernel has ftrace's function profiler, one more MAP_DMA per row,
 * not among the timed ones, runs with the profiler on for the type1 ioctl
 * and iommu_map(): the share of the ioctl spent in iommu_map() is the IOMMU
 * page-table writes (the physical limit), the rest mostly pfn resolution.
 * The profiler's own cost per call inflates both (a profiled ioctl is
 * slower than an untraced one), so the share is a guide, not a breakdown.
 * The breakdown comes untraced: on the p2p kernel, after the timed
 * repetitions of a BAR row, as many bare iommu_map() calls of the same run,
 * into the same domain at the same IOVA, timed in the kernel around that
 * call alone by the test IOMMU's timer (debugfs vfio-p2p-time-map), so that
 * the MAP_DMA median can be set against the page-table writes it cannot
 * avoid.
 * The link rows likewise run one more event under the profiler, which
 * counts the IOMMU driver's IOTLB syncs, iommu_map() and iommu_unmap()
 * calls and the device notifier's time in it.
 *
 * After its traced MAP_DMA, each row makes edu DMA into the last bytes of
 * the mapping and reads them back through the CPU's view, so a mapping that
 * was fast because it mapped nothing cannot go unnoticed; the link rows do
 * the same through their last link (after the cycle, before the release).
 *
 * Output, one line per result, for rig/bench.py:
 *   bench: row=ROW op=map|unmap size=BYTES n=N median_ns=.. min_ns=.. samples_ns=..
 *   bench: row=ROW op=trace size=BYTES map_ns=.. [KEY_ns=.. KEY_hits=..]...
 *   bench: row=ROW op=bare size=BYTES n=N median_ns=.. min_ns=.. samples_ns=..
 *   bench: row=null op=ioctl size=0 n=N median_ns=.. min_ns=.. samples_ns=..
 *   bench: row=iommufd-bar-untouched|iommufd-bar-touched op=map|unmap
 *          size=BYTES refused=ERRNO_NAME   (instead of that size's BAR rows)
 *   bench: row=links-cycle|links-release op=event links=N size=BYTES n=..
 *          median_ns=.. min_ns=.. samples_ns=..   (one line)
 *   bench: row=links-cycle|links-release op=trace links=N size=BYTES
 *          event_ns=.. [KEY_ns=.. KEY_hits=..]...   (one line)
 * ROW is bar-untouched, bar-touched, ram or ram-4k, or one of those prefixed by
 * iommufd-; size= of a link row is its N
 * pages.  KEY is each profiled function that the kernel has (prof_funcs).
 * Exits non-zero on any failure.
 *
 * Usage: vfio_p2p_bench [-r MIN_REPS] [-b BAR_SIZES] [-m RAM_SIZES]
 *                       [-l LINKS] [-n]
 *   sizes are comma-separated, with an optional K, M or G suffix; BAR sizes
 *   larger than BAR2 are reported as skipped; LINKS is a comma-separated
 *   list of link counts (0: none); -n: no profiler.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "../kselftest.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_util.h"

#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
/* Far from the setup's RAM at VFIO_P2P_IOVA_RAM, and 1 GiB aligned. */
#define IOVA_BAR	(64ULL << 30)
#define IOVA_ANON	(32ULL << 30)
#define HUGE_2M		(2UL << 20)
#define MAX_SIZES	16
#define MAX_REPS	64
/* Cheap rows repeat beyond -r, up to this many times or this long. */
#define MORE_REPS	25
#define MORE_NS		1000000000ULL

static const char default_bar_sizes[] = "2M,64M,256M,1G,4G,16G";
static const char default_ram_sizes[] = "64M,1G";

static int min_reps = 5;
/* The second pass: the same rows over iommufd (cdev + IOAS). */
static bool iommufd_mode;

/* Another repetition of a row that has run @i times, taking @spent ns? */
static bool more(int i, uint64_t spent)
{
	if (i < min_reps)
		return true;
	return i < MORE_REPS && spent < MORE_NS;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int parse_sizes(const char *arg, uint64_t *sizes)
{
	static const char units[] = "KMG";
	char *copy = strdup(arg), *tok, *save = NULL, *end, *unit;
	int n = 0;

	for (tok = strtok_r(copy, ",", &save); tok && n < MAX_SIZES;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t v = strtoull(tok, &end, 0);

		unit = *end ? strchr(units, *end) : NULL;
		if (unit)
			v <<= 10 * (unit - units + 1);
		if (v)
			sizes[n++] = v;
	}
	free(copy);
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One result line: @fields (row=.. op=.. and more) then the statistics. */
static void report_fields(const char *fields, uint64_t size, const uint64_t *ns,
			  int n)
{
	uint64_t sorted[MAX_REPS], median;
	int i;

	memcpy(sorted, ns, n * sizeof(*ns));
	qsort(sorted, n, sizeof(*sorted), cmp_u64);
	median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	printf("bench: %s size=%llu n=%d median_ns=%llu min_ns=%llu samples_ns=",
	       fields, (unsigned long long)size, n, (unsigned long long)median,
	       (unsigned long long)sorted[0]);
	for (i = 0; i < n; i++)
		printf("%s%llu", i ? "," : "", (unsigned long long)ns[i]);
	printf("\n");
}

static void report(const char *row, const char *op, uint64_t size,
		   const uint64_t *ns, int n)
{
	char fields[128];

	snprintf(fields, sizeof(fields), "row=%s%s op=%s",
		 iommufd_mode ? "iommufd-" : "", row, op);
	report_fields(fields, size, ns, n);
}

/*
 * The function profiler of ftrace, limited by set_ftrace_filter to the
 * functions below: hits and total time, children included (graph-time).
 * The optional ones are left out where the kernel has no such function
 * (the stock kernel has no device notifier; another IOMMU driver has other
 * ops); their keys are then absent from the output.
 */
struct prof_func {
	const char *name;
	const char *key;	/* in the output: KEY_ns= KEY_hits= */
	bool optional;
	bool on;
};

enum {
	P_IOCTL, P_IOMMU_MAP, P_IOMMU_UNMAP, P_IOMMU_UNMAP_FAST, P_IOTLB_SYNC,
	P_IOTLB_SYNC_MAP, P_MEM_UPDATE, P_LAST_CLOSE, NR_PROF
};

static struct prof_func prof_funcs[NR_PROF] = {
	/* The whole MAP_DMA. */
	[P_IOCTL] = { "vfio_iommu_type1_ioctl", "ioctl" },
	/* IOMMU page-table writes, and the sync after a map. */
	[P_IOMMU_MAP] = { "iommu_map", "iommu_map" },
	[P_IOMMU_UNMAP] = { "iommu_unmap", "iommu_unmap", true },
	[P_IOMMU_UNMAP_FAST] = { "iommu_unmap_fast", "iommu_unmap_fast", true },
	/* The Intel IOMMU's iotlb_sync op: one IOTLB flush of a gather. */
	[P_IOTLB_SYNC] = { "intel_iommu_tlb_sync", "iotlb_sync", true },
	/* Its iotlb_sync_map op (a flush after a map in caching mode). */
	[P_IOTLB_SYNC_MAP] = { "intel_iommu_iotlb_sync_map", "iotlb_sync_map", true },
	/* The device notifier: DISABLE/ENABLE, and RELEASE, to every listener. */
	[P_MEM_UPDATE] = { "vfio_device_mem_update", "mem_update", true },
	[P_LAST_CLOSE] = { "vfio_device_p2p_last_close", "last_close", true },
};

struct prof_result {
	uint64_t ns[NR_PROF];
	uint64_t hits[NR_PROF];
};

static const char *tracefs;

static int tracefs_write(const char *file, const char *val, int flags)
{
	char path[256];
	ssize_t len = strlen(val);
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", tracefs, file);
	fd = open(path, O_WRONLY | flags);
	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/* Find the profiler and limit it to prof_funcs; false when unavailable. */
static bool prof_setup(void)
{
	static const char * const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[256];
	bool first = true;
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/function_profile_enabled", dirs[i]);
		if (!access(path, W_OK)) {
			tracefs = dirs[i];
			break;
		}
	}
	if (!tracefs) {
		printf("# bench: no ftrace function profiler (CONFIG_FUNCTION_PROFILER): %s\n",
		       "iommu_map share and IOTLB syncs n/a");
		return false;
	}
	for (i = 0; i < NR_PROF; i++) {
		/*
		 * A name ended by white space is matched at write(), which
		 * fails when no function has it; an unended one would be
		 * matched only at close(), and a miss there goes unsaid.
		 */
		snprintf(path, sizeof(path), "%s\n", prof_funcs[i].name);
		ret = tracefs_write("set_ftrace_filter", path,
				    first ? O_TRUNC : O_APPEND);
		if (ret && prof_funcs[i].optional) {
			printf("# bench: ftrace cannot profile %s (%s): its counts are n/a\n",
			       prof_funcs[i].name, strerror(-ret));
			continue;
		}
		if (ret) {
			printf("# bench: cannot profile %s (%s): iommu_map share n/a\n",
			       prof_funcs[i].name, strerror(-ret));
			tracefs_write("set_ftrace_filter", "", O_TRUNC);
			tracefs = NULL;
			return false;
		}
		prof_funcs[i].on = true;
		first = false;
	}
	/* Time of a function with its children, and while it sleeps. */
	tracefs_write("options/graph-time", "1", O_TRUNC);
	tracefs_write("options/sleep-time", "1", O_TRUNC);
	printf("# bench: ftrace function profiler in %s on:", tracefs);
	for (i = 0; i < NR_PROF; i++)
		if (prof_funcs[i].on)
			printf(" %s", prof_funcs[i].name);
	printf("\n");
	return true;
}

/* Turn the profiler on (which resets its counts) or off. */
static int prof_enable(bool on)
{
	if (!tracefs)
		return 0;
	return tracefs_write("function_profile_enabled", on ? "1" : "0", O_TRUNC);
}

/* Sum trace_stat/function<cpu> lines "NAME HITS TIME us ...". */
static int prof_read(struct prof_result *res)
{
	char path[512], line[512], name[128];
	unsigned long long hits;
	struct dirent *de;
	unsigned int i;
	double us;
	FILE *f;
	DIR *d;

	memset(res, 0, sizeof(*res));
	snprintf(path, sizeof(path), "%s/trace_stat", tracefs);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "function", 8))
			continue;
		snprintf(path, sizeof(path), "%s/trace_stat/%s", tracefs, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, " %127s %llu %lf us", name, &hits, &us) != 3)
				continue;
			for (i = 0; i < NR_PROF; i++) {
				if (!prof_funcs[i].on || strcmp(name, prof_funcs[i].name))
					continue;
				res->hits[i] += hits;
				res->ns[i] += (uint64_t)(us * 1000.0);
			}
		}
		fclose(f);
	}
	closedir(d);
	return 0;
}

/* The counts of every profiled function, after the row's own fields. */
static void prof_print(const struct prof_result *res)
{
	unsigned int i;

	for (i = 0; i < NR_PROF; i++)
		if (prof_funcs[i].on)
			printf(" %s_ns=%llu %s_hits=%llu", prof_funcs[i].key,
			       (unsigned long long)res->ns[i], prof_funcs[i].key,
			       (unsigned long long)res->hits[i]);
	printf("\n");
}

static void prof_report(const char *row, uint64_t size, uint64_t map_ns,
			const struct prof_result *res)
{
	printf("bench: row=%s op=trace size=%llu map_ns=%llu", row,
	       (unsigned long long)size, (unsigned long long)map_ns);
	prof_print(res);
}

static struct vfio_p2p_ctx ctx;

static int fail(const char *what, uint64_t size, int err)
{
	printf("bench: error: %s, size %llu: %s\n", what,
	       (unsigned long long)size, strerror(err < 0 ? -err : err));
	return 1;
}

static int timed_map(void *vaddr, uint64_t iova, uint64_t size, uint64_t *ns)
{
	uint64_t t0, t1;
	int ret;

	t0 = now_ns();
	ret = vfio_p2p_map(ctx.container, vaddr, iova, size, RW);
	t1 = now_ns();
	*ns = t1 - t0;
	return ret;
}

static int timed_unmap(uint64_t iova, uint64_t size, uint64_t *ns)
{
	uint64_t t0, t1;
	int64_t ret;

	t0 = now_ns();
	ret = vfio_p2p_unmap(ctx.container, iova, size, 0);
	t1 = now_ns();
	*ns = t1 - t0;
	if (ret < 0)
		return (int)ret;
	return (uint64_t)ret == size ? 0 : -EIO;
}

/* The bare iommu_map() timer of the test IOMMU (p2p_test_time_map.c). */
#define TIME_MAP "/sys/kernel/debug/vfio-p2p-time-map"

/* The physical address of BAR2, from sysfs: what the timer maps. */
static uint64_t bar2_phys(void)
{
	unsigned long long start = 0, end, flags;
	char path[256], line[128];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource",
		 ctx.shm.bdf);
	f = fopen(path, "r");
	if (!f)
		return 0;
	for (i = 0; i <= 2 && fgets(line, sizeof(line), f); i++)
		if (i == 2 && sscanf(line, "%llx %llx %llx", &start, &end,
				     &flags) != 3)
			start = 0;
	fclose(f);
	return start;
}

/*
 * One bare iommu_map() of the run a row's MAP_DMA just mapped and unmapped:
 * the same BAR pfns, at the same IOVA, into the same domain (edu's, the
 * container's), timed in the kernel around that call alone, then unmapped.
 * Returns 0 with *@ns, 1 if this kernel has no timer (stock), or -errno.
 */
static int time_bare_map(uint64_t iova, uint64_t phys, uint64_t size,
			 uint64_t *ns)
{
	char cmd[128], out[64];
	unsigned long long v;
	ssize_t n;
	int fd, len, ret = 0;

	fd = open(TIME_MAP, O_RDWR);
	if (fd < 0)
		return errno == ENOENT ? 1 : -errno;
	len = snprintf(cmd, sizeof(cmd), "%s 0x%llx 0x%llx 0x%llx", ctx.edu.bdf,
		       (unsigned long long)iova, (unsigned long long)phys,
		       (unsigned long long)size);
	if (write(fd, cmd, len) != len)
		ret = -errno;
	n = ret ? -1 : pread(fd, out, sizeof(out) - 1, 0);
	if (!ret && n <= 0)
		ret = -EIO;
	if (!ret) {
		out[n] = '\0';
		if (sscanf(out, "map_ns %llu", &v) != 1)
			ret = -EIO;
		*ns = v;
	}
	close(fd);
	return ret;
}

/*
 * As many bare iommu_map() calls as the row had MAP_DMAs, reported as
 * op=bare, so that rig/bench.py sets the two medians against each other.
 */
static int bare_map(const char *row, uint64_t iova, uint64_t size, int reps)
{
	uint64_t ns[MAX_REPS], phys;
	int i, ret = 0;

	if (iommufd_mode)
		return 0;	/* the breakdown is type1's */
	phys = bar2_phys();
	if (!phys)
		return -ENODEV;
	for (i = 0; i < reps && !ret; i++)
		ret = time_bare_map(iova, phys, size, &ns[i]);
	if (ret == 1 && i == 1)
		return 0;	/* no timer on this kernel */
	if (ret)
		return ret < 0 ? ret : -EIO;
	report(row, "bare", size, ns, reps);
	return 0;
}

/*
 * The traced MAP_DMA of a row, then edu DMA through its last bytes, checked
 * in @view (the CPU's mapping of the same memory), then UNMAP_DMA.
 */
static int traced_map_check(const char *row, void *vaddr, uint64_t iova,
			    uint64_t size, uint8_t *view)
{
	uint64_t off = size - EDU_DMA_MAX, ns, un;
	struct prof_result res;
	uint32_t seed = vfio_p2p_seed();
	int ret;

	/* The profiler's functions are type1's: none over iommufd. */
	if (!iommufd_mode && prof_enable(true))
		return -EIO;
	ret = timed_map(vaddr, iova, size, &ns);
	if (!iommufd_mode)
		prof_enable(false);
	if (ret)
		return ret;
	if (!iommufd_mode && tracefs && !prof_read(&res))
		prof_report(row, size, ns, &res);
	ret = vfio_p2p_ram_to_iova(&ctx, iova + off, EDU_DMA_MAX, seed);
	if (!ret && vfio_p2p_check(view + off, EDU_DMA_MAX, seed) != -1)
		ret = -EIO;
	if (ret)
		printf("bench: error: %s, size %llu: %s\n", row,
		       (unsigned long long)size,
		       "edu DMA to the end of the mapping did not land");
	if (timed_unmap(iova, size, &un))
		return -EIO;
	return ret;
}

/*
 * The floor of any ioctl on the container in this guest: entry, exit and
 * dispatch, with nothing to do (VFIO_CHECK_EXTENSION), MAX_REPS times.  A
 * MAP_DMA of a BAR is this, its bare iommu_map(), and what
 * type1 and the tracker add.
 */
static int bench_null(void)
{
	uint64_t ns[MAX_REPS], t0, t1;
	int i;

	for (i = 0; i < MAX_REPS; i++) {
		t0 = now_ns();
		if (ioctl(ctx.container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1)
			return fail("VFIO_CHECK_EXTENSION", 0, errno);
		t1 = now_ns();
		ns[i] = t1 - t0;
	}
	report("null", "ioctl", 0, ns, MAX_REPS);
	return 0;
}

static void *bar_mmap(uint64_t size)
{
	return vfio_p2p_region_mmap(&ctx.shm, &ctx.bar2, 0, size,
				    PROT_READ | PROT_WRITE);
}

/*
 * Over iommufd, stock 6.12 refuses a BAR: IOMMU_IOAS_MAP pins, and a
 * VM_PFNMAP has no pages (EFAULT).  Said once per size and row.
 */
static int ioas_refused(uint64_t size)
{
	static const char *const rows[] = { "untouched", "touched" };
	static const char *const ops[] = { "map", "unmap" };
	int r, o;

	for (r = 0; r < 2; r++)
		for (o = 0; o < 2; o++)
			printf("bench: row=iommufd-bar-%s op=%s size=%llu refused=EFAULT\n",
			       rows[r], ops[o], (unsigned long long)size);
	return 0;
}

static int bench_bar(uint64_t size)
{
	uint64_t map_ns[MAX_REPS], unmap_ns[MAX_REPS], spent = 0;
	uint8_t *bar;
	int i, ret;

	/* Never touched: a fresh mmap for each repetition. */
	for (i = 0; more(i, spent); i++) {
		bar = bar_mmap(size);
		if (bar == MAP_FAILED)
			return fail("mmap BAR2", size, errno);
		ret = timed_map(bar, IOVA_BAR, size, &map_ns[i]);
		if (ret == -EFAULT && iommufd_mode && !i) {
			munmap(bar, size);
			return ioas_refused(size);
		}
		if (ret)
			return fail("MAP_DMA of the untouched BAR", size, ret);
		ret = timed_unmap(IOVA_BAR, size, &unmap_ns[i]);
		if (ret)
			return fail("UNMAP_DMA of the untouched BAR", size, ret);
		munmap(bar, size);
		spent += map_ns[i] + unmap_ns[i];
	}
	report("bar-untouched", "map", size, map_ns, i);
	report("bar-untouched", "unmap", size, unmap_ns, i);
	ret = bare_map("bar-untouched", IOVA_BAR, size, i);
	if (ret)
		return fail("bare iommu_map() of the BAR", size, ret);
	bar = bar_mmap(size);
	if (bar == MAP_FAILED)
		return fail("mmap BAR2", size, errno);
	ret = traced_map_check("bar-untouched", bar, IOVA_BAR, size, bar);
	munmap(bar, size);
	if (ret)
		return fail("traced MAP_DMA of the untouched BAR", size, ret);

	/* Touched: every page read once, then all repetitions. */
	bar = bar_mmap(size);
	if (bar == MAP_FAILED)
		return fail("mmap BAR2", size, errno);
	vfio_p2p_touch(bar, size);
	for (i = 0, spent = 0; more(i, spent); i++) {
		ret = timed_map(bar, IOVA_BAR, size, &map_ns[i]);
		if (ret)
			return fail("MAP_DMA of the touched BAR", size, ret);
		ret = timed_unmap(IOVA_BAR, size, &unmap_ns[i]);
		if (ret)
			return fail("UNMAP_DMA of the touched BAR", size, ret);
		spent += map_ns[i] + unmap_ns[i];
	}
	report("bar-touched", "map", size, map_ns, i);
	report("bar-touched", "unmap", size, unmap_ns, i);
	ret = bare_map("bar-touched", IOVA_BAR, size, i);
	if (ret)
		return fail("bare iommu_map() of the BAR", size, ret);
	ret = traced_map_check("bar-touched", bar, IOVA_BAR, size, bar);
	munmap(bar, size);
	if (ret)
		return fail("traced MAP_DMA of the touched BAR", size, ret);
	return 0;
}

static long meminfo_kb(const char *key)
{
	char line[256];
	size_t len = strlen(key);
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':')
			kb = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return kb;
}

/* Anonymous memory, in THP (@huge) or, THP off for it, in 4 KiB pages. */
static int bench_ram(uint64_t size, bool huge)
{
	const char *row = huge ? "ram" : "ram-4k";
	uint64_t map_ns[MAX_REPS], unmap_ns[MAX_REPS], spent = 0;
	long thp_before = meminfo_kb("AnonHugePages"), thp_after;
	uint8_t *raw, *ram;
	int i, ret;

	/* 2 MiB aligned, so that THP can back all of it. */
	raw = mmap(NULL, size + HUGE_2M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return fail("mmap anonymous memory", size, errno);
	ram = (uint8_t *)(((uintptr_t)raw + HUGE_2M - 1) & ~(HUGE_2M - 1));
	madvise(ram, size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	memset(ram, 0x5a, size);
	thp_after = meminfo_kb("AnonHugePages");
	printf("# bench: %s: anonymous memory, %llu MiB populated, %ld MiB of it in THP\n",
	       row, (unsigned long long)size >> 20,
	       thp_before < 0 || thp_after < 0 ? 0 : (thp_after - thp_before) >> 10);
	for (i = 0; more(i, spent); i++) {
		ret = timed_map(ram, IOVA_ANON, size, &map_ns[i]);
		if (ret)
			return fail("MAP_DMA of anonymous memory", size, ret);
		ret = timed_unmap(IOVA_ANON, size, &unmap_ns[i]);
		if (ret)
			return fail("UNMAP_DMA of anonymous memory", size, ret);
		spent += map_ns[i] + unmap_ns[i];
	}
	report(row, "map", size, map_ns, i);
	report(row, "unmap", size, unmap_ns, i);
	ret = traced_map_check(row, ram, IOVA_ANON, size, ram);
	munmap(raw, size + HUGE_2M);
	if (ret)
		return fail("traced MAP_DMA of anonymous memory", size, ret);
	return 0;
}

/*
 * Links: N separate MAP_DMAs of one page each, from one mmap of the first N
 * pages of BAR2, at contiguous IOVAs from IOVA_LINKS (page i at IOVA_LINKS +
 * i * 4 KiB, BAR2 offset i * 4 KiB).  On the p2p kernel each is one link of
 * the tracker, so one VMA holds N links; on stock they are N vfio_dmas that
 * nothing tracks.  Then one event of the peer (ivshmem) is timed:
 *
 *  - cycle: memory decode off then on, two writes of PCI_COMMAND through
 *    the config region of the peer's device fd, timed together (DISABLE
 *    then ENABLE of every link, on the p2p kernel);
 *  - release: close() of the peer's device fd, its BAR mmap gone first as
 *    a user's would be (RELEASE of every link).  The fd is then opened
 *    again, the range unmapped and the links made anew, untimed.
 *
 * One more event per row, not among the timed ones, runs under the
 * profiler: IOTLB syncs, unmaps and maps during that one event.
 */
#define IOVA_LINKS	(96ULL << 30)
#define LINK_SIZE	4096UL

static const char default_links[] = "1,64,4096";

static int fail_links(const char *what, unsigned int n, int err)
{
	printf("bench: error: %s, %u links: %s\n", what, n,
	       strerror(err < 0 ? -err : err));
	return 1;
}

static uint64_t cfg_offset;	/* of the peer's config region in its fd */
static uint16_t peer_command;	/* its PCI_COMMAND, memory decode on */

static int peer_write_command(uint16_t cmd)
{
	ssize_t ret = pwrite(ctx.shm.fd, &cmd, sizeof(cmd), cfg_offset + PCI_COMMAND);

	if (ret < 0)
		return -errno;
	return ret == sizeof(cmd) ? 0 : -EIO;
}

/* The peer's config region and command register (again after a reopen). */
static int peer_config_setup(void)
{
	struct vfio_p2p_region cfg;
	int ret;

	ret = vfio_p2p_region_info(&ctx.shm, VFIO_PCI_CONFIG_REGION_INDEX, &cfg);
	if (ret)
		return ret;
	cfg_offset = cfg.offset;
	if (pread(ctx.shm.fd, &peer_command, sizeof(peer_command),
		  cfg_offset + PCI_COMMAND) != sizeof(peer_command))
		return -EIO;
	if (peer_command & PCI_COMMAND_MEMORY)
		return 0;
	/* Each cycle starts and ends with the memory decoded. */
	peer_command |= PCI_COMMAND_MEMORY;
	return peer_write_command(peer_command);
}

/* One DISABLE+ENABLE cycle of the peer's memory, timed as one. */
static int timed_cycle(uint64_t *ns)
{
	uint64_t t0, t1;
	int ret;

	t0 = now_ns();
	ret = peer_write_command(peer_command & ~PCI_COMMAND_MEMORY);
	if (!ret)
		ret = peer_write_command(peer_command);
	t1 = now_ns();
	*ns = t1 - t0;
	return ret;
}

/* The release of the peer: the last close of its device fd, timed. */
static int timed_release(uint64_t *ns)
{
	uint64_t t0, t1;
	int ret;

	t0 = now_ns();
	ret = close(ctx.shm.fd);
	t1 = now_ns();
	ctx.shm.fd = -1;
	*ns = t1 - t0;
	return ret ? -errno : 0;
}

static int peer_reopen(void)
{
	int fd = ioctl(ctx.shm.group_fd, VFIO_GROUP_GET_DEVICE_FD, ctx.shm.bdf);

	if (fd < 0)
		return -errno;
	ctx.shm.fd = fd;
	return 0;
}

/* mmap the first @n pages of BAR2 and map each alone: @n links. */
static int links_make(unsigned int n, uint8_t **bar)
{
	unsigned int i;
	int ret;

	*bar = bar_mmap((uint64_t)n * LINK_SIZE);
	if (*bar == MAP_FAILED)
		return -errno;
	for (i = 0; i < n; i++) {
		ret = vfio_p2p_map(ctx.container, *bar + (uint64_t)i * LINK_SIZE,
				   IOVA_LINKS + (uint64_t)i * LINK_SIZE, LINK_SIZE, RW);
		if (ret) {
			if (i)
				vfio_p2p_unmap(ctx.container, IOVA_LINKS,
					       (uint64_t)i * LINK_SIZE, 0);
			munmap(*bar, (uint64_t)n * LINK_SIZE);
			return ret;
		}
	}
	return 0;
}

/* One UNMAP_DMA over the @n links' range: it must unmap all of it. */
static int links_unmap(unsigned int n)
{
	uint64_t size = (uint64_t)n * LINK_SIZE;
	int64_t ret = vfio_p2p_unmap(ctx.container, IOVA_LINKS, size, 0);

	if (ret < 0)
		return (int)ret;
	return (uint64_t)ret == size ? 0 : -EIO;
}

/* edu DMA into the last link, checked through the CPU's view of it. */
static int links_check(const char *row, unsigned int n, uint8_t *bar)
{
	uint64_t off = (uint64_t)(n - 1) * LINK_SIZE;
	uint32_t seed = vfio_p2p_seed();
	int ret;

	ret = vfio_p2p_ram_to_iova(&ctx, IOVA_LINKS + off, EDU_DMA_MAX, seed);
	if (!ret && vfio_p2p_check(bar + off, EDU_DMA_MAX, seed) != -1)
		ret = -EIO;
	if (ret)
		printf("bench: error: %s, %u links: %s\n", row, n,
		       "edu DMA to the last link did not land");
	return ret;
}

static void links_report(const char *row, unsigned int n, const uint64_t *ns,
			 int reps)
{
	char fields[128];

	/* size= (the links' bytes) keeps the row's key unique per N. */
	snprintf(fields, sizeof(fields), "row=%s op=event links=%u", row, n);
	report_fields(fields, (uint64_t)n * LINK_SIZE, ns, reps);
}

static void links_trace_report(const char *row, unsigned int n, uint64_t ns,
			       const struct prof_result *res)
{
	printf("bench: row=%s op=trace links=%u size=%llu event_ns=%llu", row, n,
	       (unsigned long long)n * LINK_SIZE, (unsigned long long)ns);
	prof_print(res);
}

static int bench_cycle(unsigned int n)
{
	uint64_t ns[MAX_REPS], spent = 0, traced;
	struct prof_result res;
	uint8_t *bar;
	int i, ret;

	ret = peer_config_setup();
	if (ret)
		return fail_links("PCI_COMMAND of the peer, memory decode on", n, ret);
	ret = links_make(n, &bar);
	if (ret)
		return fail_links("MAP_DMA of the links (cycle)", n, ret);
	for (i = 0; more(i, spent); i++) {
		ret = timed_cycle(&ns[i]);
		if (ret)
			return fail_links("PCI_COMMAND write of the peer (cycle)", n, ret);
		spent += ns[i];
	}
	links_report("links-cycle", n, ns, i);
	if (prof_enable(true))
		return fail_links("ftrace function profiler on", n, EIO);
	ret = timed_cycle(&traced);
	prof_enable(false);
	if (ret)
		return fail_links("PCI_COMMAND write of the peer (traced cycle)", n, ret);
	if (tracefs && !prof_read(&res))
		links_trace_report("links-cycle", n, traced, &res);
	/* ENABLE gave every link back: DMA lands in the last one. */
	if (links_check("links-cycle", n, bar))
		return 1;
	munmap(bar, (uint64_t)n * LINK_SIZE);
	ret = links_unmap(n);
	if (ret)
		return fail_links("UNMAP_DMA of the links (cycle)", n, ret);
	return 0;
}

/*
 * Make @n links, then release the peer with them mapped, timed (under the
 * profiler if @traced), then unmap the range and open the peer again.
 */
static int release_once(unsigned int n, bool check, bool traced, uint64_t *ns)
{
	struct prof_result res;
	uint8_t *bar;
	int ret;

	ret = links_make(n, &bar);
	if (ret)
		return fail_links("MAP_DMA of the links (release)", n, ret);
	if (check && links_check("links-release", n, bar))
		return 1;
	/* The VMA holds the file: close() releases only once it is gone. */
	munmap(bar, (uint64_t)n * LINK_SIZE);
	if (traced && prof_enable(true))
		return fail_links("ftrace function profiler on", n, EIO);
	ret = timed_release(ns);
	if (traced)
		prof_enable(false);
	if (ret)
		return fail_links("close of the peer's device fd", n, ret);
	if (traced && tracefs && !prof_read(&res))
		links_trace_report("links-release", n, *ns, &res);
	ret = links_unmap(n);
	if (ret)
		return fail_links("UNMAP_DMA of the released links", n, ret);
	ret = peer_reopen();
	if (ret)
		return fail_links("reopen of the peer's device fd", n, ret);
	return 0;
}

static int bench_release(unsigned int n)
{
	uint64_t ns[MAX_REPS], spent = 0, traced;
	int i;

	/* The untimed making of the links counts here: it is most of it. */
	for (i = 0; more(i, spent); i++) {
		uint64_t t0 = now_ns();

		if (release_once(n, !i, false, &ns[i]))
			return 1;
		spent += now_ns() - t0;
	}
	links_report("links-release", n, ns, i);
	return release_once(n, false, true, &traced);
}

static void print_file(const char *what, const char *path)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	if (!buf[0])
		snprintf(buf, sizeof(buf), "n/a");
	buf[strcspn(buf, "\n")] = '\0';
	printf("# bench: %s: %s\n", what, buf);
}

int main(int argc, char **argv)
{
	const char *bar_arg = default_bar_sizes, *ram_arg = default_ram_sizes;
	uint64_t bar_sizes[MAX_SIZES], ram_sizes[MAX_SIZES], links[MAX_SIZES];
	const char *links_arg = default_links;
	int nbar, nram, nlinks, i, opt, ret;
	bool profile = true;
	struct utsname u;
	const char *what;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "r:b:m:l:n")) != -1) {
		switch (opt) {
		case 'r':
			min_reps = atoi(optarg);
			break;
		case 'b':
			bar_arg = optarg;
			break;
		case 'm':
			ram_arg = optarg;
			break;
		case 'l':
			links_arg = optarg;
			break;
		case 'n':
			profile = false;
			break;
		default:
			fprintf(stderr, "usage: %s [-r REPS] [-b BAR_SIZES] [-m RAM_SIZES] %s\n",
				argv[0], "[-l LINKS] [-n]");
			return 2;
		}
	}
	if (min_reps < 1 || min_reps > MAX_REPS) {
		fprintf(stderr, "%s: -r takes 1 to %d\n", argv[0], MAX_REPS);
		return 2;
	}
	nbar = parse_sizes(bar_arg, bar_sizes);
	nram = parse_sizes(ram_arg, ram_sizes);
	nlinks = parse_sizes(links_arg, links);

	uname(&u);
	printf("# bench: kernel %s %s\n", u.release, u.version);
	ret = vfio_p2p_ctx_open(&ctx, VFIO_TYPE1v2_IOMMU, &what);
	if (ret)
		return fail(what, 0, ret);
	printf("# bench: edu %s, ivshmem %s with a %llu MiB BAR2, type1v2 container\n",
	       ctx.edu.bdf, ctx.shm.bdf, (unsigned long long)ctx.bar2.size >> 20);
	printf("# bench: at least %d timed repetitions per row, %s %d while under %llu ms\n",
	       min_reps, "more for cheap rows: up to", MORE_REPS, MORE_NS / 1000000);
	print_file("clocksource",
		   "/sys/devices/system/clocksource/clocksource0/current_clocksource");
	print_file("transparent hugepages",
		   "/sys/kernel/mm/transparent_hugepage/enabled");
	print_file("type1 strict_mmio_maps",
		   "/sys/module/vfio_iommu_type1/parameters/strict_mmio_maps");
	if (profile)
		prof_setup();

	if (bench_null())
		return 1;
	for (i = 0; i < nbar; i++) {
		if (bar_sizes[i] > ctx.bar2.size) {
			printf("bench: row=bar size=%llu skipped: BAR2 is only %llu bytes\n",
			       (unsigned long long)bar_sizes[i],
			       (unsigned long long)ctx.bar2.size);
			continue;
		}
		if (bench_bar(bar_sizes[i]))
			return 1;
	}
	for (i = 0; i < nram; i++)
		if (bench_ram(ram_sizes[i], true) || bench_ram(ram_sizes[i], false))
			return 1;
	for (i = 0; i < nlinks; i++) {
		if (links[i] * LINK_SIZE > ctx.bar2.size || links[i] > UINT32_MAX) {
			printf("bench: row=links links=%llu skipped: BAR2 is only %llu bytes\n",
			       (unsigned long long)links[i],
			       (unsigned long long)ctx.bar2.size);
			continue;
		}
		if (bench_cycle(links[i]) || bench_release(links[i]))
			return 1;
	}
	vfio_p2p_ctx_close(&ctx);

	iommufd_mode = true;
	ret = vfio_p2p_ctx_open_wait(&ctx, VFIO_P2P_IOMMUFD, &what, 10);
	if (ret)
		return fail(what, 0, ret);
	printf("# bench: iommufd: edu %s, ivshmem %s, their cdevs bound to one iommufd, one IOAS\n",
	       ctx.edu.bdf, ctx.shm.bdf);
	for (i = 0; i < nbar; i++)
		if (bar_sizes[i] <= ctx.bar2.size && bench_bar(bar_sizes[i]))
			return 1;
	for (i = 0; i < nram; i++)
		if (bench_ram(ram_sizes[i], true) || bench_ram(ram_sizes[i], false))
			return 1;
	vfio_p2p_ctx_close(&ctx);
	printf("bench: done\n");
	return 0;
}
