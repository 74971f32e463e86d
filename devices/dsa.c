/* Intel DSA: capabilities, commands and one dedicated WQ (devices/dsa.h). */
#include <stdio.h>
#include <string.h>
#include "dsa.h"
#include "../kernel/clock.h"
#include "../kernel/printk.h"
#include "../lib/bits.h"
#include "../lib/errno.h"

/* GENCAP bit 31: the device's groups and WQs are software's to configure
 * (Linux idxd: config_en); clear, they are fixed and this driver's set-up
 * does not apply. */
#define GENCAP_CONFIG      31, 31
#define WQCAP_TOTAL_SIZE   15, 0
#define WQCAP_NUM_WQS      23, 16
#define WQCAP_WQCFG_SIZE   27, 24
#define WQCAP_DEDICATED    49, 49
#define GRPCAP_NUM_GROUPS  7, 0
#define ENGCAP_NUM_ENGINES 7, 0
#define TABLE_GRPCFG       15, 0
#define TABLE_WQCFG        31, 16
#define GENSTS_STATE       1, 0
#define WQCFG_MODE_DWORD   2
#define WQCFG_STATE_DWORD  6
#define WQ_ENABLED         1
#define WQCFG_WQ_SIZE_MAX  0xffff

int dsa_read_caps(struct dsa *d)
{
    d->version = dsa_read32(d, DSA_VERSION);
    d->gencap = dsa_read64(d, DSA_GENCAP);
    uint64_t wqcap = dsa_read64(d, DSA_WQCAP), table = dsa_read64(d, DSA_TABLE_OFFSET);
    d->wq_total_size = (unsigned)bits_get(wqcap, WQCAP_TOTAL_SIZE);
    d->max_wqs = (unsigned)bits_get(wqcap, WQCAP_NUM_WQS);
    d->wqcfg_size = 1u << (DSA_WQCFG_MIN_SHIFT + bits_get(wqcap, WQCAP_WQCFG_SIZE));
    d->dedicated_mode = (int)bits_get(wqcap, WQCAP_DEDICATED);
    d->max_groups = (unsigned)bits_get(dsa_read64(d, DSA_GRPCAP), GRPCAP_NUM_GROUPS);
    d->max_engines = (unsigned)bits_get(dsa_read64(d, DSA_ENGCAP), ENGCAP_NUM_ENGINES);
    d->grpcfg_offset = bits_get(table, TABLE_GRPCFG) * DSA_TABLE_UNIT;
    d->wqcfg_offset = bits_get(table, TABLE_WQCFG) * DSA_TABLE_UNIT;
    if (!d->max_wqs || !d->max_groups || !d->max_engines || !d->wq_total_size) {
        printk("# dsa: no free WQ, engine or group (WQs %u, groups %u, engines %u, WQ entries %u)\n", d->max_wqs,
               d->max_groups, d->max_engines, d->wq_total_size);
        return -E_NODEV;
    }
    if (!d->dedicated_mode) {
        printk("# dsa: the device has no dedicated WQs (WQCAP 0x%lx)\n", (unsigned long)wqcap);
        return -E_NODEV;
    }
    return 0;
}

const char *dsa_cmd_error_name(uint8_t code)
{
    switch (code) {
    case 0x01: return "invalid command";
    case 0x02: return "invalid WQ index";
    case 0x03: return "hardware error";
    case 0x10: return "the device is already enabled";
    case 0x11: return "the device configuration is invalid";
    case 0x12: return "bus mastering is not enabled";
    case 0x14: return "the WQ sizes add up to more than the device has";
    case 0x15: return "a WQ is in no group, or its group has no engine";
    case 0x20: return "the device is not enabled";
    case 0x21: return "the WQ is already enabled";
    case 0x22: return "the WQ has no size";
    case 0x24: return "the WQ mode is not supported";
    case 0x25: return "block on fault is not supported";
    case 0x26: return "the WQ's PASID (or privilege) is not enabled in the PCIe PASID capability";
    case 0x28: return "the WQ's maximum transfer size is too large";
    case 0x31: return "the device is not enabled (disable device)";
    default: return "an error code this driver does not name (see the DSA spec's CMDSTS table)";
    }
}

