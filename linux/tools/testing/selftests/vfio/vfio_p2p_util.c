// SPDX-License-Identifier: GPL-2.0-only
/*
 * Helpers shared by the vfio-p2p selftests and the demo; see vfio_p2p_util.h
 * for the devices and the model.  Everything here is plain vfio uAPI: the
 * group/container interface of type1, region info, and reads and writes of
 * the device fd.  Functions return 0 or -errno and never exit, so a harness
 * test can report what failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_util.h"

static int read_sysfs_hex(const char *dir, const char *name, unsigned long *val)
{
	char path[PATH_MAX], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	*val = strtoul(buf, NULL, 16);
	return 0;
}

static int bdf_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

int vfio_p2p_find(uint16_t vendor, uint16_t device, int nth, char *bdf, size_t len)
{
	const char *base = "/sys/bus/pci/drivers/vfio-pci";
	char *names[64];
	int n = 0, i, ret = -ENODEV;
	struct dirent *de;
	DIR *d;

	d = opendir(base);
	if (!d)
		return -ENODEV;
	while ((de = readdir(d)) && n < 64) {
		char dir[PATH_MAX];
		unsigned long v, dv;

		if (!strchr(de->d_name, ':'))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name);
		if (read_sysfs_hex(dir, "vendor", &v) || read_sysfs_hex(dir, "device", &dv))
			continue;
		if (v == vendor && dv == device)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), bdf_cmp);
	if (nth < n) {
		snprintf(bdf, len, "%s", names[nth]);
		ret = 0;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	return ret;
}

int vfio_p2p_container_open(void)
{
	int fd = open("/dev/vfio/vfio", O_RDWR);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

static int group_of(const char *bdf)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	char *slash;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	slash = strrchr(link, '/');
	return slash ? atoi(slash + 1) : -EINVAL;
}

int vfio_p2p_dev_open(struct vfio_p2p_dev *dev, const char *bdf, int container,
		      int iommu_type)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->group_fd = -1;
	dev->fd = -1;
	dev->iommufd = -1;
	snprintf(dev->bdf, sizeof(dev->bdf), "%s", bdf);
	dev->group_id = group_of(bdf);
	if (dev->group_id < 0)
		return dev->group_id;
	snprintf(path, sizeof(path), "/dev/vfio/%d", dev->group_id);
	dev->group_fd = open(path, O_RDWR);
	if (dev->group_fd < 0)
		return -errno;
	if (ioctl(dev->group_fd, VFIO_GROUP_GET_STATUS, &status))
		return -errno;
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return -EBUSY;
	if (ioctl(dev->group_fd, VFIO_GROUP_SET_CONTAINER, &container))
		return -errno;
	if (iommu_type && ioctl(container, VFIO_SET_IOMMU, iommu_type))
		return -errno;
	ret = ioctl(dev->group_fd, VFIO_GROUP_GET_DEVICE_FD, dev->bdf);
	if (ret < 0)
		return -errno;
	dev->fd = ret;
	return 0;
}

void vfio_p2p_dev_close(struct vfio_p2p_dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	if (dev->group_fd >= 0)
		close(dev->group_fd);
	dev->fd = -1;
	dev->group_fd = -1;
}

int vfio_p2p_dev_reopen(struct vfio_p2p_dev *dev)
{
	struct vfio_p2p_dev again;
	int ret;

	if (dev->iommufd < 0) {
		dev->fd = ioctl(dev->group_fd, VFIO_GROUP_GET_DEVICE_FD, dev->bdf);
		return dev->fd < 0 ? -errno : dev->fd;
	}
	ret = vfio_p2p_cdev_open(&again, dev->bdf, dev->iommufd, dev->ioas);
	if (ret) {
		vfio_p2p_dev_close(&again);
		return ret;
	}
	dev->fd = again.fd;
	return dev->fd;
}

int vfio_p2p_container_open_mode(int iommu_type)
{
	uint32_t ioas;

	if (iommu_type == VFIO_P2P_IOMMUFD)
		return vfio_p2p_iommufd_open(&ioas);
	return vfio_p2p_container_open();
}

void vfio_p2p_container_close(int container)
{
	uint32_t ioas;

	if (vfio_p2p_iommufd_ioas(container, &ioas))
		vfio_p2p_iommufd_close(container);
	else if (container >= 0)
		close(container);
}

int vfio_p2p_dev_join(struct vfio_p2p_dev *dev, const char *bdf, int container,
		      int iommu_type)
{
	uint32_t ioas;

	if (vfio_p2p_iommufd_ioas(container, &ioas))
		return vfio_p2p_cdev_open(dev, bdf, container, ioas);
	return vfio_p2p_dev_open(dev, bdf, container, iommu_type);
}

int vfio_p2p_region_info(struct vfio_p2p_dev *dev, int index,
			 struct vfio_p2p_region *region)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = index };

	if (ioctl(dev->fd, VFIO_DEVICE_GET_REGION_INFO, &info))
		return -errno;
	region->map = NULL;
	region->size = info.size;
	region->offset = info.offset;
	region->flags = info.flags;
	return 0;
}

void *vfio_p2p_region_mmap(struct vfio_p2p_dev *dev, struct vfio_p2p_region *region,
			   uint64_t offset, size_t len, int prot)
{
	return mmap(NULL, len, prot, MAP_SHARED, dev->fd, region->offset + offset);
}

int vfio_p2p_pci_command(struct vfio_p2p_dev *dev, uint16_t set, uint16_t clear)
{
	struct vfio_p2p_region cfg;
	uint16_t cmd;
	int ret;

	ret = vfio_p2p_region_info(dev, VFIO_PCI_CONFIG_REGION_INDEX, &cfg);
	if (ret)
		return ret;
	if (pread(dev->fd, &cmd, sizeof(cmd), cfg.offset + PCI_COMMAND) != sizeof(cmd))
		return -EIO;
	cmd = (cmd | set) & ~clear;
	if (pwrite(dev->fd, &cmd, sizeof(cmd), cfg.offset + PCI_COMMAND) != sizeof(cmd))
		return -EIO;
	return 0;
}

int vfio_p2p_map(int container, void *vaddr, uint64_t iova, uint64_t size,
		 uint32_t flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = flags,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};
	uint32_t ioas;

	if (vfio_p2p_iommufd_ioas(container, &ioas))
		return vfio_p2p_ioas_map(container, ioas, vaddr, iova, size, flags);
	return ioctl(container, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
}

int64_t vfio_p2p_unmap(int container, uint64_t iova, uint64_t size, uint32_t flags)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.flags = flags,
		.iova = iova,
		.size = size,
	};
	uint32_t ioas;

	if (vfio_p2p_iommufd_ioas(container, &ioas)) {
		if (flags & VFIO_DMA_UNMAP_FLAG_ALL)
			return vfio_p2p_ioas_unmap(container, ioas, 0, UINT64_MAX);
		if (flags)
			return -EINVAL;
		return vfio_p2p_ioas_unmap(container, ioas, iova, size);
	}
	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap))
		return -errno;
	return unmap.size;
}

#define EDU_REG_LIVENESS	0x04
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_DMA_START		0x1
#define EDU_DMA_TO_IOVA		0x2	/* edu buffer -> bus address */

