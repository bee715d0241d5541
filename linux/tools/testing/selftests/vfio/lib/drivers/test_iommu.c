// SPDX-License-Identifier: GPL-2.0-only
/*
 * Helpers for tests over the vfio-p2p test IOMMU: open its clients into a
 * container, drive their DMA engine, read back what each domain maps.  The
 * ABI is described in vfio_p2p_test_iommu.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <dirent.h>
#include <linux/vfio.h>

#include "vfio_p2p_device.h"
#include "vfio_p2p_iommu.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_rig.h"
#include "vfio_p2p_test_iommu.h"

#define UNSAFE_IRQS "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"
#define IOMMUFD_UNSAFE_IRQS "/sys/module/iommufd/parameters/allow_unsafe_interrupts"

static void client_path(char *buf, size_t len, int instance, const char *what)
{
	snprintf(buf, len, "/sys/bus/platform/devices/%s.%d/%s", P2P_TI_DEV_NAME,
		 instance, what);
}

static int client_group(int instance)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "/sys/bus/platform/devices/%s.%d", P2P_TI_DEV_NAME,
		 instance);
	return vfio_p2p_group_of(dir);
}

int p2p_ti_group(int instance)
{
	return client_group(instance);
}

int p2p_ti_present(int instance)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	client_path(path, sizeof(path), instance, "driver");
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -ENODEV;
	link[n] = '\0';
	if (!strstr(link, P2P_TI_DEV_NAME))
		return -ENODEV;
	snprintf(path, sizeof(path), "%s/%d/mappings", P2P_TI_DEBUGFS, instance);
	if (access(path, R_OK))
		return -ENODEV;
	return client_group(instance) < 0 ? -ENODEV : 0;
}

void p2p_ti_init(struct p2p_ti_dev *t)
{
	memset(t, 0, sizeof(*t));
	vfio_p2p_dev_init(&t->dev);
	t->instance = -1;
}

/* Region 0 of an open client, and that it is the client of @instance. */
static int client_region(struct p2p_ti_dev *t, int instance)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = 0 };

	if (ioctl(t->dev.fd, VFIO_DEVICE_GET_REGION_INFO, &info))
		return -errno;
	t->region = info.offset;
	if (p2p_ti_reg(t, P2P_TD_REG_MAGIC) != P2P_TD_MAGIC ||
	    p2p_ti_reg(t, P2P_TD_REG_INSTANCE) != instance)
		return -EIO;
	return 0;
}

/* /sys/bus/platform/devices/NAME/vfio-dev/vfioN -> /dev/vfio/devices/vfioN */
static int client_cdev(int instance, char *path, size_t len)
{
	char dir[PATH_MAX];
	struct dirent *d;
	int ret = -ENODEV;
	DIR *dp;

	client_path(dir, sizeof(dir), instance, "vfio-dev");
	dp = opendir(dir);
	if (!dp)
		return -errno;
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

int p2p_ti_open(struct p2p_ti_dev *t, int instance, int container)
{
	return p2p_ti_open_type(t, instance, container, 0);
}

int p2p_ti_open_type(struct p2p_ti_dev *t, int instance, int container,
		     int iommu_type)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64], old[8] = "N";
	const char *unsafe;
	uint32_t ioas;
	int ret, fd;

	if (vfio_p2p_iommufd_ioas(container, &ioas)) {
		ret = p2p_ti_bind(t, instance, container);
		return ret ? ret : p2p_ti_attach(t, ioas);
	}
	p2p_ti_init(t);
	t->instance = instance;
	snprintf(t->name, sizeof(t->name), "%s.%d", P2P_TI_DEV_NAME, instance);
	t->dev.group_id = client_group(instance);
	if (t->dev.group_id < 0)
		return t->dev.group_id;
	snprintf(path, sizeof(path), "/dev/vfio/%d", t->dev.group_id);
	t->dev.group_fd = open(path, O_RDWR);
	if (t->dev.group_fd < 0)
		return -errno;
	if (ioctl(t->dev.group_fd, VFIO_GROUP_GET_STATUS, &status))
		return -errno;
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return -EBUSY;
	/*
	 * type1 checks for isolated MSI as the group joins the container;
	 * iommufd's type1-compat container, with its own knob, as the device
	 * opens and binds.
	 */
	unsafe = vfio_p2p_have_type1() ? UNSAFE_IRQS : IOMMUFD_UNSAFE_IRQS;
	vfio_p2p_sysfs_read(unsafe, old, sizeof(old));
	old[strcspn(old, "\n")] = '\0';
	ret = vfio_p2p_sysfs_write(unsafe, "Y");
	if (ret)
		return ret;
	ret = ioctl(t->dev.group_fd, VFIO_GROUP_SET_CONTAINER, &container) ? -errno : 0;
	if (!ret && iommu_type && ioctl(container, VFIO_SET_IOMMU, iommu_type))
		ret = -errno;
	fd = ret ? -1 : ioctl(t->dev.group_fd, VFIO_GROUP_GET_DEVICE_FD, t->name);
	if (!ret && fd < 0)
		ret = -errno;
	vfio_p2p_sysfs_write(unsafe, old);
	if (ret)
		return ret;
	t->dev.fd = fd;
	return client_region(t, instance);
}

