/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * nested_l2.h: what both of L2's /init programs share (nested_l2_lib.c):
 * the console protocol L1's script reads (rig/nested/README), finding the
 * devices in L2's sysfs, and driving edu's DMA engine.  nested_l2_init.c
 * is the leg's L2 without an IOMMU, nested_l2_viommu.c the one with
 * QEMU's intel-iommu in L2.
 */
#ifndef NESTED_L2_H
#define NESTED_L2_H

#include <stddef.h>
#include <stdint.h>

#define EDU_VENDOR	0x1234
#define EDU_DEVICE	0x11e8
#define SHM_VENDOR	0x1af4
#define SHM_DEVICE	0x1110

#define EDU_REG_LIVENESS	0x04
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_DMA_START		0x1
#define EDU_DMA_TO_BUS		0x2	/* edu buffer -> bus address */
#define EDU_BUF_ADDR		0x40000ULL
/* QEMU 7.2's edu kills QEMU on a full 4096-byte transfer (rig/guest-run.sh). */
#define DMA_LEN			4095U

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4

/* How many results L2 reported, and how many of them failed. */
extern int n, failed;

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void result(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double uptime(void);
void finish(void) __attribute__((noreturn));
unsigned long sysfs_ulong(const char *dev, const char *attr);
int find_dev(unsigned int vendor, unsigned int device, char *bdf);
int bar_of(const char *bdf, int bar, uint64_t *start, uint64_t *size);
void unbind(const char *bdf);
void edu_w64(void *bar0, unsigned int reg, uint64_t val);
uint64_t edu_r64(void *bar0, unsigned int reg);
int edu_dma(void *bar0, uint64_t src, uint64_t dst, uint32_t len, uint64_t dir);
uint8_t pattern_byte(size_t i, uint32_t seed);
uint64_t fnv1a64(const volatile uint8_t *p, size_t len);
long mismatch(const volatile uint8_t *p, size_t len, uint32_t seed);
void host_expect(uint64_t off, uint32_t seed);
void fault_expect(uint64_t iova, const char *what);
int dma_pattern(void *edu, uint8_t *ram, uint64_t ram_pa, uint64_t dst, uint32_t seed);

#endif /* NESTED_L2_H */