int dsa_command(struct dsa *d, unsigned command, uint32_t operand)
{
    uint32_t cmd;
    if (dsa_cmd_encode(command, operand, &cmd))
        return -E_RANGE;
    dsa_write32(d, DSA_CMD, cmd);
    if (!WAIT_UNTIL(!dsa_cmdsts_active(dsa_read32(d, DSA_CMDSTS)), DSA_CMD_WAIT_US)) {
        printk("# dsa: command %u (operand 0x%x) still active after %u us: CMDSTS 0x%08x\n", command, operand,
               DSA_CMD_WAIT_US, dsa_read32(d, DSA_CMDSTS));
        return -E_TIMEDOUT;
    }
    uint8_t err = dsa_cmdsts_error(dsa_read32(d, DSA_CMDSTS));
    if (err) {
        d->last_error = err;
        printk("# dsa: command %u (operand 0x%x) failed: error 0x%02x, %s\n", command, operand, err,
               dsa_cmd_error_name(err));
        return -E_IO;
    }
    return 0;
}

static uint32_t wqcfg_dword(const struct dsa *d, unsigned wq, unsigned dword)
{
    return (uint32_t)(d->wqcfg_offset + (uint64_t)wq * d->wqcfg_size + dword * sizeof(uint32_t));
}

int dsa_configure_dedicated(struct dsa *d, unsigned wq, uint32_t pasid, int priv)
{
    if (wq >= d->max_wqs)
        return -E_RANGE;
    if (!bits_get(d->gencap, GENCAP_CONFIG)) {
        printk("# dsa: configuration support (GENCAP bit 31) clear: the WQs and groups are not software's to "
               "configure (GENCAP 0x%016lx)\n", (unsigned long)d->gencap);
        return -E_NODEV;
    }
    struct dsa_wqcfg w;
    struct dsa_grpcfg g;
    unsigned size = d->wq_total_size > WQCFG_WQ_SIZE_MAX ? WQCFG_WQ_SIZE_MAX : d->wq_total_size;
    /* transfers up to 2 MiB, priority 1, block on fault off: faults complete with status */
    const unsigned xfer_shift = 21, priority = 1;
    if (dsa_wqcfg_dedicated(&w, size, pasid, priv, priority, xfer_shift, 0) || dsa_grpcfg_one(&g, wq, 0))
        return -E_RANGE;
    int err = 0;
    if (bits_get(dsa_read32(d, DSA_GENSTS), GENSTS_STATE) != DSA_STATE_DISABLED)
        err = dsa_command(d, DSA_CMD_RESET_DEVICE, 0);
    if (!err) {
        const uint64_t *gq = (const uint64_t *)&g;
        for (unsigned i = 0; i < sizeof(g) / sizeof(uint64_t); i++)
            dsa_write64(d, (uint32_t)(d->grpcfg_offset + i * sizeof(uint64_t)), gq[i]);
        for (unsigned i = 0; i < d->wqcfg_size / sizeof(uint32_t); i++)
            dsa_write32(d, wqcfg_dword(d, wq, i), i < sizeof(w.dw) / sizeof(w.dw[0]) ? w.dw[i] : 0);
        err = dsa_command(d, DSA_CMD_ENABLE_DEVICE, 0);
    }
    err = err ? err : dsa_command(d, DSA_CMD_ENABLE_WQ, wq);
    d->wq = wq;
    if (!err && bits_get(dsa_read32(d, wqcfg_dword(d, wq, WQCFG_STATE_DWORD)), WQCFG_STATE) != WQ_ENABLED) {
        printk("# dsa: WQ %u did not enable: WQCFG dword 2 reads 0x%08x (PASID 0x%x%s)\n", wq,
               dsa_read32(d, wqcfg_dword(d, wq, WQCFG_MODE_DWORD)), pasid, priv ? ", privileged" : "");
        err = -E_IO;
    }
    if (err)
        dsa_command(d, DSA_CMD_DISABLE_DEVICE, 0); /* left disabled, whatever happened */
    return err;
}

/* The disabled WQ's mode dword written and the WQ enabled: 0 once WQCFG
 * says it is. */
static int wq_enable_with_mode(struct dsa *d, uint32_t mode)
{
    dsa_write32(d, wqcfg_dword(d, d->wq, WQCFG_MODE_DWORD), mode);
    int err = dsa_command(d, DSA_CMD_ENABLE_WQ, d->wq);
    if (!err && bits_get(dsa_read32(d, wqcfg_dword(d, d->wq, WQCFG_STATE_DWORD)), WQCFG_STATE) != WQ_ENABLED)
        err = -E_IO;
    return err;
}

