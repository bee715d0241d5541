// SPDX-License-Identifier: GPL-2.0-only
/*
 * mslice: mediated devices whose BAR is a slice of a parent device's BAR,
 * chosen when first touched, as vGPU and KVMGT give each user a slice of the
 * GPU's memory.  A sample of a vfio driver whose mmap has no pfn at mmap()
 * time, and so of the vma_to_pfn op that makes such a mapping P2P-capable.
 *
 * The objects
 * -----------
 * parent: one per bound PCI device, QEMU's ivshmem-plain (1af4:1110), whose
 *	BAR2 (its first 256 MiB at most) is carved into 1 MiB units.  Four
 *	aligned units make a block.  The parent is a class device of its own
 *	("mslice", named after the PCI function) under the PCI device, and that
 *	device is what mdev hangs the types and the mdevs off.
 * type: "mslice-1m" (one unit) and "mslice-4m" (one block, aligned).
 * mdev: one vfio device, with
 *	- an emulated PCI config space (vendor 1234, device 5ce1; BAR0 and
 *	  BAR1 size like real BARs; only the memory and bus master bits of the
 *	  command register are writable).  The memory bit, set at creation
 *	  and by VFIO_DEVICE_RESET, decodes BAR0: while it is clear the BAR0
 *	  mmaps are zapped and fault SIGBUS, reads and writes of BAR0 fail with
 *	  EIO, and the IOMMU backends are told DISABLE (ENABLE when it is set
 *	  again), so no P2P mapping of the slice works either;
 *	- BAR0, its slice: read, write and mmap.  The mmap is VM_PFNMAP and
 *	  filled by the fault handler, one page per fault;
 *	- BAR1, a 4 KiB register page, trapped (read and write only), which
 *	  lets the user make the device model read its memory by IOVA, as a
 *	  vGPU's scans a guest's command buffers by GPA (or IOVA under a
 *	  vIOMMU).  Its registers are in mslice.h, the ABI this driver
 *	  shares with its tests.  A PIN is kept, as a vGPU keeps the pages
 *	  of its guest's GTT: up to MSLICE_MAX_PINS, the oldest dropped
 *	  first; the user's UNMAP_DMA of the IOVA (dma_unmap) or the close
 *	  drops it.
 * slice: the units an mdev's BAR0 is.  Chosen at the first fault, the first
 *	vma_to_pfn call from an IOMMU backend or the first read or write of
 *	BAR0, whichever comes first, and kept until the mdev is gone.  It is
 *	not cleared between users (a real driver would): what DMA wrote stays
 *	in the parent's BAR, where the rig's tests look for it.
 *	Nor are the registers and config space reset for a new user.
 * parent reset: a reset of the parent PCI function (its sysfs reset
 *	attribute, or anything else that calls the PCI driver's
 *	reset_prepare and reset_done) takes every mdev's BAR0 away as decode
 *	off does, DISABLE before the parent resets and ENABLE once it is back.
 * removal: mslice has no .request op, so removing an mdev, or unbinding the
 *	parent, waits until the mdev's user closes it (vfio core says so in
 *	the log every 10 s); that last close is where RELEASE goes out.  The
 *	slice comes back a little later, once the IOMMU backend has dropped
 *	its reference too: until then a new mdev may get -ENOSPC.
 *
 * Who holds whom
 * --------------
 *   PCI driver binding --> parent (device reference) --> types
 *   mdev --type kobject--> type --get_device()--> parent
 *   vfio device (the mdev's state) --get_device()--> parent
 *   VMA, P2P tracker --get_device()--> vfio device
 * The parent's memory (types, bitmap) lives until its last device
 * reference is gone, not just until unbind.  The vfio device needs it to
 * the end: its release gives the slice back to the parent's bitmap, and
 * an IOMMU backend may hold the vfio device after the mdev itself is gone
 * (device_del() of the vfio device drops its hold on the mdev at
 * unregister, and the type1 tracker drops its reference from a work
 * item), so each vfio device holds the parent from .init to .release.  Unbind
 * unregisters the mdev parent, which removes every mdev, and each removal
 * waits for the mdev's users to close it; only then does the parent unmap
 * and release the BAR.
 *
 * Capacity
 * --------
 * Slices are placed late, but an mdev that exists must always get one: its
 * fault handler cannot fail for want of space.  So creation reserves
 * capacity and placement keeps the reservations satisfiable.  Free space
 * is F, the blocks with no unit in use, and P, the free units of blocks
 * that hold 1 MiB slices.  With p4 and p1 mdevs of each type not yet
 * placed, the reservations fit when p4 + DIV_ROUND_UP(max(p1 - P, 0), 4)
 * <= F.  A 4 MiB slice takes the first free block, a 1 MiB slice the first
 * free unit of a partly used block, or of a free block when there is none;
 * each placement, and each free, keeps the inequality true.  Creating an
 * mdev that would break it fails with -ENOSPC, and available_instances
 * says how many more of each type fit.
 *
 * Locking
 * -------
 * parent->lock guards the unit bitmap, the counts of unplaced mdevs and
 * every mdev's slice (has_slice, unit).  It is taken under mmap_lock (the
 * fault handler and vma_to_pfn) and under an mdev's regs_lock (a command
 * reads user memory, which may fault on another mdev's BAR0 mmap), and
 * nothing is taken under it.  An mdev's regs_lock guards its config space
 * and registers.  A placed slice never changes until the vfio device is
 * released, so once placement returns, its users need no lock.
 *
 * An mdev's mem_lock (an rwsem, vfio-pci's memory_lock) guards mem_off,
 * why BAR0 does not decode: read for every access (the fault handler and
 * vma_to_pfn under mmap_lock), write to change it, and vfio core's
 * DISABLE and ENABLE go out under it.  So:
 *   pci device lock -> parent->mdevs_lock -> mem_lock (write)
 *   regs_lock -> mem_lock (write) -> vfio core's event lock
 *   mmap_lock -> mem_lock (read) -> parent->lock
 * parent->mdevs_lock guards the parent's list of mdevs and in_reset.  An
 * mdev's pins_lock guards its pins; vfio_pin_pages() and
 * vfio_unpin_pages() run under it (they take the IOMMU backend's lock).
 *
 * The rule
 * --------
 * No IOMMU mapping outlives the memory it points at.  Here: a slice goes
 * back to the parent only when the mdev's vfio device is released, after
 * its last close (where vfio core delivers RELEASE and IOMMU backends tear
 * their mappings of it down) and after every reference a backend holds is
 * dropped, so no new mdev gets a slice that something may still map; and
 * the parent gives up its BAR only after every mdev is gone.
 *
 * Usage
 * -----
 * The driver binds every ivshmem-plain it is offered (the rig keeps its
 * rig.mdev_parent on it and moves the others to vfio-pci).  With P the
 * parent's /sys/class/mdev_bus/<BDF> and U a UUID:
 *
 *   cat $P/mdev_supported_types/mslice-4m/available_instances
 *   echo $U > $P/mdev_supported_types/mslice-4m/create
 *   cat /sys/bus/mdev/devices/$U/mslice/slice_offset	(none until placed)
 *   (a vfio user opens $U, touches or MAP_DMAs BAR0)
 *   cat /sys/bus/mdev/devices/$U/mslice/slice_offset	(e.g. 0x400000)
 *   cat /sys/bus/mdev/devices/$U/mslice/faults		(CPU faults served)
 *   echo 1 > /sys/bus/mdev/devices/$U/remove
 *
 * Byte X of an mdev's BAR0 is byte slice_offset + X of the parent's BAR2.
 */
