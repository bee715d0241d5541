// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio_p2p_lifetime_test: a P2P mapping lives no longer than the peer BAR.
 *
 * The container maps ivshmem's BAR2 for edu to DMA into, and then the peer
 * goes away or its memory stops decoding.  Each test proves with real DMA
 * that nothing reaches the BAR while it must not (the bytes are checked in
 * the guest and, through the rig, in the host's backing file), and that the
 * IOVA works again where it must:
 *
 *  - release: the peer's last fd closes; DMA stops, UNMAP_DMA still works;
 *  - decode: memory decode off then on, several times; while off the IOMMU
 *    reports a fault for the IOVA (a DMAR record in the kernel log: without
 *    revocation QEMU drops such DMA silently), once on DMA lands again;
 *  - reset: VFIO_DEVICE_RESET (a secondary bus reset in the rig) revokes
 *    the mapping while it runs and restores it after;
 *  - unbind: the peer unbinds from vfio-pci within a bounded time and DMA
 *    stops;
 *  - two containers: both map the peer, both mappings go on release;
 *  - stress: MAP/UNMAP, decode toggling and open/map/close of the peer race
 *    for a while; then DMA is right, and the unbind test, which runs last,
 *    shows nothing still holds the peer;
 *  - sysfs reset: a reset of the peer through its sysfs reset attribute
 *    (the PCI core, behind vfio's back) revokes the mapping while it runs
 *    and restores it after, as VFIO_DEVICE_RESET does.
 *
 * Each test runs in two IOMMU modes (vfio_p2p_iommu_modes.h): a
 * VFIO_TYPE1v2_IOMMU container, and iommufd (the devices' cdevs bound to
 * one iommufd and attached to its IOAS).  type1 (v1) is left out: it maps
 * and revokes the BAR exactly as type1v2 does (the two differ only in how
 * an unmap may split a mapping, which no test here does), and a third pass
 * would add minutes to the longest program of the run.  What differs in
 * iommufd mode: a vfio cdev is open at most once at a time (vfio_df_open()
 * refuses a second bind with EINVAL), so where type1 takes a second fd of
 * the peer from its group, the stress's opener instead ends the peer's
 * session and opens a new one, serialized with the threads that use it,
 * and a second BIND_IOMMUFD of the open peer must fail; and the second
 * "container" is a second iommufd with its own IOAS.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_util.h"

#define PG		4096UL
#define DMA_LEN		EDU_DMA_MAX
#define RW		(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define IOVA_BAR	0x40000000ULL
#define OFF		0x90000UL	/* where in the BAR these tests write */
#define GROUP_WAIT_S	30		/* how long setup waits for a busy group */

FIXTURE(life) {
	struct vfio_p2p_ctx c;
	uint8_t *bar;
	pid_t child;		/* a test's storm child, until it is reaped */
};

FIXTURE_VARIANT(life) {
	int iommu_type;
};

#define VFIO_P2P_MODES_FIXTURE life
#define VFIO_P2P_MODES_NO_TYPE1
#include "vfio_p2p_iommu_modes.h"

FIXTURE_SETUP(life)
{
	struct vfio_p2p_ctx *c = &self->c;
	const char *what;
	/*
	 * A process of an earlier test may still be exiting; one that holds
	 * a group for longer than this is a bug, which the helper reports
	 * with the holders' names.
	 */
	int ret = vfio_p2p_ctx_open_wait(c, variant->iommu_type, &what, GROUP_WAIT_S);

	self->bar = NULL;
	self->child = 0;
	if (ret == -ENODEV || ret == -EOPNOTSUPP)
		SKIP(return, "%s: %s", what, strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", what, strerror(-ret));
	self->bar = vfio_p2p_region_mmap(&c->shm, &c->bar2, 0, c->bar2.size,
					 PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, self->bar);
	c->bar2.map = self->bar;
	ASSERT_EQ(0, vfio_p2p_map(c->container, self->bar, IOVA_BAR,
				  c->bar2.size, RW));
}

FIXTURE_TEARDOWN(life)
{
	/* A test that failed with its child alive must not leave it holding the groups. */
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	vfio_p2p_ctx_close(&self->c);
}

/* RAM -> edu -> IOVA_BAR + OFF with @seed's bytes, through @regs' edu. */
static int dma_to_bar(struct vfio_p2p_ctx *c, void *regs, uint32_t seed)
{
	int ret;

	vfio_p2p_fill(c->ram, DMA_LEN, seed);
	ret = edu_dma_from_iova(regs, VFIO_P2P_IOVA_RAM, DMA_LEN);
	return ret ? ret : edu_dma_to_iova(regs, IOVA_BAR + OFF, DMA_LEN);
}

/* Close the peer the way its user would: munmap, then close the fd. */
static void release_peer(struct vfio_p2p_ctx *c)
{
	munmap(c->bar2.map, c->bar2.size);
	c->bar2.map = NULL;
	close(c->shm.fd);
	c->shm.fd = -1;
}

/* Open the peer again (a new session) and map its BAR for reading. */
static uint8_t *reopen_peer(struct __test_metadata *_metadata, struct vfio_p2p_ctx *c)
{
	void *p;
	int ret = vfio_p2p_dev_reopen(&c->shm);

	EXPECT_LE(0, ret) TH_LOG("reopen %s: %s", c->shm.bdf, strerror(-ret));
	if (ret < 0)
		return NULL;
	p = vfio_p2p_region_mmap(&c->shm, &c->bar2, 0, c->bar2.size, PROT_READ);
	EXPECT_NE(MAP_FAILED, p);
	if (p == MAP_FAILED)
		return NULL;
	c->bar2.map = p;
	return p;
}

TEST_F_TIMEOUT(life, release_stops_dma, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed();
	uint8_t *view;

	ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed));

	release_peer(c);
	ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, seed + 1));

	view = reopen_peer(_metadata, c);
	ASSERT_NE(NULL, view);
	ASSERT_EQ(-1, vfio_p2p_check(view + OFF, DMA_LEN, seed))
		TH_LOG("DMA reached the BAR after its device was released");
	vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed);
	/* The IOVA range is still the user's to unmap. */
	ASSERT_EQ((int64_t)c->bar2.size,
		  vfio_p2p_unmap(c->container, IOVA_BAR, c->bar2.size, 0));
}

