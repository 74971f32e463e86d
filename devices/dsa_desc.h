/* Intel DSA's in-memory and register layouts (DSA architecture spec 341204;
 * field positions checked against Linux's drivers/dma/idxd/registers.h and
 * include/uapi/linux/idxd.h): the 64-byte descriptor, the 32-byte
 * completion record, the CMD/CMDSTS words, WQCFG and GRPCFG. Pure encoders
 * and decoders, host-tested against literal encodings; the driver that
 * uses them (devices/dsa.c) is for hardware (see docs/dsa.md). */
#ifndef VTDLAB_DEVICES_DSA_DESC_H
#define VTDLAB_DEVICES_DSA_DESC_H

#include <stddef.h>
#include <stdint.h>

struct dsa_desc {
    uint64_t qw[8];
};
_Static_assert(sizeof(struct dsa_desc) == 64, "a DSA descriptor is 64 bytes");

/* qword 0 [hi, lo]; the other fields are whole qwords or dwords. */
#define DSA_DESC_PASID   19, 0
#define DSA_DESC_PRIV    31, 31
#define DSA_DESC_FLAGS   55, 32
#define DSA_DESC_OPCODE  63, 56
enum { DSA_QW_COMPLETION = 1, DSA_QW_SRC = 2, DSA_QW_DST = 3, DSA_QW_SIZE = 4 };
#define DSA_DESC_XFER_SIZE  31, 0    /* in qword 4 */
#define DSA_DESC_INT_HANDLE 47, 32   /* in qword 4 */

enum dsa_opcode { DSA_OP_NOOP = 0x00, DSA_OP_DRAIN = 0x02, DSA_OP_MEMMOVE = 0x03, DSA_OP_MEMFILL = 0x04,
                  DSA_OP_COMPARE = 0x05 };
enum {
    DSA_FLAG_FENCE = 0x1,
    DSA_FLAG_BLOCK_ON_FAULT = 0x2,
    DSA_FLAG_CRAV = 0x4,          /* completion record address valid */
    DSA_FLAG_RCR = 0x8,           /* request a completion record */
    DSA_FLAG_RCI = 0x10,          /* request a completion interrupt */
    DSA_FLAG_CACHE_CONTROL = 0x100,
};

/* Each fills a whole descriptor, asking for a completion record at
 * completion (32-byte aligned); 0, or -E_RANGE for a PASID wider than 20
 * bits, a size of 0 or above 32 bits, or a misaligned record. */
int dsa_desc_memmove(struct dsa_desc *d, uint32_t pasid, int priv, uint64_t src, uint64_t dst, uint64_t size,
                     uint64_t completion, int block_on_fault);
int dsa_desc_memfill(struct dsa_desc *d, uint32_t pasid, int priv, uint64_t pattern, uint64_t dst, uint64_t size,
                     uint64_t completion, int block_on_fault);
int dsa_desc_compare(struct dsa_desc *d, uint32_t pasid, int priv, uint64_t src1, uint64_t src2, uint64_t size,
                     uint64_t completion, int block_on_fault);

/* The completion record (32 bytes, 32-byte aligned). */
struct dsa_completion {
    uint8_t status;           /* 0 while pending */
    uint8_t result;           /* compare: 0 equal, 1 different */
    uint16_t reserved;
    uint32_t bytes_completed; /* at a fault, or compare's first difference */
    uint64_t fault_addr;
    uint64_t op_specific[2];
};
_Static_assert(sizeof(struct dsa_completion) == 32, "a DSA completion record is 32 bytes");
_Static_assert(offsetof(struct dsa_completion, fault_addr) == 8, "fault address at byte 8");