#include <linux/bitmap.h>
#include <linux/device.h>
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/mdev.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/unaligned.h>
#include <linux/vfio.h>

#include "mslice.h"

#define MSLICE_NAME		"mslice"
#define MSLICE_PARENT_BAR	2
#define MSLICE_UNIT_PAGES	(MSLICE_UNIT >> PAGE_SHIFT)

/* Region offsets in the device fd, as vfio-pci lays them out. */
#define MSLICE_OFFSET_SHIFT	40
#define MSLICE_INDEX(off)	((off) >> MSLICE_OFFSET_SHIFT)
#define MSLICE_OFFSET_MASK	((1ULL << MSLICE_OFFSET_SHIFT) - 1)
#define MSLICE_REGION(index)	((u64)(index) << MSLICE_OFFSET_SHIFT)

#define MSLICE_CONFIG_SIZE	256
#define MSLICE_MAX_PINS		16

/* Why an mdev's BAR0 does not decode (mem_off). */
#define MSLICE_OFF_DECODE	BIT(0)	/* the command register's memory bit */
#define MSLICE_OFF_PARENT	BIT(1)	/* the parent is resetting */

enum { MSLICE_TYPE_1M, MSLICE_TYPE_4M, MSLICE_NR_TYPES };

struct mslice_type {
	struct mdev_type type;
	unsigned int units;
};

struct mslice_parent {
	struct device dev;		/* the mdev parent; its release frees us */
	struct mdev_parent parent;
	struct mslice_type types[MSLICE_NR_TYPES];
	struct mdev_type *type_list[MSLICE_NR_TYPES];
	struct pci_dev *pdev;
	void __iomem *bar;		/* the part of BAR2 we carve */
	unsigned long bar_pfn;
	unsigned int nr_units;		/* a multiple of MSLICE_BLOCK_UNITS */
	struct mutex lock;		/* see "Locking" */
	unsigned long *used;		/* units in use */
	unsigned int unplaced[MSLICE_NR_TYPES];
	struct mutex mdevs_lock;	/* see "Locking" */
	struct list_head mdevs;		/* every mdev's vfio device */
	bool in_reset;			/* between reset_prepare and _done */
};

struct mslice_state {
	struct vfio_device vdev;
	struct mslice_parent *mp;
	struct mslice_type *type;
	/* Under mp->lock. */
	bool has_slice;
	unsigned int unit;		/* the slice's first unit */
	atomic_long_t faults;		/* CPU faults served, for the tests */
	struct list_head node;		/* on mp->mdevs, under mdevs_lock */
	struct rw_semaphore mem_lock;	/* see "Locking" */
	unsigned int mem_off;		/* MSLICE_OFF_*, under mem_lock */
	struct mutex pins_lock;
	unsigned int nr_pins;		/* under pins_lock */
	dma_addr_t pins[MSLICE_MAX_PINS];	/* oldest first, page IOVAs */
	/* Under regs_lock. */
	struct mutex regs_lock;
	u8 config[MSLICE_CONFIG_SIZE];
	u64 iova;
	u32 len;
	s32 status;
	u64 result;
};

static const struct class mslice_class = {
	.name = MSLICE_NAME,
};

static struct mslice_state *to_mslice(struct vfio_device *vdev)
{
	return container_of(vdev, struct mslice_state, vdev);
}

static struct mslice_type *to_mslice_type(struct mdev_type *mtype)
{
	return container_of(mtype, struct mslice_type, type);
}

static struct mslice_parent *type_parent(struct mdev_type *mtype)
{
	return container_of(mtype->parent, struct mslice_parent, parent);
}

static u64 slice_size(struct mslice_state *ms)
{
	return (u64)ms->type->units * MSLICE_UNIT;
}

/*
 * Capacity (see "Capacity" above)
 */

/* How many units of the block starting at unit @b are in use.  Lock held. */
static unsigned int mslice_block_used(struct mslice_parent *mp, unsigned int b)
{
	unsigned int u, used = 0;

	for (u = b; u < b + MSLICE_BLOCK_UNITS; u++)
		used += test_bit(u, mp->used);
	return used;
}