/*
 * Register accesses must reach the device as single accesses of their size
 * and must not be merged or elided: relaxed atomics give exactly that.
 */
static void edu_w64(void *bar0, unsigned int reg, uint64_t val)
{
	__atomic_store_n((uint64_t *)((char *)bar0 + reg), val, __ATOMIC_RELAXED);
}

static uint64_t edu_r64(void *bar0, unsigned int reg)
{
	return __atomic_load_n((uint64_t *)((char *)bar0 + reg), __ATOMIC_RELAXED);
}

static int edu_dma_start(void *bar0, uint64_t src, uint64_t dst, uint32_t len,
			 uint64_t dir)
{
	if (len == 0 || len > EDU_DMA_MAX)
		return -EINVAL;
	edu_w64(bar0, EDU_REG_DMA_SRC, src);
	edu_w64(bar0, EDU_REG_DMA_DST, dst);
	edu_w64(bar0, EDU_REG_DMA_COUNT, len);
	edu_w64(bar0, EDU_REG_DMA_CMD, EDU_DMA_START | dir);
	return 0;
}

int edu_dma_wait(void *bar0)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	/* The engine runs off a 100 ms QEMU timer; allow for a slow TCG guest. */
	while (edu_r64(bar0, EDU_REG_DMA_CMD) & EDU_DMA_START) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 20)
			return -ETIMEDOUT;
		usleep(2000);
	}
	return 0;
}

