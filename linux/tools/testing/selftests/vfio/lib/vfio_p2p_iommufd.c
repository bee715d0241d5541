// SPDX-License-Identifier: GPL-2.0-only
/* The iommufd mode of the vfio-p2p selftests: see vfio_p2p_iommufd.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "../../kselftest.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_device.h"

/* The iommufds this process opened, with their IOAS. */
static struct {
	int fd;
	uint32_t ioas;
} iommufds[8] = { [0 ... 7] = { .fd = -1 } };

int vfio_p2p_iommufd_open(uint32_t *ioas)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	unsigned int i;
	int fd;

	fd = open("/dev/iommu", O_RDWR);
	if (fd < 0)
		return errno == ENOENT ? -EOPNOTSUPP : -errno;
	if (ioctl(fd, IOMMU_IOAS_ALLOC, &alloc)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	for (i = 0; i < 8; i++) {
		if (iommufds[i].fd < 0) {
			iommufds[i].fd = fd;
			iommufds[i].ioas = alloc.out_ioas_id;
			*ioas = alloc.out_ioas_id;
			return fd;
		}
	}
	close(fd);
	return -EMFILE;
}

void vfio_p2p_iommufd_close(int iommufd)
{
	unsigned int i;

	for (i = 0; i < 8; i++)
		if (iommufds[i].fd == iommufd)
			iommufds[i].fd = -1;
	close(iommufd);
}

bool vfio_p2p_iommufd_ioas(int fd, uint32_t *ioas)
{
	unsigned int i;

	for (i = 0; fd >= 0 && i < 8; i++) {
		if (iommufds[i].fd == fd) {
			*ioas = iommufds[i].ioas;
			return true;
		}
	}
	return false;
}

/* The buses whose devices the tests open by name through their vfio cdev. */
static const char * const cdev_buses[] = { "pci", "mdev", "platform" };

/* /sys/bus/BUS/devices/NAME/vfio-dev/vfioN -> /dev/vfio/devices/vfioN */
static int cdev_path(const char *name, char *path, size_t len)
{
	char dir[160];
	struct dirent *d;
	unsigned int i;
	DIR *dp = NULL;
	int ret = -ENOENT;

	for (i = 0; !dp && i < ARRAY_SIZE(cdev_buses); i++) {
		snprintf(dir, sizeof(dir), "/sys/bus/%s/devices/%s/vfio-dev",
			 cdev_buses[i], name);
		dp = opendir(dir);
	}
	if (!dp)
		return errno == ENOENT ? -EOPNOTSUPP : -errno;
	while ((d = readdir(dp))) {
		if (!strncmp(d->d_name, "vfio", 4)) {
			snprintf(path, len, "/dev/vfio/devices/%s", d->d_name);
			ret = 0;
			break;
		}
	}
	closedir(dp);
	return ret;
}

int vfio_p2p_cdev_open(struct vfio_p2p_dev *dev, const char *bdf, int iommufd,
		       uint32_t ioas)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind), .iommufd = iommufd,
	};
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach), .pt_id = ioas,
	};
	char path[300];
	int ret;

	vfio_p2p_dev_init(dev);
	dev->iommufd = iommufd;
	dev->ioas = ioas;
	snprintf(dev->bdf, sizeof(dev->bdf), "%s", bdf);
	ret = cdev_path(bdf, path, sizeof(path));
	if (ret)
		return ret;
	dev->fd = open(path, O_RDWR);
	if (dev->fd < 0)
		return -errno;
	if (ioctl(dev->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) ||
	    ioctl(dev->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return -errno;
	dev->devid = bind.out_devid;
	return 0;
}

int vfio_p2p_ioas_map(int iommufd, uint32_t ioas, void *vaddr, uint64_t iova,
		      uint64_t size, uint32_t flags)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA,
		.ioas_id = ioas,
		.user_va = (uintptr_t)vaddr,
		.length = size,
		.iova = iova,
	};

	if (flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE))
		return -EINVAL;
	if (flags & VFIO_DMA_MAP_FLAG_READ)
		map.flags |= IOMMU_IOAS_MAP_READABLE;
	if (flags & VFIO_DMA_MAP_FLAG_WRITE)
		map.flags |= IOMMU_IOAS_MAP_WRITEABLE;
	return ioctl(iommufd, IOMMU_IOAS_MAP, &map) ? -errno : 0;
}

int64_t vfio_p2p_ioas_unmap(int iommufd, uint32_t ioas, uint64_t iova,
			    uint64_t size)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = ioas,
		.iova = iova,
		.length = size,
	};

	if (ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap))
		return -errno;
	return unmap.length;
}

int vfio_p2p_ioas_copy(int iommufd, uint32_t dst, uint64_t dst_iova,
		       uint32_t src, uint64_t src_iova, uint64_t size)
{
	struct iommu_ioas_copy copy = {
		.size = sizeof(copy),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.dst_ioas_id = dst,
		.src_ioas_id = src,
		.length = size,
		.dst_iova = dst_iova,
		.src_iova = src_iova,
	};

	return ioctl(iommufd, IOMMU_IOAS_COPY, &copy) ? -errno : 0;
}
