/* VT-d remapping unit registers (VT-d spec 3.4, chapter 11). Offsets are
 * typed by width so a 32-bit register is never accessed 64 bits wide
 * (QEMU aborts on some such accesses; hardware may split them). */
#ifndef VTDLAB_IOMMU_REGS_H
#define VTDLAB_IOMMU_REGS_H

#include <stdint.h>

enum vtd_reg32 {
    VTD_VER = 0x00, VTD_GCMD = 0x18, VTD_GSTS = 0x1c, VTD_FSTS = 0x34, VTD_FECTL = 0x38,
    VTD_FEDATA = 0x3c, VTD_FEADDR = 0x40, VTD_FEUADDR = 0x44, VTD_PMEN = 0x64,
    VTD_ICS = 0x9c, VTD_IECTL = 0xa0, VTD_IEDATA = 0xa4, VTD_IEADDR = 0xa8, VTD_IEUADDR = 0xac,
};
enum vtd_reg64 {
    VTD_CAP = 0x08, VTD_ECAP = 0x10, VTD_RTADDR = 0x20, VTD_CCMD = 0x28,
    VTD_IQH = 0x80, VTD_IQT = 0x88, VTD_IQA = 0x90, VTD_IQERCD = 0xb0, VTD_IRTA = 0xb8,
};
#define VTD_REGS_SIZE 0x1000

/* GCMD / GSTS (VT-d spec 11.4.4.1, 11.4.4.2): the same bit for a command and its status. */
#define VTD_GCMD_TE    (1u << 31)  /* translation enable */
#define VTD_GCMD_SRTP  (1u << 30)  /* set root table pointer (one-shot) */
#define VTD_GCMD_SFL   (1u << 29)  /* set fault log (one-shot) */
#define VTD_GCMD_EAFL  (1u << 28)
#define VTD_GCMD_WBF   (1u << 27)  /* write buffer flush (one-shot) */
#define VTD_GCMD_QIE   (1u << 26)  /* queued invalidation enable */
#define VTD_GCMD_IRE   (1u << 25)  /* interrupt remapping enable */
#define VTD_GCMD_SIRTP (1u << 24)  /* set interrupt remap table pointer (one-shot) */
#define VTD_GCMD_CFI   (1u << 23)
/* The persistent enables; everything else in GCMD is a one-shot command. */
#define VTD_GCMD_PERSISTENT (VTD_GCMD_TE | VTD_GCMD_QIE | VTD_GCMD_IRE | VTD_GCMD_EAFL | VTD_GCMD_CFI)

/* RTADDR (VT-d spec 11.4.5): root table address, translation table mode. */
#define VTD_RTADDR_TTM_SHIFT   10
#define VTD_RTADDR_TTM_LEGACY  (0ul << VTD_RTADDR_TTM_SHIFT)
#define VTD_RTADDR_TTM_SCALABLE (1ul << VTD_RTADDR_TTM_SHIFT)

/* CCMD (VT-d spec 11.4.6): register-based context-cache invalidation. */
#define VTD_CCMD_ICC           (1ul << 63)
#define VTD_CCMD_CIRG_SHIFT    61
#define VTD_CCMD_CAIG_SHIFT    59
#define VTD_CCMD_CAIG_MASK     (3ul << VTD_CCMD_CAIG_SHIFT)
#define VTD_CCMD_FM_SHIFT      32
#define VTD_CCMD_SID_SHIFT     16

/* IOTLB invalidate register at ECAP.IRO * 16 + 8, IVA at + 0 (VT-d spec
 * 11.4.8.1, 11.4.8.2). */
#define VTD_IOTLB_IVT          (1ul << 63)
#define VTD_IOTLB_IIRG_SHIFT   60
#define VTD_IOTLB_IAIG_SHIFT   57
#define VTD_IOTLB_IAIG_MASK    (3ul << VTD_IOTLB_IAIG_SHIFT)
#define VTD_IOTLB_DR           (1ul << 49)
#define VTD_IOTLB_DW           (1ul << 48)
#define VTD_IOTLB_DID_SHIFT    32
#define VTD_IVA_IH             (1ul << 6)
#define VTD_IVA_AM_MASK        0x3ful
#define VTD_IRO_UNIT           16  /* ECAP.IRO and CAP.FRO count 16-byte units */