/* Free blocks, and free units of blocks holding 1 MiB slices.  Lock held. */
static void mslice_free_space(struct mslice_parent *mp, unsigned int *blocks,
			      unsigned int *units)
{
	unsigned int b, used;

	lockdep_assert_held(&mp->lock);
	*blocks = 0;
	*units = 0;
	for (b = 0; b < mp->nr_units; b += MSLICE_BLOCK_UNITS) {
		used = mslice_block_used(mp, b);
		if (!used)
			(*blocks)++;
		else
			*units += MSLICE_BLOCK_UNITS - used;
	}
}

/* How many more mdevs of @type fit, besides those not yet placed. */
static unsigned int mslice_available(struct mslice_parent *mp,
				     struct mslice_type *type)
{
	unsigned int blocks, units, p1 = mp->unplaced[MSLICE_TYPE_1M];
	unsigned int p4 = mp->unplaced[MSLICE_TYPE_4M], need;

	mslice_free_space(mp, &blocks, &units);
	need = p4 + DIV_ROUND_UP(p1 > units ? p1 - units : 0, MSLICE_BLOCK_UNITS);
	if (WARN_ON_ONCE(need > blocks))
		return 0;
	if (type->units == MSLICE_BLOCK_UNITS)
		return blocks - need;
	return units + (blocks - p4) * MSLICE_BLOCK_UNITS - p1;
}

/* The first unit of a free slice for @ms; -ENOSPC if none.  Lock held. */
static int mslice_place(struct mslice_parent *mp, struct mslice_state *ms)
{
	unsigned long unit;
	unsigned int b, used;

	if (ms->type->units == MSLICE_BLOCK_UNITS) {
		unit = bitmap_find_next_zero_area(mp->used, mp->nr_units, 0,
						  MSLICE_BLOCK_UNITS,
						  MSLICE_BLOCK_UNITS - 1);
		return unit < mp->nr_units ? unit : -ENOSPC;
	}
	/* One unit: fill blocks that 1 MiB slices already use first. */
	for (b = 0; b < mp->nr_units; b += MSLICE_BLOCK_UNITS) {
		used = mslice_block_used(mp, b);
		if (used && used < MSLICE_BLOCK_UNITS)
			return find_next_zero_bit(mp->used, b + MSLICE_BLOCK_UNITS, b);
	}
	unit = find_first_zero_bit(mp->used, mp->nr_units);
	return unit < mp->nr_units ? unit : -ENOSPC;
}

/*
 * The slice of @ms, placed now if it has none yet: its first pfn.  Called
 * from the fault handler and vma_to_pfn (mmap_lock held) and from region
 * reads and writes.
 */
static int mslice_slice_pfn(struct mslice_state *ms, unsigned long *pfn)
{
	struct mslice_parent *mp = ms->mp;
	int unit, ret = 0;

	mutex_lock(&mp->lock);
	if (!ms->has_slice) {
		unit = mslice_place(mp, ms);
		/* Creation reserved the space: this cannot fail. */
		if (WARN_ON_ONCE(unit < 0)) {
			ret = unit;
			goto out;
		}
		bitmap_set(mp->used, unit, ms->type->units);
		mp->unplaced[ms->type - mp->types]--;
		ms->unit = unit;
		ms->has_slice = true;
		dev_dbg(ms->vdev.dev, "slice at 0x%llx, %u MiB\n",
			(u64)unit * MSLICE_UNIT, ms->type->units);
	}
	*pfn = mp->bar_pfn + ms->unit * MSLICE_UNIT_PAGES;
out:
	mutex_unlock(&mp->lock);
	return ret;
}

/*
 * BAR0 mmap
 */

/* The page of the slice that @addr of @vma maps. */
static unsigned long mslice_vma_pgoff(struct vm_area_struct *vma,
				      unsigned long addr)
{
	unsigned long pgoff = vma->vm_pgoff &
			      (MSLICE_OFFSET_MASK >> PAGE_SHIFT);

	return pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
}

static vm_fault_t mslice_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mslice_state *ms = vfio_vma_driver_data(vma);
	unsigned long pgoff = mslice_vma_pgoff(vma, vmf->address), pfn;

	vm_fault_t ret = VM_FAULT_SIGBUS;

	/* .mmap checked the extent, and the VMA cannot grow. */
	if (pgoff >= slice_size(ms) >> PAGE_SHIFT)
		return VM_FAULT_SIGBUS;
	down_read(&ms->mem_lock);
	if (!ms->mem_off && !mslice_slice_pfn(ms, &pfn)) {
		atomic_long_inc(&ms->faults);
		ret = vmf_insert_pfn(vma, vmf->address, pfn + pgoff);
	}
	up_read(&ms->mem_lock);
	return ret;
}

static const struct vm_operations_struct mslice_vm_ops = {
	.fault = mslice_fault,
};