TEST_F_TIMEOUT(life, decode_off_revokes_on_restores, 180)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed();
	char needle[64];
	int cycle, kmsg;

	snprintf(needle, sizeof(needle), "fault addr 0x%llx",
		 (unsigned long long)(IOVA_BAR + OFF));
	for (cycle = 0; cycle < 3; cycle++, seed += 3) {
		ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, seed));
		ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed));

		/* DMAR fault messages are rate-limited: 10 per 5 s. */
		sleep(6);
		kmsg = vfio_p2p_kmsg_open();
		ASSERT_LE(0, kmsg);
		ASSERT_EQ(0, vfio_p2p_pci_command(&c->shm, 0, PCI_COMMAND_MEMORY));
		ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, seed + 1));
		/* The IOMMU, not the undecoded BAR, stopped it. */
		EXPECT_TRUE(vfio_p2p_kmsg_wait(kmsg, needle, 3000))
			TH_LOG("cycle %d: no IOMMU fault for iova 0x%llx", cycle,
			       (unsigned long long)(IOVA_BAR + OFF));
		close(kmsg);
		ASSERT_EQ(0, vfio_p2p_pci_command(&c->shm, PCI_COMMAND_MEMORY, 0));

		ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed));
		/* Restored at the same IOVA, with nothing for the user to do. */
		ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, seed + 2));
		ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed + 2))
			TH_LOG("cycle %d: DMA did not land after decode came back", cycle);
		vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed + 2);
	}
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/*
 * Start an edu DMA of @seed's bytes to IOVA_BAR + OFF (the engine performs
 * it 100 ms later) and issue VFIO_DEVICE_RESET on the peer @lead_us before
 * that.  Spins rather than sleeps: the guest's timers are coarse.
 */
static int dma_across_reset(struct vfio_p2p_ctx *c, uint32_t seed, int64_t lead_us)
{
	int64_t fire;
	int ret;

	vfio_p2p_fill(c->ram, DMA_LEN, seed);
	ret = edu_dma_from_iova(c->edu_regs, VFIO_P2P_IOVA_RAM, DMA_LEN);
	if (ret)
		return ret;
	ret = edu_dma_to_iova_start(c->edu_regs, IOVA_BAR + OFF, DMA_LEN);
	if (ret)
		return ret;
	fire = now_us() + 100000;
	while (now_us() < fire - lead_us)
		;
	if (ioctl(c->shm.fd, VFIO_DEVICE_RESET))
		return -errno;
	return edu_dma_wait(c->edu_regs);
}

