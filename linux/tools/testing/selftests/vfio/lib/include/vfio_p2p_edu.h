/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The driver of QEMU's "edu" device (1234:11e8) for the vfio-p2p
 * selftests, over the mmap of its BAR0: its DMA engine copies between a
 * 4 KiB internal buffer at device address EDU_BUF_ADDR and a bus address,
 * which through vfio is an IOVA of the device's container.
 */
#ifndef VFIO_P2P_EDU_H
#define VFIO_P2P_EDU_H

#include <stdbool.h>
#include <stdint.h>

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8

#define EDU_BUF_ADDR		0x40000ULL
/* QEMU 7.2 kills itself on a full 4096-byte transfer (off by one). */
#define EDU_DMA_MAX		4095U

/*
 * The edu DMA engine.  Both calls start a transfer, wait for it to finish
 * (the engine clears its busy bit) and return 0, or -ETIMEDOUT.  Each call
 * that starts a transfer first waits, as boundedly, for the engine to be
 * idle, since edu drops a start while it is busy: still busy, it programs
 * nothing and returns -EBUSY.
 */
int edu_dma_from_iova(void *edu_bar0, uint64_t iova, uint32_t len);
int edu_dma_to_iova(void *edu_bar0, uint64_t iova, uint32_t len);
/*
 * The same, in two steps: start a transfer of the edu buffer to @iova (the
 * engine performs it 100 ms of QEMU's virtual clock later), then wait for it.
 */
int edu_dma_to_iova_start(void *edu_bar0, uint64_t iova, uint32_t len);
/* Copy @len bytes from @buf_off in the edu buffer to @iova: 0 or -errno. */
int edu_dma_buf_to_iova(void *edu_bar0, uint32_t buf_off, uint64_t iova,
			uint32_t len);
/* Wait for the engine to be idle: 0, or -ETIMEDOUT after 20 s. */
int edu_dma_wait(void *edu_bar0);
/* The edu liveness register: reads back the bitwise NOT of what was written. */
bool edu_alive(void *edu_bar0);

#endif /* VFIO_P2P_EDU_H */
