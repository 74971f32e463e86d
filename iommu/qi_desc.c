#include <stdio.h>
#include <string.h>
#include "qi_desc.h"
#include "../lib/bits.h"
#include "../lib/errno.h"

#define PAGE_SHIFT_4K 12

/* Sets one field; a value that does not fit clears the builder's ok. */
#define SET(word, field, value) (ok &= bits_set(&(word), field, (uint64_t)(value)) == 0)

static void start(struct qi_desc *d, unsigned type)
{
    memset(d, 0, sizeof(*d));
    bits_set(&d->qw[0], QI_TYPE_LO, type & 0xf);
    bits_set(&d->qw[0], QI_TYPE_HI, type >> 4);
}

static int addr_ok(uint64_t addr, unsigned am)
{
    return am < 64 - PAGE_SHIFT_4K && !(addr & ((1ul << (PAGE_SHIFT_4K + am)) - 1));
}

int qi_desc_context_cache(struct qi_desc *d, struct qi_context_cache f)
{
    int ok = 1;
    start(d, QI_CONTEXT_CACHE);
    SET(d->qw[0], QI_GRAN, f.gran);
    SET(d->qw[0], QI_DID, f.did);
    SET(d->qw[0], QI_CC_SID, f.sid);
    SET(d->qw[0], QI_CC_FM, f.fm);
    return ok && f.gran ? 0 : -E_RANGE;
}

int qi_desc_iotlb(struct qi_desc *d, struct qi_iotlb f)
{
    int ok = 1;
    start(d, QI_IOTLB);
    SET(d->qw[0], QI_GRAN, f.gran);
    SET(d->qw[0], QI_IOTLB_DR, 1);
    SET(d->qw[0], QI_IOTLB_DW, 1);
    SET(d->qw[0], QI_DID, f.did);
    if (f.gran == QI_IOTLB_PAGE) {
        ok &= addr_ok(f.addr, f.am);
        SET(d->qw[1], QI_ADDR_QW1, f.addr >> PAGE_SHIFT_4K);
        SET(d->qw[1], QI_AM_QW1, f.am);
        SET(d->qw[1], QI_IH_QW1, f.ih ? 1 : 0);
    }
    return ok && f.gran ? 0 : -E_RANGE;
}

int qi_desc_device_tlb(struct qi_desc *d, struct qi_device_tlb f)
{
    int ok = 1;
    start(d, QI_DEVICE_TLB);
    SET(d->qw[0], QI_DEVTLB_PFSID_LO, f.pfsid & 0xf);
    SET(d->qw[0], QI_DEVTLB_PFSID_HI, f.pfsid >> 4);
    SET(d->qw[0], QI_DEVTLB_MIP, f.mip);
    SET(d->qw[0], QI_DEVTLB_SID, f.sid);
    ok &= !(f.addr & ((1ul << PAGE_SHIFT_4K) - 1));
    SET(d->qw[1], QI_ADDR_QW1, f.addr >> PAGE_SHIFT_4K);
    SET(d->qw[1], QI_DEVTLB_S_QW1, f.size ? 1 : 0);
    return ok ? 0 : -E_RANGE;
}

int qi_desc_iec(struct qi_desc *d, struct qi_iec f)
{
    int ok = 1;
    start(d, QI_IEC);
    SET(d->qw[0], QI_IEC_G, f.index_selective ? 1 : 0);
    SET(d->qw[0], QI_IEC_IM, f.im);
    SET(d->qw[0], QI_IEC_IIDX, f.iidx);
    return ok ? 0 : -E_RANGE;
}