/*
 * VFIO_DEVICE_RESET.  In the rig the peer sits alone behind a PCIe root port,
 * so its reset method is a secondary bus reset: vfio-pci zaps the BARs (our
 * DISABLE), saves config space, turns decode off, pulses the bus reset,
 * restores config space and unlocks (our ENABLE).  The device has no PM
 * capability, so the kernel adds no settle delay: the whole ioctl takes a
 * few milliseconds.  To put a DMA inside it, the test measures one reset,
 * then starts a DMA and issues the reset at a sweep of lead times before
 * the engine fires.  With the series every DMA either lands or faults at the
 * IOMMU: the mapping is revoked before decode goes off and restored only
 * after it is back on.  Stock type1 keeps the mapping, so a DMA inside the
 * reset is silently dropped by QEMU at the undecoded BAR instead.  At least
 * one must fault, none may vanish, and after the reset the same IOVA works
 * with nothing for the user to redo.
 */
TEST_F_TIMEOUT(life, reset_revokes_then_restores, 180)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed();
	int64_t lead, span, t;
	bool faulted = false;
	char needle[64];
	int tries = 0, kmsg;

	ASSERT_EQ(0, ioctl(c->shm.fd, VFIO_DEVICE_GET_INFO, &info));
	if (!(info.flags & VFIO_DEVICE_FLAGS_RESET))
		SKIP(return, "%s has no reset method (the rig puts it behind a root port)",
		     c->shm.bdf);
	snprintf(needle, sizeof(needle), "fault addr 0x%llx",
		 (unsigned long long)(IOVA_BAR + OFF));

	ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed));
	t = now_us();
	ASSERT_EQ(0, ioctl(c->shm.fd, VFIO_DEVICE_RESET))
		TH_LOG("VFIO_DEVICE_RESET: %s", strerror(errno));
	span = now_us() - t;
	TH_LOG("VFIO_DEVICE_RESET of %s (secondary bus reset) took %lld us",
	       c->shm.bdf, (long long)span);

	/* DMAR fault messages are rate-limited: 10 per 5 s. */
	sleep(6);
	kmsg = vfio_p2p_kmsg_open();
	ASSERT_LE(0, kmsg);
	/* Lead times from 0 to the reset's length and 15 ms more (clock skew). */
	for (lead = 0; lead <= span + 15000 && !faulted; lead += 500) {
		seed++;
		tries++;
		ASSERT_EQ(0, dma_across_reset(c, seed, lead));
		faulted = vfio_p2p_kmsg_wait(kmsg, needle, 200);
		if (!faulted) {
			EXPECT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed))
				TH_LOG("lead %lld us: DMA neither faulted nor landed",
				       (long long)lead);
		} else {
			EXPECT_NE(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed))
				TH_LOG("lead %lld us: a faulted DMA landed", (long long)lead);
		}
	}
	close(kmsg);
	EXPECT_TRUE(faulted)
		TH_LOG("no DMA inside %d resets faulted: the mapping was not revoked", tries);
	if (faulted)
		TH_LOG("the DMA faulted with the reset issued %lld us before it (try %d)",
		       (long long)(lead - 500), tries);

	/* Restored at the same IOVA once the reset is done. */
	ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, ++seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed))
		TH_LOG("DMA did not land after the reset");
	vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed);
}

TEST_F_TIMEOUT(life, two_containers_both_released, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed();
	struct vfio_p2p_region bar0;
	struct vfio_p2p_dev edu2;
	char bdf[16];
	void *regs2;
	uint8_t *view;
	int c2;

	if (vfio_p2p_find(EDU_VENDOR, EDU_DEVICE, 1, bdf, sizeof(bdf)))
		SKIP(return, "no second edu device bound to vfio-pci");
	/* iommufd mode: a second iommufd, its own IOAS, edu2's cdev in it. */
	c2 = vfio_p2p_container_open_mode(variant->iommu_type);
	ASSERT_LE(0, c2);
	ASSERT_EQ(0, vfio_p2p_dev_join(&edu2, bdf, c2, variant->iommu_type));
	ASSERT_EQ(0, vfio_p2p_region_info(&edu2, VFIO_PCI_BAR0_REGION_INDEX, &bar0));
	regs2 = vfio_p2p_region_mmap(&edu2, &bar0, 0, PG, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, regs2);
	ASSERT_EQ(0, vfio_p2p_pci_command(&edu2, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 0));
	/* The second container maps the same RAM and the same peer BAR. */
	ASSERT_EQ(0, vfio_p2p_map(c2, c->ram, VFIO_P2P_IOVA_RAM, VFIO_P2P_RAM_SIZE, RW));
	ASSERT_EQ(0, vfio_p2p_map(c2, self->bar, IOVA_BAR, c->bar2.size, RW));
	ASSERT_EQ(0, dma_to_bar(c, regs2, seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed));

	release_peer(c);
	ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, seed + 1));
	ASSERT_EQ(0, dma_to_bar(c, regs2, seed + 2));
	view = reopen_peer(_metadata, c);
	ASSERT_NE(NULL, view);
	EXPECT_EQ(-1, vfio_p2p_check(view + OFF, DMA_LEN, seed))
		TH_LOG("a container's DMA reached the released peer");
	vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed);

	ASSERT_EQ((int64_t)c->bar2.size, vfio_p2p_unmap(c2, IOVA_BAR, c->bar2.size, 0));
	munmap(regs2, PG);
	vfio_p2p_dev_close(&edu2);
	vfio_p2p_container_close(c2);
}

