/* CAP and ECAP fields (11.4.2, 11.4.3), decoded by pure functions. */
#ifndef VTDLAB_IOMMU_CAP_H
#define VTDLAB_IOMMU_CAP_H

#include <stddef.h>
#include <stdint.h>

struct vtd_field {
    const char *name;
    uint8_t hi, lo;
    const char *meaning;
};

static inline uint64_t vtd_field(uint64_t reg, unsigned hi, unsigned lo)
{
    return (reg >> lo) & (hi - lo == 63 ? ~0ul : ((1ul << (hi - lo + 1)) - 1));
}

/* CAP */
#define CAP_ND(c)     vtd_field(c, 2, 0)     /* domains: 2^(4 + 2*ND) */
#define CAP_RWBF(c)   vtd_field(c, 4, 4)
#define CAP_CM(c)     vtd_field(c, 7, 7)
#define CAP_SAGAW(c)  vtd_field(c, 12, 8)    /* bit 1: 39-bit 3-level, bit 2: 48-bit 4-level */
#define CAP_MGAW(c)   (vtd_field(c, 21, 16) + 1)
#define CAP_FRO(c)    vtd_field(c, 33, 24)
#define CAP_SLLPS(c)  vtd_field(c, 37, 34)   /* bit 0: 2 MiB, bit 1: 1 GiB */
#define CAP_PSI(c)    vtd_field(c, 39, 39)
#define CAP_NFR(c)    (vtd_field(c, 47, 40) + 1)
#define CAP_MAMV(c)   vtd_field(c, 53, 48)
#define CAP_FL1GP(c)  vtd_field(c, 56, 56)
#define SAGAW_39_3LEVEL (1u << 1)
#define SAGAW_48_4LEVEL (1u << 2)
#define SLLPS_2M        (1u << 0)
#define SLLPS_1G        (1u << 1)

/* ECAP */
#define ECAP_C(e)     vtd_field(e, 0, 0)
#define ECAP_QI(e)    vtd_field(e, 1, 1)
#define ECAP_DT(e)    vtd_field(e, 2, 2)
#define ECAP_IR(e)    vtd_field(e, 3, 3)
#define ECAP_PT(e)    vtd_field(e, 6, 6)
#define ECAP_SC(e)    vtd_field(e, 7, 7)
#define ECAP_IRO(e)   vtd_field(e, 17, 8)
#define ECAP_PRS(e)   vtd_field(e, 29, 29)
#define ECAP_PSS(e)   vtd_field(e, 39, 35)   /* PASID bits - 1 */
#define ECAP_PASID(e) vtd_field(e, 40, 40)
#define ECAP_SMTS(e)  vtd_field(e, 43, 43)
#define ECAP_SLTS(e)  vtd_field(e, 46, 46)
#define ECAP_FLTS(e)  vtd_field(e, 47, 47)
#define ECAP_SMPWC(e) vtd_field(e, 48, 48)
#define ECAP_RPS(e)   vtd_field(e, 49, 49)

extern const struct vtd_field vtd_cap_fields[];
extern const size_t vtd_cap_field_count;
extern const struct vtd_field vtd_ecap_fields[];
extern const size_t vtd_ecap_field_count;

/* One line per field: "  SAGAW [12:8] = 0x6 (supported guest address widths)". */
void vtd_describe_fields(const struct vtd_field *f, size_t n, uint64_t reg, void (*line)(const char *));

#endif
