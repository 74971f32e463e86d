/* ACPI DMA Remapping Reporting table (VT-d spec chapter 8). Pure parser:
 * it reads only what the table's own lengths allow, never past them, and
 * records every structure it rejects or skips as a problem in words. */
#ifndef VTDLAB_IOMMU_DMAR_H
#define VTDLAB_IOMMU_DMAR_H

#include <stddef.h>
#include <stdint.h>

/* DMAR header: the SDT header, then host address width and flags. */
#define DMAR_HAW_OFFSET          36
#define DMAR_FLAGS_OFFSET        37
#define DMAR_STRUCTS_OFFSET      48
#define DMAR_FLAG_INTR_REMAP     (1u << 0)
#define DMAR_FLAG_X2APIC_OPT_OUT (1u << 1)
#define DMAR_FLAG_DMA_CTRL_OPT_IN (1u << 2)

/* Remapping structure types (8.2). */
enum dmar_type {
    DMAR_TYPE_DRHD = 0, DMAR_TYPE_RMRR = 1, DMAR_TYPE_ATSR = 2,
    DMAR_TYPE_RHSA = 3, DMAR_TYPE_ANDD = 4, DMAR_TYPE_SATC = 5,
};
#define DMAR_STRUCT_HEADER     4   /* type (2), length (2) */
#define DMAR_STRUCT_LENGTH     2   /* offset of the length field */
/* Byte offsets of the fields each structure type has (8.3-8.8). */
#define DMAR_DRHD_FLAGS        4
#define DMAR_DRHD_SIZE         5
#define DMAR_DRHD_SEGMENT      6
#define DMAR_DRHD_BASE         8
#define DMAR_RMRR_SEGMENT      6
#define DMAR_RMRR_BASE         8
#define DMAR_RMRR_LIMIT        16
#define DMAR_PORTS_FLAGS       4   /* ATSR and SATC */
#define DMAR_PORTS_SEGMENT     6
#define DMAR_RHSA_BASE         8
#define DMAR_RHSA_DOMAIN       16
#define DMAR_SCOPE_TYPE        0
#define DMAR_SCOPE_LENGTH      1
#define DMAR_SCOPE_ENUM_ID     4
#define DMAR_SCOPE_START_BUS   5
#define DMAR_DRHD_SCOPES       16  /* where each type's device scopes start */
#define DMAR_RMRR_SCOPES       24
#define DMAR_ATSR_SCOPES       8
#define DMAR_SATC_SCOPES       8
#define DMAR_RHSA_LENGTH       20
#define DMAR_ANDD_MIN_LENGTH   8
#define DMAR_DRHD_INCLUDE_PCI_ALL (1u << 0)
#define DMAR_DRHD_SIZE_MASK       0xfu   /* register set size: bits 3:0 */
#define DMAR_ATSR_ALL_PORTS       (1u << 0)
#define DMAR_SATC_ATC_REQUIRED    (1u << 0)

/* Device scope (8.3): type, length, flags, reserved, enumeration ID, start
 * bus, then (device, function) pairs from the start bus down. */
enum dmar_scope_type {
    DMAR_SCOPE_PCI_ENDPOINT = 1, DMAR_SCOPE_PCI_SUBHIERARCHY = 2, DMAR_SCOPE_IOAPIC = 3,
    DMAR_SCOPE_HPET = 4, DMAR_SCOPE_ACPI_NAMESPACE = 5,
};
#define DMAR_SCOPE_HEADER 6
#define DMAR_MAX_PATH     8
#define DMAR_MAX_SCOPES   16
#define DMAR_MAX_UNITS    8
#define DMAR_MAX_RMRR     8
#define DMAR_MAX_OTHER    8
#define DMAR_MAX_PROBLEMS 8
#define DMAR_PROBLEM_LEN  96

struct dmar_scope {
    uint8_t type, enumeration_id, start_bus, path_len;
    struct { uint8_t device, function; } path[DMAR_MAX_PATH];
};

struct dmar_scopes {
    unsigned count;
    struct dmar_scope s[DMAR_MAX_SCOPES];
};

struct dmar_drhd {
    uint64_t base;
    uint16_t segment;
    uint8_t flags;
    uint8_t size;            /* register set: 2^size 4 KiB pages */
    struct dmar_scopes scopes;
};

struct dmar_rmrr {
    uint16_t segment;
    uint64_t base, limit;
    struct dmar_scopes scopes;
};

/* ATSR and SATC share a shape: segment, flags, scopes. */
struct dmar_port_list {
    uint16_t segment;
    uint8_t flags;
    struct dmar_scopes scopes;
};

struct dmar_rhsa {
    uint64_t base;
    uint32_t proximity_domain;
};

/* ACPI name-space device declaration (8.7): the enumeration id a device
 * scope of type ACPI_NAMESPACE names, and the device's ACPI path. */
#define DMAR_ANDD_DEVICE   7
#define DMAR_ANDD_NAME     8
#define DMAR_ANDD_NAME_MAX 64
struct dmar_andd {
    uint8_t device_number;
    char name[DMAR_ANDD_NAME_MAX];   /* cut to fit, always terminated */
};

struct dmar_info {
    uint8_t host_address_width;   /* the table's field + 1 */
    uint8_t flags;
    unsigned ndrhd, nrmrr, natsr, nrhsa, nsatc, nandd, nunknown;
    struct dmar_drhd drhd[DMAR_MAX_UNITS];
    struct dmar_rmrr rmrr[DMAR_MAX_RMRR];
    struct dmar_port_list atsr[DMAR_MAX_OTHER];
    struct dmar_rhsa rhsa[DMAR_MAX_OTHER];
    struct dmar_port_list satc[DMAR_MAX_OTHER];
    struct dmar_andd andd[DMAR_MAX_OTHER];
    unsigned nproblems;
    char problems[DMAR_MAX_PROBLEMS][DMAR_PROBLEM_LEN];
};

/* Parses len bytes of a DMAR table (signature and checksum already
 * checked by the caller). Returns 0, or -E_INVAL when the table is too
 * short to hold its own header; problems with single structures are
 * recorded in out->problems and the walk goes on where it safely can. */
int dmar_parse(const void *table, size_t len, struct dmar_info *out);

/* The unit a device belongs to (VT-d spec 8.3.2): the unit of its segment
 * whose device scopes cover it (covers() walks a scope's path, which needs
 * the PCI topology), else its segment's INCLUDE_PCI_ALL unit. The index in
 * d->drhd, or -1 when no unit covers the device. */
int dmar_unit_for(const struct dmar_info *d, uint16_t segment,
                  int (*covers)(const struct dmar_scope *s, const void *device), const void *device);
const char *dmar_scope_type_name(uint8_t type);
/* The parsed table in words, a line at a time (the boot report and the
 * host decoder both print these): units and their scopes, RMRRs, ATSRs,
 * SATCs, RHSAs, ANDDs, problems. */
void dmar_describe(const struct dmar_info *d, void (*line)(const char *));

/* An RMRR's range is 4 KiB aligned (VT-d spec 8.4: base aligned, limit + 1
 * aligned) and not inverted: the only kind that can be mapped 1:1. */
#define DMAR_RMRR_ALIGN 4096u
int dmar_rmrr_aligned(const struct dmar_rmrr *r);
/* Whether any RMRR of d is in this PCI segment. */
int dmar_segment_has_rmrr(const struct dmar_info *d, uint16_t segment);

#endif
