/* SPDX-License-Identifier: GPL-2.0-only */
/* The bytes the vfio-p2p selftests move by DMA, and their checks. */
#ifndef VFIO_P2P_PATTERN_H
#define VFIO_P2P_PATTERN_H

#include <stddef.h>
#include <stdint.h>

/* A byte pattern that depends on @seed, so stale memory cannot pass for it. */
void vfio_p2p_fill(void *buf, size_t len, uint32_t seed);
/*
 * Index of the first byte that differs from the pattern, or -1 if none.
 * Under make check BREAK=1 (vfio_p2p_break_requested()) it expects wrong
 * bytes, so that every check of a pattern fails.
 */
long vfio_p2p_check(const void *buf, size_t len, uint32_t seed);
uint32_t vfio_p2p_seed(void);
/* Read one byte of every page, so that each is faulted in. */
void vfio_p2p_touch(const void *buf, size_t len);
uint64_t vfio_p2p_fnv1a64(const void *buf, size_t len);

#endif /* VFIO_P2P_PATTERN_H */
