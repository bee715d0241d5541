// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for vfio device VMAs (p2p_vma.c) and the device notifier
 * (p2p_notify.c), with no hardware.
 *
 * Each test registers a fake emulated-IOMMU vfio device, opens it through
 * vfio core's own vfio_df_open() (its iommufd bind ops are no-ops), makes a
 * device fd for it with vfio's device fops and mmaps that fd into the test's
 * mm with kunit_vm_mmap() or vm_mmap(), so the VMAs are real ones, wrapped
 * by vfio core exactly as for a user.  The fake driver encodes a region
 * index in vm_pgoff as vfio-pci does:
 *
 *   REGION_PFN     .mmap sets base_pfn (the vfio-pci way)
 *   REGION_NONE    .mmap sets no base_pfn: P2P-capable only if the device
 *                  has the vma_to_pfn op
 *   REGION_LEGACY  .mmap writes vm_private_data itself (an unconverted
 *                  driver): not a vfio VMA
 *   REGION_REWRITE .mmap rewrites vm_pgoff to the pfn it maps, as
 *                  vfio-platform and fsl-mc do, and sets base_pfn from it
 *
 * No pfn is ever dereferenced; the fake fault handler only counts calls,
 * which lets the tests check that lookups never fault.
 */
#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/notifier.h>
#include <linux/shmem_fs.h>
#include <linux/vfio.h>

#include "vfio.h"
#include "p2p.h"

#define FAKE_PAGES		32UL
#define FAKE_BASE_PFN		0x123400UL
#define FAKE_OP_BASE_PFN	0xabc000UL
#define FAKE_OP_RUN		8UL	/* the op's regions are 8-page chunks */
#define REGION_SHIFT		(40 - PAGE_SHIFT)

enum { REGION_PFN, REGION_NONE, REGION_LEGACY, REGION_REWRITE };

/* Entries of the event log: listener events, and what the driver does. */
enum {
	LOG_A = 0,		/* + event: listener A got it */
	LOG_B = 8,		/* + event: listener B got it */
	LOG_ZAP = 16,		/* the driver zapped its mmaps */
	LOG_CLOSE,		/* the driver's close_device ran */
};

struct fake_vdev {
	struct vfio_device vdev;
	struct vfio_device_file *df;
	struct file *file;
	bool opened;
	unsigned int faults;
	unsigned int op_calls;
	int log[32];
	unsigned int nlog;
	/* A VMA the listeners look up, to see what a backend would see. */
	struct vm_area_struct *probe_vma;
	unsigned long probe_addr;
	int probe_ret[4];
	unsigned int nprobe;
};

struct fake_listener {
	struct notifier_block nb;
	struct fake_vdev *fake;
	int id;
};

static void fake_log(struct fake_vdev *fake, int what)
{
	if (fake->nlog < ARRAY_SIZE(fake->log))
		fake->log[fake->nlog++] = what;
}

static vm_fault_t fake_fault(struct vm_fault *vmf)
{
	struct fake_vdev *fake = vfio_vma_driver_data(vmf->vma);

	fake->faults++;
	return VM_FAULT_SIGBUS;
}

/* Refuses splits at odd pages, to show may_split is forwarded. */
static int fake_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return ((addr - vma->vm_start) >> PAGE_SHIFT) & 1 ? -EINVAL : 0;
}

static const char *fake_name(struct vm_area_struct *vma)
{
	return "[vfio-p2p-kunit]";
}

static const struct vm_operations_struct fake_vm_ops = {
	.fault = fake_fault,
	.may_split = fake_may_split,
	.name = fake_name,
};

static int fake_mmap(struct vfio_device *vdev, struct vm_area_struct *vma)
{
	struct fake_vdev *fake = container_of(vdev, struct fake_vdev, vdev);
	unsigned long index = vma->vm_pgoff >> REGION_SHIFT;
	unsigned long pgoff = vma->vm_pgoff & ((1UL << REGION_SHIFT) - 1);

	if (pgoff + vma_pages(vma) > FAKE_PAGES)
		return -EINVAL;
	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &fake_vm_ops;
	switch (index) {
	case REGION_PFN:
		vfio_vma_set_driver_data(vma, fake);
		vfio_vma_set_base_pfn(vma, FAKE_BASE_PFN + pgoff);
		return 0;
	case REGION_NONE:
		vfio_vma_set_driver_data(vma, fake);
		return 0;
	case REGION_LEGACY:
		vma->vm_private_data = fake;
		return 0;
	case REGION_REWRITE:
		vfio_vma_set_driver_data(vma, fake);
		vma->vm_pgoff = FAKE_BASE_PFN + pgoff;
		vfio_vma_set_base_pfn(vma, vma->vm_pgoff);
		return 0;
	}
	return -EINVAL;
}

