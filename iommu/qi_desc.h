/* Invalidation queue descriptors (VT-d spec 6.5.2): pure builders that
 * refuse a field value that does not fit, and a decoder for trace=qi.
 * 128-bit descriptors use qw[0..1]; 256-bit ones (scalable mode) add two
 * qwords that are zero for every type built here. */
#ifndef VTDLAB_IOMMU_QI_DESC_H
#define VTDLAB_IOMMU_QI_DESC_H

#include <stddef.h>
#include <stdint.h>

struct qi_desc { uint64_t qw[4]; };
_Static_assert(sizeof(struct qi_desc) == 32, "room for a 256-bit descriptor");
#define QI_DESC_128 16
#define QI_DESC_256 32

enum qi_type {
    QI_CONTEXT_CACHE = 0x1, QI_IOTLB = 0x2, QI_DEVICE_TLB = 0x3, QI_IEC = 0x4, QI_WAIT = 0x5,
    QI_PASID_IOTLB = 0x6, QI_PASID_CACHE = 0x7, QI_PASID_DEVICE_TLB = 0x8,
};

/* Field positions [hi, lo]: qword 0 unless named _QW1. */
#define QI_TYPE_LO          3, 0
#define QI_TYPE_HI          11, 9
#define QI_GRAN             5, 4
#define QI_DID              31, 16
#define QI_CC_SID           47, 32
#define QI_CC_FM            49, 48
#define QI_IOTLB_DW         6, 6
#define QI_IOTLB_DR         7, 7
#define QI_ADDR_QW1         63, 12
#define QI_IH_QW1           6, 6
#define QI_AM_QW1           5, 0
#define QI_DEVTLB_PFSID_LO  15, 12
#define QI_DEVTLB_MIP       20, 16
#define QI_DEVTLB_SID       47, 32
#define QI_DEVTLB_PFSID_HI  63, 52
#define QI_DEVTLB_S_QW1     0, 0
#define QI_IEC_G            4, 4
#define QI_IEC_IM           31, 27
#define QI_IEC_IIDX         47, 32
#define QI_WAIT_IF          4, 4
#define QI_WAIT_SW          5, 5
#define QI_WAIT_FN          6, 6
#define QI_WAIT_PD          7, 7
#define QI_WAIT_DATA        63, 32
#define QI_WAIT_ADDR_QW1    63, 2
#define QI_PASID            51, 32
#define QI_PDEVTLB_MIP      8, 4
#define QI_PDEVTLB_SID      31, 16
#define QI_PDEVTLB_G_QW1    0, 0
#define QI_PDEVTLB_S_QW1    11, 11

/* Granularities */
enum { QI_CC_GLOBAL = 1, QI_CC_DOMAIN = 2, QI_CC_DEVICE = 3 };
enum { QI_IOTLB_GLOBAL = 1, QI_IOTLB_DOMAIN = 2, QI_IOTLB_PAGE = 3 };
enum { QI_PIOTLB_ALL_IN_PASID = 2, QI_PIOTLB_PAGE = 3 };
enum { QI_PC_DOMAIN = 0, QI_PC_PASID = 1, QI_PC_GLOBAL = 3 };

/* Each builder takes its descriptor's fields by name, e.g.
 * qi_desc_iotlb(&d, (struct qi_iotlb){ .gran = QI_IOTLB_PAGE, .did = did,
 * .addr = iova, .am = am }); a field left out is zero. Every builder
 * returns 0, or -E_RANGE when a value does not fit its field (or an
 * address is not aligned for its mask). */
/* Context-cache invalidation (6.5.2.1); sid and fm for device granularity. */
struct qi_context_cache { unsigned gran; uint16_t did, sid; unsigned fm; };
/* IOTLB invalidation (6.5.2.3); addr, am (2^am pages) and ih (invalidation
 * hint: leaf entries only) for page granularity. */
struct qi_iotlb { unsigned gran; uint16_t did; uint64_t addr; unsigned am; int ih; };
/* Device-TLB invalidation (6.5.2.5); size: the S bit. */
struct qi_device_tlb { uint16_t sid, pfsid; unsigned mip; uint64_t addr; int size; };
/* Interrupt-entry-cache invalidation (6.5.2.7): global, or index-selective
 * over 2^im entries from iidx. */
struct qi_iec { int index_selective; unsigned iidx, im; };
/* Invalidation wait (6.5.2.8): sw writes status_data to status_addr,
 * iflag raises the completion interrupt, fn fences later descriptors. */
struct qi_wait { uint64_t status_addr; uint32_t status_data; int sw, iflag, fn; };
/* PASID-based IOTLB invalidation (6.5.2.4); addr, am and ih for page
 * granularity. */
struct qi_pasid_iotlb { unsigned gran; uint16_t did; uint32_t pasid; uint64_t addr; unsigned am; int ih; };
/* PASID-cache invalidation (6.5.2.2). */
struct qi_pasid_cache { unsigned gran; uint16_t did; uint32_t pasid; };
/* PASID-based device-TLB invalidation (6.5.2.6); global: the G bit. */
/* The address that with the S bit names every address of a device-TLB
 * (VT-d spec 6.5.2.5: bits 62:12 all ones, bit 63 clear). */
#define QI_DEVTLB_ALL_ADDR 0x7ffffffffffff000ul
struct qi_pasid_device_tlb { uint16_t sid, pfsid; uint32_t pasid; unsigned mip; uint64_t addr; int size, global; };

int qi_desc_context_cache(struct qi_desc *d, struct qi_context_cache f);
int qi_desc_iotlb(struct qi_desc *d, struct qi_iotlb f);
int qi_desc_device_tlb(struct qi_desc *d, struct qi_device_tlb f);
int qi_desc_iec(struct qi_desc *d, struct qi_iec f);
int qi_desc_wait(struct qi_desc *d, struct qi_wait f);
int qi_desc_pasid_iotlb(struct qi_desc *d, struct qi_pasid_iotlb f);
int qi_desc_pasid_cache(struct qi_desc *d, struct qi_pasid_cache f);
int qi_desc_pasid_device_tlb(struct qi_desc *d, struct qi_pasid_device_tlb f);

/* The naturally aligned block of 2^am 4 KiB pages that covers [start, end):
 * what a page-selective invalidation of that range must name. */
void qi_range_to_mask(uint64_t start, uint64_t end, uint64_t *addr, unsigned *am);

unsigned qi_desc_type(const struct qi_desc *d);
const char *qi_type_name(unsigned type);
/* "IOTLB page DID 1 addr 0x40000000 am 0 ih 0" */
void qi_desc_describe(const struct qi_desc *d, char *buf, size_t size);

#endif
