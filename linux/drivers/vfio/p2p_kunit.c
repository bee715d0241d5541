// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for vfio device VMAs (p2p_vma.c), the device notifier
 * (p2p_notify.c) and the P2P tracker (p2p_track.c), with no hardware.
 *
 * Each case's .init registers a fake emulated-IOMMU vfio device, opens it
 * through vfio core's own vfio_df_open() (its iommufd bind ops are no-ops)
 * and makes a device fd for it with vfio's device fops; a
 * kunit_add_action_or_reset() action closes and unregisters it when the
 * case ends.  The case mmaps that fd into its mm with kunit_vm_mmap() or
 * vm_mmap(), so the VMAs are real ones, wrapped by vfio core exactly as for
 * a user.  The suites differ in the fixture: vfio_p2p_vma's device has no
 * vma_to_pfn op, vfio_p2p_vma_op's and vfio_p2p_track's have one (which a
 * REGION_PFN mapping never calls).  The fake driver encodes a region
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
 * which lets the tests check that lookups never fault.  The fake pfns lie
 * beyond any memory section, so they pass the tracker's "device memory,
 * not RAM" check on any machine.
 *
 * The tracker's suite (vfio_p2p_track) gives vfio_p2p_map() a fake space
 * (built in .init too) whose map and unmap ops only record their calls, and
 * drives the device's notifier as a bus driver would:
 * vfio_device_mem_update() for DISABLE and ENABLE, the last close for
 * RELEASE.
 */
#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/anon_inodes.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/kthread.h>
#include <linux/iommu.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/notifier.h>
#include <linux/shmem_fs.h>
#include <linux/vfio.h>
#include <linux/vfio_p2p_iommu.h>

#include "vfio.h"
#include "p2p.h"

#define FAKE_PAGES		32UL
#define FAKE_BASE_PFN		0x3ff0000000UL
#define FAKE_OP_BASE_PFN	0x3ffab00000UL
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

struct fake_space;

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
	/* The op's next call closes and reopens the device from a thread. */
	bool cycle_on_op;
	struct completion cycled;
	/* vfio_p2p_track: the space the case maps into. */
	struct fake_space *fs;
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

static void fake_close(struct fake_vdev *fake);
static void fake_reopen(struct fake_vdev *fake);

static int fake_cycle_thread(void *data)
{
	struct fake_vdev *fake = data;

	fake_close(fake);
	fake_reopen(fake);
	complete(&fake->cycled);
	return 0;
}

/*
 * A last close and a new open of the device, as another thread of the user
 * would do them, while the caller waits (holding mmap_lock for read, as a
 * backend's lookup does).
 */
static void fake_cycle(struct fake_vdev *fake)
{
	struct task_struct *t;

	init_completion(&fake->cycled);
	t = kthread_run(fake_cycle_thread, fake, "vfio-p2p-kunit");
	if (!IS_ERR(t))
		wait_for_completion(&fake->cycled);
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
	if (fake->cycle_on_op) {
		fake->cycle_on_op = false;
		fake_cycle(fake);
	}
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

/*
 * The fixture's action: runs after the case's mm is gone (the case ran in a
 * kthread of its own, which has exited), so every VMA has been closed; their
 * fputs may still be queued.
 */
static void fake_destroy(void *data)
{
	struct fake_vdev *fake = data;

	fake_close(fake);
	/* Closed by hand above: the fd's release must not close it again. */
	fake->df->access_granted = false;
	fput(fake->file);
	flush_delayed_fput();
	vfio_unregister_group_dev(&fake->vdev);
	vfio_put_device(&fake->vdev);
}

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
	ret = kunit_add_action_or_reset(test, fake_destroy, fake);
	KUNIT_ASSERT_EQ(test, ret, 0);
	test->priv = fake;
	return fake;
}

static int p2p_vma_init(struct kunit *test)
{
	fake_create(test, &fake_ops);
	return 0;
}