/*
 * The peer's session, shared by a storm's threads: each holds it (read)
 * while it uses the peer's fd or BAR mmap; in iommufd mode the opener
 * takes it (write) to end the session and open a new one.
 */
struct storm_peer {
	struct vfio_p2p_ctx *c;
	pthread_rwlock_t lock;
	bool cdev;		/* iommufd mode: the peer is a cdev, open once */
};

struct storm {
	struct storm_peer *peer;
	uint64_t iova;
	bool stop;		/* __atomic: set by the test, read by the thread */
	unsigned long ok, failed;
};

/* MAP/UNMAP the first MiB of the peer BAR at the thread's own IOVA. */
static void *storm_mapper(void *arg)
{
	struct storm *s = arg;
	struct vfio_p2p_ctx *c = s->peer->c;
	int ret;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		pthread_rwlock_rdlock(&s->peer->lock);
		ret = c->bar2.map ? vfio_p2p_map(c->container, c->bar2.map,
						 s->iova, 1UL << 20, RW) : -EBADF;
		pthread_rwlock_unlock(&s->peer->lock);
		if (ret) {
			s->failed++;
			continue;
		}
		s->ok++;
		/* The session may end before this: the IOVA stays the user's. */
		if (vfio_p2p_unmap(c->container, s->iova, 1UL << 20, 0) != 1L << 20)
			s->failed++;
	}
	return NULL;
}

static int storm_command(struct storm *s, uint16_t set, uint16_t clear)
{
	int ret;

	pthread_rwlock_rdlock(&s->peer->lock);
	ret = vfio_p2p_pci_command(&s->peer->c->shm, set, clear);
	pthread_rwlock_unlock(&s->peer->lock);
	return ret;
}

static void *storm_decode(void *arg)
{
	struct storm *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		storm_command(s, 0, PCI_COMMAND_MEMORY);
		usleep(2000);
		if (!storm_command(s, PCI_COMMAND_MEMORY, 0))
			s->ok++;
		usleep(2000);
	}
	return NULL;
}

/* mmap 4 pages of the peer's BAR from @fd, map, unmap, munmap: 0 or -errno. */
static int storm_map_window(struct storm *s, int fd)
{
	struct vfio_p2p_ctx *c = s->peer->c;
	void *p;
	int ret;

	p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, c->bar2.offset);
	if (p == MAP_FAILED)
		return -errno;
	ret = vfio_p2p_map(c->container, p, s->iova, 4 * PG, RW);
	if (!ret)
		vfio_p2p_unmap(c->container, s->iova, 4 * PG, 0);
	munmap(p, 4 * PG);
	return ret;
}

/*
 * iommufd mode: the peer's cdev is open once at a time, so with the
 * session held, a second BIND_IOMMUFD of it must fail (EINVAL); then end
 * the session (munmap, close: a RELEASE of everything mapped from it) and
 * open a new one (bind, attach, mmap), whose window is mapped.
 */