static int mslice_mmap(struct vfio_device *vdev, struct vm_area_struct *vma)
{
	struct mslice_state *ms = to_mslice(vdev);
	u64 off = ((u64)vma->vm_pgoff << PAGE_SHIFT) & MSLICE_OFFSET_MASK;
	u64 len = vma->vm_end - vma->vm_start;

	if (MSLICE_INDEX((u64)vma->vm_pgoff << PAGE_SHIFT) !=
	    VFIO_PCI_BAR0_REGION_INDEX)
		return -EINVAL;
	if (off >= slice_size(ms) || len > slice_size(ms) - off) {
		dev_notice_ratelimited(vdev->dev,
				       "mmap of BAR0 [0x%llx, 0x%llx) is beyond its %u MiB slice\n",
				       off, off + len, ms->type->units);
		return -EINVAL;
	}
	/* A private mapping would copy device memory into anonymous pages. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;

	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	vma->vm_ops = &mslice_vm_ops;
	vfio_vma_set_driver_data(vma, ms);
	return 0;
}

/*
 * For IOMMU backends: the slice's pfns behind @addr, placing the slice if
 * no one touched it yet.  Never faults.  mmap_lock is held.
 */
static int mslice_vma_to_pfn(struct vfio_device *vdev,
			     struct vm_area_struct *vma, unsigned long addr,
			     unsigned long *pfn, unsigned long *nr_pages)
{
	struct mslice_state *ms = to_mslice(vdev);
	unsigned long pgoff = mslice_vma_pgoff(vma, addr), base;
	unsigned long pages = slice_size(ms) >> PAGE_SHIFT;
	int ret;

	if (pgoff >= pages)
		return -EFAULT;
	down_read(&ms->mem_lock);
	ret = ms->mem_off ? -EIO : mslice_slice_pfn(ms, &base);
	up_read(&ms->mem_lock);
	if (ret)
		return ret;
	*pfn = base + pgoff;
	*nr_pages = pages - pgoff;
	return 0;
}

/*
 * Config space
 */

static void mslice_put32(u8 *p, u32 val)
{
	put_unaligned_le32(val, p);
}

/* Which bits of each config dword the user may write. */
static u32 mslice_config_wmask(struct mslice_state *ms, unsigned int reg)
{
	switch (reg) {
	case PCI_COMMAND:
		return PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	case PCI_BASE_ADDRESS_0:
		return ~(u32)(slice_size(ms) - 1);
	case PCI_BASE_ADDRESS_1:
		return ~(u32)(MSLICE_REGS_SIZE - 1);
	default:
		return 0;
	}
}

static void mslice_config_init(struct mslice_state *ms)
{
	u8 *c = ms->config;

	memset(c, 0, MSLICE_CONFIG_SIZE);
	mslice_put32(c + PCI_VENDOR_ID, MSLICE_DEVICE << 16 | MSLICE_VENDOR);
	/* Decoding, as a vfio-pci device is once open enabled it. */
	mslice_put32(c + PCI_COMMAND, PCI_COMMAND_MEMORY);
	/* Class: memory controller, RAM. */
	mslice_put32(c + PCI_CLASS_REVISION, PCI_CLASS_MEMORY_RAM << 16);
	mslice_put32(c + PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_SPACE_MEMORY |
		     PCI_BASE_ADDRESS_MEM_TYPE_32 |
		     PCI_BASE_ADDRESS_MEM_PREFETCH);
	mslice_put32(c + PCI_BASE_ADDRESS_1, PCI_BASE_ADDRESS_SPACE_MEMORY |
		     PCI_BASE_ADDRESS_MEM_TYPE_32);
	mslice_put32(c + PCI_SUBSYSTEM_VENDOR_ID,
		     MSLICE_DEVICE << 16 | MSLICE_VENDOR);
}

/*
 * Set or clear one reason for BAR0 not to decode.  When BAR0 stops
 * decoding, the IOMMU backends are told before the CPU mappings go and
 * before anything changes; when it decodes again, once it does.
 */
static void mslice_mem_off(struct mslice_state *ms, unsigned int why, bool off)
{
	bool was_on, on;

	down_write(&ms->mem_lock);
	was_on = !ms->mem_off;
	if (off)
		ms->mem_off |= why;
	else
		ms->mem_off &= ~why;
	on = !ms->mem_off;
	if (was_on && !on) {
		vfio_device_mem_update(&ms->vdev, false);
		unmap_mapping_range(ms->vdev.inode->i_mapping, 0, 0, true);
	} else if (!was_on && on) {
		vfio_device_mem_update(&ms->vdev, true);
	}
	up_write(&ms->mem_lock);
}

/* BAR0 decodes as the command register says; regs_lock held. */
static void mslice_decode_update(struct mslice_state *ms)
{
	lockdep_assert_held(&ms->regs_lock);
	mslice_mem_off(ms, MSLICE_OFF_DECODE,
		       !(ms->config[PCI_COMMAND] & PCI_COMMAND_MEMORY));
}

/* Byte by byte, through the write masks; regs_lock held. */
static void mslice_config_write(struct mslice_state *ms, unsigned int pos,
				const u8 *buf, size_t count)
{
	u32 mask;
	u8 m;

	for (; count; count--, pos++, buf++) {
		mask = mslice_config_wmask(ms, pos & ~3);
		m = mask >> (8 * (pos & 3));
		ms->config[pos] = (ms->config[pos] & ~m) | (*buf & m);
	}
	mslice_decode_update(ms);
}

/*
 * BAR1 registers
 */

static int mslice_cmd_sum(struct mslice_state *ms, u64 *result)
{
	u64 iova = ms->iova, h = 0xcbf29ce484222325ULL;
	u32 left = ms->len, n, i;
	u8 *buf;
	int ret = 0;

	if (!left || left > MSLICE_SUM_MAX)
		return -EINVAL;
	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	while (left) {
		n = min_t(u32, left, PAGE_SIZE);
		ret = vfio_dma_rw(&ms->vdev, iova, buf, n, false);
		if (ret)
			break;
		for (i = 0; i < n; i++) {
			h ^= buf[i];
			h *= 0x100000001b3ULL;
		}
		iova += n;
		left -= n;
	}
	kfree(buf);
	if (!ret)
		*result = h;
	return ret;
}

/*
 * Pins, kept across commands (see BAR1)
 */

/* Drop the pins in [@iova, @iova + @length); pins_lock held. */
static void mslice_unpin_range(struct mslice_state *ms, u64 iova, u64 length)
{
	unsigned int i, kept = 0;

	lockdep_assert_held(&ms->pins_lock);
	for (i = 0; i < ms->nr_pins; i++) {
		if (ms->pins[i] >= iova && ms->pins[i] - iova < length)
			vfio_unpin_pages(&ms->vdev, ms->pins[i], 1);
		else
			ms->pins[kept++] = ms->pins[i];
	}
	ms->nr_pins = kept;
}

static void mslice_keep_pin(struct mslice_state *ms, dma_addr_t page_iova)
{
	mutex_lock(&ms->pins_lock);
	if (ms->nr_pins == MSLICE_MAX_PINS) {
		vfio_unpin_pages(&ms->vdev, ms->pins[0], 1);
		memmove(ms->pins, ms->pins + 1,
			(MSLICE_MAX_PINS - 1) * sizeof(ms->pins[0]));
		ms->nr_pins--;
	}
	ms->pins[ms->nr_pins++] = page_iova;
	mutex_unlock(&ms->pins_lock);
}

static int mslice_cmd_pin(struct mslice_state *ms, u64 *result)
{
	dma_addr_t page_iova = ms->iova & PAGE_MASK;
	struct page *page;
	void *va;
	int ret;

	if (!IS_ALIGNED(ms->iova, sizeof(u64)))
		return -EINVAL;
	ret = vfio_pin_pages(&ms->vdev, page_iova, 1, IOMMU_READ, &page);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EFAULT;
	va = kmap_local_page(page);
	*result = *(u64 *)(va + offset_in_page(ms->iova));
	kunmap_local(va);
	mslice_keep_pin(ms, page_iova);
	return 0;
}

/* One register access of @size bytes at @reg; regs_lock held. */
static int mslice_reg_read(struct mslice_state *ms, unsigned int reg,
			   size_t size, u64 *val)
{
	switch (reg) {
	case MSLICE_REG_ID:
		*val = MSLICE_ID;
		break;
	case MSLICE_REG_IOVA:
		*val = ms->iova;
		break;
	case MSLICE_REG_LEN:
		*val = ms->len;
		break;
	case MSLICE_REG_STATUS:
		*val = (u32)ms->status;
		break;
	case MSLICE_REG_RESULT:
		*val = ms->result;
		break;
	default:
		return -EINVAL;
	}
	if (size != (reg == MSLICE_REG_IOVA || reg == MSLICE_REG_RESULT ? 8 : 4))
		return -EINVAL;
	return 0;
}

static int mslice_reg_write(struct mslice_state *ms, unsigned int reg,
			    size_t size, u64 val)
{
	u64 result = 0;

	switch (reg) {
	case MSLICE_REG_IOVA:
		if (size != 8)
			return -EINVAL;
		ms->iova = val;
		return 0;
	case MSLICE_REG_LEN:
		if (size != 4)
			return -EINVAL;
		ms->len = val;
		return 0;
	case MSLICE_REG_CMD:
		if (size != 4)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	switch (val) {
	case MSLICE_CMD_SUM:
		ms->status = mslice_cmd_sum(ms, &result);
		break;
	case MSLICE_CMD_PIN:
		ms->status = mslice_cmd_pin(ms, &result);
		break;
	default:
		ms->status = -EINVAL;
		break;
	}
	ms->result = result;
	return 0;
}

/*
 * Region reads and writes
 */

static ssize_t mslice_bar0_rw(struct mslice_state *ms, char __user *ubuf,
			      size_t count, u64 off, bool write)
{
	unsigned long pfn;
	size_t done = 0, n;
	void __iomem *io;
	u8 *buf;
	int ret;

	if (off >= slice_size(ms))
		return -EINVAL;
	if (!count)
		return 0;
	count = min_t(u64, count, slice_size(ms) - off);
	ret = mslice_slice_pfn(ms, &pfn);
	if (ret)
		return ret;
	io = ms->mp->bar + ((u64)(pfn - ms->mp->bar_pfn) << PAGE_SHIFT) + off;
	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	/* User memory is copied outside mem_lock: it may be a BAR0 mmap. */
	while (done < count) {
		n = min_t(size_t, count - done, PAGE_SIZE);
		if (write && copy_from_user(buf, ubuf + done, n)) {
			ret = -EFAULT;
			break;
		}
		down_read(&ms->mem_lock);
		ret = ms->mem_off ? -EIO : 0;
		if (!ret && write)
			memcpy_toio(io + done, buf, n);
		else if (!ret)
			memcpy_fromio(buf, io + done, n);
		up_read(&ms->mem_lock);
		if (ret)
			break;
		if (!write && copy_to_user(ubuf + done, buf, n)) {
			ret = -EFAULT;
			break;
		}
		done += n;
	}
	kfree(buf);
	return done ? done : ret;
}

/* Registers are little-endian, 4 or 8 bytes. */
static int mslice_get_user_reg(const char __user *ubuf, size_t size, u64 *val)
{
	__le64 v64;
	__le32 v32;

	if (size == 8) {
		if (copy_from_user(&v64, ubuf, 8))
			return -EFAULT;
		*val = le64_to_cpu(v64);
	} else {
		if (copy_from_user(&v32, ubuf, 4))
			return -EFAULT;
		*val = le32_to_cpu(v32);
	}
	return 0;
}

static int mslice_put_user_reg(char __user *ubuf, size_t size, u64 val)
{
	__le64 v64 = cpu_to_le64(val);
	__le32 v32 = cpu_to_le32(val);

	if (size == 8)
		return copy_to_user(ubuf, &v64, 8) ? -EFAULT : 0;
	return copy_to_user(ubuf, &v32, 4) ? -EFAULT : 0;
}

static ssize_t mslice_rw(struct mslice_state *ms, char __user *ubuf,
			 size_t count, loff_t *ppos, bool write)
{
	unsigned int index = MSLICE_INDEX((u64)*ppos);
	u64 off = *ppos & MSLICE_OFFSET_MASK, val = 0;
	u8 buf[MSLICE_CONFIG_SIZE];
	ssize_t ret;

	if (index == VFIO_PCI_BAR0_REGION_INDEX) {
		ret = mslice_bar0_rw(ms, ubuf, count, off, write);
		goto out;
	}
	if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
		if (off >= MSLICE_CONFIG_SIZE)
			return -EINVAL;
		count = min_t(u64, count, MSLICE_CONFIG_SIZE - off);
		if (write && copy_from_user(buf, ubuf, count))
			return -EFAULT;
		mutex_lock(&ms->regs_lock);
		if (write)
			mslice_config_write(ms, off, buf, count);
		else
			memcpy(buf, ms->config + off, count);
		mutex_unlock(&ms->regs_lock);
		if (!write && copy_to_user(ubuf, buf, count))
			return -EFAULT;
		ret = count;
		goto out;
	}
	if (index != VFIO_PCI_BAR1_REGION_INDEX || (count != 4 && count != 8) ||
	    !IS_ALIGNED(off, count) || off >= MSLICE_REGS_SIZE)
		return -EINVAL;
	if (write) {
		ret = mslice_get_user_reg(ubuf, count, &val);
		if (ret)
			return ret;
	}
	mutex_lock(&ms->regs_lock);
	if (write)
		ret = mslice_reg_write(ms, off, count, val);
	else
		ret = mslice_reg_read(ms, off, count, &val);
	mutex_unlock(&ms->regs_lock);
	if (ret)
		return ret;
	if (!write) {
		ret = mslice_put_user_reg(ubuf, count, val);
		if (ret)
			return ret;
	}
	ret = count;
out:
	if (ret > 0)
		*ppos += ret;
	return ret;
}

static ssize_t mslice_read(struct vfio_device *vdev, char __user *buf,
			   size_t count, loff_t *ppos)
{
	return mslice_rw(to_mslice(vdev), buf, count, ppos, false);
}

static ssize_t mslice_write(struct vfio_device *vdev, const char __user *buf,
			    size_t count, loff_t *ppos)
{
	return mslice_rw(to_mslice(vdev), (char __user *)buf, count, ppos, true);
}

/*
 * ioctls
 */

static void mslice_reset(struct mslice_state *ms)
{
	mutex_lock(&ms->regs_lock);
	mslice_config_init(ms);
	mslice_decode_update(ms);
	ms->iova = 0;
	ms->len = 0;
	ms->status = 0;
	ms->result = 0;
	mutex_unlock(&ms->regs_lock);
}

static int mslice_region_info(struct mslice_state *ms,
			      struct vfio_region_info *info)
{
	info->offset = MSLICE_REGION(info->index);
	switch (info->index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		info->size = MSLICE_CONFIG_SIZE;
		info->flags = VFIO_REGION_INFO_FLAG_READ |
			      VFIO_REGION_INFO_FLAG_WRITE;
		break;
	case VFIO_PCI_BAR0_REGION_INDEX:
		info->size = slice_size(ms);
		info->flags = VFIO_REGION_INFO_FLAG_READ |
			      VFIO_REGION_INFO_FLAG_WRITE |
			      VFIO_REGION_INFO_FLAG_MMAP;
		break;
	case VFIO_PCI_BAR1_REGION_INDEX:
		info->size = MSLICE_REGS_SIZE;
		info->flags = VFIO_REGION_INFO_FLAG_READ |
			      VFIO_REGION_INFO_FLAG_WRITE;
		break;
	default:
		if (info->index >= VFIO_PCI_NUM_REGIONS)
			return -EINVAL;
		info->size = 0;
		info->flags = 0;
		break;
	}
	return 0;
}

static long mslice_ioctl(struct vfio_device *vdev, unsigned int cmd,
			 unsigned long arg)
{
	struct mslice_state *ms = to_mslice(vdev);
	void __user *uarg = (void __user *)arg;
	unsigned long minsz;
	int ret;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info info;

		minsz = offsetofend(struct vfio_device_info, num_irqs);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
		info.num_regions = VFIO_PCI_NUM_REGIONS;
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
		ret = mslice_region_info(ms, &info);
		if (ret)
			return ret;
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_RESET:
		mslice_reset(ms);
		return 0;
	}
	return -ENOTTY;
}

