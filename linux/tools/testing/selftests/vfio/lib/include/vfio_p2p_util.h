/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The vfio-p2p selftest library, for the tests and the demo: this header
 * includes each of its parts.
 *
 * The rig's guest has two assignable PCI devices behind an emulated Intel
 * IOMMU, both bound to vfio-pci:
 *
 *  - QEMU's "edu" device (1234:11e8), whose DMA engine copies between a 4 KiB
 *    internal buffer at device address 0x40000 and any bus address.  Through
 *    vfio, that bus address is an IOVA of the container: the engine is how a
 *    test makes a device do DMA to whatever type1 mapped.
 *  - ivshmem-plain (1af4:1110), whose BAR2 is host memory shared with a file
 *    on the host.  Its BAR2 mmap is the peer BAR that P2P DMA targets; what
 *    lands in it can be read back in the guest through the mmap and on the
 *    host in the backing file.
 *
 * A test opens both devices' groups into one type1 container, maps anonymous
 * memory and the BAR2 mmap at IOVAs of its choosing, and moves bytes through
 * the edu buffer: RAM -> edu -> BAR and BAR -> edu -> RAM.
 *
 * The parts, by concept (as upstream's tools/testing/selftests/vfio/lib):
 *
 *  - vfio_p2p_device.h: find a device, open it (PCI function or mdev, by
 *    group or cdev), its regions, mmaps and PCI command register;
 *  - vfio_p2p_iommu.h: the IOMMU modes' containers (type1, type1v2, and
 *    iommufd in vfio_p2p_iommufd.h) and their map and unmap;
 *    vfio_p2p_iommu_modes.h generates a fixture's variants, one a mode;
 *  - vfio_p2p_edu.h: the edu driver (lib/drivers/edu.c); the test IOMMU's
 *    client has its own, vfio_p2p_test_iommu.h (lib/drivers/test_iommu.c);
 *  - vfio_p2p_pattern.h: the byte patterns DMA moves, and their checks;
 *  - vfio_p2p_ctx.h: the usual setup of a test, edu and ivshmem in one
 *    container with RAM mapped;
 *  - vfio_p2p_rig.h: what only the rig gives: the host-side check of the
 *    ivshmem backing file, the kernel log, sysfs, who holds a busy group,
 *    and make check BREAK=1.
 *
 * Functions return 0 or -errno and never exit, so a harness test can report
 * what failed.
 */
#ifndef VFIO_P2P_UTIL_H
#define VFIO_P2P_UTIL_H

#include "vfio_p2p_device.h"
#include "vfio_p2p_iommu.h"
#include "vfio_p2p_iommufd.h"
#include "vfio_p2p_edu.h"
#include "vfio_p2p_pattern.h"
#include "vfio_p2p_ctx.h"
#include "vfio_p2p_rig.h"

#endif /* VFIO_P2P_UTIL_H */
