/* DSA layouts: pure, host-tested. */
#include <stdio.h>
#include <string.h>
#include "dsa_desc.h"
#include "../lib/bits.h"
#include "../lib/errno.h"

#define COMPLETION_ALIGN 32
#define PASID_MAX ((1u << 20) - 1)

static int common(struct dsa_desc *d, unsigned opcode, uint32_t pasid, int priv, uint64_t size, uint64_t completion,
                  int block_on_fault)
{
    memset(d, 0, sizeof(*d));
    if (pasid > PASID_MAX || !size || size > UINT32_MAX || !completion || (completion % COMPLETION_ALIGN))
        return -E_RANGE;
    unsigned flags = DSA_FLAG_CRAV | DSA_FLAG_RCR | (block_on_fault ? DSA_FLAG_BLOCK_ON_FAULT : 0);
    bits_set(&d->qw[0], DSA_DESC_PASID, pasid);
    bits_set(&d->qw[0], DSA_DESC_PRIV, priv ? 1 : 0);
    bits_set(&d->qw[0], DSA_DESC_FLAGS, flags);
    bits_set(&d->qw[0], DSA_DESC_OPCODE, opcode);
    d->qw[DSA_QW_COMPLETION] = completion;
    bits_set(&d->qw[DSA_QW_SIZE], DSA_DESC_XFER_SIZE, size);
    return 0;
}

int dsa_desc_memmove(struct dsa_desc *d, uint32_t pasid, int priv, uint64_t src, uint64_t dst, uint64_t size,
                     uint64_t completion, int block_on_fault)
{
    int err = common(d, DSA_OP_MEMMOVE, pasid, priv, size, completion, block_on_fault);
    if (!err) {
        d->qw[DSA_QW_SRC] = src;
        d->qw[DSA_QW_DST] = dst;
    }
    return err;
}

int dsa_desc_memfill(struct dsa_desc *d, uint32_t pasid, int priv, uint64_t pattern, uint64_t dst, uint64_t size,
                     uint64_t completion, int block_on_fault)
{
    int err = common(d, DSA_OP_MEMFILL, pasid, priv, size, completion, block_on_fault);
    if (!err) {
        d->qw[DSA_QW_SRC] = pattern; /* memory fill takes its pattern where a source would be */
        d->qw[DSA_QW_DST] = dst;
    }
    return err;
}

int dsa_desc_compare(struct dsa_desc *d, uint32_t pasid, int priv, uint64_t src1, uint64_t src2, uint64_t size,
                     uint64_t completion, int block_on_fault)
{
    int err = common(d, DSA_OP_COMPARE, pasid, priv, size, completion, block_on_fault);
    if (!err) {
        d->qw[DSA_QW_SRC] = src1;
        d->qw[DSA_QW_DST] = src2;
    }
    return err;
}

const char *dsa_status_name(uint8_t status)
{
    switch (status & DSA_STATUS_MASK) {
    case DSA_COMP_NONE: return "not done";
    case DSA_COMP_SUCCESS: return "success";
    case DSA_COMP_SUCCESS_PRED: return "success with a false predicate";
    case DSA_COMP_PAGE_FAULT_NOBOF: return "page fault (block-on-fault off)";
    case DSA_COMP_PAGE_FAULT_IR: return "page fault (interrupt handle)";
    case DSA_COMP_BAD_OPCODE: return "unsupported opcode";
    case DSA_COMP_INVALID_FLAGS: return "invalid flags";
    case DSA_COMP_XFER_RANGE: return "transfer size out of range";
    case DSA_COMP_OVERLAP_BUFFERS: return "source and destination overlap";
    case DSA_COMP_CRA_XLAT: return "completion record address not translated";
    case DSA_COMP_CRA_ALIGN: return "completion record address misaligned";
    default: return "unknown status";
    }
}

void dsa_completion_describe(const struct dsa_completion *c, char *buf, size_t size)
{
    uint8_t s = c->status & DSA_STATUS_MASK;
    if (s == DSA_COMP_PAGE_FAULT_NOBOF || s == DSA_COMP_PAGE_FAULT_IR)
        snprintf(buf, size, "%s %s 0x%lx: %u bytes done", dsa_status_name(s),
                 (c->status & DSA_STATUS_FAULT_WRITE) ? "writing" : "reading", (unsigned long)c->fault_addr,
                 c->bytes_completed);
    else
        snprintf(buf, size, "%s (status 0x%02x, result %u)", dsa_status_name(s), c->status, c->result);
}

#define CMD_OPERAND  19, 0
#define CMD_COMMAND  24, 20
#define CMDSTS_ERROR 7, 0

int dsa_cmd_encode(unsigned command, uint32_t operand, uint32_t *cmd)
{
    uint64_t v = 0;
    if (command < DSA_CMD_ENABLE_DEVICE || command > DSA_CMD_REQUEST_INT_HANDLE ||
        bits_set(&v, CMD_OPERAND, operand) || bits_set(&v, CMD_COMMAND, command))
        return -E_RANGE;
    *cmd = (uint32_t)v;
    return 0;
}

int dsa_cmdsts_active(uint32_t cmdsts) { return (cmdsts & DSA_CMDSTS_ACTIVE) != 0; }
uint8_t dsa_cmdsts_error(uint32_t cmdsts) { return (uint8_t)bits_get(cmdsts, CMDSTS_ERROR); }

static int set32(uint32_t *w, unsigned hi, unsigned lo, uint64_t v)
{
    uint64_t x = *w;
    if (bits_set(&x, hi, lo, v))
        return -E_RANGE;
    *w = (uint32_t)x;
    return 0;
}

int dsa_wqcfg_dedicated(struct dsa_wqcfg *w, unsigned size, uint32_t pasid, int priv, unsigned priority,
                        unsigned xfer_shift, int block_on_fault)
{
    memset(w, 0, sizeof(*w));
    if (!size)
        return -E_RANGE;
    int err = set32(&w->dw[0], WQCFG_SIZE, size);
    err = err ? err : set32(&w->dw[2], WQCFG_MODE_DEDICATED, 1);
    err = err ? err : set32(&w->dw[2], WQCFG_BOF, block_on_fault ? 1 : 0);
    err = err ? err : set32(&w->dw[2], WQCFG_PRIORITY, priority);
    err = err ? err : set32(&w->dw[2], WQCFG_PASID, pasid);
    err = err ? err : set32(&w->dw[2], WQCFG_PASID_EN, 1);
    err = err ? err : set32(&w->dw[2], WQCFG_PRIV, priv ? 1 : 0);
    err = err ? err : set32(&w->dw[3], WQCFG_MAX_XFER_SHIFT, xfer_shift);
    if (err)
        memset(w, 0, sizeof(*w));
    return err;
}

#define GRPCFG_WQS_PER_WORD 64
#define GRPCFG_WQS_MAX      256
#define GRPCFG_ENGINES_MAX  64

int dsa_grpcfg_one(struct dsa_grpcfg *g, unsigned wq, unsigned engine)
{
    memset(g, 0, sizeof(*g));
    if (wq >= GRPCFG_WQS_MAX || engine >= GRPCFG_ENGINES_MAX)
        return -E_RANGE;
    g->wqs[wq / GRPCFG_WQS_PER_WORD] = 1ul << (wq % GRPCFG_WQS_PER_WORD);
    g->engines = 1ul << engine;
    return 0;
}