/* The user unmaps an IOVA range: drop what PIN kept there. */
static void mslice_dma_unmap(struct vfio_device *vdev, u64 iova, u64 length)
{
	struct mslice_state *ms = to_mslice(vdev);

	mutex_lock(&ms->pins_lock);
	mslice_unpin_range(ms, iova, length);
	mutex_unlock(&ms->pins_lock);
}

/*
 * vfio core starts every session with the memory usable; say so if BAR0
 * does not decode (the config space is kept between users, and the
 * parent may be resetting).
 */
static int mslice_open_device(struct vfio_device *vdev)
{
	struct mslice_state *ms = to_mslice(vdev);

	down_write(&ms->mem_lock);
	if (ms->mem_off)
		vfio_device_mem_update(vdev, false);
	up_write(&ms->mem_lock);
	return 0;
}

/* The last user is gone: drop every pin it left, as kvmgt does. */
static void mslice_close_device(struct vfio_device *vdev)
{
	struct mslice_state *ms = to_mslice(vdev);

	mutex_lock(&ms->pins_lock);
	mslice_unpin_range(ms, 0, U64_MAX);
	mutex_unlock(&ms->pins_lock);
}

/*
 * vfio device life
 */

/* Reserve the slice's space (see "Capacity"); it is placed later. */
static int mslice_init_dev(struct vfio_device *vdev)
{
	struct mslice_state *ms = to_mslice(vdev);
	struct mdev_device *mdev = to_mdev_device(vdev->dev);
	struct mslice_parent *mp = type_parent(mdev->type);
	struct mslice_type *type = to_mslice_type(mdev->type);
	int ret = 0;

	ms->mp = mp;
	ms->type = type;
	mutex_init(&ms->regs_lock);
	mutex_init(&ms->pins_lock);
	init_rwsem(&ms->mem_lock);
	mslice_config_init(ms);

	mutex_lock(&mp->lock);
	if (mslice_available(mp, type))
		mp->unplaced[type - mp->types]++;
	else
		ret = -ENOSPC;
	mutex_unlock(&mp->lock);
	if (ret) {
		mutex_destroy(&ms->pins_lock);
		mutex_destroy(&ms->regs_lock);
		return ret;
	}
	/* mslice_release_dev() needs the parent, which unbind may have let go. */
	get_device(&mp->dev);
	mutex_lock(&mp->mdevs_lock);
	if (mp->in_reset)
		ms->mem_off |= MSLICE_OFF_PARENT;
	list_add_tail(&ms->node, &mp->mdevs);
	mutex_unlock(&mp->mdevs_lock);
	return 0;
}

