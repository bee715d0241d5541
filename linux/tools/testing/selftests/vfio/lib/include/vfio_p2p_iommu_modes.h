/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one generator of IOMMU-mode variants: a fixture whose
 * FIXTURE_VARIANT has an int iommu_type, passed to vfio_p2p_ctx_open(),
 * gets one variant per mode, so that each of its TEST_Fs runs under type1,
 * type1v2 and iommufd (cdev + IOAS): #define VFIO_P2P_MODES_FIXTURE to
 * the fixture's name, then include this header.
 *
 * A fixture whose tests do not depend on what type1 and type1v2 tell apart
 * (the unmap semantics of VFIO_TYPE1v2_IOMMU; the BAR is mapped the same
 * way by both) may leave type1 (v1) out to save run time: #define
 * VFIO_P2P_MODES_NO_TYPE1 too, and say so in the test's header comment.
 *
 * A new mode is added here, and every such fixture runs it.  Included once
 * per fixture, so it has no include guard.
 */
#include <linux/vfio.h>

#include "vfio_p2p_iommufd.h"

#ifndef VFIO_P2P_MODES_FIXTURE
#error "define VFIO_P2P_MODES_FIXTURE to the fixture's name first"
#endif

/* FIXTURE_VARIANT_ADD pastes its arguments: expand the name first. */
#define VFIO_P2P_MODE_VARIANT(fixture, mode) FIXTURE_VARIANT_ADD(fixture, mode)

#ifndef VFIO_P2P_MODES_NO_TYPE1
VFIO_P2P_MODE_VARIANT(VFIO_P2P_MODES_FIXTURE, type1) {
	.iommu_type = VFIO_TYPE1_IOMMU,
};
#endif

VFIO_P2P_MODE_VARIANT(VFIO_P2P_MODES_FIXTURE, type1v2) {
	.iommu_type = VFIO_TYPE1v2_IOMMU,
};

VFIO_P2P_MODE_VARIANT(VFIO_P2P_MODES_FIXTURE, iommufd) {
	.iommu_type = VFIO_P2P_IOMMUFD,
};

#undef VFIO_P2P_MODE_VARIANT
#undef VFIO_P2P_MODES_FIXTURE
#undef VFIO_P2P_MODES_NO_TYPE1
