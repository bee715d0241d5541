// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-p2p test IOMMU: the vfio driver of its client devices.  Test-only
 * (CONFIG_VFIO_P2P_TEST_IOMMU).
 *
 * Each client ("vfio-p2p-test-dev.<n>", see p2p_test_iommu.c) becomes a
 * vfio device with one region (index 0, read/write through the device fd,
 * no mmap) holding a small DMA engine.  Its "DMA" goes through the IOMMU
 * domain attached to the device at that moment, one 4 KiB page at a time,
 * as a device behind a real IOMMU would: an IOVA that is not mapped, or not
 * mapped for the access, is refused with -EFAULT / -EPERM, counted as a
 * fault, and the transfer stops there.  A translated address is RAM
 * (kmap_local_page()) or device memory such as a peer's BAR (ioremap()).
 *
 * Region 0 (registers in host byte order, accessed 4 bytes at a time, IOVA
 * also 8 bytes at a time):
 *   0x00 MAGIC    RO  P2P_TD_MAGIC
 *   0x04 INSTANCE RO  the test IOMMU instance the device sits behind
 *   0x08 IOVA     RW  64-bit bus address of the next transfer
 *   0x10 LEN      RW  bytes, 1 .. P2P_TD_DATA_SIZE
 *   0x14 PATTERN  RW  32-bit word that CMD_WRITE_PATTERN repeats
 *   0x18 CMD      WO  writing it runs the transfer before write() returns:
 *                     1 write the pattern to IOVA, 2 write DATA to IOVA,
 *                     3 read IOVA into DATA
 *   0x1c STATUS   RO  0, or the negative errno of the last command
 *   0x20 DONE     RO  bytes moved by the last command
 *   0x24 FAULTS   RO  DMA refused by the IOMMU since probe (pages)
 *   0x1000 DATA   RW  P2P_TD_DATA_SIZE bytes, any access size
 * VFIO_DEVICE_RESET clears every register but FAULTS, and DATA.
 */
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "p2p_test_iommu.h"

#define P2P_TD_MAGIC		0x50325444	/* "P2TD" */
#define P2P_TD_REG_MAGIC	0x00
#define P2P_TD_REG_INSTANCE	0x04
#define P2P_TD_REG_IOVA		0x08
#define P2P_TD_REG_LEN		0x10
#define P2P_TD_REG_PATTERN	0x14
#define P2P_TD_REG_CMD		0x18
#define P2P_TD_REG_STATUS	0x1c
#define P2P_TD_REG_DONE		0x20
#define P2P_TD_REG_FAULTS	0x24
#define P2P_TD_DATA		0x1000
#define P2P_TD_DATA_SIZE	0x4000
#define P2P_TD_REGION_SIZE	(P2P_TD_DATA + P2P_TD_DATA_SIZE)

#define P2P_TD_CMD_WRITE_PATTERN	1
#define P2P_TD_CMD_WRITE_DATA		2
#define P2P_TD_CMD_READ			3

struct p2p_td {
	struct vfio_device vdev;
	struct mutex lock;		/* the registers and data */
	u64 iova;
	u32 len;
	u32 pattern;
	s32 status;
	u32 done;
	u32 faults;
	u8 *data;
	u8 *bounce;
};

static struct p2p_td *to_p2p_td(struct vfio_device *vdev)
{
	return container_of(vdev, struct p2p_td, vdev);
}

/* Move @n bytes (within one page) between @buf and physical @phys. */
static int p2p_td_access(phys_addr_t phys, u8 *buf, size_t n, bool write)
{
	unsigned long pfn = PHYS_PFN(phys);
	void __iomem *io;
	void *va;

	if (pfn_valid(pfn)) {
		va = kmap_local_page(pfn_to_page(pfn));
		if (write)
			memcpy(va + offset_in_page(phys), buf, n);
		else
			memcpy(buf, va + offset_in_page(phys), n);
		kunmap_local(va);
		return 0;
	}
	io = ioremap(phys & PAGE_MASK, PAGE_SIZE);
	if (!io)
		return -ENOMEM;
	if (write)
		memcpy_toio(io + offset_in_page(phys), buf, n);
	else
		memcpy_fromio(buf, io + offset_in_page(phys), n);
	iounmap(io);
	return 0;
}