static int storm_renew_cdev(struct storm *s)
{
	struct vfio_p2p_ctx *c = s->peer->c;
	struct vfio_p2p_dev second;
	int ret;
	void *p;

	ret = vfio_p2p_cdev_open(&second, c->shm.bdf, c->container, c->shm.ioas);
	vfio_p2p_dev_close(&second);
	if (ret != -EINVAL) {
		fprintf(stderr, "# storm: a second bind of the open %s: %s\n", c->shm.bdf,
			ret ? strerror(-ret) : "succeeded");
		return ret ? ret : -EEXIST;
	}
	pthread_rwlock_wrlock(&s->peer->lock);
	if (c->bar2.map)
		munmap(c->bar2.map, c->bar2.size);
	c->bar2.map = NULL;
	close(c->shm.fd);
	c->shm.fd = -1;
	ret = vfio_p2p_dev_reopen(&c->shm);
	if (ret >= 0) {
		p = vfio_p2p_region_mmap(&c->shm, &c->bar2, 0, c->bar2.size,
					 PROT_READ | PROT_WRITE);
		c->bar2.map = p == MAP_FAILED ? NULL : p;
		ret = c->bar2.map ? storm_map_window(s, c->shm.fd) : -ENOMEM;
	}
	pthread_rwlock_unlock(&s->peer->lock);
	return ret;
}

/*
 * Another session of the peer: type1 takes another fd of it from its
 * group (open, mmap, map, unmap, munmap, close); iommufd renews the one.
 */
static void *storm_opener(void *arg)
{
	struct storm *s = arg;
	struct vfio_p2p_ctx *c = s->peer->c;
	int fd;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		if (s->peer->cdev) {
			if (storm_renew_cdev(s))
				s->failed++;
			else
				s->ok++;
			continue;
		}
		fd = ioctl(c->shm.group_fd, VFIO_GROUP_GET_DEVICE_FD, c->shm.bdf);
		if (fd < 0) {
			s->failed++;
			continue;
		}
		if (storm_map_window(s, fd))
			s->failed++;
		else
			s->ok++;
		close(fd);
	}
	return NULL;
}

/*
 * Say where the tasks of @pid ("self" for this process) are: each one's
 * state, wait channel and kernel stack on stderr, and the blocked tasks of
 * the whole guest in the kernel log (sysrq-w), for a test that found
 * something stuck.
 */
static void dump_tasks(const char *pid, const char *why)
{
	char path[PATH_MAX], buf[4096];
	struct dirent *de;
	DIR *d;

	fprintf(stderr, "# %s: the tasks of process %s:\n", why, pid);
	snprintf(path, sizeof(path), "/proc/%s/task", pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		char *line, *save;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task/%s/wchan", pid, de->d_name);
		if (vfio_p2p_sysfs_read(path, buf, sizeof(buf)))
			buf[0] = '\0';
		fprintf(stderr, "#   task %s, wchan %s:\n", de->d_name, buf[0] ? buf : "-");
		snprintf(path, sizeof(path), "/proc/%s/task/%s/stack", pid, de->d_name);
		if (vfio_p2p_sysfs_read(path, buf, sizeof(buf)))
			continue;
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			fprintf(stderr, "#     %s\n", line);
	}
	if (d)
		closedir(d);
	if (!vfio_p2p_sysfs_write("/proc/sysrq-trigger", "w"))
		fprintf(stderr, "# %s: the blocked tasks' stacks are in the kernel log (sysrq-w)\n",
			why);
}

/* The storm's threads: as many as the storm has members. */
#define STORM_THREADS	4