static int p2p_vma_op_init(struct kunit *test)
{
	fake_create(test, &fake_ops_with_op);
	return 0;
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

/* A new session on the same fd, as a reopen after the last close. */
static void fake_reopen(struct fake_vdev *fake)
{
	int ret;

	if (fake->opened)
		return;
	mutex_lock(&fake->vdev.dev_set->lock);
	ret = vfio_df_open(fake->df);
	mutex_unlock(&fake->vdev.dev_set->lock);
	fake->opened = !ret;
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
	struct fake_vdev *fake = test->priv;
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
	struct fake_vdev *fake = test->priv;
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
	struct fake_vdev *fake = test->priv;
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
	struct fake_vdev *fake = test->priv;
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
	struct fake_vdev *fake = test->priv;
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
	struct fake_vdev *fake = test->priv;
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
	struct fake_vdev *fake = test->priv;
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
	struct fake_vdev *fake = test->priv;
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
	struct fake_vdev *fake = test->priv;
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

static int check_at(unsigned long addr)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	int ret = -ENOENT;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (vma)
		ret = vfio_vma_p2p_check(vma);
	mmap_read_unlock(mm);
	return ret;
}

/* The classifier says what vfio_vma_to_pfn() would, without a lookup. */
static void p2p_check_classifies(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;
	unsigned long base = fake_mmap_region(test, REGION_PFN, 0, 4);
	unsigned long none = fake_mmap_region(test, REGION_NONE, 0, 2);
	unsigned long legacy = fake_mmap_region(test, REGION_LEGACY, 0, 2);
	unsigned long anon, cow;

	anon = kunit_vm_mmap(test, NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, 0);
	KUNIT_ASSERT_NE(test, anon, 0);
	cow = kunit_vm_mmap(test, fake->file, 0, 2 * PAGE_SIZE,
			    PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(cow));
	KUNIT_ASSERT_NE(test, cow, 0);

	KUNIT_EXPECT_EQ(test, check_at(base), 0);
	KUNIT_EXPECT_EQ(test, check_at(none), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, check_at(cow), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, check_at(legacy), -ENODEV);
	KUNIT_EXPECT_EQ(test, check_at(anon), -ENODEV);
	vfio_device_mem_update(&fake->vdev, false);
	KUNIT_EXPECT_EQ(test, check_at(base), -EIO);
	vfio_device_mem_update(&fake->vdev, true);
	KUNIT_EXPECT_EQ(test, check_at(base), 0);
	KUNIT_EXPECT_EQ(test, fake->faults, 0);
	/* The mmap recorded the module that get_from_vma() pins. */
	KUNIT_EXPECT_PTR_EQ(test, fake->vdev.p2p.owner,
			    fake->vdev.dev->driver->owner);
}

/*
 * A driver that overwrites vm_private_data after .mmap (in ->open or a
 * fault) gets its VMA refused everywhere, and core never treats the
 * driver's object as its own: the forgery below looks like a private data
 * of this very device, with one user, so the unfixed ->close would free it
 * (a KASAN double free when KUnit frees it at the end).
 */
static void p2p_refuse_overwritten_private_data(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;
	unsigned long addr = fake_mmap_region(test, REGION_PFN, 0, 4);
	struct vfio_vma_private_data *forged, *real;
	struct vfio_device *device;
	struct vm_area_struct *vma;
	unsigned long pfn, nr;
	vm_fault_t fault;
	bool refused;

	forged = kunit_kzalloc(test, sizeof(*forged), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, forged);
	forged->device = &fake->vdev;
	refcount_set(&forged->users, 1);
	forged->driver_ops = &fake_vm_ops;
	forged->driver_data = fake;
	forged->nr_pages = 4;
	forged->base_pfn = FAKE_BASE_PFN + 100;
	forged->has_pfn = true;

	mmap_read_lock(current->mm);
	vma = vma_lookup(current->mm, addr);
	KUNIT_ASSERT_NOT_NULL(test, vma);
	real = vfio_vma_private(vma);
	KUNIT_ASSERT_NOT_NULL(test, real);
	forged->pgoff = real->pgoff;
	vma->vm_private_data = forged;

	/* The lookups first: none of them may free or count anything. */
	device = vfio_device_get_from_vma(vma);
	if (!IS_ERR(device))
		vfio_device_put_from_vma(device);
	refused = !vfio_vma_private(vma) && IS_ERR(device);
	KUNIT_EXPECT_NULL(test, vfio_vma_private(vma));
	KUNIT_EXPECT_PTR_EQ(test, device, ERR_PTR(-ENODEV));
	KUNIT_EXPECT_EQ(test, vfio_vma_to_pfn(vma, addr, &pfn, &nr), -ENODEV);
	KUNIT_EXPECT_EQ(test, vfio_vma_p2p_check(vma), -ENODEV);
	if (!refused) {
		/* Calling ->close now would free the forgery: stop here. */
		vma->vm_private_data = real;
		mmap_read_unlock(current->mm);
		KUNIT_FAIL(test, "an overwritten vm_private_data was taken as core's");
		return;
	}
	KUNIT_EXPECT_NULL(test, vfio_vma_driver_data(vma));
	fault = call_fault(vma, addr);
	KUNIT_EXPECT_EQ(test, fault, VM_FAULT_SIGBUS);
	KUNIT_EXPECT_EQ(test, fake->faults, 0);	/* not forwarded either */
	/* Neither ->open nor ->close touches the forged object or the real one. */
	vma->vm_ops->open(vma);
	vma->vm_ops->close(vma);
	KUNIT_EXPECT_EQ(test, refcount_read(&forged->users), 1);
	KUNIT_EXPECT_EQ(test, refcount_read(&real->users), 1);

	/* Put back, the VMA is core's again and unmaps as usual. */
	vma->vm_private_data = real;
	KUNIT_EXPECT_PTR_EQ(test, vfio_vma_private(vma), real);
	KUNIT_EXPECT_EQ(test, vfio_vma_p2p_check(vma), 0);
	mmap_read_unlock(current->mm);
	KUNIT_EXPECT_EQ(test, vm_munmap(addr, 4 * PAGE_SIZE), 0);
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
	struct fake_vdev *fake = test->priv;
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

static struct kunit_case vfio_p2p_vma_cases[] = {
	KUNIT_CASE(p2p_lookup_vfio_vma),
	KUNIT_CASE(p2p_refuse_non_vfio_vma),
	KUNIT_CASE(p2p_base_pfn_arithmetic),
	KUNIT_CASE(p2p_split_keeps_offsets),
	KUNIT_CASE(p2p_open_close_refcount),
	KUNIT_CASE(p2p_driver_rewrites_pgoff),
	KUNIT_CASE(p2p_refuse_private_mapping),
	KUNIT_CASE(p2p_not_opted_in),
	KUNIT_CASE(p2p_check_classifies),
	KUNIT_CASE(p2p_refuse_overwritten_private_data),
	KUNIT_CASE(p2p_notifier_order),
	{}
};

static struct kunit_suite vfio_p2p_vma_suite = {
	.name = "vfio_p2p_vma",
	.init = p2p_vma_init,
	.test_cases = vfio_p2p_vma_cases,
};

/* A driver whose memory is chosen at run time: the vma_to_pfn op. */
static struct kunit_case vfio_p2p_vma_op_cases[] = {
	KUNIT_CASE(p2p_vma_to_pfn_op),
	KUNIT_CASE(p2p_refuse_while_disabled),
	{}
};

static struct kunit_suite vfio_p2p_vma_op_suite = {
	.name = "vfio_p2p_vma_op",
	.init = p2p_vma_op_init,
	.test_cases = vfio_p2p_vma_op_cases,
};

/*
 * The tracker
 */

#define TRACK_IOVA	0x100000ULL
#define TRACK_PROT	(IOMMU_READ | IOMMU_WRITE)

struct fake_call {
	bool map;
	dma_addr_t iova;
	unsigned long pfn;
	unsigned long npages;
};

struct fake_space {
	struct vfio_p2p_space space;
	struct fake_call calls[32];
	unsigned int ncalls;
	unsigned int nsyncs;
	unsigned int fail_maps;		/* the next maps fail with -ENOMEM */
	struct mem_cgroup *map_memcg;	/* the active memcg at the last map */
};

/* The memcg a __GFP_ACCOUNT allocation of the running task is charged to. */
static struct mem_cgroup *fake_active_memcg(void)
{
#ifdef CONFIG_MEMCG
	return current->active_memcg;
#else
	return NULL;
#endif
}

static void fake_space_log(struct vfio_p2p_space *space, bool map, dma_addr_t iova,
			   unsigned long pfn, unsigned long npages)
{
	struct fake_space *fs = container_of(space, struct fake_space, space);

	lockdep_assert_held(&space->lock);
	if (fs->ncalls < ARRAY_SIZE(fs->calls))
		fs->calls[fs->ncalls] = (struct fake_call){ map, iova, pfn, npages };
	fs->ncalls++;
}

static int fake_space_map(struct vfio_p2p_space *space, dma_addr_t iova,
			  unsigned long pfn, unsigned long npages, int prot)
{
	struct fake_space *fs = container_of(space, struct fake_space, space);

	if (fs->fail_maps) {
		fs->fail_maps--;
		return -ENOMEM;
	}
	fs->map_memcg = fake_active_memcg();
	fake_space_log(space, true, iova, pfn, npages);
	return 0;
}

static void fake_space_unmap(struct vfio_p2p_space *space, dma_addr_t iova,
			     unsigned long npages)
{
	fake_space_log(space, false, iova, 0, npages);
}

static void fake_space_sync(struct vfio_p2p_space *space)
{
	struct fake_space *fs = container_of(space, struct fake_space, space);

	lockdep_assert_held(&space->lock);
	fs->nsyncs++;
}

static const struct vfio_p2p_space_ops fake_space_ops = {
	.map = fake_space_map,
	.unmap = fake_space_unmap,
	.sync = fake_space_sync,
	.keep_peers = true,
};

/* A backend that does not call vfio_p2p_space_fini(). */
static const struct vfio_p2p_space_ops fake_space_ops_no_keep = {
	.map = fake_space_map,
	.unmap = fake_space_unmap,
	.sync = fake_space_sync,
};

#define TRACK_MAX_LINKS	16

static void fake_space_fini(void *space)
{
	vfio_p2p_space_fini(space);
}

/* Torn down as a backend would, at the case's end, before it is freed. */
static struct fake_space *fake_space_create(struct kunit *test)
{
	struct fake_space *fs = kunit_kzalloc(test, sizeof(*fs), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, fs);
	vfio_p2p_space_init(&fs->space, &fake_space_ops, TRACK_MAX_LINKS);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, fake_space_fini,
							&fs->space), 0);
	return fs;
}

