// SPDX-License-Identifier: GPL-2.0-only
/*
 * The P2P tracker, handed to iommufd.  vfio.ko links against iommufd.ko,
 * so iommufd reaches the tracker (p2p_track.c) through the table below,
 * registered while vfio.ko is loaded, and never through a symbol of ours.
 * What iommufd does with it is in drivers/iommu/iommufd/p2p.c; the model
 * is in Documentation/driver-api/vfio-p2p.rst.
 */
#include <linux/module.h>
#include <linux/vfio.h>
#include <linux/vfio_p2p_iommu.h>

#include "vfio.h"

static const struct vfio_p2p_tracker vfio_p2p_tracker = {
	.owner = THIS_MODULE,
	.vma_check = vfio_vma_p2p_check,
	.space_init = vfio_p2p_space_init,
	.space_fini = vfio_p2p_space_fini,
	.map = vfio_p2p_map,
	.unmap_links = vfio_p2p_unmap_links,
	.range_live = vfio_p2p_range_live,
	.space_retry = vfio_p2p_space_retry,
	.map_live_links = vfio_p2p_map_live_links,
	.unmap_live_links = vfio_p2p_unmap_live_links,
};

void vfio_p2p_iommufd_init(void)
{
	iommufd_p2p_register(&vfio_p2p_tracker);
}

void vfio_p2p_iommufd_exit(void)
{
	iommufd_p2p_unregister(&vfio_p2p_tracker);
}