static int storm_init(struct storm *s, struct storm_peer *peer, struct vfio_p2p_ctx *c)
{
	static const uint64_t iova[STORM_THREADS] = {
		0x100000000ULL, 0x200000000ULL, 0, 0x300000000ULL,
	};
	pthread_rwlockattr_t attr;
	int i, ret;

	memset(s, 0, STORM_THREADS * sizeof(*s));
	peer->c = c;
	peer->cdev = c->shm.iommufd >= 0;
	/* Three readers keep it busy: the opener must still get its turn. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	ret = pthread_rwlock_init(&peer->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	for (i = 0; i < STORM_THREADS; i++) {
		s[i].peer = peer;
		s[i].iova = iova[i];
	}
	return ret;
}

static void *(*const storm_fn[STORM_THREADS])(void *) = {
	storm_mapper, storm_mapper, storm_decode, storm_opener,
};

/*
 * The storm, then: type1 kept the peer open all along, and the mapping made
 * before it still works; iommufd ended the peer's session many times, so
 * that mapping was released (DMA to it must not land in the new session's
 * BAR), its IOVA is still the user's to unmap, and a new map of it works.
 */
TEST_F_TIMEOUT(life, stress_then_dma_and_unbind, 180)
{
	struct vfio_p2p_ctx *c = &self->c;
	struct storm s[STORM_THREADS];
	uint32_t seed = vfio_p2p_seed();
	struct storm_peer peer;
	struct timespec deadline;
	pthread_t t[STORM_THREADS];
	int i, ret;

	ASSERT_EQ(0, storm_init(s, &peer, c));
	for (i = 0; i < STORM_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, storm_fn[i], &s[i]));
	sleep(8);
	for (i = 0; i < STORM_THREADS; i++)
		__atomic_store_n(&s[i].stop, true, __ATOMIC_RELAXED);
	/*
	 * Each thread checks its stop flag between two calls, each of which
	 * takes milliseconds: one that is not back within a minute is stuck,
	 * and its stack says where.
	 */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	for (i = 0; i < STORM_THREADS; i++) {
		ret = pthread_timedjoin_np(t[i], NULL, &deadline);
		if (ret)
			dump_tasks("self", "a storm thread did not stop");
		ASSERT_EQ(0, ret)
			TH_LOG("storm thread %d still runs 60 s after it was told to stop", i);
	}
	pthread_rwlock_destroy(&peer.lock);
	for (i = 0; i < STORM_THREADS; i++) {
		TH_LOG("thread %d: %lu done, %lu refused", i, s[i].ok, s[i].failed);
		EXPECT_LT(0, s[i].ok);
	}
	/* Every renewal of the cdev session worked. */
	if (peer.cdev)
		EXPECT_EQ(0, s[3].failed);
	self->bar = c->bar2.map;
	ASSERT_NE(NULL, self->bar) TH_LOG("the storm left the peer without a session");

	/* Decode on, and the mapping made before the storm is intact. */
	ASSERT_EQ(0, vfio_p2p_pci_command(&c->shm, PCI_COMMAND_MEMORY, 0));
	if (peer.cdev) {
		/* ...or, over iommufd, released with the first session. */
		vfio_p2p_fill(self->bar + OFF, DMA_LEN, seed);
		ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, seed + 1));
		ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed))
			TH_LOG("DMA reached the BAR through a released session's mapping");
		ASSERT_EQ((int64_t)c->bar2.size,
			  vfio_p2p_unmap(c->container, IOVA_BAR, c->bar2.size, 0));
		ASSERT_EQ(0, vfio_p2p_map(c->container, self->bar, IOVA_BAR,
					  c->bar2.size, RW));
		seed += 2;
	}
	ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed));
	vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed);
	ASSERT_LT(0, vfio_p2p_unmap(c->container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL));
}

/*
 * The storm of the test above in a process of its own, which the test kills:
 * tell @ready once every thread has done some of its work, then wait.
 */
static void storm_child(int ready, int iommu_type)
{
	struct storm s[STORM_THREADS];
	pthread_t t[STORM_THREADS];
	struct storm_peer peer;
	struct vfio_p2p_ctx c;
	const char *what;
	uint8_t *bar;
	int i, busy;

	if (vfio_p2p_ctx_open(&c, iommu_type, &what)) {
		fprintf(stderr, "# storm child: %s failed\n", what);
		_exit(2);
	}
	bar = vfio_p2p_region_mmap(&c.shm, &c.bar2, 0, c.bar2.size,
				   PROT_READ | PROT_WRITE);
	if (bar == MAP_FAILED)
		_exit(3);
	c.bar2.map = bar;
	if (vfio_p2p_map(c.container, bar, IOVA_BAR, c.bar2.size, RW))
		_exit(4);
	if (storm_init(s, &peer, &c))
		_exit(5);
	for (i = 0; i < STORM_THREADS; i++)
		if (pthread_create(&t[i], NULL, storm_fn[i], &s[i]))
			_exit(5);
	do {
		usleep(10000);
		for (i = 0, busy = 0; i < STORM_THREADS; i++)
			busy += !!__atomic_load_n(&s[i].ok, __ATOMIC_RELAXED);
	} while (busy < STORM_THREADS);
	if (write(ready, "s", 1) != 1)
		_exit(6);
	for (;;)
		pause();
}

/* Reap @pid within @secs seconds: 0, or -ETIMEDOUT. */
static int reap(pid_t pid, int *status, int secs)
{
	int64_t end = now_us() + secs * 1000000LL;

	while (waitpid(pid, status, WNOHANG) != pid) {
		if (now_us() > end)
			return -ETIMEDOUT;
		usleep(20000);
	}
	return 0;
}

#define KILL_ROUNDS	4

/*
 * A process killed in the middle of the storm lets go of everything it held:
 * once it is reaped, both groups and both devices open at once, the peer BAR
 * maps at the IOVA the dead process used, and DMA lands there.  Each round
 * kills the child at another point of its work.
 */