/*
 * The last reference is gone: no VMA, no fd and no IOMMU backend holds the
 * device any more, so the slice may go to the next mdev (see "The rule").
 */
static void mslice_release_dev(struct vfio_device *vdev)
{
	struct mslice_state *ms = to_mslice(vdev);
	struct mslice_parent *mp = ms->mp;

	mutex_lock(&mp->mdevs_lock);
	list_del(&ms->node);
	mutex_unlock(&mp->mdevs_lock);
	mutex_lock(&mp->lock);
	if (ms->has_slice)
		bitmap_clear(mp->used, ms->unit, ms->type->units);
	else
		mp->unplaced[ms->type - mp->types]--;
	mutex_unlock(&mp->lock);
	mutex_destroy(&ms->pins_lock);
	mutex_destroy(&ms->regs_lock);
	put_device(&mp->dev);
}

static const struct vfio_device_ops mslice_dev_ops = {
	.name = "vfio-mslice",
	.init = mslice_init_dev,
	.release = mslice_release_dev,
	.open_device = mslice_open_device,
	.close_device = mslice_close_device,
	.read = mslice_read,
	.write = mslice_write,
	.ioctl = mslice_ioctl,
	.mmap = mslice_mmap,
	.dma_unmap = mslice_dma_unmap,
	.vma_to_pfn = mslice_vma_to_pfn,
	.bind_iommufd = vfio_iommufd_emulated_bind,
	.unbind_iommufd = vfio_iommufd_emulated_unbind,
	.attach_ioas = vfio_iommufd_emulated_attach_ioas,
	.detach_ioas = vfio_iommufd_emulated_detach_ioas,
};