/* Like a mediated device: the pfn is chosen at run time, per 8-page chunk. */
static int fake_vma_to_pfn(struct vfio_device *vdev, struct vm_area_struct *vma,
			   unsigned long addr, unsigned long *pfn,
			   unsigned long *nr_pages)
{
	struct fake_vdev *fake = container_of(vdev, struct fake_vdev, vdev);
	unsigned long pgoff = (vma->vm_pgoff & ((1UL << REGION_SHIFT) - 1)) +
			      ((addr - vma->vm_start) >> PAGE_SHIFT);

	fake->op_calls++;
	*pfn = FAKE_OP_BASE_PFN + pgoff;
	*nr_pages = FAKE_OP_RUN - pgoff % FAKE_OP_RUN;
	return 0;
}

static void fake_close_device(struct vfio_device *vdev)
{
	fake_log(container_of(vdev, struct fake_vdev, vdev), LOG_CLOSE);
}

static int fake_bind(struct vfio_device *vdev, struct iommufd_ctx *ictx, u32 *id)
{
	*id = 0;
	return 0;
}

static void fake_unbind(struct vfio_device *vdev)
{
}

static int fake_attach(struct vfio_device *vdev, u32 *pt_id)
{
	return 0;
}

static void fake_detach(struct vfio_device *vdev)
{
}

#define FAKE_OPS_COMMON					\
	.name = "vfio-p2p-kunit",			\
	.bind_iommufd = fake_bind,			\
	.unbind_iommufd = fake_unbind,			\
	.attach_ioas = fake_attach,			\
	.detach_ioas = fake_detach,			\
	.close_device = fake_close_device,		\
	.mmap = fake_mmap

static const struct vfio_device_ops fake_ops = {
	FAKE_OPS_COMMON,
};

static const struct vfio_device_ops fake_ops_with_op = {
	FAKE_OPS_COMMON,
	.vma_to_pfn = fake_vma_to_pfn,
};

/* Stands for the iommufd context of the open; the fake ops never use it. */
static struct iommufd_ctx *const fake_ictx = (struct iommufd_ctx *)&fake_ops;

static struct fake_vdev *fake_create(struct kunit *test,
				     const struct vfio_device_ops *ops)
{
	struct fake_vdev *fake;
	struct device *dev;
	int ret;

	dev = kunit_device_register(test, "vfio-p2p-kunit");
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);
	fake = vfio_alloc_device(fake_vdev, vdev, dev, ops);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, fake);
	ret = vfio_register_emulated_iommu_dev(&fake->vdev);
	KUNIT_ASSERT_EQ(test, ret, 0);

	/* A device fd, as VFIO_GROUP_GET_DEVICE_FD or the cdev would make. */
	KUNIT_ASSERT_TRUE(test, vfio_device_try_get_registration(&fake->vdev));
	fake->df = vfio_allocate_device_file(&fake->vdev);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, fake->df);
	fake->file = anon_inode_getfile("[vfio-p2p-kunit]", &vfio_device_fops,
					fake->df, O_RDWR);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, fake->file);
	fake->file->f_mapping = fake->vdev.inode->i_mapping;

	fake->df->iommufd = fake_ictx;
	mutex_lock(&fake->vdev.dev_set->lock);
	ret = vfio_df_open(fake->df);
	mutex_unlock(&fake->vdev.dev_set->lock);
	KUNIT_ASSERT_EQ(test, ret, 0);
	fake->opened = true;
	/* Pairs with the smp_load_acquire() in vfio_device_fops_mmap(). */
	smp_store_release(&fake->df->access_granted, true);
	test->priv = fake;
	return fake;
}