static void expect_call(struct kunit *test, struct fake_space *fs, unsigned int i,
			bool map, dma_addr_t iova, unsigned long pfn,
			unsigned long npages)
{
	KUNIT_ASSERT_LT(test, i, fs->ncalls);
	KUNIT_ASSERT_LT(test, i, ARRAY_SIZE(fs->calls));
	KUNIT_EXPECT_EQ_MSG(test, fs->calls[i].map, map, "call %u", i);
	KUNIT_EXPECT_EQ_MSG(test, fs->calls[i].iova, iova, "call %u", i);
	if (map)
		KUNIT_EXPECT_EQ_MSG(test, fs->calls[i].pfn, pfn, "call %u", i);
	KUNIT_EXPECT_EQ_MSG(test, fs->calls[i].npages, npages, "call %u", i);
}

/*
 * vfio_p2p_map() as a backend calls it: one VMA lookup, under mmap_lock,
 * which vfio_p2p_map() releases.
 */
static long track_map(struct fake_space *fs, unsigned long addr,
		      dma_addr_t iova, unsigned long npages, int prot,
		      struct list_head *owner)
{
	struct vm_area_struct *vma;

	mmap_read_lock(current->mm);
	vma = vma_lookup(current->mm, addr);
	if (!vma) {
		mmap_read_unlock(current->mm);
		return -EFAULT;
	}
	return vfio_p2p_map(&fs->space, vma, addr, iova, npages, prot, owner);
}

