// SPDX-License-Identifier: GPL-2.0-only
/*
 * Devices of the vfio-p2p selftests (vfio_p2p_device.h): find, open into a
 * container of any IOMMU mode, regions.  Plain vfio uAPI: the group
 * interface of type1, the cdev of the iommufd mode (vfio_p2p_iommufd.c),
 * region info, and reads and writes of the device fd.
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

#include "vfio_p2p_device.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_rig.h"

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

int vfio_p2p_group_of(const char *dir)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	char *slash;

	snprintf(path, sizeof(path), "%s/iommu_group", dir);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	slash = strrchr(link, '/');
	return slash ? atoi(slash + 1) : -EINVAL;
}

void vfio_p2p_dev_init(struct vfio_p2p_dev *dev)
{
	memset(dev, 0, sizeof(*dev));
	dev->group_fd = -1;
	dev->fd = -1;
	dev->iommufd = -1;
}

/*
 * Open the group of the device @name of the bus whose devices are in sysfs
 * @bus_dir, add it to @container (and set @iommu_type on it, if not zero),
 * then get the device fd by @name.
 */
static int group_dev_open(struct vfio_p2p_dev *dev, const char *bus_dir,
			  const char *name, int container, int iommu_type)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[PATH_MAX];
	int ret;

	vfio_p2p_dev_init(dev);
	snprintf(dev->bdf, sizeof(dev->bdf), "%s", name);
	snprintf(path, sizeof(path), "%s/%s", bus_dir, name);
	dev->group_id = vfio_p2p_group_of(path);
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

int vfio_p2p_dev_open(struct vfio_p2p_dev *dev, const char *bdf, int container,
		      int iommu_type)
{
	return group_dev_open(dev, "/sys/bus/pci/devices", bdf, container, iommu_type);
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

int vfio_p2p_dev_join(struct vfio_p2p_dev *dev, const char *bdf, int container,
		      int iommu_type)
{
	uint32_t ioas;

	if (vfio_p2p_iommufd_ioas(container, &ioas))
		return vfio_p2p_cdev_open(dev, bdf, container, ioas);
	return vfio_p2p_dev_open(dev, bdf, container, iommu_type);
}

int vfio_p2p_mdev_open(struct vfio_p2p_dev *dev, const char *uuid, int container,
		       int iommu_type)
{
	uint32_t ioas;

	if (vfio_p2p_iommufd_ioas(container, &ioas))
		return vfio_p2p_cdev_open(dev, uuid, container, ioas);
	return group_dev_open(dev, "/sys/bus/mdev/devices", uuid, container, iommu_type);
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