int p2p_ti_bind(struct p2p_ti_dev *t, int instance, int iommufd)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind), .iommufd = iommufd,
	};
	char path[PATH_MAX], old[8] = "N";
	int ret;

	p2p_ti_init(t);
	t->instance = instance;
	t->dev.iommufd = iommufd;
	snprintf(t->name, sizeof(t->name), "%s.%d", P2P_TI_DEV_NAME, instance);
	ret = client_cdev(instance, path, sizeof(path));
	if (ret)
		return ret;
	t->dev.fd = open(path, O_RDWR);
	if (t->dev.fd < 0)
		return -errno;
	/* The client has no MSI, so none isolated: iommufd's own knob. */
	vfio_p2p_sysfs_read(IOMMUFD_UNSAFE_IRQS, old, sizeof(old));
	old[strcspn(old, "\n")] = '\0';
	ret = vfio_p2p_sysfs_write(IOMMUFD_UNSAFE_IRQS, "Y");
	if (ret)
		return ret;
	ret = ioctl(t->dev.fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) ? -errno : 0;
	vfio_p2p_sysfs_write(IOMMUFD_UNSAFE_IRQS, old);
	if (ret)
		return ret;
	t->dev.devid = bind.out_devid;
	return client_region(t, instance);
}

int p2p_ti_attach(struct p2p_ti_dev *t, uint32_t pt_id)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach), .pt_id = pt_id,
	};

	if (ioctl(t->dev.fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return -errno;
	t->dev.ioas = pt_id;
	return 0;
}

void p2p_ti_close(struct p2p_ti_dev *t)
{
	vfio_p2p_dev_close(&t->dev);
}

int64_t p2p_ti_reg(struct p2p_ti_dev *t, unsigned int reg)
{
	uint32_t v;

	if (pread(t->dev.fd, &v, 4, t->region + reg) != 4)
		return -errno;
	return v;
}

static int reg_write(struct p2p_ti_dev *t, unsigned int reg, uint64_t v, size_t n)
{
	uint32_t v32 = v;

	if (pwrite(t->dev.fd, n == 8 ? (void *)&v : (void *)&v32, n,
		   t->region + reg) != (ssize_t)n)
		return -errno;
	return 0;
}

static int run(struct p2p_ti_dev *t, uint64_t iova, uint32_t len, uint32_t cmd)
{
	int64_t status;
	int ret;

	ret = reg_write(t, P2P_TD_REG_IOVA, iova, 8);
	if (!ret)
		ret = reg_write(t, P2P_TD_REG_LEN, len, 4);
	if (!ret)
		ret = reg_write(t, P2P_TD_REG_CMD, cmd, 4);
	if (ret)
		return ret;
	status = p2p_ti_reg(t, P2P_TD_REG_STATUS);
	if (status < 0)
		return status;
	return (int32_t)status;
}

int p2p_ti_dma_write_pattern(struct p2p_ti_dev *t, uint64_t iova, uint32_t len,
			     uint32_t pattern)
{
	int ret = reg_write(t, P2P_TD_REG_PATTERN, pattern, 4);

	return ret ? ret : run(t, iova, len, P2P_TD_CMD_WRITE_PATTERN);
}

int p2p_ti_dma_write(struct p2p_ti_dev *t, uint64_t iova, const void *buf,
		     uint32_t len)
{
	if (len > P2P_TD_DATA_SIZE)
		return -EINVAL;
	if (pwrite(t->dev.fd, buf, len, t->region + P2P_TD_DATA) != len)
		return -errno;
	return run(t, iova, len, P2P_TD_CMD_WRITE_DATA);
}

int p2p_ti_dma_read(struct p2p_ti_dev *t, uint64_t iova, void *buf, uint32_t len)
{
	int ret;

	if (len > P2P_TD_DATA_SIZE)
		return -EINVAL;
	ret = run(t, iova, len, P2P_TD_CMD_READ);
	if (ret)
		return ret;
	if (pread(t->dev.fd, buf, len, t->region + P2P_TD_DATA) != len)
		return -errno;
	return 0;
}

long p2p_ti_mappings(int instance, struct p2p_ti_pte *ptes, size_t max,
		     unsigned int *domain)
{
	char path[PATH_MAX], line[128], prot[4];
	unsigned long long iova, pfn, pages, i;
	long n = 0;
	FILE *f;

	*domain = 0;
	snprintf(path, sizeof(path), "%s/%d/mappings", P2P_TI_DEBUGFS, instance);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f) ||
	    (sscanf(line, "domain %u", domain) != 1 && strcmp(line, "domain none\n"))) {
		fclose(f);
		return -EIO;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %llx %llu %3s", &iova, &pfn, &pages, prot) != 4) {
			fclose(f);
			return -EIO;
		}
		for (i = 0; i < pages; i++, n++) {
			if ((size_t)n >= max) {
				fclose(f);
				return -ENOSPC;
			}
			ptes[n].iova = iova + i * 4096;
			ptes[n].pfn = pfn + i;
			ptes[n].prot = (prot[0] == 'r') | (prot[1] == 'w') << 1;
		}
	}
	fclose(f);
	return n;
}

