/* Intel DSA, the device that makes SVA real on hardware (docs/dsa.md):
 * found on PCI, its capabilities read, one group with one engine and one
 * dedicated work queue configured for a PASID, enabled through CMD/CMDSTS
 * with bounded waits and decoded errors. Run on vtdlab's DSA model
 * (qemu/patches/0015, the dsa-model profile), not yet on hardware; the
 * register-level code is also host-tested against a scripted fake device
 * (tests/host/test_dsa_cmd.c); under QEMU without the model the dsa suite
 * skips. */
#ifndef VTDLAB_DEVICES_DSA_H
#define VTDLAB_DEVICES_DSA_H

#include <stdint.h>
#include "dsa_desc.h"

#define DSA_VENDOR 0x8086
#define DSA_DEVICE_SPR 0x0b25   /* Sapphire Rapids and Emerald Rapids */
#define DSA_DEVICE_GNR 0x11fb   /* Granite Rapids (DSA 2.0) */

/* BAR0 registers. */
enum dsa_reg {
    DSA_VERSION = 0x00, DSA_GENCAP = 0x10, DSA_WQCAP = 0x20, DSA_GRPCAP = 0x30, DSA_ENGCAP = 0x38,
    DSA_OPCAP = 0x40, DSA_TABLE_OFFSET = 0x60, DSA_GENCFG = 0x80, DSA_GENCTRL = 0x88, DSA_GENSTS = 0x90,
    DSA_INTCAUSE = 0x98, DSA_CMD = 0xa0, DSA_CMDSTS = 0xa8, DSA_SWERR = 0xc0,
};
#define DSA_TABLE_UNIT 0x100       /* TABLE_OFFSET's fields count in these */
#define DSA_GENCAP_OVERLAP_COPY   (1ul << 1)   /* memmove may take overlapping buffers */
#define DSA_GENCAP_CONFIG_SUPPORT (1ul << 31)  /* GRPCFG and WQCFG are writable */
/* SWERR (four qwords at 0xc0), qword 0: valid and overflow (write 1 to
 * clear), WQ index valid, the error code and the WQ index; qword 2 the
 * address the error concerns. */
#define DSA_SWERR_VALID     (1ul << 0)
#define DSA_SWERR_ACK       (DSA_SWERR_VALID | (1ul << 1))
#define DSA_SWERR_DESC_VALID (1ul << 2)
#define DSA_SWERR_WQ_VALID  (1ul << 3)
#define DSA_SWERR_ERROR     15, 8
#define DSA_SWERR_WQ        23, 16
#define DSA_SWERR_ADDR      (DSA_SWERR + 16)
#define DSA_WQCFG_MIN_SHIFT 5      /* WQCFG size = 2^(5 + WQCAP's field) bytes */
enum { DSA_STATE_DISABLED = 0, DSA_STATE_ENABLED = 1, DSA_STATE_DRAIN = 2, DSA_STATE_HALT = 3 };
#define DSA_CMD_WAIT_US 1000000u   /* a command takes microseconds */
#define DSA_BAR_REGS   0
#define DSA_BAR_PORTALS 2
/* A WQ's portals in BAR2: four pages a WQ, the unlimited MSI-X one first. */
#define DSA_WQ_PORTAL_STRIDE 0x4000u
/* A 4 KiB copy takes microseconds; a second is a device that will not answer. */
#define DSA_COMPLETION_WAIT_US 1000000u

struct dsa {
    volatile uint8_t *bar0;        /* NULL for the host tests' fake */
    volatile uint8_t *bar2;        /* the WQ portals */
    unsigned wq;                   /* the WQ dsa_configure_dedicated enabled */
    uint32_t version;
    uint64_t gencap;
    unsigned wq_total_size, max_wqs, max_groups, max_engines, wqcfg_size;
    int dedicated_mode;
    uint64_t grpcfg_offset, wqcfg_offset;
    uint8_t last_error;            /* CMDSTS's error code of the last command that failed */
    uint64_t fault_addr;           /* the address the device named in its last -E_FAULT (dsa_execute) */
    int record_refused;            /* that -E_FAULT was the completion record's own (SWERR), not the descriptor's access */
};

/* The registers, as the kernel maps them (devices/dsa.c) or a test fakes them. */
uint32_t dsa_read32(struct dsa *d, uint32_t off);
uint64_t dsa_read64(struct dsa *d, uint32_t off);
void dsa_write32(struct dsa *d, uint32_t off, uint32_t v);
void dsa_write64(struct dsa *d, uint32_t off, uint64_t v);

/* Reads the capabilities into d; -E_NODEV for a device without a WQ, an
 * engine, a group or dedicated WQs. */
int dsa_read_caps(struct dsa *d);
/* Runs one command: CMD written, CMDSTS.active polled to 0 within
 * DSA_CMD_WAIT_US. 0; -E_IO with d->last_error and a decoded message;
 * -E_TIMEDOUT with CMDSTS in the log. */
int dsa_command(struct dsa *d, unsigned command, uint32_t operand);
const char *dsa_cmd_error_name(uint8_t code);
/* With the device disabled (reset first if it is not): group 0 holding WQ
 * wq and engine 0, WQ wq dedicated to pasid (privileged as priv), then the
 * device and the WQ enabled and the WQ's state read back. On any failure
 * the device is left disabled; -E_NODEV, before any command, for a device
 * without configuration support (GENCAP bit 31). */
int dsa_configure_dedicated(struct dsa *d, unsigned wq, uint32_t pasid, int priv);

/* A dedicated WQ takes its requests' privilege from WQCFG, not from the
 * descriptor: the enabled WQ disabled, WQCFG's privileged bit set as priv
 * says, the WQ enabled again and its state read back. 0; -E_IO (a command
 * error, or the WQ did not come back) with the log saying which, and the
 * old mode written back and the WQ enabled with it; -E_NODEV when that
 * failed too: the WQ is left disabled. */
int dsa_wq_set_privilege(struct dsa *d, int priv);

/* Whether this CPU has MOVDIR64B, the only way to submit to a dedicated
 * WQ (CPUID.(7,0):ECX[28]). */
int dsa_cpu_can_submit(void);
/* Writes a descriptor to the enabled WQ's portal as one 64-byte store
 * (SFENCE, then MOVDIR64B); the host tests replace it with a scripted
 * device. */
void dsa_portal_write(struct dsa *d, const struct dsa_desc *desc);
/* Runs one descriptor that asks for a completion record: the record
 * (which the CPU reads at `record` and the device writes at the address
 * the descriptor names) is cleared, the descriptor submitted, and the
 * record's status polled within DSA_COMPLETION_WAIT_US; a software error
 * the device reports instead (SWERR, cleared before the submission: the
 * record could not be written, the WQ is not enabled) ends the wait too.
 * 0 on success; -E_FAULT for a page fault (its address and the bytes done
 * in the log) or a completion record whose address was not translated,
 * with the address the device named (the record's fault address, or
 * SWERR's for the record itself, d->record_refused set) in d->fault_addr;
 * -E_IO for any other status or software error (decoded); -E_TIMEDOUT with
 * the device's state. */
int dsa_execute(struct dsa *d, const struct dsa_desc *desc, volatile struct dsa_completion *record);

#endif