#define DSA_STATUS_MASK        0x7f
#define DSA_STATUS_FAULT_WRITE 0x80   /* with a page fault: the faulting access was a write */
enum { DSA_COMP_NONE = 0x00, DSA_COMP_SUCCESS = 0x01, DSA_COMP_SUCCESS_PRED = 0x02,
       DSA_COMP_PAGE_FAULT_NOBOF = 0x03, DSA_COMP_PAGE_FAULT_IR = 0x04, DSA_COMP_BAD_OPCODE = 0x10,
       DSA_COMP_INVALID_FLAGS = 0x11, DSA_COMP_XFER_RANGE = 0x13, DSA_COMP_OVERLAP_BUFFERS = 0x16,
       DSA_COMP_CRA_XLAT = 0x1a,
       DSA_COMP_CRA_ALIGN = 0x1b };
const char *dsa_status_name(uint8_t status);
/* "page fault (block-on-fault off) writing 0x...: 4096 bytes done" */
void dsa_completion_describe(const struct dsa_completion *c, char *buf, size_t size);

/* CMD (BAR0 0xa0): operand [19:0], command [24:20], request interrupt [31];
 * CMDSTS (0xa8): active [31], result [30:8], error [7:0]. */
enum dsa_command { DSA_CMD_ENABLE_DEVICE = 1, DSA_CMD_DISABLE_DEVICE = 2, DSA_CMD_DRAIN_ALL = 3,
                   DSA_CMD_ABORT_ALL = 4, DSA_CMD_RESET_DEVICE = 5, DSA_CMD_ENABLE_WQ = 6, DSA_CMD_DISABLE_WQ = 7,
                   DSA_CMD_DRAIN_PASID = 11, DSA_CMD_REQUEST_INT_HANDLE = 13 };
#define DSA_CMDSTS_ACTIVE (1u << 31)
/* -E_RANGE for an operand above 20 bits or an unknown command. */
int dsa_cmd_encode(unsigned command, uint32_t operand, uint32_t *cmd);
int dsa_cmdsts_active(uint32_t cmdsts);
uint8_t dsa_cmdsts_error(uint32_t cmdsts);

/* WQCFG (32 bytes a WQ in version 1): dword 0 size, 1 threshold, 2 mode
 * and PASID, 3 transfer and batch limits. */
struct dsa_wqcfg {
    uint32_t dw[8];
};
_Static_assert(sizeof(struct dsa_wqcfg) == 32, "WQCFG is 32 bytes");
#define WQCFG_SIZE         15, 0      /* dword 0 */
#define WQCFG_THRESHOLD    15, 0      /* dword 1 */
#define WQCFG_MODE_DEDICATED 0, 0     /* dword 2 */
#define WQCFG_BOF          1, 1
#define WQCFG_ATS_DISABLE  2, 2
#define WQCFG_PRS_DISABLE  3, 3
#define WQCFG_PRIORITY     7, 4
#define WQCFG_PASID        27, 8
#define WQCFG_PASID_EN     28, 28
#define WQCFG_PRIV         29, 29
#define WQCFG_MAX_XFER_SHIFT  4, 0    /* dword 3 */
#define WQCFG_MAX_BATCH_SHIFT 8, 5
#define WQCFG_STATE        31, 30     /* dword 6, read-only: 0 disabled, 1 enabled */
/* A dedicated WQ of `size` entries bound to pasid (privileged as priv
 * says), transfers up to 2^xfer_shift bytes. -E_RANGE when a value does
 * not fit its field. */
int dsa_wqcfg_dedicated(struct dsa_wqcfg *w, unsigned size, uint32_t pasid, int priv, unsigned priority,
                        unsigned xfer_shift, int block_on_fault);

/* GRPCFG (64 bytes a group): WQ bitmap (256 bits) at byte 0, engine
 * bitmap at byte 32, flags at byte 40. */
struct dsa_grpcfg {
    uint64_t wqs[4];
    uint64_t engines;
    uint64_t flags;
    uint64_t reserved[2];
};
_Static_assert(sizeof(struct dsa_grpcfg) == 64, "GRPCFG is 64 bytes");
/* One group holding WQ wq (0..255) and engine engine (0..63). */
int dsa_grpcfg_one(struct dsa_grpcfg *g, unsigned wq, unsigned engine);

#endif
