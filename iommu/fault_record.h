/* Primary fault records (VT-d spec 7.2.1, 11.4.7.6) decoded, described in
 * words and scanned in order: pure, host-tested. */
#ifndef VTDLAB_IOMMU_FAULT_RECORD_H
#define VTDLAB_IOMMU_FAULT_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include "regs.h"

struct vtd_fault {
    uint64_t addr;        /* page address of the request (FI) */
    uint16_t sid;         /* source-id: bus << 8 | dev << 3 | fn */
    uint8_t reason;
    uint8_t at;
    int is_read, pasid_present, exe, priv;
    uint32_t pasid;
    /* An interrupt-remapping fault (reasons 0x20-0x27): its FI field holds
     * the interrupt index instead of an address. */
    int is_interrupt;
    uint16_t ir_index;
};

/* First-stage fault reasons the suites expect (VT-d spec appendix A). */
enum {
    FR_SM_DTE_CLEAR = 0x44,           /* a translation request, DTE clear in the context entry */
    FR_SM_PASID_BEYOND_PDTS = 0x46,
    FR_SM_PASID_DIR_NOT_PRESENT = 0x51,
    FR_SM_PASID_NOT_PRESENT = 0x59,
    FR_SM_SRE_CLEAR = 0x5d,
    FR_FS_NOT_PRESENT = 0x71,
    FR_FS_NON_CANONICAL = 0x80,
    FR_FS_USER_TO_SUPERVISOR = 0x81,
    FR_FS_WRITE_READ_ONLY = 0x85,
};

/* Pure: one 128-bit record (low, high qwords) to fields; 0 if F is clear. */
int vtd_fault_decode(uint64_t lo, uint64_t hi, struct vtd_fault *f);
const char *vtd_fault_reason_name(uint8_t reason);
/* "write by 00:04.0 at 0x12340000: 0x06 read not allowed ..." */
void vtd_fault_describe(const struct vtd_fault *f, char *buf, size_t size);

#define VTD_FAULTS_MAX 16
struct vtd_fault_log {
    unsigned count;
    struct vtd_fault f[VTD_FAULTS_MAX];
    int overflow;         /* FSTS.PFO was set */
};

/* How the scan reaches the primary fault records (VT-d spec 11.4.7.6):
 * the qword (0 low, 1 high) of record i, and clearing its F bit. */
struct vtd_fault_records {
    void *ctx;
    unsigned count;       /* CAP.NFR + 1 */
    uint64_t (*read)(void *ctx, unsigned i, unsigned qword);
    void (*clear)(void *ctx, unsigned i);
};
/* Pure: reads and clears every record with F set into log, from the one
 * FSTS.FRI names on, wrapping (the oldest first). */
void vtd_fault_scan(uint32_t fsts, const struct vtd_fault_records *r, struct vtd_fault_log *log);

#endif