static bool track_live(struct fake_space *fs, struct list_head *owner,
		       unsigned long npages)
{
	return vfio_p2p_range_live(&fs->space, owner, TRACK_IOVA,
				   npages << PAGE_SHIFT);
}

/*
 * The tracker's device reference goes, from a work item, after RELEASE or
 * vfio_p2p_space_fini(): a peer outlives its last link.
 */
static bool refs_back_to(struct fake_vdev *fake, unsigned int refs)
{
	int i;

	vfio_p2p_flush();
	for (i = 0; i < 50 && dev_refs(fake) != refs; i++)
		msleep(20);
	return dev_refs(fake) == refs;
}

/* One lookup and one map per run; DISABLE revokes, ENABLE restores it. */
static void p2p_track_revoke_restore(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;
	unsigned long addr = fake_mmap_region(test, REGION_PFN, 2, 8);
	struct fake_space *fs = fake->fs;
	unsigned int refs = dev_refs(fake);
	LIST_HEAD(owner);

	KUNIT_ASSERT_NOT_NULL(test, fake->vdev.dev->driver);
	KUNIT_ASSERT_EQ(test, track_map(fs, addr, TRACK_IOVA,
					8, TRACK_PROT, &owner), 8);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 1);
	expect_call(test, fs, 0, true, TRACK_IOVA, FAKE_BASE_PFN + 2, 8);
	KUNIT_EXPECT_EQ(test, fake->faults, 0);
	KUNIT_EXPECT_TRUE(test, track_live(fs, &owner, 8));
	KUNIT_EXPECT_GT(test, dev_refs(fake), refs);

	vfio_device_mem_update(&fake->vdev, false);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 2);
	expect_call(test, fs, 1, false, TRACK_IOVA, 0, 8);
	KUNIT_EXPECT_FALSE(test, track_live(fs, &owner, 8));
	KUNIT_EXPECT_FALSE(test, track_live(fs, &owner, 1));

	/* While disabled nothing new maps. */
	KUNIT_EXPECT_EQ(test, track_map(fs, addr,
					TRACK_IOVA + SZ_1M, 8, TRACK_PROT, &owner),
			-EFAULT);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 2);

	vfio_device_mem_update(&fake->vdev, true);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 3);
	expect_call(test, fs, 2, true, TRACK_IOVA, FAKE_BASE_PFN + 2, 8);
	KUNIT_EXPECT_TRUE(test, track_live(fs, &owner, 8));

	vfio_p2p_unmap_links(&fs->space, &owner);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 4);
	expect_call(test, fs, 3, false, TRACK_IOVA, 0, 8);
	KUNIT_EXPECT_TRUE(test, list_empty(&owner));
	vfio_p2p_space_fini(&fs->space);
	KUNIT_EXPECT_TRUE(test, refs_back_to(fake, refs));
}

/* RELEASE unmaps for good: ENABLE does not bring it back, nor does unmap. */
static void p2p_track_release_kills(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;
	unsigned long addr = fake_mmap_region(test, REGION_PFN, 0, 4);
	struct fake_space *fs = fake->fs;
	unsigned int refs = dev_refs(fake);
	LIST_HEAD(owner);

	KUNIT_ASSERT_NOT_NULL(test, fake->vdev.dev->driver);
	KUNIT_ASSERT_EQ(test, track_map(fs, addr, TRACK_IOVA,
					4, TRACK_PROT, &owner), 4);
	fake_close(fake);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 2);
	expect_call(test, fs, 1, false, TRACK_IOVA, 0, 4);
	KUNIT_EXPECT_FALSE(test, track_live(fs, &owner, 4));

	vfio_device_mem_update(&fake->vdev, false);
	vfio_device_mem_update(&fake->vdev, true);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 2);

	/* The range is still the owner's to unmap: no second IOMMU unmap. */
	KUNIT_EXPECT_FALSE(test, list_empty(&owner));
	vfio_p2p_unmap_links(&fs->space, &owner);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 2);
	KUNIT_EXPECT_TRUE(test, list_empty(&owner));
	KUNIT_EXPECT_TRUE(test, refs_back_to(fake, refs));
}