/* DMA through the IOMMU, page by page; stops at the first refused page. */
static int p2p_td_dma(struct p2p_td *td, u8 *buf, bool write)
{
	struct device *dev = td->vdev.dev;
	u64 iova = td->iova;
	u32 left = td->len;
	phys_addr_t phys;
	int ret;

	td->done = 0;
	while (left) {
		size_t n = min_t(size_t, left, PAGE_SIZE - offset_in_page(iova));

		ret = p2p_test_iommu_translate(dev, iova, write, &phys);
		if (ret) {
			td->faults++;
			p2p_test_iommu_count_fault(dev);
			dev_info_ratelimited(dev, "DMA %s of IOVA %#llx refused by the IOMMU: %d\n",
					     write ? "write" : "read", iova, ret);
			return ret;
		}
		ret = p2p_td_access(phys, buf + td->done, n, write);
		if (ret)
			return ret;
		td->done += n;
		iova += n;
		left -= n;
	}
	return 0;
}

static int p2p_td_command(struct p2p_td *td, u32 cmd)
{
	u32 i;

	if (!td->len || td->len > P2P_TD_DATA_SIZE)
		return -EINVAL;
	switch (cmd) {
	case P2P_TD_CMD_WRITE_PATTERN:
		for (i = 0; i < td->len; i++)
			td->bounce[i] = td->pattern >> (8 * (i % 4));
		return p2p_td_dma(td, td->bounce, true);
	case P2P_TD_CMD_WRITE_DATA:
		return p2p_td_dma(td, td->data, true);
	case P2P_TD_CMD_READ:
		return p2p_td_dma(td, td->data, false);
	}
	return -EINVAL;
}

