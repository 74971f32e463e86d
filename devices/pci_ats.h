/* The PCIe ATS extended capability (PCIe base spec 10.5.1): whether a
 * function may send translation requests and cache what they return (its
 * address-translation cache, which the IOMMU calls a device-TLB). Pure
 * encoders over the two 16-bit registers: host-tested; devices/pci.c
 * reads and writes them. */
#ifndef VTDLAB_DEVICES_PCI_ATS_H
#define VTDLAB_DEVICES_PCI_ATS_H

#include <stdint.h>

#define PCI_ATS_CAP            4       /* offsets in the capability */
#define PCI_ATS_CTRL           6
#define ATS_CAP_INV_QDEPTH     4, 0    /* 0: 32 invalidations outstanding */
#define ATS_CAP_PAGE_ALIGNED   5, 5    /* requests are page-aligned */
#define ATS_CTRL_STU           4, 0    /* smallest translation unit: 2^(STU + 12) bytes */
#define ATS_CTRL_ENABLE        15, 15
#define ATS_STU_BASE_SHIFT     12

/* The control value that enables ATS with translations of at least
 * 2^page_shift bytes (the smallest page the IOMMU's tables map, as Linux
 * gives the VT-d unit's 4 KiB): -E_RANGE below 4 KiB or past what STU
 * holds. */
int pci_ats_control(unsigned page_shift, uint16_t *ctrl);

#endif
