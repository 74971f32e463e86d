#include <stdio.h>
#include "cap_reg.h"

#define FIELD_LINE 160

const struct vtd_field vtd_cap_fields[] = {
    { "ND", 2, 0, "number of domains: 2^(4+2*ND)" },
    { "AFL", 3, 3, "advanced fault logging" },
    { "RWBF", 4, 4, "required write-buffer flushing" },
    { "PLMR", 5, 5, "protected low-memory region" },
    { "PHMR", 6, 6, "protected high-memory region" },
    { "CM", 7, 7, "caching mode: not-present entries may be cached" },
    { "SAGAW", 12, 8, "supported adjusted guest address widths (bit1 39-bit, bit2 48-bit, bit3 57-bit)" },
    { "MGAW", 21, 16, "maximum guest address width - 1" },
    { "ZLR", 22, 22, "zero-length read" },
    { "FRO", 33, 24, "fault-recording register offset / 16" },
    { "SLLPS", 37, 34, "second-stage large pages (bit0 2 MiB, bit1 1 GiB)" },
    { "PSI", 39, 39, "page-selective invalidation" },
    { "NFR", 47, 40, "number of fault-recording registers - 1" },
    { "MAMV", 53, 48, "maximum address mask value" },
    { "DWD", 54, 54, "write draining" },
    { "DRD", 55, 55, "read draining" },
    { "FL1GP", 56, 56, "first-stage 1 GiB pages" },
    { "PI", 59, 59, "posted interrupts" },
    { "FL5LP", 60, 60, "first-stage 5-level paging" },
    { "ESIRTPS", 62, 62, "SIRTP invalidates interrupt caches" },
    { "ESRTPS", 63, 63, "SRTP invalidates caches" },
};
const size_t vtd_cap_field_count = sizeof(vtd_cap_fields) / sizeof(vtd_cap_fields[0]);

const struct vtd_field vtd_ecap_fields[] = {
    { "C", 0, 0, "page-walk coherency" },
    { "QI", 1, 1, "queued invalidation" },
    { "DT", 2, 2, "device-TLB" },
    { "IR", 3, 3, "interrupt remapping" },
    { "EIM", 4, 4, "extended interrupt mode (x2APIC)" },
    { "PT", 6, 6, "pass-through" },
    { "SC", 7, 7, "snoop control" },
    { "IRO", 17, 8, "IOTLB register offset / 16" },
    { "MHMV", 23, 20, "maximum handle mask value" },
    { "MTS", 25, 25, "memory type support" },
    { "NEST", 26, 26, "nested translation" },
    { "PRS", 29, 29, "page requests" },
    { "ERS", 30, 30, "execute requests" },
    { "SRS", 31, 31, "supervisor requests" },
    { "NWFS", 33, 33, "no write flag" },
    { "EAFS", 34, 34, "extended accessed flag" },
    { "PSS", 39, 35, "PASID size - 1" },
    { "PASID", 40, 40, "process address space IDs" },
    { "DIT", 41, 41, "device-TLB invalidation throttle" },
    { "PDS", 42, 42, "page-request drain" },
    { "SMTS", 43, 43, "scalable-mode translation" },
    { "VCS", 44, 44, "virtual command" },
    { "SLADS", 45, 45, "second-stage accessed/dirty" },
    { "SLTS", 46, 46, "second-stage translation in scalable mode" },
    { "FLTS", 47, 47, "first-stage translation" },
    { "SMPWC", 48, 48, "scalable-mode page-walk coherency" },
    { "RPS", 49, 49, "RID_PASID" },
};
const size_t vtd_ecap_field_count = sizeof(vtd_ecap_fields) / sizeof(vtd_ecap_fields[0]);

void vtd_describe_fields(const struct vtd_field *f, size_t n, uint64_t reg, void (*line)(const char *))
{
    char buf[FIELD_LINE];
    for (size_t i = 0; i < n; i++) {
        snprintf(buf, sizeof(buf), "  %-7s [%u:%u] = 0x%lx (%s)", f[i].name, f[i].hi, f[i].lo,
                 (unsigned long)bits_get(reg, f[i].hi, f[i].lo), f[i].meaning);
        line(buf);
    }
}

void vtd_describe_entry(const struct vtd_entry_field *f, size_t n, const uint64_t *qw, void (*line)(const char *))
{
    char buf[FIELD_LINE];
    for (size_t i = 0; i < n; i++) {
        snprintf(buf, sizeof(buf), "  %-7s qw%u [%u:%u] = 0x%lx (%s)", f[i].name, f[i].qword, f[i].hi, f[i].lo,
                 (unsigned long)bits_get(qw[f[i].qword], f[i].hi, f[i].lo), f[i].meaning);
        line(buf);
    }
}