/* Each event costs one op per link of the peer: no scan, no repeats. */
static void p2p_track_one_op_per_link(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;
	unsigned long addr = fake_mmap_region(test, REGION_PFN, 0, 6);
	struct fake_space *fs = fake->fs;
	LIST_HEAD(owner);
	unsigned int i;

	for (i = 0; i < 6; i++)
		KUNIT_ASSERT_EQ(test, track_map(fs, addr + i * PAGE_SIZE,
						TRACK_IOVA + i * SZ_64K, 1,
						TRACK_PROT, &owner), 1);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 6);
	vfio_device_mem_update(&fake->vdev, false);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 12);
	/* The event's six unmaps share one IOTLB sync. */
	KUNIT_EXPECT_EQ(test, fs->nsyncs, 1);
	for (i = 0; i < 6; i++)
		expect_call(test, fs, 6 + i, false, TRACK_IOVA + i * SZ_64K, 0, 1);
	/* A range that holds one revoked link is not live. */
	KUNIT_EXPECT_FALSE(test, vfio_p2p_range_live(&fs->space, &owner,
						     TRACK_IOVA + 5 * SZ_64K, 1));
	vfio_device_mem_update(&fake->vdev, true);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 18);
	for (i = 0; i < 6; i++)
		expect_call(test, fs, 12 + i, true, TRACK_IOVA + i * SZ_64K,
			    FAKE_BASE_PFN + i, 1);
	vfio_p2p_unmap_links(&fs->space, &owner);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 24);
	KUNIT_EXPECT_EQ(test, fs->nsyncs, 2);
}

/*
 * A restore that fails leaves the link revoked, not dead: the range reads as
 * not live, and the next retry (type1: the next MAP_DMA or UNMAP_DMA) maps
 * it at the same IOVA and pfn.  While disabled, a retry maps nothing.
 */
static void p2p_track_failed_restore_retried(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;
	unsigned long addr = fake_mmap_region(test, REGION_PFN, 0, 4);
	struct fake_space *fs = fake->fs;
	LIST_HEAD(owner);

	KUNIT_ASSERT_EQ(test, track_map(fs, addr, TRACK_IOVA,
					4, TRACK_PROT, &owner), 4);
	vfio_device_mem_update(&fake->vdev, false);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 2);

	fs->fail_maps = 1;
	vfio_device_mem_update(&fake->vdev, true);
	KUNIT_EXPECT_EQ(test, fs->fail_maps, 0);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 2);
	KUNIT_EXPECT_FALSE(test, track_live(fs, &owner, 4));

	/* Disabled again before the retry: nothing maps. */
	vfio_device_mem_update(&fake->vdev, false);
	vfio_p2p_space_retry(&fs->space);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 2);
	fs->fail_maps = 1;
	vfio_device_mem_update(&fake->vdev, true);
	KUNIT_EXPECT_FALSE(test, track_live(fs, &owner, 4));

	vfio_p2p_space_retry(&fs->space);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 3);
	expect_call(test, fs, 2, true, TRACK_IOVA, FAKE_BASE_PFN, 4);
	KUNIT_EXPECT_TRUE(test, track_live(fs, &owner, 4));
	/* Nothing pending any more: a retry does nothing. */
	vfio_p2p_space_retry(&fs->space);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 3);

	vfio_p2p_unmap_links(&fs->space, &owner);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 4);
}

/*
 * ENABLE comes in whichever task re-enabled the device: a restore charges
 * what the ops allocate to the memcg of the task that mapped the links
 * (the one whose __GFP_ACCOUNT allocations the first map charged), not to
 * that task's, and leaves the active memcg as it found it.
 */
static void p2p_track_restore_charges_mapper(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;
	unsigned long addr = fake_mmap_region(test, REGION_PFN, 0, 4);
	struct fake_space *fs = fake->fs;
	struct mem_cgroup *mapper;
	LIST_HEAD(owner);

	mapper = get_mem_cgroup_from_mm(current->mm);
	if (!mapper)
		kunit_skip(test, "no memory cgroups");
	mem_cgroup_put(mapper);	/* the peer holds one while it lives */

	KUNIT_ASSERT_EQ(test, track_map(fs, addr, TRACK_IOVA,
					4, TRACK_PROT, &owner), 4);
	KUNIT_EXPECT_PTR_EQ(test, fs->map_memcg, NULL);	/* the caller's own */
	vfio_device_mem_update(&fake->vdev, false);
	fs->map_memcg = NULL;
	vfio_device_mem_update(&fake->vdev, true);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 3);
	KUNIT_EXPECT_PTR_EQ(test, fs->map_memcg, mapper);
	KUNIT_EXPECT_PTR_EQ(test, fake_active_memcg(), NULL);

	/* A retry restores the same way. */
	vfio_device_mem_update(&fake->vdev, false);
	fs->fail_maps = 1;
	vfio_device_mem_update(&fake->vdev, true);
	fs->map_memcg = NULL;
	vfio_p2p_space_retry(&fs->space);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 5);
	KUNIT_EXPECT_PTR_EQ(test, fs->map_memcg, mapper);
	KUNIT_EXPECT_PTR_EQ(test, fake_active_memcg(), NULL);

	vfio_p2p_unmap_links(&fs->space, &owner);
}