static int p2p_td_reg_read(struct p2p_td *td, loff_t pos, size_t count, u64 *val)
{
	if (pos == P2P_TD_REG_IOVA && count == 8) {
		*val = td->iova;
		return 0;
	}
	if (count != 4)
		return -EINVAL;
	switch (pos) {
	case P2P_TD_REG_MAGIC:
		*val = P2P_TD_MAGIC;
		break;
	case P2P_TD_REG_INSTANCE:
		*val = p2p_test_iommu_instance(td->vdev.dev);
		break;
	case P2P_TD_REG_IOVA:
		*val = lower_32_bits(td->iova);
		break;
	case P2P_TD_REG_IOVA + 4:
		*val = upper_32_bits(td->iova);
		break;
	case P2P_TD_REG_LEN:
		*val = td->len;
		break;
	case P2P_TD_REG_PATTERN:
		*val = td->pattern;
		break;
	case P2P_TD_REG_STATUS:
		*val = (u32)td->status;
		break;
	case P2P_TD_REG_DONE:
		*val = td->done;
		break;
	case P2P_TD_REG_FAULTS:
		*val = td->faults;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

static int p2p_td_reg_write(struct p2p_td *td, loff_t pos, size_t count, u64 val)
{
	if (pos == P2P_TD_REG_IOVA && count == 8) {
		td->iova = val;
		return 0;
	}
	if (count != 4)
		return -EINVAL;
	switch (pos) {
	case P2P_TD_REG_IOVA:
		td->iova = (td->iova & GENMASK_ULL(63, 32)) | (u32)val;
		break;
	case P2P_TD_REG_IOVA + 4:
		td->iova = (td->iova & GENMASK_ULL(31, 0)) | val << 32;
		break;
	case P2P_TD_REG_LEN:
		td->len = val;
		break;
	case P2P_TD_REG_PATTERN:
		td->pattern = val;
		break;
	case P2P_TD_REG_CMD:
		td->status = p2p_td_command(td, val);
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

static ssize_t p2p_td_rw(struct p2p_td *td, char __user *buf, size_t count,
			 loff_t *ppos, bool write)
{
	loff_t pos = *ppos;
	u64 val = 0;
	int ret;

	if (pos < 0 || pos >= P2P_TD_REGION_SIZE ||
	    count > P2P_TD_REGION_SIZE - pos)
		return -EINVAL;
	mutex_lock(&td->lock);
	if (pos >= P2P_TD_DATA) {
		u8 *p = td->data + pos - P2P_TD_DATA;

		ret = write ? copy_from_user(p, buf, count) :
			      copy_to_user(buf, p, count);
		ret = ret ? -EFAULT : 0;
	} else if (write) {
		ret = count == 4 || count == 8 ?
		      (copy_from_user(&val, buf, count) ? -EFAULT : 0) : -EINVAL;
		if (!ret)
			ret = p2p_td_reg_write(td, pos, count, val);
	} else {
		ret = p2p_td_reg_read(td, pos, count, &val);
		if (!ret)
			ret = copy_to_user(buf, &val, count) ? -EFAULT : 0;
	}
	mutex_unlock(&td->lock);
	if (ret)
		return ret;
	*ppos += count;
	return count;
}

static ssize_t p2p_td_read(struct vfio_device *vdev, char __user *buf,
			   size_t count, loff_t *ppos)
{
	return p2p_td_rw(to_p2p_td(vdev), buf, count, ppos, false);
}

static ssize_t p2p_td_write(struct vfio_device *vdev, const char __user *buf,
			    size_t count, loff_t *ppos)
{
	return p2p_td_rw(to_p2p_td(vdev), (char __user *)buf, count, ppos, true);
}

static void p2p_td_reset(struct p2p_td *td)
{
	mutex_lock(&td->lock);
	td->iova = 0;
	td->len = 0;
	td->pattern = 0;
	td->status = 0;
	td->done = 0;
	memset(td->data, 0, P2P_TD_DATA_SIZE);
	mutex_unlock(&td->lock);
}

static long p2p_td_ioctl(struct vfio_device *vdev, unsigned int cmd,
			 unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	unsigned long minsz;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info info;

		minsz = offsetofend(struct vfio_device_info, num_irqs);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		info.flags = VFIO_DEVICE_FLAGS_PLATFORM | VFIO_DEVICE_FLAGS_RESET;
		info.num_regions = 1;
		info.num_irqs = 0;
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO: {
		struct vfio_region_info info;

		minsz = offsetofend(struct vfio_region_info, offset);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		if (info.index != 0)
			return -EINVAL;
		info.offset = 0;
		info.size = P2P_TD_REGION_SIZE;
		info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_RESET:
		p2p_td_reset(to_p2p_td(vdev));
		return 0;
	}
	return -ENOTTY;
}

static int p2p_td_init(struct vfio_device *vdev)
{
	struct p2p_td *td = to_p2p_td(vdev);

	mutex_init(&td->lock);
	td->data = kzalloc(P2P_TD_DATA_SIZE, GFP_KERNEL);
	td->bounce = kzalloc(P2P_TD_DATA_SIZE, GFP_KERNEL);
	if (!td->data || !td->bounce) {
		kfree(td->data);
		kfree(td->bounce);
		return -ENOMEM;
	}
	return 0;
}

static void p2p_td_release(struct vfio_device *vdev)
{
	struct p2p_td *td = to_p2p_td(vdev);

	kfree(td->data);
	kfree(td->bounce);
	mutex_destroy(&td->lock);
}

static const struct vfio_device_ops p2p_td_ops = {
	.name		= P2P_TEST_DEV_NAME,
	.init		= p2p_td_init,
	.release	= p2p_td_release,
	.ioctl		= p2p_td_ioctl,
	.read		= p2p_td_read,
	.write		= p2p_td_write,
	.bind_iommufd	= vfio_iommufd_physical_bind,
	.unbind_iommufd	= vfio_iommufd_physical_unbind,
	.attach_ioas	= vfio_iommufd_physical_attach_ioas,
	.detach_ioas	= vfio_iommufd_physical_detach_ioas,
};

static int p2p_td_probe(struct platform_device *pdev)
{
	struct p2p_td *td;
	int ret;

	td = vfio_alloc_device(p2p_td, vdev, &pdev->dev, &p2p_td_ops);
	if (IS_ERR(td))
		return PTR_ERR(td);
	ret = vfio_register_group_dev(&td->vdev);
	if (ret) {
		vfio_put_device(&td->vdev);
		return ret;
	}
	platform_set_drvdata(pdev, td);
	return 0;
}

static void p2p_td_remove(struct platform_device *pdev)
{
	struct p2p_td *td = platform_get_drvdata(pdev);

	vfio_unregister_group_dev(&td->vdev);
	vfio_put_device(&td->vdev);
}

static struct platform_driver p2p_td_driver = {
	.probe = p2p_td_probe,
	.remove_new = p2p_td_remove,
	.driver = {
		.name = P2P_TEST_DEV_NAME,
	},
	/* The IOMMU ownership is vfio's: no default-domain DMA API use. */
	.driver_managed_dma = true,
};
builtin_platform_driver(p2p_td_driver);