int p2p_ti_stat(int instance, const char *name, uint64_t *val)
{
	char path[PATH_MAX], line[128], key[64];
	unsigned long long v;
	FILE *f;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "%s/%d/stats", P2P_TI_DEBUGFS, instance);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %llu", key, &v) == 2 && !strcmp(key, name)) {
			*val = v;
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

int p2p_ti_fail_map_at(int instance, unsigned int n, uint64_t iova)
{
	char path[PATH_MAX], val[24];
	int ret;

	snprintf(path, sizeof(path), "%s/%d/fail_iova", P2P_TI_DEBUGFS, instance);
	snprintf(val, sizeof(val), "%#llx", (unsigned long long)iova);
	ret = vfio_p2p_sysfs_write(path, val);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/%d/fail_map", P2P_TI_DEBUGFS, instance);
	snprintf(val, sizeof(val), "%u", n);
	return vfio_p2p_sysfs_write(path, val);
}

int p2p_ti_fail_map(int instance, unsigned int n)
{
	return p2p_ti_fail_map_at(instance, n, P2P_TI_ANY_IOVA);
}

long vfio_p2p_locked_kib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

uint64_t vfio_p2p_pagemap_pfn(const void *vaddr)
{
	uint64_t e = 0;
	off_t off = (uintptr_t)vaddr / 4096 * sizeof(e);
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), off) != sizeof(e))
		e = 0;
	close(fd);
	/* Bit 63: present; bits 0-54: pfn (zero without CAP_SYS_ADMIN). */
	return e >> 63 ? e & ((1ULL << 55) - 1) : 0;
}

uint64_t vfio_p2p_bar_phys(const char *bdf, int bar)
{
	char path[PATH_MAX], line[128];
	unsigned long long start = 0, end, flags;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	f = fopen(path, "r");
	if (!f)
		return 0;
	for (i = 0; i <= bar; i++)
		if (!fgets(line, sizeof(line), f) ||
		    sscanf(line, "%llx %llx %llx", &start, &end, &flags) != 3)
			start = 0;
	fclose(f);
	return start;
}