static void fake_close(struct fake_vdev *fake)
{
	if (!fake->opened)
		return;
	mutex_lock(&fake->vdev.dev_set->lock);
	vfio_df_close(fake->df);
	mutex_unlock(&fake->vdev.dev_set->lock);
	fake->opened = false;
}

/*
 * Runs after the test's mm is gone, so every VMA has been closed; their
 * fputs may still be queued.
 */
static void p2p_test_exit(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;

	if (!fake)
		return;
	fake_close(fake);
	/* Closed by hand above: the fd's release must not close it again. */
	fake->df->access_granted = false;
	fput(fake->file);
	flush_delayed_fput();
	vfio_unregister_group_dev(&fake->vdev);
	vfio_put_device(&fake->vdev);
}

static unsigned long fake_mmap_region(struct kunit *test, int region,
				      unsigned long pgoff, unsigned long pages)
{
	struct fake_vdev *fake = test->priv;
	unsigned long addr;

	addr = kunit_vm_mmap(test, fake->file, 0, pages << PAGE_SHIFT,
			     PROT_READ | PROT_WRITE, MAP_SHARED,
			     ((unsigned long)region << 40) + (pgoff << PAGE_SHIFT));
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(addr));
	KUNIT_ASSERT_NE(test, addr, 0);
	return addr;
}

static int lookup(unsigned long addr, unsigned long *pfn, unsigned long *nr)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	int ret = -ENOENT;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (vma)
		ret = vfio_vma_to_pfn(vma, addr, pfn, nr);
	mmap_read_unlock(mm);
	return ret;
}

static struct vfio_device *get_dev(unsigned long addr)
{
	struct mm_struct *mm = current->mm;
	struct vfio_device *device = ERR_PTR(-ENOENT);
	struct vm_area_struct *vma;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (vma)
		device = vfio_device_get_from_vma(vma);
	mmap_read_unlock(mm);
	return device;
}

static unsigned int priv_users(unsigned long addr)
{
	struct vfio_vma_private_data *priv = NULL;
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (vma)
		priv = vfio_vma_private(vma);
	mmap_read_unlock(mm);
	return priv ? refcount_read(&priv->users) : 0;
}

static unsigned int dev_refs(struct fake_vdev *fake)
{
	return kref_read(&fake->vdev.device.kobj.kref);
}

/* A vfio VMA gives back its device, with a reference, and the put drops it. */
static void p2p_lookup_vfio_vma(struct kunit *test)
{
	struct fake_vdev *fake = fake_create(test, &fake_ops);
	unsigned long addr = fake_mmap_region(test, REGION_PFN, 0, 4);
	unsigned int refs = dev_refs(fake);
	struct vfio_device *device;

	device = get_dev(addr + PAGE_SIZE);
	KUNIT_ASSERT_FALSE(test, IS_ERR(device));
	KUNIT_EXPECT_PTR_EQ(test, device, &fake->vdev);
	KUNIT_EXPECT_EQ(test, dev_refs(fake), refs + 1);
	vfio_device_put_from_vma(device);
	KUNIT_EXPECT_EQ(test, dev_refs(fake), refs);
}

/* Anonymous, other-file and unconverted-driver VMAs are not vfio VMAs. */
static void p2p_refuse_non_vfio_vma(struct kunit *test)
{
	struct fake_vdev *fake = fake_create(test, &fake_ops);
	unsigned long anon, shm, legacy, pfn, nr;
	struct vm_area_struct *vma;
	struct file *file;

	anon = kunit_vm_mmap(test, NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, 0);
	KUNIT_ASSERT_NE(test, anon, 0);
	KUNIT_EXPECT_PTR_EQ(test, get_dev(anon), ERR_PTR(-ENODEV));
	KUNIT_EXPECT_EQ(test, lookup(anon, &pfn, &nr), -ENODEV);

	file = shmem_kernel_file_setup("vfio-p2p-kunit", PAGE_SIZE, 0);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, file);
	shm = kunit_vm_mmap(test, file, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_SHARED, 0);
	fput(file);
	KUNIT_ASSERT_NE(test, shm, 0);
	KUNIT_EXPECT_PTR_EQ(test, get_dev(shm), ERR_PTR(-ENODEV));
	KUNIT_EXPECT_EQ(test, lookup(shm, &pfn, &nr), -ENODEV);

	legacy = fake_mmap_region(test, REGION_LEGACY, 0, 2);
	KUNIT_EXPECT_PTR_EQ(test, get_dev(legacy), ERR_PTR(-ENODEV));
	KUNIT_EXPECT_EQ(test, lookup(legacy, &pfn, &nr), -ENODEV);
	/* The unconverted driver keeps its own vm_private_data and vm_ops. */
	mmap_read_lock(current->mm);
	vma = vma_lookup(current->mm, legacy);
	KUNIT_EXPECT_PTR_EQ(test, vma->vm_private_data, (void *)fake);
	KUNIT_EXPECT_PTR_EQ(test, vma->vm_ops, &fake_vm_ops);
	mmap_read_unlock(current->mm);
}

