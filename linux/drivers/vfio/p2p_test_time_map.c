// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-p2p test IOMMU: a timer of one bare iommu_map(), for the rig's
 * bench.  Test-only (CONFIG_VFIO_P2P_TEST_IOMMU).
 *
 * Writing "BDF IOVA PHYS SIZE" (the last three in hex) to debugfs
 * vfio-p2p-time-map maps SIZE bytes at PHYS to IOVA, with one iommu_map()
 * as type1 maps a run, in the paging domain that PCI device BDF is attached
 * to now; it times that call alone, then unmaps the range again.  Reading
 * the file gives the last time, "map_ns N".
 *
 * The caller owns the device and the container its domain belongs to, and
 * picks an IOVA range nothing maps there: the bench passes the IOVA and
 * the BAR of a MAP_DMA it has just unmapped, so this call writes the same
 * page tables, and syncs the same IOTLB, as that MAP_DMA's iommu_map() did.
 * The type1 model is not told: nothing else may use the domain meanwhile.
 */
#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/iommu.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/uaccess.h>

static DEFINE_MUTEX(p2p_tm_lock);
static u64 p2p_tm_last_ns;		/* under p2p_tm_lock */

static int p2p_tm_map(struct device *dev, unsigned long iova, phys_addr_t phys,
		      size_t size)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);
	u64 start, end;
	int ret;

	if (!domain || !(domain->type & __IOMMU_DOMAIN_PAGING))
		return -EINVAL;
	start = ktime_get_ns();
	ret = iommu_map(domain, iova, phys, size,
			IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE,
			GFP_KERNEL_ACCOUNT);
	end = ktime_get_ns();
	if (ret)
		return ret;
	if (WARN_ON(iommu_unmap(domain, iova, size) != size))
		return -EIO;
	p2p_tm_last_ns = end - start;
	return 0;
}

static ssize_t p2p_tm_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	unsigned long long iova, phys, size;
	char buf[96], bdf[32];
	struct device *dev;
	int ret;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	if (sscanf(buf, "%31s %llx %llx %llx", bdf, &iova, &phys, &size) != 4 ||
	    !size || !PAGE_ALIGNED(iova | phys | size) || iova + size < iova)
		return -EINVAL;

	dev = bus_find_device_by_name(&pci_bus_type, NULL, bdf);
	if (!dev)
		return -ENODEV;
	mutex_lock(&p2p_tm_lock);
	ret = p2p_tm_map(dev, iova, phys, size);
	mutex_unlock(&p2p_tm_lock);
	put_device(dev);
	return ret ? ret : count;
}

static ssize_t p2p_tm_read(struct file *file, char __user *ubuf, size_t count,
			   loff_t *ppos)
{
	char buf[32];
	int len;

	mutex_lock(&p2p_tm_lock);
	len = scnprintf(buf, sizeof(buf), "map_ns %llu\n", p2p_tm_last_ns);
	mutex_unlock(&p2p_tm_lock);
	return simple_read_from_buffer(ubuf, count, ppos, buf, len);
}

static const struct file_operations p2p_tm_fops = {
	.owner = THIS_MODULE,
	.write = p2p_tm_write,
	.read = p2p_tm_read,
	.llseek = default_llseek,
};

static int __init p2p_tm_init(void)
{
	debugfs_create_file("vfio-p2p-time-map", 0600, NULL, NULL,
			    &p2p_tm_fops);
	return 0;
}
late_initcall(p2p_tm_init);
