# SPDX-License-Identifier: GPL-2.0-only
# The vfio-p2p selftest library, split by concept as upstream's lib/ is:
# devices, the IOMMU modes, the drivers of the rig's devices, the usual
# setup, and the rig's own hooks.  Every program links all of it.
VFIO_P2P_LIB := $(selfdir)/vfio/lib

LIBVFIO_P2P_C := vfio_p2p_device.c vfio_p2p_iommu.c vfio_p2p_iommufd.c \
		 vfio_p2p_pattern.c vfio_p2p_ctx.c vfio_p2p_rig.c \
		 drivers/edu.c drivers/test_iommu.c
LIBVFIO_P2P_O := $(patsubst %.c,$(OUTPUT)/lib/%.o,$(LIBVFIO_P2P_C))
LIBVFIO_P2P_H := $(wildcard $(VFIO_P2P_LIB)/include/*.h)

CFLAGS += -I$(VFIO_P2P_LIB)/include

$(LIBVFIO_P2P_O): $(OUTPUT)/lib/%.o: $(VFIO_P2P_LIB)/%.c $(LIBVFIO_P2P_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) $(TARGET_ARCH) -c $< -o $@

EXTRA_CLEAN += $(LIBVFIO_P2P_O)