TEST_F_TIMEOUT(life, killed_in_storm_leaves_nothing_busy, 240)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed();
	struct pollfd pfd;
	int round, p[2], status, ret;
	const char *what;
	char pid_s[16], b;
	pid_t pid;

	/* The child must be the groups' only holder. */
	vfio_p2p_ctx_close(c);
	vfio_p2p_ctx_init(c);
	self->bar = NULL;
	for (round = 0; round < KILL_ROUNDS; round++, seed += 2) {
		ASSERT_EQ(0, pipe(p));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			close(p[0]);
			storm_child(p[1], variant->iommu_type);
		}
		self->child = pid;
		close(p[1]);
		snprintf(pid_s, sizeof(pid_s), "%d", pid);
		pfd.fd = p[0];
		pfd.events = POLLIN;
		ret = poll(&pfd, 1, 60000);
		if (ret != 1)
			dump_tasks(pid_s, "the storm child did not start");
		ASSERT_EQ(1, ret) TH_LOG("round %d: the storm did not start in 60 s", round);
		ASSERT_EQ(1, read(p[0], &b, 1))
			TH_LOG("round %d: the storm child died before its storm", round);
		close(p[0]);
		/* Somewhere else in the threads' loops each round. */
		usleep(1000 * ((seed % 300) + round * 97));
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ret = reap(pid, &status, 60);
		if (ret)
			dump_tasks(pid_s, "the killed storm child did not exit");
		ASSERT_EQ(0, ret)
			TH_LOG("round %d: the killed child did not exit in 60 s", round);
		self->child = 0;
		ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			TH_LOG("round %d: the child ended with status 0x%x, not SIGKILL",
			       round, status);

		/* Reaped: nothing of it may hold a group or a device now. */
		ret = vfio_p2p_ctx_open(c, variant->iommu_type, &what);
		/* A cdev still bound elsewhere refuses the bind with EINVAL. */
		if (ret == -EBUSY || ret == -EINVAL)
			vfio_p2p_report_holders();
		ASSERT_EQ(0, ret)
			TH_LOG("round %d, the killed storm reaped: %s: %s", round, what,
			       strerror(-ret));
		self->bar = vfio_p2p_region_mmap(&c->shm, &c->bar2, 0, c->bar2.size,
						 PROT_READ | PROT_WRITE);
		ASSERT_NE(MAP_FAILED, self->bar);
		c->bar2.map = self->bar;
		/* Decode may have been off when the child died. */
		ASSERT_EQ(0, vfio_p2p_pci_command(&c->shm, PCI_COMMAND_MEMORY, 0));
		ASSERT_EQ(0, vfio_p2p_map(c->container, self->bar, IOVA_BAR,
					  c->bar2.size, RW));
		ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, seed));
		ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed))
			TH_LOG("round %d: DMA did not land after the killed storm", round);
		vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed);
		if (round + 1 < KILL_ROUNDS) {
			vfio_p2p_ctx_close(c);
			vfio_p2p_ctx_init(c);
			self->bar = NULL;
		}
	}
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
	const char *bdf = arg;

	return (void *)(long)vfio_p2p_sysfs_write("/sys/bus/pci/drivers/vfio-pci/unbind", bdf);
}

TEST_F_TIMEOUT(life, unbind_completes_and_stops_dma, 120)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed();
	struct timespec deadline;
	char path[128];
	pthread_t t;
	void *ret;
	uint8_t *res;
	int fd;

	ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, seed));

	/*
	 * A thread, not a child: a child would inherit the device fd and the
	 * BAR mapping and so hold the device it is unbinding.
	 */
	ASSERT_EQ(0, pthread_create(&t, NULL, unbind_thread, c->shm.bdf));
	/* vfio-pci asks its user to let go; the user does. */
	usleep(300000);
	release_peer(c);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 20;
	ASSERT_EQ(0, pthread_timedjoin_np(t, &ret, &deadline))
		TH_LOG("unbind did not complete in 20 s");
	ASSERT_EQ(0, (long)ret);
	ASSERT_FALSE(bound_to_vfio(c->shm.bdf));

	ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, seed + 1));
	/* Read what the BAR holds through sysfs, as its next owner could. */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d",
		 c->shm.bdf, IVSHMEM_BAR);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	res = mmap(NULL, OFF + PG, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	ASSERT_NE(MAP_FAILED, res);
	EXPECT_EQ(-1, vfio_p2p_check(res + OFF, DMA_LEN, seed))
		TH_LOG("DMA reached the BAR after its device was unbound");
	munmap(res, OFF + PG);
	vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed);

	/* Back to vfio-pci for whoever comes next. */
	ASSERT_EQ(0, vfio_p2p_sysfs_write("/sys/bus/pci/drivers_probe", c->shm.bdf));
	ASSERT_TRUE(bound_to_vfio(c->shm.bdf));
	ASSERT_EQ((int64_t)c->bar2.size,
		  vfio_p2p_unmap(c->container, IOVA_BAR, c->bar2.size, 0));
}

