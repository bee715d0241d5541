// SPDX-License-Identifier: GPL-2.0-only
/* The byte patterns of the vfio-p2p selftests: see vfio_p2p_pattern.h. */
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "vfio_p2p_pattern.h"
#include "vfio_p2p_rig.h"

static uint8_t pattern_byte(size_t i, uint32_t seed)
{
	uint32_t x = seed ^ (uint32_t)(i * 2654435761U);

	x ^= x >> 15;
	x *= 0x2c1b3c6dU;
	x ^= x >> 12;
	return x & 0xff;
}

void vfio_p2p_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern_byte(i, seed);
}

long vfio_p2p_check(const void *buf, size_t len, uint32_t seed)
{
	const uint8_t *p = buf;
	uint8_t flip = vfio_p2p_break_requested() ? 1 : 0;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (uint8_t)(pattern_byte(i, seed) ^ flip))
			return (long)i;
	return -1;
}

void vfio_p2p_touch(const void *buf, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += getpagesize())
		(void)__atomic_load_n((const uint8_t *)buf + off, __ATOMIC_RELAXED);
}

uint32_t vfio_p2p_seed(void)
{
	static uint32_t counter;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(ts.tv_nsec ^ (ts.tv_sec << 20) ^ (getpid() << 8)) +
	       ++counter * 0x9e3779b9U;
}

uint64_t vfio_p2p_fnv1a64(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