static void fake_domain_unmap(void *arg, dma_addr_t iova, unsigned long npages)
{
	struct fake_space *fs = arg;

	fake_space_log(&fs->space, false, iova, 0, npages);
}

/*
 * A domain leaving gets exactly the mapped links unmapped: a revoked link
 * is a hole there, which an SMMUv3 or AMD unmap stops at, and unmapping
 * it again would WARN.
 */
static void p2p_track_unmap_live_links(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;
	unsigned long addr = fake_mmap_region(test, REGION_PFN, 0, 4);
	struct fake_space *fs = fake->fs;
	LIST_HEAD(owner);

	KUNIT_ASSERT_EQ(test, track_map(fs, addr, TRACK_IOVA,
					4, TRACK_PROT, &owner), 4);
	KUNIT_ASSERT_EQ(test, fs->ncalls, 1);

	mutex_lock(&fs->space.lock);
	vfio_p2p_unmap_live_links(&fs->space, fake_domain_unmap, fs);
	mutex_unlock(&fs->space.lock);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 2);
	expect_call(test, fs, 1, false, TRACK_IOVA, 0, 4);

	vfio_device_mem_update(&fake->vdev, false);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 3);
	mutex_lock(&fs->space.lock);
	vfio_p2p_unmap_live_links(&fs->space, fake_domain_unmap, fs);
	mutex_unlock(&fs->space.lock);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 3);	/* revoked: nothing */

	vfio_device_mem_update(&fake->vdev, true);
	vfio_p2p_unmap_links(&fs->space, &owner);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 5);
}

/* A space maps at most max_links runs; the next gets -ENOSPC, mapping nothing. */
static void p2p_track_link_limit(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;
	unsigned long addr = fake_mmap_region(test, REGION_PFN, 0, TRACK_MAX_LINKS + 1);
	struct fake_space *fs = fake->fs;
	unsigned int refs = dev_refs(fake);
	LIST_HEAD(owner);
	unsigned int i;

	for (i = 0; i < TRACK_MAX_LINKS; i++)
		KUNIT_ASSERT_EQ(test, track_map(fs, addr + i * PAGE_SIZE,
						TRACK_IOVA + i * SZ_64K, 1,
						TRACK_PROT, &owner), 1);
	KUNIT_EXPECT_EQ(test, track_map(fs, addr + i * PAGE_SIZE,
					TRACK_IOVA + i * SZ_64K, 1,
					TRACK_PROT, &owner), -ENOSPC);
	KUNIT_EXPECT_EQ(test, fs->ncalls, TRACK_MAX_LINKS);

	/* Freed links make room again. */
	vfio_p2p_unmap_links(&fs->space, &owner);
	KUNIT_EXPECT_EQ(test, track_map(fs, addr + i * PAGE_SIZE, TRACK_IOVA, 1,
					TRACK_PROT, &owner), 1);
	vfio_p2p_unmap_links(&fs->space, &owner);
	vfio_p2p_space_fini(&fs->space);
	KUNIT_EXPECT_TRUE(test, refs_back_to(fake, refs));
}

/*
 * The peer is closed and reopened while a map looks it up: the map finds
 * the device's new session and maps it (no -EAGAIN from retrying the
 * released peer), and the new link follows the new session's events.
 */
static void p2p_track_reopened_peer(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;
	unsigned long addr = fake_mmap_region(test, REGION_NONE, 0, 8);
	struct fake_space *fs = fake->fs;
	unsigned int refs = dev_refs(fake);
	LIST_HEAD(owner);

	fake->cycle_on_op = true;
	KUNIT_ASSERT_EQ(test, track_map(fs, addr, TRACK_IOVA,
					8, TRACK_PROT, &owner), 8);
	KUNIT_EXPECT_TRUE(test, fake->opened);
	KUNIT_EXPECT_GE(test, fake->op_calls, 2);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 1);
	expect_call(test, fs, 0, true, TRACK_IOVA, FAKE_OP_BASE_PFN, 8);

	vfio_device_mem_update(&fake->vdev, false);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 2);
	KUNIT_EXPECT_FALSE(test, track_live(fs, &owner, 8));
	vfio_device_mem_update(&fake->vdev, true);
	KUNIT_EXPECT_TRUE(test, track_live(fs, &owner, 8));

	/* The released session's peer is gone; the new one stays listed. */
	vfio_p2p_unmap_links(&fs->space, &owner);
	KUNIT_EXPECT_TRUE(test, refs_back_to(fake, refs + 1));
	vfio_p2p_space_fini(&fs->space);
	KUNIT_EXPECT_TRUE(test, refs_back_to(fake, refs));
}