/* Reset the peer through the PCI core: its sysfs reset attribute. */
static int sysfs_reset(struct vfio_p2p_ctx *c)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", c->shm.bdf);
	return vfio_p2p_sysfs_write(path, "1");
}

/* dma_across_reset(), with the reset done by the PCI core instead. */
static int dma_across_sysfs_reset(struct vfio_p2p_ctx *c, uint32_t seed,
				  int64_t lead_us)
{
	int64_t fire;
	int ret;

	vfio_p2p_fill(c->ram, DMA_LEN, seed);
	ret = edu_dma_from_iova(c->edu_regs, VFIO_P2P_IOVA_RAM, DMA_LEN);
	if (ret)
		return ret;
	ret = edu_dma_to_iova_start(c->edu_regs, IOVA_BAR + OFF, DMA_LEN);
	if (ret)
		return ret;
	fire = now_us() + 100000;
	while (now_us() < fire - lead_us)
		;
	ret = sysfs_reset(c);
	if (ret)
		return ret;
	return edu_dma_wait(c->edu_regs);
}

/*
 * A reset of the peer by the PCI core (its sysfs reset attribute calls
 * pci_reset_function(), which calls vfio-pci's reset_prepare and
 * reset_done), with the BAR mapped and the device open: as for
 * reset_revokes_then_restores, a DMA issued inside the reset must fault at
 * the IOMMU (revoked), none may vanish at the undecoded BAR, and the same
 * IOVA works after the reset.
 */
TEST_F_TIMEOUT(life, sysfs_reset_revokes_then_restores, 180)
{
	struct vfio_p2p_ctx *c = &self->c;
	uint32_t seed = vfio_p2p_seed();
	int64_t lead, span, t;
	bool faulted = false;
	char path[128], needle[64];
	int tries = 0, kmsg, ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", c->shm.bdf);
	if (access(path, W_OK))
		SKIP(return, "%s has no reset method (the rig puts it behind a root port)",
		     c->shm.bdf);
	snprintf(needle, sizeof(needle), "fault addr 0x%llx",
		 (unsigned long long)(IOVA_BAR + OFF));

	ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed));
	t = now_us();
	ret = sysfs_reset(c);
	ASSERT_EQ(0, ret) TH_LOG("writing %s: %s", path, strerror(-ret));
	span = now_us() - t;
	TH_LOG("sysfs reset of %s took %lld us", c->shm.bdf, (long long)span);
	/* Restored once the reset is done, with nothing for the user to redo. */
	ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, ++seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed))
		TH_LOG("DMA did not land after the sysfs reset");

	/* DMAR fault messages are rate-limited: 10 per 5 s. */
	sleep(6);
	kmsg = vfio_p2p_kmsg_open();
	ASSERT_LE(0, kmsg);
	for (lead = 0; lead <= span + 15000 && !faulted; lead += 500) {
		seed++;
		tries++;
		ASSERT_EQ(0, dma_across_sysfs_reset(c, seed, lead));
		faulted = vfio_p2p_kmsg_wait(kmsg, needle, 200);
		if (!faulted) {
			EXPECT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed))
				TH_LOG("lead %lld us: DMA neither faulted nor landed",
				       (long long)lead);
		} else {
			EXPECT_NE(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed))
				TH_LOG("lead %lld us: a faulted DMA landed", (long long)lead);
		}
	}
	close(kmsg);
	EXPECT_TRUE(faulted)
		TH_LOG("no DMA inside %d sysfs resets faulted: the mapping was not revoked",
		       tries);

	ASSERT_EQ(0, dma_to_bar(c, c->edu_regs, ++seed));
	ASSERT_EQ(-1, vfio_p2p_check(self->bar + OFF, DMA_LEN, seed))
		TH_LOG("DMA did not land after the sysfs resets");
	vfio_p2p_host_expect(c->shm.bdf, OFF, DMA_LEN, seed);
}

TEST_HARNESS_MAIN