static int edu_dma(void *bar0, uint64_t src, uint64_t dst, uint32_t len,
		   uint64_t dir)
{
	int ret = edu_dma_start(bar0, src, dst, len, dir);

	return ret ? ret : edu_dma_wait(bar0);
}

int edu_dma_from_iova(void *edu_bar0, uint64_t iova, uint32_t len)
{
	return edu_dma(edu_bar0, iova, EDU_BUF_ADDR, len, 0);
}

int edu_dma_to_iova(void *edu_bar0, uint64_t iova, uint32_t len)
{
	return edu_dma(edu_bar0, EDU_BUF_ADDR, iova, len, EDU_DMA_TO_IOVA);
}

int edu_dma_buf_to_iova(void *edu_bar0, uint32_t buf_off, uint64_t iova,
			uint32_t len)
{
	if (buf_off >= EDU_DMA_MAX || len > EDU_DMA_MAX - buf_off)
		return -EINVAL;
	return edu_dma(edu_bar0, EDU_BUF_ADDR + buf_off, iova, len, EDU_DMA_TO_IOVA);
}

int edu_dma_to_iova_start(void *edu_bar0, uint64_t iova, uint32_t len)
{
	return edu_dma_start(edu_bar0, EDU_BUF_ADDR, iova, len, EDU_DMA_TO_IOVA);
}

bool edu_alive(void *edu_bar0)
{
	uint32_t *reg = (uint32_t *)((char *)edu_bar0 + EDU_REG_LIVENESS);

	__atomic_store_n(reg, 0x12345678U, __ATOMIC_RELAXED);
	return __atomic_load_n(reg, __ATOMIC_RELAXED) == (uint32_t)~0x12345678U;
}

static uint8_t pattern_byte(size_t i, uint32_t seed)
{
	uint32_t x = seed ^ (uint32_t)(i * 2654435761U);

	x ^= x >> 15;
	x *= 0x2c1b3c6dU;
	x ^= x >> 12;
	return x & 0xff;
}

void vfio_p2p_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern_byte(i, seed);
}

long vfio_p2p_check(const void *buf, size_t len, uint32_t seed)
{
	const uint8_t *p = buf;
	uint8_t flip = vfio_p2p_break_requested() ? 1 : 0;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (uint8_t)(pattern_byte(i, seed) ^ flip))
			return (long)i;
	return -1;
}

void vfio_p2p_touch(const void *buf, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += getpagesize())
		(void)__atomic_load_n((const uint8_t *)buf + off, __ATOMIC_RELAXED);
}

uint32_t vfio_p2p_seed(void)
{
	static uint32_t counter;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(ts.tv_nsec ^ (ts.tv_sec << 20) ^ (getpid() << 8)) +
	       ++counter * 0x9e3779b9U;
}