int qi_desc_wait(struct qi_desc *d, struct qi_wait f)
{
    int ok = 1;
    start(d, QI_WAIT);
    SET(d->qw[0], QI_WAIT_IF, f.iflag ? 1 : 0);
    SET(d->qw[0], QI_WAIT_SW, f.sw ? 1 : 0);
    SET(d->qw[0], QI_WAIT_FN, f.fn ? 1 : 0);
    SET(d->qw[0], QI_WAIT_DATA, f.status_data);
    ok &= !(f.status_addr & 3); /* a dword-aligned status address */
    SET(d->qw[1], QI_WAIT_ADDR_QW1, f.status_addr >> 2);
    return ok ? 0 : -E_RANGE;
}

int qi_desc_pasid_iotlb(struct qi_desc *d, struct qi_pasid_iotlb f)
{
    int ok = 1;
    start(d, QI_PASID_IOTLB);
    SET(d->qw[0], QI_GRAN, f.gran);
    SET(d->qw[0], QI_DID, f.did);
    SET(d->qw[0], QI_PASID, f.pasid);
    if (f.gran == QI_PIOTLB_PAGE) {
        ok &= addr_ok(f.addr, f.am);
        SET(d->qw[1], QI_ADDR_QW1, f.addr >> PAGE_SHIFT_4K);
        SET(d->qw[1], QI_AM_QW1, f.am);
        SET(d->qw[1], QI_IH_QW1, f.ih ? 1 : 0);
    }
    return ok && (f.gran == QI_PIOTLB_ALL_IN_PASID || f.gran == QI_PIOTLB_PAGE) ? 0 : -E_RANGE;
}

int qi_desc_pasid_cache(struct qi_desc *d, struct qi_pasid_cache f)
{
    int ok = 1;
    start(d, QI_PASID_CACHE);
    SET(d->qw[0], QI_GRAN, f.gran);
    SET(d->qw[0], QI_DID, f.did);
    SET(d->qw[0], QI_PASID, f.pasid);
    return ok && f.gran != 2 ? 0 : -E_RANGE; /* granularity 2 is reserved */
}

int qi_desc_pasid_device_tlb(struct qi_desc *d, struct qi_pasid_device_tlb f)
{
    int ok = 1;
    start(d, QI_PASID_DEVICE_TLB);
    SET(d->qw[0], QI_PDEVTLB_MIP, f.mip);
    SET(d->qw[0], QI_DEVTLB_PFSID_LO, f.pfsid & 0xf);
    SET(d->qw[0], QI_DEVTLB_PFSID_HI, f.pfsid >> 4);
    SET(d->qw[0], QI_PDEVTLB_SID, f.sid);
    SET(d->qw[0], QI_PASID, f.pasid);
    ok &= !(f.addr & ((1ul << PAGE_SHIFT_4K) - 1));
    SET(d->qw[1], QI_ADDR_QW1, f.addr >> PAGE_SHIFT_4K);
    SET(d->qw[1], QI_PDEVTLB_S_QW1, f.size ? 1 : 0);
    SET(d->qw[1], QI_PDEVTLB_G_QW1, f.global ? 1 : 0);
    return ok ? 0 : -E_RANGE;
}

void qi_range_to_mask(uint64_t start, uint64_t end, uint64_t *addr, unsigned *am)
{
    uint64_t first = start >> PAGE_SHIFT_4K, last = (end - 1) >> PAGE_SHIFT_4K;
    unsigned m = 0;
    while ((first >> m) != (last >> m))
        m++;
    *am = m;
    *addr = (first >> m) << (m + PAGE_SHIFT_4K);
}

unsigned qi_desc_type(const struct qi_desc *d)
{
    return (unsigned)(bits_get(d->qw[0], QI_TYPE_LO) | bits_get(d->qw[0], QI_TYPE_HI) << 4);
}

const char *qi_type_name(unsigned type)
{
    switch (type) {
    case QI_CONTEXT_CACHE: return "context-cache";
    case QI_IOTLB: return "IOTLB";
    case QI_DEVICE_TLB: return "device-TLB";
    case QI_IEC: return "interrupt-entry-cache";
    case QI_WAIT: return "wait";
    case QI_PASID_IOTLB: return "PASID-IOTLB";
    case QI_PASID_CACHE: return "PASID-cache";
    case QI_PASID_DEVICE_TLB: return "PASID-device-TLB";
    default: return "unknown";
    }
}