/*
 * A peer outlives its last link: the next map of the device reuses it (no
 * new device reference, no second listener), its events still reach it
 * and cost no op, and its RELEASE lets it go at once, without a link.
 */
static void p2p_track_peer_outlives_links(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;
	unsigned long addr = fake_mmap_region(test, REGION_PFN, 0, 4);
	struct fake_space *fs = fake->fs;
	unsigned int refs = dev_refs(fake);
	LIST_HEAD(owner);

	KUNIT_ASSERT_EQ(test, track_map(fs, addr, TRACK_IOVA,
					4, TRACK_PROT, &owner), 4);
	vfio_p2p_unmap_links(&fs->space, &owner);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 2);
	vfio_p2p_flush();
	KUNIT_EXPECT_EQ(test, dev_refs(fake), refs + 1);
	KUNIT_EXPECT_NOT_NULL(test, fake->vdev.p2p.notifier.head);

	/* Linkless, it sees DISABLE and ENABLE, with nothing to do. */
	vfio_device_mem_update(&fake->vdev, false);
	vfio_device_mem_update(&fake->vdev, true);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 2);

	KUNIT_ASSERT_EQ(test, track_map(fs, addr, TRACK_IOVA,
					4, TRACK_PROT, &owner), 4);
	KUNIT_EXPECT_EQ(test, dev_refs(fake), refs + 1);
	KUNIT_EXPECT_NULL(test, fake->vdev.p2p.notifier.head->next);
	vfio_device_mem_update(&fake->vdev, false);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 4);
	expect_call(test, fs, 3, false, TRACK_IOVA, 0, 4);
	vfio_device_mem_update(&fake->vdev, true);
	vfio_p2p_unmap_links(&fs->space, &owner);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 6);

	/* The last close is not held up by the peer, and ends it. */
	fake_close(fake);
	KUNIT_EXPECT_FALSE(test, fake->opened);
	KUNIT_EXPECT_TRUE(test, refs_back_to(fake, refs));
	KUNIT_EXPECT_NULL(test, fake->vdev.p2p.notifier.head);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 6);
}

/* Without keep_peers, a peer goes with its last link, as no fini will come. */
static void p2p_track_peer_not_kept(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;
	unsigned long addr = fake_mmap_region(test, REGION_PFN, 0, 4);
	struct fake_space *fs = fake->fs;
	unsigned int refs = dev_refs(fake);
	LIST_HEAD(owner);

	vfio_p2p_space_init(&fs->space, &fake_space_ops_no_keep, TRACK_MAX_LINKS);
	KUNIT_ASSERT_EQ(test, track_map(fs, addr, TRACK_IOVA,
					4, TRACK_PROT, &owner), 4);
	KUNIT_EXPECT_EQ(test, dev_refs(fake), refs + 1);
	vfio_p2p_unmap_links(&fs->space, &owner);
	KUNIT_EXPECT_EQ(test, fs->ncalls, 2);
	KUNIT_EXPECT_NULL(test, fake->vdev.p2p.notifier.head);
	KUNIT_EXPECT_TRUE(test, list_empty(&fs->space.peers));
	KUNIT_EXPECT_TRUE(test, refs_back_to(fake, refs));
}

/* vfio_p2p_space_fini() unregisters every peer before it returns. */
static void p2p_track_space_fini(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;
	unsigned long addr = fake_mmap_region(test, REGION_PFN, 0, 4);
	struct fake_space *fs = fake->fs;
	unsigned int refs = dev_refs(fake);
	LIST_HEAD(owner);

	KUNIT_ASSERT_EQ(test, track_map(fs, addr, TRACK_IOVA,
					4, TRACK_PROT, &owner), 4);
	vfio_p2p_unmap_links(&fs->space, &owner);
	KUNIT_EXPECT_NOT_NULL(test, fake->vdev.p2p.notifier.head);
	vfio_p2p_space_fini(&fs->space);
	KUNIT_EXPECT_NULL(test, fake->vdev.p2p.notifier.head);
	KUNIT_EXPECT_TRUE(test, refs_back_to(fake, refs));
	KUNIT_EXPECT_TRUE(test, list_empty(&fs->space.peers));

	/* The space may map again: a new peer. */
	KUNIT_ASSERT_EQ(test, track_map(fs, addr, TRACK_IOVA,
					4, TRACK_PROT, &owner), 4);
	KUNIT_EXPECT_EQ(test, dev_refs(fake), refs + 1);
	vfio_p2p_unmap_links(&fs->space, &owner);
}