/*
 * mdev driver
 */

static int mslice_probe(struct mdev_device *mdev)
{
	struct mslice_state *ms;
	int ret;

	ms = vfio_alloc_device(mslice_state, vdev, &mdev->dev, &mslice_dev_ops);
	if (IS_ERR(ms))
		return PTR_ERR(ms);
	ret = vfio_register_emulated_iommu_dev(&ms->vdev);
	if (ret) {
		vfio_put_device(&ms->vdev);
		return ret;
	}
	dev_set_drvdata(&mdev->dev, ms);
	return 0;
}

/*
 * Waits for the mdev's users to close it: RELEASE reaches the IOMMU
 * backends then.  The slice is freed when the last reference goes.
 */
static void mslice_remove(struct mdev_device *mdev)
{
	struct mslice_state *ms = dev_get_drvdata(&mdev->dev);

	vfio_unregister_group_dev(&ms->vdev);
	vfio_put_device(&ms->vdev);
}

static ssize_t slice_offset_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct mslice_state *ms = dev_get_drvdata(dev);
	ssize_t ret;

	mutex_lock(&ms->mp->lock);
	if (ms->has_slice)
		ret = sysfs_emit(buf, "0x%llx\n", (u64)ms->unit * MSLICE_UNIT);
	else
		ret = sysfs_emit(buf, "none\n");
	mutex_unlock(&ms->mp->lock);
	return ret;
}
static DEVICE_ATTR_RO(slice_offset);

static ssize_t slice_size_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct mslice_state *ms = dev_get_drvdata(dev);

	return sysfs_emit(buf, "0x%llx\n", slice_size(ms));
}
static DEVICE_ATTR_RO(slice_size);

/*
 * How many CPU faults of BAR0 mmaps the driver served: an IOMMU backend
 * that resolves the mmap through vma_to_pfn adds none.
 */
static ssize_t faults_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct mslice_state *ms = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%ld\n", atomic_long_read(&ms->faults));
}
static DEVICE_ATTR_RO(faults);

static struct attribute *mslice_mdev_attrs[] = {
	&dev_attr_slice_offset.attr,
	&dev_attr_slice_size.attr,
	&dev_attr_faults.attr,
	NULL,
};

static const struct attribute_group mslice_mdev_group = {
	.name = MSLICE_NAME,
	.attrs = mslice_mdev_attrs,
};

static const struct attribute_group *mslice_mdev_groups[] = {
	&mslice_mdev_group,
	NULL,
};

static unsigned int mslice_get_available(struct mdev_type *mtype)
{
	struct mslice_parent *mp = type_parent(mtype);
	unsigned int n;

	mutex_lock(&mp->lock);
	n = mslice_available(mp, to_mslice_type(mtype));
	mutex_unlock(&mp->lock);
	return n;
}

static ssize_t mslice_show_description(struct mdev_type *mtype, char *buf)
{
	return sysfs_emit(buf, "a %u MiB slice of the parent's BAR%d\n",
			  to_mslice_type(mtype)->units, MSLICE_PARENT_BAR);
}

static struct mdev_driver mslice_mdev_driver = {
	.device_api = VFIO_DEVICE_API_PCI_STRING,
	.driver = {
		.name = MSLICE_NAME,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
		.dev_groups = mslice_mdev_groups,
	},
	.probe = mslice_probe,
	.remove = mslice_remove,
	.get_available = mslice_get_available,
	.show_description = mslice_show_description,
};

/*
 * PCI driver: the parent
 */

static void mslice_parent_release(struct device *dev)
{
	struct mslice_parent *mp = container_of(dev, struct mslice_parent, dev);

	bitmap_free(mp->used);
	mutex_destroy(&mp->mdevs_lock);
	mutex_destroy(&mp->lock);
	kfree(mp);
}

static const char * const mslice_type_names[MSLICE_NR_TYPES] = {
	[MSLICE_TYPE_1M] = "1m",
	[MSLICE_TYPE_4M] = "4m",
};