/* base_pfn + offset at the start, middle and end; runs stop at vm_end. */
static void p2p_base_pfn_arithmetic(struct kunit *test)
{
	struct fake_vdev *fake = fake_create(test, &fake_ops);
	unsigned long pages = FAKE_PAGES - 6, pgoff = 2;
	unsigned long addr = fake_mmap_region(test, REGION_PFN, pgoff, pages);
	unsigned long pfn, nr;

	KUNIT_ASSERT_EQ(test, lookup(addr, &pfn, &nr), 0);
	KUNIT_EXPECT_EQ(test, pfn, FAKE_BASE_PFN + pgoff);
	KUNIT_EXPECT_EQ(test, nr, pages);

	KUNIT_ASSERT_EQ(test, lookup(addr + 5 * PAGE_SIZE + 123, &pfn, &nr), 0);
	KUNIT_EXPECT_EQ(test, pfn, FAKE_BASE_PFN + pgoff + 5);
	KUNIT_EXPECT_EQ(test, nr, pages - 5);

	KUNIT_ASSERT_EQ(test, lookup(addr + (pages - 1) * PAGE_SIZE, &pfn, &nr), 0);
	KUNIT_EXPECT_EQ(test, pfn, FAKE_BASE_PFN + pgoff + pages - 1);
	KUNIT_EXPECT_EQ(test, nr, 1);

	/* Resolved without a single fault. */
	KUNIT_EXPECT_EQ(test, fake->faults, 0);
}