/* Invalidation granularities shared by CCMD/IOTLB registers and the queue's
 * context-cache and IOTLB descriptors. */
enum vtd_inv_granularity { VTD_INV_GLOBAL = 1, VTD_INV_DOMAIN = 2, VTD_INV_DEVICE_OR_PAGE = 3 };

/* FSTS (VT-d spec 11.4.7.1) */
#define VTD_FSTS_PFO   (1u << 0)  /* primary fault overflow (RW1C) */
#define VTD_FSTS_PPF   (1u << 1)  /* primary pending fault (RO) */
#define VTD_FSTS_AFO   (1u << 2)
#define VTD_FSTS_APF   (1u << 3)
#define VTD_FSTS_IQE   (1u << 4)  /* invalidation queue error (RW1C) */
#define VTD_FSTS_ICE   (1u << 5)  /* invalidation completion error (RW1C) */
#define VTD_FSTS_ITE   (1u << 6)  /* invalidation time-out error (RW1C) */
#define VTD_FSTS_FRI_SHIFT 8
#define VTD_FSTS_FRI_MASK  (0xffu << VTD_FSTS_FRI_SHIFT)
#define VTD_FSTS_ERRORS (VTD_FSTS_PFO | VTD_FSTS_AFO | VTD_FSTS_APF | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE)

/* FECTL / IECTL (VT-d spec 11.4.7.2, 11.4.9.5) */
#define VTD_ECTL_IM    (1u << 31)
#define VTD_ECTL_IP    (1u << 30)

/* IQA (VT-d spec 11.4.9.3): base, descriptor width, queue size as 2^QS pages. */
#define VTD_IQA_DW_256 (1ul << 11)
#define VTD_IQA_QS_MASK 0x7ul
/* IQH / IQT hold the descriptor index shifted by 4 (128-bit) or 5 (256-bit). */
#define VTD_IQ_INDEX_SHIFT_128 4
#define VTD_IQ_INDEX_SHIFT_256 5
#define VTD_IQ_INDEX_MASK      0x7fff0ul

#define VTD_ICS_IWC    (1u << 0)

/* Fault recording register, 128 bits at CAP.FRO * 16 (VT-d spec 11.4.7.6). */
#define VTD_FRCD_LO_FI_MASK   (~0xffful)
#define VTD_FRCD_LO_IR_INDEX_SHIFT 48   /* interrupt-remapping faults: FI[63:48] is the index */
/* The interrupt-remapping fault reasons (VT-d spec 7.1.3). */
#define VTD_FR_IR_FIRST 0x20
#define VTD_FR_IR_LAST  0x27
#define VTD_FRCD_HI_SID_MASK  0xfffful
#define VTD_FRCD_HI_T2        (1ul << 28)
#define VTD_FRCD_HI_PRIV      (1ul << 29)
#define VTD_FRCD_HI_EXE       (1ul << 30)
#define VTD_FRCD_HI_PP        (1ul << 31)
#define VTD_FRCD_HI_FR_SHIFT  32
#define VTD_FRCD_HI_FR_MASK   0xfful
#define VTD_FRCD_HI_PV_SHIFT  40
#define VTD_FRCD_HI_PV_MASK   0xffffful
#define VTD_FRCD_HI_AT_SHIFT  60
#define VTD_FRCD_HI_AT_MASK   0x3ul
#define VTD_FRCD_HI_T1        (1ul << 62)  /* 1: read request, 0: write */
#define VTD_FRCD_HI_F         (1ul << 63)  /* fault recorded (RW1C) */
#define VTD_FRCD_SIZE         16

#endif