void qi_desc_describe(const struct qi_desc *d, char *buf, size_t size)
{
    const uint64_t q0 = d->qw[0], q1 = d->qw[1];
    unsigned type = qi_desc_type(d);
    unsigned long g = bits_get(q0, QI_GRAN);
    switch (type) {
    case QI_CONTEXT_CACHE:
        snprintf(buf, size, "%s gran %lu DID %lu SID 0x%04lx FM %lu", qi_type_name(type), g,
                 bits_get(q0, QI_DID), bits_get(q0, QI_CC_SID), bits_get(q0, QI_CC_FM));
        break;
    case QI_IOTLB:
        snprintf(buf, size, "%s gran %lu DID %lu addr 0x%lx am %lu ih %lu", qi_type_name(type), g,
                 bits_get(q0, QI_DID), bits_get(q1, QI_ADDR_QW1) << PAGE_SHIFT_4K, bits_get(q1, QI_AM_QW1),
                 bits_get(q1, QI_IH_QW1));
        break;
    case QI_DEVICE_TLB:
        snprintf(buf, size, "%s SID 0x%04lx MIP %lu addr 0x%lx S %lu", qi_type_name(type),
                 bits_get(q0, QI_DEVTLB_SID), bits_get(q0, QI_DEVTLB_MIP),
                 bits_get(q1, QI_ADDR_QW1) << PAGE_SHIFT_4K, bits_get(q1, QI_DEVTLB_S_QW1));
        break;
    case QI_IEC:
        snprintf(buf, size, "%s %s index %lu mask %lu", qi_type_name(type),
                 bits_get(q0, QI_IEC_G) ? "index-selective" : "global", bits_get(q0, QI_IEC_IIDX),
                 bits_get(q0, QI_IEC_IM));
        break;
    case QI_WAIT:
        snprintf(buf, size, "%s%s%s%s status 0x%lx -> 0x%lx", qi_type_name(type), bits_get(q0, QI_WAIT_SW) ? " SW" : "",
                 bits_get(q0, QI_WAIT_IF) ? " IF" : "", bits_get(q0, QI_WAIT_FN) ? " FN" : "",
                 bits_get(q0, QI_WAIT_DATA), bits_get(q1, QI_WAIT_ADDR_QW1) << 2);
        break;
    case QI_PASID_IOTLB:
        snprintf(buf, size, "%s gran %lu DID %lu PASID 0x%lx addr 0x%lx am %lu ih %lu", qi_type_name(type), g,
                 bits_get(q0, QI_DID), bits_get(q0, QI_PASID), bits_get(q1, QI_ADDR_QW1) << PAGE_SHIFT_4K,
                 bits_get(q1, QI_AM_QW1), bits_get(q1, QI_IH_QW1));
        break;
    case QI_PASID_CACHE:
        snprintf(buf, size, "%s gran %lu DID %lu PASID 0x%lx", qi_type_name(type), g, bits_get(q0, QI_DID),
                 bits_get(q0, QI_PASID));
        break;
    case QI_PASID_DEVICE_TLB:
        snprintf(buf, size, "%s SID 0x%04lx PASID 0x%lx addr 0x%lx S %lu G %lu", qi_type_name(type),
                 bits_get(q0, QI_PDEVTLB_SID), bits_get(q0, QI_PASID), bits_get(q1, QI_ADDR_QW1) << PAGE_SHIFT_4K,
                 bits_get(q1, QI_PDEVTLB_S_QW1), bits_get(q1, QI_PDEVTLB_G_QW1));
        break;
    default:
        snprintf(buf, size, "type 0x%x (unknown) 0x%016lx 0x%016lx", type, (unsigned long)q0, (unsigned long)q1);
        break;
    }
}