/* After a split each piece resolves by its own offset, up to its own end. */
static void p2p_split_keeps_offsets(struct kunit *test)
{
	struct fake_vdev *fake = fake_create(test, &fake_ops);
	unsigned long pages = 16, pgoff = 4;
	unsigned long addr = fake_mmap_region(test, REGION_PFN, pgoff, pages);
	unsigned int refs = dev_refs(fake);
	unsigned long pfn, nr;

	/* may_split is forwarded: the fake driver refuses odd pages. */
	KUNIT_EXPECT_EQ(test, vm_munmap(addr + 5 * PAGE_SIZE, 2 * PAGE_SIZE), -EINVAL);
	/* Punch pages 6 and 7: pieces [0, 6) and [8, 16). */
	KUNIT_ASSERT_EQ(test, vm_munmap(addr + 6 * PAGE_SIZE, 2 * PAGE_SIZE), 0);

	KUNIT_ASSERT_EQ(test, lookup(addr + 2 * PAGE_SIZE, &pfn, &nr), 0);
	KUNIT_EXPECT_EQ(test, pfn, FAKE_BASE_PFN + pgoff + 2);
	KUNIT_EXPECT_EQ(test, nr, 4);
	KUNIT_EXPECT_EQ(test, lookup(addr + 6 * PAGE_SIZE, &pfn, &nr), -ENOENT);
	KUNIT_ASSERT_EQ(test, lookup(addr + 9 * PAGE_SIZE, &pfn, &nr), 0);
	KUNIT_EXPECT_EQ(test, pfn, FAKE_BASE_PFN + pgoff + 9);
	KUNIT_EXPECT_EQ(test, nr, 7);

	/* Two VMAs share one private data, which holds one device reference. */
	KUNIT_EXPECT_EQ(test, priv_users(addr), 2);
	KUNIT_EXPECT_EQ(test, priv_users(addr + 8 * PAGE_SIZE), 2);
	KUNIT_EXPECT_EQ(test, dev_refs(fake), refs);

	KUNIT_ASSERT_EQ(test, vm_munmap(addr, 6 * PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, priv_users(addr + 8 * PAGE_SIZE), 1);
	KUNIT_EXPECT_EQ(test, dev_refs(fake), refs);
	KUNIT_ASSERT_EQ(test, vm_munmap(addr + 8 * PAGE_SIZE, 8 * PAGE_SIZE), 0);
	/* The last close dropped the mapping's device reference. */
	KUNIT_EXPECT_EQ(test, dev_refs(fake), refs - 1);
}

static vm_fault_t call_fault(struct vm_area_struct *vma, unsigned long addr)
{
	struct vm_fault vmf = { .vma = vma, .address = addr };

	return vma->vm_ops->fault(&vmf);
}

/* A fork-like ->open/->close pair keeps the count; the wrapper forwards. */
static void p2p_open_close_refcount(struct kunit *test)
{
	struct fake_vdev *fake = fake_create(test, &fake_ops);
	unsigned int before = dev_refs(fake);
	unsigned long addr = fake_mmap_region(test, REGION_PFN, 0, 2);
	struct vm_area_struct *vma;

	/* The mmap itself took one device reference. */
	KUNIT_EXPECT_EQ(test, dev_refs(fake), before + 1);

	mmap_read_lock(current->mm);
	vma = vma_lookup(current->mm, addr);
	KUNIT_ASSERT_NOT_NULL(test, vma);
	KUNIT_EXPECT_EQ(test, refcount_read(&vfio_vma_private(vma)->users), 1);
	vma->vm_ops->open(vma);		/* what fork does for the child's copy */
	KUNIT_EXPECT_EQ(test, refcount_read(&vfio_vma_private(vma)->users), 2);
	vma->vm_ops->close(vma);	/* and what the child's exit does */
	KUNIT_EXPECT_EQ(test, refcount_read(&vfio_vma_private(vma)->users), 1);
	KUNIT_EXPECT_EQ(test, dev_refs(fake), before + 1);

	/* Every other callback reaches the driver. */
	KUNIT_EXPECT_STREQ(test, vma->vm_ops->name(vma), "[vfio-p2p-kunit]");
	KUNIT_EXPECT_EQ(test, call_fault(vma, addr), VM_FAULT_SIGBUS);
	KUNIT_EXPECT_EQ(test, fake->faults, 1);
	/* mm sees the fault callbacks the driver has, and only those. */
	KUNIT_EXPECT_NOT_NULL(test, vma->vm_ops->fault);
	KUNIT_EXPECT_NULL(test, vma->vm_ops->huge_fault);
	mmap_read_unlock(current->mm);

	KUNIT_ASSERT_EQ(test, vm_munmap(addr, 2 * PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, dev_refs(fake), before);
}

/* The vma_to_pfn op serves a mapping with no base_pfn, clamped to vm_end. */
static void p2p_vma_to_pfn_op(struct kunit *test)
{
	struct fake_vdev *fake = fake_create(test, &fake_ops_with_op);
	unsigned long addr = fake_mmap_region(test, REGION_NONE, 4, 10);
	unsigned long pfn, nr;

	KUNIT_ASSERT_EQ(test, lookup(addr, &pfn, &nr), 0);
	KUNIT_EXPECT_EQ(test, pfn, FAKE_OP_BASE_PFN + 4);
	KUNIT_EXPECT_EQ(test, nr, 4);	/* the op's chunk ends at page 8 */
	KUNIT_ASSERT_EQ(test, lookup(addr + 6 * PAGE_SIZE, &pfn, &nr), 0);
	KUNIT_EXPECT_EQ(test, pfn, FAKE_OP_BASE_PFN + 10);
	KUNIT_EXPECT_EQ(test, nr, 4);	/* the op says 6, vm_end says 4 */
	KUNIT_EXPECT_EQ(test, fake->op_calls, 2);
	KUNIT_EXPECT_EQ(test, fake->faults, 0);
}

/* A driver that rewrites vm_pgoff in .mmap resolves as well, also split. */
static void p2p_driver_rewrites_pgoff(struct kunit *test)
{
	unsigned long addr, pfn, nr;

	fake_create(test, &fake_ops);
	addr = fake_mmap_region(test, REGION_REWRITE, 3, 8);

	KUNIT_ASSERT_EQ(test, lookup(addr + PAGE_SIZE, &pfn, &nr), 0);
	KUNIT_EXPECT_EQ(test, pfn, FAKE_BASE_PFN + 3 + 1);
	KUNIT_EXPECT_EQ(test, nr, 7);
	KUNIT_ASSERT_EQ(test, vm_munmap(addr, 2 * PAGE_SIZE), 0);
	KUNIT_ASSERT_EQ(test, lookup(addr + 5 * PAGE_SIZE, &pfn, &nr), 0);
	KUNIT_EXPECT_EQ(test, pfn, FAKE_BASE_PFN + 3 + 5);
	KUNIT_EXPECT_EQ(test, nr, 3);
}

/* In a private mapping a written page is an anonymous copy: no pfn. */
static void p2p_refuse_private_mapping(struct kunit *test)
{
	struct fake_vdev *fake = fake_create(test, &fake_ops);
	unsigned long addr, pfn, nr;

	addr = kunit_vm_mmap(test, fake->file, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE, 0);
	KUNIT_ASSERT_NE(test, addr, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(addr));
	KUNIT_EXPECT_EQ(test, lookup(addr, &pfn, &nr), -EOPNOTSUPP);
}

/* A driver with neither base_pfn nor the op is not P2P-capable. */
static void p2p_not_opted_in(struct kunit *test)
{
	struct fake_vdev *fake = fake_create(test, &fake_ops);
	unsigned long addr = fake_mmap_region(test, REGION_NONE, 0, 2);
	struct vfio_device *device;
	unsigned long pfn, nr;

	device = get_dev(addr);
	KUNIT_ASSERT_FALSE(test, IS_ERR(device));
	vfio_device_put_from_vma(device);
	KUNIT_EXPECT_EQ(test, lookup(addr, &pfn, &nr), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, fake->op_calls, 0);
}

/* No pfn while the device memory is disabled, for either kind of lookup. */
static void p2p_refuse_while_disabled(struct kunit *test)
{
	struct fake_vdev *fake = fake_create(test, &fake_ops_with_op);
	unsigned long base = fake_mmap_region(test, REGION_PFN, 0, 4);
	unsigned long op = fake_mmap_region(test, REGION_NONE, 0, 4);
	unsigned long pfn, nr;

	vfio_device_mem_update(&fake->vdev, false);
	KUNIT_EXPECT_EQ(test, lookup(base, &pfn, &nr), -EIO);
	KUNIT_EXPECT_EQ(test, lookup(op, &pfn, &nr), -EIO);
	KUNIT_EXPECT_EQ(test, fake->op_calls, 0);
	vfio_device_mem_update(&fake->vdev, true);
	KUNIT_EXPECT_EQ(test, lookup(base, &pfn, &nr), 0);
	KUNIT_EXPECT_EQ(test, lookup(op, &pfn, &nr), 0);
}

static int fake_listen(struct notifier_block *nb, unsigned long event, void *data)
{
	struct fake_listener *l = container_of(nb, struct fake_listener, nb);
	struct fake_vdev *fake = l->fake;
	unsigned long pfn, nr;

	if (data != &fake->vdev)
		return NOTIFY_BAD;
	fake_log(fake, l->id + event);
	/* What a backend would get if it looked the BAR up right now. */
	if (l->id == LOG_A && fake->probe_vma && fake->nprobe < 4)
		fake->probe_ret[fake->nprobe++] =
			vfio_vma_to_pfn(fake->probe_vma, fake->probe_addr, &pfn, &nr);
	return NOTIFY_OK;
}

/* What a bus driver does to turn memory off: tell core, then zap. */
static void fake_zap(struct fake_vdev *fake)
{
	vfio_device_mem_update(&fake->vdev, false);
	fake_log(fake, LOG_ZAP);
	unmap_mapping_range(fake->vdev.inode->i_mapping, 0, 0, true);
}

/*
 * Listeners get DISABLE before the zap, each event once per change, in
 * registration order; RELEASE comes at last close before close_device; a
 * listener already sees the new state when its DISABLE or ENABLE arrives.
 */
static void p2p_notifier_order(struct kunit *test)
{
	struct fake_vdev *fake = fake_create(test, &fake_ops);
	struct fake_listener a = { .nb.notifier_call = fake_listen, .fake = fake, .id = LOG_A };
	struct fake_listener b = { .nb.notifier_call = fake_listen, .fake = fake, .id = LOG_B };
	static const int want[] = {
		LOG_A + VFIO_DEVICE_EVENT_DISABLE, LOG_B + VFIO_DEVICE_EVENT_DISABLE,
		LOG_ZAP,
		LOG_A + VFIO_DEVICE_EVENT_ENABLE, LOG_B + VFIO_DEVICE_EVENT_ENABLE,
		LOG_A + VFIO_DEVICE_EVENT_RELEASE, LOG_B + VFIO_DEVICE_EVENT_RELEASE,
		LOG_CLOSE,
	};
	unsigned int i;

	fake->probe_addr = fake_mmap_region(test, REGION_PFN, 0, 2);
	KUNIT_ASSERT_EQ(test, vfio_device_register_notifier(&fake->vdev, &a.nb), 0);
	KUNIT_ASSERT_EQ(test, vfio_device_register_notifier(&fake->vdev, &b.nb), 0);

	/*
	 * mmap_lock is taken outside the events, as in the real lock order
	 * (a fault takes the driver's memory lock under it): the listener
	 * looks the VMA up the way a backend holding it would.
	 */
	mmap_read_lock(current->mm);
	fake->probe_vma = vma_lookup(current->mm, fake->probe_addr);
	KUNIT_EXPECT_NOT_NULL(test, fake->probe_vma);
	fake_zap(fake);
	fake_zap(fake);				/* already off: no second DISABLE */
	vfio_device_mem_update(&fake->vdev, true);
	vfio_device_mem_update(&fake->vdev, true);	/* no second ENABLE */
	fake->probe_vma = NULL;
	mmap_read_unlock(current->mm);
	fake_close(fake);

	vfio_device_unregister_notifier(&fake->vdev, &b.nb);
	vfio_device_unregister_notifier(&fake->vdev, &a.nb);

	/* The second zap logs its own ZAP; drop it to compare the events. */
	KUNIT_ASSERT_EQ(test, fake->nlog, ARRAY_SIZE(want) + 1);
	KUNIT_EXPECT_EQ(test, fake->log[3], LOG_ZAP);
	for (i = 4; i < fake->nlog; i++)
		fake->log[i - 1] = fake->log[i];
	for (i = 0; i < ARRAY_SIZE(want); i++)
		KUNIT_EXPECT_EQ_MSG(test, fake->log[i], want[i], "event %u", i);

	KUNIT_ASSERT_EQ(test, fake->nprobe, 2);
	KUNIT_EXPECT_EQ(test, fake->probe_ret[0], -EIO);	/* in DISABLE */
	KUNIT_EXPECT_EQ(test, fake->probe_ret[1], 0);		/* in ENABLE */
}

static struct kunit_case vfio_p2p_test_cases[] = {
	KUNIT_CASE(p2p_lookup_vfio_vma),
	KUNIT_CASE(p2p_refuse_non_vfio_vma),
	KUNIT_CASE(p2p_base_pfn_arithmetic),
	KUNIT_CASE(p2p_split_keeps_offsets),
	KUNIT_CASE(p2p_open_close_refcount),
	KUNIT_CASE(p2p_vma_to_pfn_op),
	KUNIT_CASE(p2p_driver_rewrites_pgoff),
	KUNIT_CASE(p2p_refuse_private_mapping),
	KUNIT_CASE(p2p_not_opted_in),
	KUNIT_CASE(p2p_refuse_while_disabled),
	KUNIT_CASE(p2p_notifier_order),
	{}
};

static struct kunit_suite vfio_p2p_test_suite = {
	.name = "vfio-p2p",
	.exit = p2p_test_exit,
	.test_cases = vfio_p2p_test_cases,
};

kunit_test_suite(vfio_p2p_test_suite);
