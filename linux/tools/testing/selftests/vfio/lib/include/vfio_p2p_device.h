/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Devices of the vfio-p2p selftests: find a PCI function bound to
 * vfio-pci, open a device (a PCI function or an mdev) into a container of
 * any IOMMU mode, and reach its regions: region info, mmap, and the PCI
 * command register through the config region.
 */
#ifndef VFIO_P2P_DEVICE_H
#define VFIO_P2P_DEVICE_H

#include <stddef.h>
#include <stdint.h>

struct vfio_p2p_dev {
	char bdf[40];		/* PCI address, or an mdev's UUID */
	int group_id;
	int group_fd;		/* -1 in the iommufd mode (cdev) */
	int fd;
	int iommufd;		/* the iommufd mode: bound to it, else -1 */
	uint32_t ioas;		/* the iommufd mode: attached to it */
	uint32_t devid;		/* the iommufd mode: its iommufd device id */
};

struct vfio_p2p_region {
	void *map;		/* mmap of the region, or NULL */
	uint64_t size;
	uint64_t offset;	/* offset of the region in the device fd */
	uint32_t flags;
};

/* Find the nth (from 0) PCI function with this id that is bound to vfio-pci. */
int vfio_p2p_find(uint16_t vendor, uint16_t device, int nth, char *bdf, size_t len);

/* The IOMMU group number of the device whose sysfs directory is @dir, or -errno. */
int vfio_p2p_group_of(const char *dir);

/* A closed device (no fd) that vfio_p2p_dev_close() accepts. */
void vfio_p2p_dev_init(struct vfio_p2p_dev *dev);

/*
 * Open the device's group, add it to @container and, when @iommu_type is not
 * zero, set the container's IOMMU type.  Then get the device fd.
 */
int vfio_p2p_dev_open(struct vfio_p2p_dev *dev, const char *bdf, int container,
		      int iommu_type);
void vfio_p2p_dev_close(struct vfio_p2p_dev *dev);
/* Get a new device fd after the last one closed (a new session): fd or -errno. */
int vfio_p2p_dev_reopen(struct vfio_p2p_dev *dev);

/*
 * Open @bdf into @container in its mode: vfio_p2p_dev_open() (@iommu_type
 * for the first group of a type1 container, else 0), or when @container is
 * an iommufd, vfio_p2p_cdev_open() attached to its IOAS.
 */
int vfio_p2p_dev_join(struct vfio_p2p_dev *dev, const char *bdf, int container,
		      int iommu_type);
/*
 * The same for the mdev @uuid: its group (/sys/bus/mdev/devices/UUID) into
 * a type1 @container, or its cdev bound to an iommufd @container and
 * attached to its IOAS (an iommufd_access).
 */
int vfio_p2p_mdev_open(struct vfio_p2p_dev *dev, const char *uuid, int container,
		       int iommu_type);
/*
 * vfio_p2p_dev_join(), retried while the group or cdev is busy (EBUSY:
 * another process still holds it, such as one of an earlier test that is
 * still exiting), for at most @wait_s seconds.  Still busy then, it names
 * the holders on stderr (vfio_p2p_report_holders()) and returns -EBUSY.
 */
int vfio_p2p_dev_open_wait(struct vfio_p2p_dev *dev, const char *bdf, int container,
			   int iommu_type, int wait_s);

int vfio_p2p_region_info(struct vfio_p2p_dev *dev, int index,
			 struct vfio_p2p_region *region);
/* mmap @len bytes of a region at @offset in it; MAP_FAILED on error. */
void *vfio_p2p_region_mmap(struct vfio_p2p_dev *dev, struct vfio_p2p_region *region,
			   uint64_t offset, size_t len, int prot);

/* Read-modify-write the PCI command register through the config region. */
int vfio_p2p_pci_command(struct vfio_p2p_dev *dev, uint16_t set, uint16_t clear);

#endif /* VFIO_P2P_DEVICE_H */
