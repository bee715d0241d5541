// SPDX-License-Identifier: GPL-2.0-only
/* The edu driver of the vfio-p2p selftests: see vfio_p2p_edu.h. */
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "vfio_p2p_edu.h"

#define EDU_REG_LIVENESS	0x04
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_DMA_START		0x1
#define EDU_DMA_TO_IOVA		0x2	/* edu buffer -> bus address */

/*
 * Register accesses must reach the device as single accesses of their size
 * and must not be merged or elided: relaxed atomics give exactly that.
 */
static void edu_w64(void *bar0, unsigned int reg, uint64_t val)
{
	__atomic_store_n((uint64_t *)((char *)bar0 + reg), val, __ATOMIC_RELAXED);
}

static uint64_t edu_r64(void *bar0, unsigned int reg)
{
	return __atomic_load_n((uint64_t *)((char *)bar0 + reg), __ATOMIC_RELAXED);
}

/*
 * edu ignores every write of its DMA registers while a transfer runs: a
 * start then does nothing, silently.  So wait for the engine to be idle
 * before programming it; still busy after edu_dma_wait()'s bound, fail.
 */
static int edu_dma_start(void *bar0, uint64_t src, uint64_t dst, uint32_t len,
			 uint64_t dir)
{
	if (len == 0 || len > EDU_DMA_MAX)
		return -EINVAL;
	if (edu_dma_wait(bar0))
		return -EBUSY;
	edu_w64(bar0, EDU_REG_DMA_SRC, src);
	edu_w64(bar0, EDU_REG_DMA_DST, dst);
	edu_w64(bar0, EDU_REG_DMA_COUNT, len);
	edu_w64(bar0, EDU_REG_DMA_CMD, EDU_DMA_START | dir);
	return 0;
}

int edu_dma_wait(void *bar0)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	/* The engine runs off a 100 ms QEMU timer; allow for a slow TCG guest. */
	while (edu_r64(bar0, EDU_REG_DMA_CMD) & EDU_DMA_START) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 20)
			return -ETIMEDOUT;
		usleep(2000);
	}
	return 0;
}

static int edu_dma(void *bar0, uint64_t src, uint64_t dst, uint32_t len,
		   uint64_t dir)
{
	int ret = edu_dma_start(bar0, src, dst, len, dir);

	return ret ? ret : edu_dma_wait(bar0);
}

int edu_dma_from_iova(void *edu_bar0, uint64_t iova, uint32_t len)
{
	return edu_dma(edu_bar0, iova, EDU_BUF_ADDR, len, 0);
}

int edu_dma_to_iova(void *edu_bar0, uint64_t iova, uint32_t len)
{
	return edu_dma(edu_bar0, EDU_BUF_ADDR, iova, len, EDU_DMA_TO_IOVA);
}

int edu_dma_buf_to_iova(void *edu_bar0, uint32_t buf_off, uint64_t iova,
			uint32_t len)
{
	if (buf_off >= EDU_DMA_MAX || len > EDU_DMA_MAX - buf_off)
		return -EINVAL;
	return edu_dma(edu_bar0, EDU_BUF_ADDR + buf_off, iova, len, EDU_DMA_TO_IOVA);
}

int edu_dma_to_iova_start(void *edu_bar0, uint64_t iova, uint32_t len)
{
	return edu_dma_start(edu_bar0, EDU_BUF_ADDR, iova, len, EDU_DMA_TO_IOVA);
}

bool edu_alive(void *edu_bar0)
{
	uint32_t *reg = (uint32_t *)((char *)edu_bar0 + EDU_REG_LIVENESS);

	__atomic_store_n(reg, 0x12345678U, __ATOMIC_RELAXED);
	return __atomic_load_n(reg, __ATOMIC_RELAXED) == (uint32_t)~0x12345678U;
}