uint64_t vfio_p2p_fnv1a64(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void vfio_p2p_host_expect_bytes(const char *bdf, uint64_t offset,
				const void *buf, size_t len)
{
	printf("# vfio-p2p-host-expect: bdf=%s offset=0x%llx len=%zu fnv1a64=0x%016llx\n",
	       bdf, (unsigned long long)offset, len,
	       (unsigned long long)vfio_p2p_fnv1a64(buf, len));
	fflush(stdout);
}

void vfio_p2p_host_expect(const char *bdf, uint64_t offset, size_t len,
			  uint32_t seed)
{
	uint8_t *buf = malloc(len);

	if (!buf)
		return;
	vfio_p2p_fill(buf, len, seed);
	vfio_p2p_host_expect_bytes(bdf, offset, buf, len);
	free(buf);
}

int vfio_p2p_sysfs_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int vfio_p2p_sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

void vfio_p2p_ctx_init(struct vfio_p2p_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->container = -1;
	c->edu.fd = -1;
	c->edu.group_fd = -1;
	c->edu.iommufd = -1;
	c->shm.fd = -1;
	c->shm.group_fd = -1;
	c->shm.iommufd = -1;
	c->edu_regs = MAP_FAILED;
	c->ram = MAP_FAILED;
	c->bar2.map = NULL;
}

int vfio_p2p_ctx_open(struct vfio_p2p_ctx *c, int iommu_type, const char **what)
{
	struct vfio_p2p_region bar0;
	char edu_bdf[16], shm_bdf[16];
	int ret;

	vfio_p2p_ctx_init(c);

	*what = "edu and ivshmem bound to vfio-pci";
	if (vfio_p2p_find(EDU_VENDOR, EDU_DEVICE, 0, edu_bdf, sizeof(edu_bdf)) ||
	    vfio_p2p_find(IVSHMEM_VENDOR, IVSHMEM_DEVICE, 0, shm_bdf, sizeof(shm_bdf)))
		return -ENODEV;
	if (iommu_type == VFIO_P2P_IOMMUFD) {
		uint32_t ioas;

		*what = "open /dev/iommu and allocate an IOAS";
		c->container = vfio_p2p_iommufd_open(&ioas);
		if (c->container < 0)
			return c->container;
		*what = "open the edu cdev, bind and attach it";
		ret = vfio_p2p_cdev_open(&c->edu, edu_bdf, c->container, ioas);
		if (ret)
			return ret;
		*what = "open the ivshmem cdev, bind and attach it";
		ret = vfio_p2p_cdev_open(&c->shm, shm_bdf, c->container, ioas);
		if (ret)
			return ret;
	} else {
		*what = "open /dev/vfio/vfio";
		c->container = vfio_p2p_container_open();
		if (c->container < 0)
			return c->container;
		*what = "IOMMU type supported";
		if (ioctl(c->container, VFIO_CHECK_EXTENSION, iommu_type) != 1)
			return -EOPNOTSUPP;
		*what = "open the edu group and device";
		ret = vfio_p2p_dev_open(&c->edu, edu_bdf, c->container, iommu_type);
		if (ret)
			return ret;
		*what = "open the ivshmem group and device";
		ret = vfio_p2p_dev_open(&c->shm, shm_bdf, c->container, 0);
		if (ret)
			return ret;
	}
	*what = "edu BAR0";
	ret = vfio_p2p_region_info(&c->edu, VFIO_PCI_BAR0_REGION_INDEX, &bar0);
	if (ret)
		return ret;
	c->edu_regs = vfio_p2p_region_mmap(&c->edu, &bar0, 0, getpagesize(),
					   PROT_READ | PROT_WRITE);
	if (c->edu_regs == MAP_FAILED)
		return -errno;
	ret = vfio_p2p_pci_command(&c->edu, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 0);
	if (ret)
		return ret;
	*what = "edu answers";
	if (!edu_alive(c->edu_regs))
		return -EIO;
	*what = "ivshmem BAR2 region info";
	ret = vfio_p2p_region_info(&c->shm, IVSHMEM_BAR, &c->bar2);
	if (ret)
		return ret;
	if (!(c->bar2.flags & VFIO_REGION_INFO_FLAG_MMAP) ||
	    c->bar2.size < 4 * VFIO_P2P_RAM_SIZE)
		return -EINVAL;
	*what = "anonymous memory mapped at VFIO_P2P_IOVA_RAM";
	c->ram = mmap(NULL, VFIO_P2P_RAM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->ram == MAP_FAILED)
		return -errno;
	memset(c->ram, 0, VFIO_P2P_RAM_SIZE);
	return vfio_p2p_map(c->container, c->ram, VFIO_P2P_IOVA_RAM,
			    VFIO_P2P_RAM_SIZE,
			    VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
}

void vfio_p2p_ctx_close(struct vfio_p2p_ctx *c)
{
	if (c->bar2.map && c->bar2.map != MAP_FAILED)
		munmap(c->bar2.map, c->bar2.size);
	if (c->ram != MAP_FAILED)
		munmap(c->ram, VFIO_P2P_RAM_SIZE);
	if (c->edu_regs != MAP_FAILED)
		munmap(c->edu_regs, getpagesize());
	vfio_p2p_dev_close(&c->shm);
	vfio_p2p_dev_close(&c->edu);
	vfio_p2p_container_close(c->container);
	c->container = -1;
}

int vfio_p2p_ram_to_iova(struct vfio_p2p_ctx *c, uint64_t iova, uint32_t len,
			 uint32_t seed)
{
	int ret;

	vfio_p2p_fill(c->ram, len, seed);
	ret = edu_dma_from_iova(c->edu_regs, VFIO_P2P_IOVA_RAM, len);
	return ret ? ret : edu_dma_to_iova(c->edu_regs, iova, len);
}

int vfio_p2p_iova_to_ram(struct vfio_p2p_ctx *c, uint64_t iova, uint32_t len)
{
	int ret;

	memset(c->ram, 0, VFIO_P2P_RAM_SIZE);
	ret = edu_dma_from_iova(c->edu_regs, iova, len);
	return ret ? ret : edu_dma_to_iova(c->edu_regs, VFIO_P2P_IOVA_RAM, len);
}

int vfio_p2p_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	lseek(fd, 0, SEEK_END);
	return fd;
}

bool vfio_p2p_kmsg_wait(int fd, const char *needle, int timeout_ms)
{
	char rec[1024];
	ssize_t n;
	int waited;

	for (waited = 0; waited <= timeout_ms; waited += 10) {
		while ((n = read(fd, rec, sizeof(rec) - 1)) > 0) {
			rec[n] = '\0';
			if (strstr(rec, needle))
				return true;
		}
		if (n < 0 && errno != EAGAIN && errno != EPIPE)
			return false;
		usleep(10000);
	}
	return false;
}

bool vfio_p2p_break_requested(void)
{
	const char *v = getenv("VFIO_P2P_SELFTEST_BREAK");

	return v && *v && strcmp(v, "0");
}

/* "S (sleeping)"-style state and the wait channel of @pid, into @buf. */
static void task_state(const char *pid, char *buf, size_t len)
{
	char path[PATH_MAX], state[64] = "?", wchan[64] = "?";
	char line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "State: %63[^\n]", state) == 1)
				break;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%s/wchan", pid);
	vfio_p2p_sysfs_read(path, wchan, sizeof(wchan));
	snprintf(buf, len, "state %s, wchan %s", state, wchan);
}

