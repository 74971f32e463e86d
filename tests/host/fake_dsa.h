/* A scripted Intel DSA for host tests of devices/dsa.c and the code above
 * it: a register file that answers CMD as the spec's state machine does
 * (with an error code, a command that never completes, or a WQ that will
 * not take its PASID, on request), and a portal that carries descriptors
 * out on host memory and writes their completion records. Addresses in
 * descriptors go through fake_dsa.translate (NULL: they are host
 * pointers); an address it cannot translate ends the descriptor with a
 * page fault naming it, as a refused translation does. Include once, after
 * devices/dsa.c and kernel_shims.h. */
#ifndef VTDLAB_TESTS_HOST_FAKE_DSA_H
#define VTDLAB_TESTS_HOST_FAKE_DSA_H

#define REGS 0x2000
#define GRPCFG_AT 0x400         /* TABLE_OFFSET fields: 4 and 5 units of 0x100 */
#define WQCFG_AT  0x500

static struct fake {
    uint8_t regs[REGS];
    unsigned cmds[16], ncmds;
    uint8_t fail_cmd, fail_code;   /* that command ends with that error */
    uint8_t hang_cmd;              /* that command never completes */
    int refuse_pasid;              /* ENABLE_WQ "succeeds" but the WQ stays disabled */
    int refuse_user;               /* so, for a WQ whose WQCFG says not privileged */
} hw;

uint32_t dsa_read32(struct dsa *d, uint32_t off) { uint32_t v; memcpy(&v, hw.regs + off, 4); return v; }
uint64_t dsa_read64(struct dsa *d, uint32_t off) { uint64_t v; memcpy(&v, hw.regs + off, 8); return v; }
void dsa_write64(struct dsa *d, uint32_t off, uint64_t v)
{
    if (off == DSA_SWERR)   /* valid and overflow: write 1 to clear */
        v = dsa_read64(d, off) & ~(v & DSA_SWERR_ACK);
    memcpy(hw.regs + off, &v, 8);
}

static void set32(uint32_t off, uint32_t v) { memcpy(hw.regs + off, &v, 4); }

void dsa_write32(struct dsa *d, uint32_t off, uint32_t v)
{
    set32(off, v);
    if (off != DSA_CMD)
        return;
    unsigned cmd = (v >> 20) & 0x1f, operand = v & 0xfffff;
    hw.cmds[hw.ncmds++ % 16] = cmd;
    if (cmd == hw.hang_cmd) {
        set32(DSA_CMDSTS, 0x80000000u);
        return;
    }
    if (cmd == hw.fail_cmd) {
        set32(DSA_CMDSTS, hw.fail_code);
        return;
    }
    set32(DSA_CMDSTS, 0);
    if (cmd == DSA_CMD_ENABLE_DEVICE)
        set32(DSA_GENSTS, DSA_STATE_ENABLED);
    if (cmd == DSA_CMD_DISABLE_DEVICE || cmd == DSA_CMD_RESET_DEVICE)
        set32(DSA_GENSTS, DSA_STATE_DISABLED);
    uint32_t mode;
    memcpy(&mode, hw.regs + WQCFG_AT + operand * 32 + 8, 4);
    int user = !(mode >> 29 & 1);                          /* WQCFG dword 2's privileged bit */
    if (cmd == DSA_CMD_ENABLE_WQ && !hw.refuse_pasid && !(user && hw.refuse_user))
        set32(WQCFG_AT + operand * 32 + 24, 1u << 30);   /* WQCFG dword 6, state 1 */
    if (cmd == DSA_CMD_DISABLE_WQ)
        set32(WQCFG_AT + operand * 32 + 24, 0);          /* state 0 */
}

/* The portal: the fake reads the 64-byte descriptor and, as the script
 * says, carries it out and writes the completion record where the
 * descriptor asks. */
enum portal_script { DO_IT, FAULT_AFTER_1K, NEVER_COMPLETE, RECORD_NOT_TRANSLATED };
static struct {
    enum portal_script script;
    struct dsa_desc last;
    unsigned submitted, wq;
    /* a device address to host memory for len bytes, or NULL (refused) */
    void *(*translate)(uint64_t addr, size_t len);
} portal;

static void *at(uint64_t addr, size_t len)
{
    return portal.translate ? portal.translate(addr, len) : (void *)(uintptr_t)addr;
}

void dsa_portal_write(struct dsa *d, const struct dsa_desc *desc)
{
    portal.last = *desc;
    portal.submitted++;
    portal.wq = d->wq;
    if (portal.script == NEVER_COMPLETE)
        return;
    if (portal.script == RECORD_NOT_TRANSLATED) {
        /* valid, descriptor valid, WQ valid, error 0x1a, the WQ; the address */
        hw.regs[DSA_SWERR] = (uint8_t)(DSA_SWERR_VALID | DSA_SWERR_DESC_VALID | DSA_SWERR_WQ_VALID);
        hw.regs[DSA_SWERR + 1] = DSA_COMP_CRA_XLAT;
        hw.regs[DSA_SWERR + 2] = (uint8_t)d->wq;
        memcpy(hw.regs + DSA_SWERR + 16, &desc->qw[DSA_QW_COMPLETION], 8);
        return;
    }
    struct dsa_completion *rec = at(desc->qw[DSA_QW_COMPLETION], sizeof(struct dsa_completion));
    if (!rec)
        return;   /* nowhere to report: the waiter times out */
    unsigned opcode = (unsigned)(desc->qw[0] >> 56);
    uint32_t size = (uint32_t)desc->qw[DSA_QW_SIZE];
    memset(rec, 0, sizeof(*rec));
    if (opcode != DSA_OP_MEMMOVE) {
        rec->status = DSA_COMP_BAD_OPCODE;
        return;
    }
    uint8_t *src = at(desc->qw[DSA_QW_SRC], size), *dst = at(desc->qw[DSA_QW_DST], size);
    if (!src || !dst) {
        rec->fault_addr = src ? desc->qw[DSA_QW_DST] : desc->qw[DSA_QW_SRC];
        rec->status = DSA_COMP_PAGE_FAULT_NOBOF | (src ? DSA_STATUS_FAULT_WRITE : 0);
        return;
    }
    if (portal.script == FAULT_AFTER_1K) {
        memcpy(dst, src, 1024);
        rec->bytes_completed = 1024;
        rec->fault_addr = (uint64_t)(uintptr_t)(dst + 1024);
        rec->status = DSA_COMP_PAGE_FAULT_NOBOF | DSA_STATUS_FAULT_WRITE;
        return;
    }
    memcpy(dst, src, size);
    rec->status = DSA_COMP_SUCCESS;
}

/* A DSA 1.0 as Sapphire Rapids reports it, in literal register values:
 * WQCAP 128 entries, 8 WQs, 32-byte WQCFG, dedicated and shared modes;
 * 4 groups; 4 engines; GRPCFG at 0x400, WQCFG at 0x500. */
static void fake_dsa_reset(void)
{
    memset(&hw, 0, sizeof(hw));
    memset(&portal, 0, sizeof(portal));
    struct dsa any = { 0 };
    dsa_write64(&any, DSA_GENCAP, 1ul << 31);   /* configuration support */
    dsa_write64(&any, DSA_WQCAP, 0x0003000000080080ul);
    dsa_write64(&any, DSA_GRPCAP, 0x4);
    dsa_write64(&any, DSA_ENGCAP, 0x4);
    dsa_write64(&any, DSA_TABLE_OFFSET, 0x0000000000050004ul);
    set32(DSA_VERSION, 0x100);
}

#endif