static int mslice_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	resource_size_t len = pci_resource_len(pdev, MSLICE_PARENT_BAR);
	struct mslice_parent *mp;
	int i, ret;

	if (!(pci_resource_flags(pdev, MSLICE_PARENT_BAR) & IORESOURCE_MEM))
		return -ENODEV;
	len = min_t(resource_size_t, len, MSLICE_MAX_BAR);
	len = round_down(len, MSLICE_BLOCK_UNITS * MSLICE_UNIT);
	if (!len) {
		pci_info(pdev, "BAR%d is too small to carve 4 MiB slices\n",
			 MSLICE_PARENT_BAR);
		return -ENODEV;
	}

	ret = pci_enable_device_mem(pdev);
	if (ret)
		return ret;
	ret = pci_request_region(pdev, MSLICE_PARENT_BAR, MSLICE_NAME);
	if (ret)
		goto err_disable;

	mp = kzalloc(sizeof(*mp), GFP_KERNEL);
	if (!mp) {
		ret = -ENOMEM;
		goto err_release;
	}
	mutex_init(&mp->lock);
	mutex_init(&mp->mdevs_lock);
	INIT_LIST_HEAD(&mp->mdevs);
	mp->pdev = pdev;
	mp->nr_units = len / MSLICE_UNIT;
	mp->bar_pfn = pci_resource_start(pdev, MSLICE_PARENT_BAR) >> PAGE_SHIFT;
	device_initialize(&mp->dev);
	mp->dev.parent = &pdev->dev;
	mp->dev.class = &mslice_class;
	mp->dev.release = mslice_parent_release;
	/* From here on, put_device() frees mp. */
	mp->used = bitmap_zalloc(mp->nr_units, GFP_KERNEL);
	if (!mp->used) {
		ret = -ENOMEM;
		goto err_put;
	}
	mp->bar = pci_iomap_range(pdev, MSLICE_PARENT_BAR, 0, len);
	if (!mp->bar) {
		ret = -ENOMEM;
		goto err_put;
	}
	ret = dev_set_name(&mp->dev, "%s", pci_name(pdev));
	if (ret)
		goto err_unmap;
	ret = device_add(&mp->dev);
	if (ret)
		goto err_unmap;

	for (i = 0; i < MSLICE_NR_TYPES; i++) {
		mp->types[i].type.sysfs_name = mslice_type_names[i];
		mp->types[i].units = i == MSLICE_TYPE_4M ? MSLICE_BLOCK_UNITS : 1;
		mp->type_list[i] = &mp->types[i].type;
	}
	ret = mdev_register_parent(&mp->parent, &mp->dev, &mslice_mdev_driver,
				   mp->type_list, MSLICE_NR_TYPES);
	if (ret)
		goto err_del;
	pci_set_drvdata(pdev, mp);
	pci_info(pdev, "%u MiB of BAR%d in 1 and 4 MiB slices\n",
		 mp->nr_units, MSLICE_PARENT_BAR);
	return 0;

err_del:
	device_del(&mp->dev);
err_unmap:
	pci_iounmap(pdev, mp->bar);
err_put:
	put_device(&mp->dev);
err_release:
	pci_release_region(pdev, MSLICE_PARENT_BAR);
err_disable:
	pci_disable_device(pdev);
	return ret;
}

static void mslice_pci_remove(struct pci_dev *pdev)
{
	struct mslice_parent *mp = pci_get_drvdata(pdev);

	/* Removes every mdev, each once its users have closed it. */
	mdev_unregister_parent(&mp->parent);
	pci_iounmap(pdev, mp->bar);
	pci_release_region(pdev, MSLICE_PARENT_BAR);
	pci_disable_device(pdev);
	/* A type an mdev still holds keeps mp until that mdev is freed. */
	device_unregister(&mp->dev);
}

/*
 * A reset of the parent (pci_reset_function(): its sysfs reset attribute,
 * or a bus reset): every mdev's BAR0 stops decoding first, and decodes
 * again once the parent is restored.  Called under the PCI device lock,
 * which holds off unbind, so the parent is bound throughout.
 */
static void mslice_parent_reset(struct pci_dev *pdev, bool resetting)
{
	struct mslice_parent *mp = pci_get_drvdata(pdev);
	struct mslice_state *ms;

	if (!mp)
		return;
	mutex_lock(&mp->mdevs_lock);
	mp->in_reset = resetting;
	list_for_each_entry(ms, &mp->mdevs, node)
		mslice_mem_off(ms, MSLICE_OFF_PARENT, resetting);
	mutex_unlock(&mp->mdevs_lock);
	pci_info(pdev, "reset %s: mdev memory %s\n",
		 resetting ? "begins" : "done", resetting ? "revoked" : "restored");
}

static void mslice_reset_prepare(struct pci_dev *pdev)
{
	mslice_parent_reset(pdev, true);
}

static void mslice_reset_done(struct pci_dev *pdev)
{
	mslice_parent_reset(pdev, false);
}

static const struct pci_error_handlers mslice_err_handlers = {
	.reset_prepare = mslice_reset_prepare,
	.reset_done = mslice_reset_done,
};

static const struct pci_device_id mslice_pci_ids[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110) },	/* ivshmem */
	{ }
};
MODULE_DEVICE_TABLE(pci, mslice_pci_ids);

static struct pci_driver mslice_pci_driver = {
	.name = MSLICE_NAME,
	.id_table = mslice_pci_ids,
	.probe = mslice_pci_probe,
	.remove = mslice_pci_remove,
	.err_handler = &mslice_err_handlers,
};

static int __init mslice_init(void)
{
	int ret;

	ret = class_register(&mslice_class);
	if (ret)
		return ret;
	ret = mdev_register_driver(&mslice_mdev_driver);
	if (ret)
		goto err_class;
	ret = pci_register_driver(&mslice_pci_driver);
	if (ret)
		goto err_mdev;
	return 0;

err_mdev:
	mdev_unregister_driver(&mslice_mdev_driver);
err_class:
	class_unregister(&mslice_class);
	return ret;
}

static void __exit mslice_exit(void)
{
	pci_unregister_driver(&mslice_pci_driver);
	mdev_unregister_driver(&mslice_mdev_driver);
	class_unregister(&mslice_class);
}

module_init(mslice_init);
module_exit(mslice_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Mediated devices on slices of a parent BAR, mapped at first touch");