int dsa_wq_set_privilege(struct dsa *d, int priv)
{
    int err = dsa_command(d, DSA_CMD_DISABLE_WQ, d->wq);
    if (err)
        return err;
    uint32_t old = dsa_read32(d, wqcfg_dword(d, d->wq, WQCFG_MODE_DWORD));
    uint64_t mode = old;
    bits_set(&mode, WQCFG_PRIV, priv ? 1 : 0);
    err = wq_enable_with_mode(d, (uint32_t)mode);
    if (!err)
        return 0;
    printk("# dsa: WQ %u did not enable again with privileged %d: WQCFG dword 2 reads 0x%08x\n", d->wq, priv ? 1 : 0,
           dsa_read32(d, wqcfg_dword(d, d->wq, WQCFG_MODE_DWORD)));
    /* the old mode back, so the WQ holds what its user believes */
    dsa_command(d, DSA_CMD_DISABLE_WQ, d->wq);
    if (wq_enable_with_mode(d, old)) {
        printk("# dsa: WQ %u did not enable again with its old mode either (WQCFG dword 2 0x%08x): it is left "
               "disabled\n", d->wq, old);
        return -E_NODEV;
    }
    return -E_IO;
}

int dsa_execute(struct dsa *d, const struct dsa_desc *desc, volatile struct dsa_completion *record)
{
    memset((void *)record, 0, sizeof(*record));
    d->record_refused = 0;
    uint64_t swerr = dsa_read64(d, DSA_SWERR);
    if (swerr & DSA_SWERR_VALID) {
        printk("# dsa: an earlier software error, cleared: SWERR 0x%016lx\n", (unsigned long)swerr);
        dsa_write64(d, DSA_SWERR, DSA_SWERR_ACK);
    }
    dsa_portal_write(d, desc);
    if (!WAIT_UNTIL(record->status != DSA_COMP_NONE || ((swerr = dsa_read64(d, DSA_SWERR)) & DSA_SWERR_VALID),
                    DSA_COMPLETION_WAIT_US)) {
        printk("# dsa: no completion within %u us (opcode 0x%02lx on WQ %u): GENSTS 0x%08x, SWERR 0x%016lx, "
               "WQCFG state dword 0x%08x\n", DSA_COMPLETION_WAIT_US, (unsigned long)bits_get(desc->qw[0], DSA_DESC_OPCODE),
               d->wq, dsa_read32(d, DSA_GENSTS), (unsigned long)dsa_read64(d, DSA_SWERR),
               dsa_read32(d, wqcfg_dword(d, d->wq, WQCFG_STATE_DWORD)));
        return -E_TIMEDOUT;
    }
    struct dsa_completion seen;
    memcpy(&seen, (const void *)record, sizeof(seen));
    if (seen.status == DSA_COMP_NONE) {
        /* no record: the device reported a software error instead */
        uint8_t code = (uint8_t)bits_get(swerr, DSA_SWERR_ERROR);
        uint64_t addr = dsa_read64(d, DSA_SWERR_ADDR);
        printk("# dsa: opcode 0x%02lx on WQ %u ended in a software error: SWERR 0x%016lx, error 0x%02x (%s), "
               "address 0x%lx\n", (unsigned long)bits_get(desc->qw[0], DSA_DESC_OPCODE), d->wq, (unsigned long)swerr,
               code, dsa_status_name(code), (unsigned long)addr);
        dsa_write64(d, DSA_SWERR, DSA_SWERR_ACK);
        if (code != DSA_COMP_CRA_XLAT)
            return -E_IO;
        d->fault_addr = addr;
        d->record_refused = 1;
        return -E_FAULT;
    }
    if ((seen.status & DSA_STATUS_MASK) == DSA_COMP_SUCCESS)
        return 0;
    char text[128];
    dsa_completion_describe(&seen, text, sizeof(text));
    printk("# dsa: opcode 0x%02lx completed with %s\n", (unsigned long)bits_get(desc->qw[0], DSA_DESC_OPCODE), text);
    uint8_t status = seen.status & DSA_STATUS_MASK;
    if (status != DSA_COMP_PAGE_FAULT_NOBOF && status != DSA_COMP_PAGE_FAULT_IR)
        return -E_IO;
    d->fault_addr = seen.fault_addr;
    return -E_FAULT;
}