void vfio_p2p_report_holders(void)
{
	struct dirent *pe, *fe;
	DIR *proc, *fds;
	int n = 0;

	proc = opendir("/proc");
	if (!proc)
		return;
	while ((pe = readdir(proc))) {
		char dir[PATH_MAX], target[PATH_MAX], st[160];
		int groups = 0, devices = 0;
		ssize_t len;

		if (pe->d_name[0] < '0' || pe->d_name[0] > '9')
			continue;
		snprintf(dir, sizeof(dir), "/proc/%s/fd", pe->d_name);
		fds = opendir(dir);
		if (!fds)
			continue;
		while ((fe = readdir(fds))) {
			len = readlinkat(dirfd(fds), fe->d_name, target, sizeof(target) - 1);
			if (len < 0)
				continue;
			target[len] = '\0';
			if (!strncmp(target, "/dev/vfio/", 10) && target[10] >= '0' &&
			    target[10] <= '9')
				groups++;
			else if (strstr(target, "[vfio-device]") ||
				 !strncmp(target, "/dev/vfio/devices/", 18))
				devices++;
		}
		closedir(fds);
		if (!groups && !devices)
			continue;
		task_state(pe->d_name, st, sizeof(st));
		fprintf(stderr, "# vfio holder: pid %s (%s): %d group fd(s), %d device fd(s)\n",
			pe->d_name, st, groups, devices);
		n++;
	}
	closedir(proc);
	if (!n)
		fprintf(stderr, "# vfio holder: no process holds a vfio group or device fd\n");
}

int vfio_p2p_dev_open_wait(struct vfio_p2p_dev *dev, const char *bdf, int container,
			   int iommu_type, int wait_s)
{
	struct timespec start, now;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		ret = vfio_p2p_dev_join(dev, bdf, container, iommu_type);
		if (ret != -EBUSY)
			return ret;
		vfio_p2p_dev_close(dev);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= wait_s)
			break;
		usleep(200000);
	}
	fprintf(stderr, "# %s: still busy after %d s; the holders:\n", bdf, wait_s);
	vfio_p2p_report_holders();
	return -EBUSY;
}

int vfio_p2p_ctx_open_wait(struct vfio_p2p_ctx *c, int iommu_type, const char **what,
			   int wait_s)
{
	struct timespec start, now;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		ret = vfio_p2p_ctx_open(c, iommu_type, what);
		if (ret != -EBUSY)
			return ret;
		vfio_p2p_ctx_close(c);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= wait_s)
			break;
		usleep(200000);
	}
	fprintf(stderr, "# %s: still busy after %d s; the holders:\n", *what, wait_s);
	vfio_p2p_report_holders();
	return -EBUSY;
}