struct fini_race {
	struct notifier_block nb;	/* after the peer's, on the same chain */
	struct fake_vdev *fake;
	struct fake_space *fs;
	struct completion in_release;	/* the chain is inside RELEASE */
	struct completion go;		/* let the chain return */
	struct completion closed;
	struct completion fini_done;
};

static int fini_race_listen(struct notifier_block *nb, unsigned long event,
			    void *data)
{
	struct fini_race *r = container_of(nb, struct fini_race, nb);

	if (event == VFIO_DEVICE_EVENT_RELEASE) {
		complete(&r->in_release);
		wait_for_completion(&r->go);
	}
	return NOTIFY_OK;
}

static int fini_race_close(void *data)
{
	struct fini_race *r = data;

	fake_close(r->fake);
	complete(&r->closed);
	return 0;
}

static int fini_race_fini(void *data)
{
	struct fini_race *r = data;

	vfio_p2p_space_fini(&r->fs->space);
	complete(&r->fini_done);
	return 0;
}

/*
 * A backend frees its space once vfio_p2p_space_fini() returns, so that
 * must wait for a RELEASE callback of a peer that RELEASE already took off
 * the space: the callback may still be unlocking space->lock.  A second
 * listener holds the chain inside RELEASE, after the peer's callback.
 */
static void p2p_track_fini_waits_for_release(struct kunit *test)
{
	struct fake_vdev *fake = test->priv;
	unsigned long addr = fake_mmap_region(test, REGION_PFN, 0, 4);
	struct fini_race r = {
		.nb.notifier_call = fini_race_listen, .fake = fake, .fs = fake->fs,
	};
	struct task_struct *t;
	unsigned long early;
	LIST_HEAD(owner);

	init_completion(&r.in_release);
	init_completion(&r.go);
	init_completion(&r.closed);
	init_completion(&r.fini_done);
	KUNIT_ASSERT_EQ(test, track_map(r.fs, addr, TRACK_IOVA,
					4, TRACK_PROT, &owner), 4);
	vfio_p2p_unmap_links(&r.fs->space, &owner);
	KUNIT_ASSERT_EQ(test, vfio_device_register_notifier(&fake->vdev, &r.nb), 0);

	t = kthread_run(fini_race_close, &r, "p2p-kunit-close");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	if (!wait_for_completion_timeout(&r.in_release, 5 * HZ)) {
		complete(&r.go);
		wait_for_completion(&r.closed);
		vfio_device_unregister_notifier(&fake->vdev, &r.nb);
		KUNIT_FAIL(test, "no RELEASE at the last close");
		return;
	}
	KUNIT_EXPECT_TRUE(test, list_empty(&r.fs->space.peers));

	t = kthread_run(fini_race_fini, &r, "p2p-kunit-fini");
	if (IS_ERR(t)) {
		complete(&r.go);
		wait_for_completion(&r.closed);
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
		return;
	}
	early = wait_for_completion_timeout(&r.fini_done, HZ / 5);
	KUNIT_EXPECT_FALSE_MSG(test, early,
			       "vfio_p2p_space_fini() returned while a RELEASE callback ran");
	complete(&r.go);
	wait_for_completion(&r.closed);
	if (!early)
		KUNIT_EXPECT_TRUE(test, wait_for_completion_timeout(&r.fini_done, 5 * HZ));
	vfio_device_unregister_notifier(&fake->vdev, &r.nb);
}

static struct kunit_case vfio_p2p_track_cases[] = {
	KUNIT_CASE(p2p_track_revoke_restore),
	KUNIT_CASE(p2p_track_release_kills),
	KUNIT_CASE(p2p_track_one_op_per_link),
	KUNIT_CASE(p2p_track_failed_restore_retried),
	KUNIT_CASE(p2p_track_restore_charges_mapper),
	KUNIT_CASE(p2p_track_unmap_live_links),
	KUNIT_CASE(p2p_track_link_limit),
	KUNIT_CASE(p2p_track_reopened_peer),
	KUNIT_CASE(p2p_track_peer_outlives_links),
	KUNIT_CASE(p2p_track_space_fini),
	KUNIT_CASE(p2p_track_fini_waits_for_release),
	KUNIT_CASE(p2p_track_peer_not_kept),
	{}
};

/*
 * The space before the device: cleanup runs in reverse, so the device's
 * last close (RELEASE), when a case stopped early, still finds its space.
 */
static int p2p_track_init(struct kunit *test)
{
	struct fake_space *fs = fake_space_create(test);
	struct fake_vdev *fake = fake_create(test, &fake_ops_with_op);

	fake->fs = fs;
	return 0;
}

static struct kunit_suite vfio_p2p_track_suite = {
	.name = "vfio_p2p_track",
	.init = p2p_track_init,
	.test_cases = vfio_p2p_track_cases,
};

kunit_test_suites(&vfio_p2p_vma_suite, &vfio_p2p_vma_op_suite,
		  &vfio_p2p_track_suite);
