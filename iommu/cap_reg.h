/* CAP and ECAP fields (11.4.2, 11.4.3), decoded by pure functions. */
#ifndef VTDLAB_IOMMU_CAP_REG_H
#define VTDLAB_IOMMU_CAP_REG_H

#include <stddef.h>
#include <stdint.h>
#include "../lib/bits.h"

struct vtd_field {
    const char *name;
    uint8_t hi, lo;
    const char *meaning;
};


/* CAP */
#define CAP_ND(c)     bits_get(c, 2, 0)     /* domains: 2^(4 + 2*ND) */
#define CAP_RWBF(c)   bits_get(c, 4, 4)
#define CAP_CM(c)     bits_get(c, 7, 7)
#define CAP_SAGAW(c)  bits_get(c, 12, 8)    /* bit 1: 39-bit 3-level, bit 2: 48-bit 4-level */
#define CAP_MGAW(c)   (bits_get(c, 21, 16) + 1)
#define CAP_FRO(c)    bits_get(c, 33, 24)
#define CAP_SLLPS(c)  bits_get(c, 37, 34)   /* bit 0: 2 MiB, bit 1: 1 GiB */
#define CAP_PSI(c)    bits_get(c, 39, 39)
#define CAP_NFR(c)    (bits_get(c, 47, 40) + 1)
#define CAP_MAMV(c)   bits_get(c, 53, 48)
#define CAP_FL1GP(c)  bits_get(c, 56, 56)
#define SAGAW_39_3LEVEL (1u << 1)
#define SAGAW_48_4LEVEL (1u << 2)
#define SLLPS_2M        (1u << 0)
#define SLLPS_1G        (1u << 1)

/* ECAP */
#define ECAP_C(e)     bits_get(e, 0, 0)
#define ECAP_QI(e)    bits_get(e, 1, 1)
#define ECAP_DT(e)    bits_get(e, 2, 2)
#define ECAP_IR(e)    bits_get(e, 3, 3)
#define ECAP_EIM(e)   bits_get(e, 4, 4)
#define ECAP_PT(e)    bits_get(e, 6, 6)
#define ECAP_SC(e)    bits_get(e, 7, 7)
#define ECAP_IRO(e)   bits_get(e, 17, 8)
#define ECAP_PRS(e)   bits_get(e, 29, 29)
#define ECAP_SRS(e)   bits_get(e, 31, 31)
#define ECAP_PSS(e)   bits_get(e, 39, 35)   /* PASID bits - 1 */
#define ECAP_PASID(e) bits_get(e, 40, 40)
#define ECAP_SMTS(e)  bits_get(e, 43, 43)
#define ECAP_SLTS(e)  bits_get(e, 46, 46)
#define ECAP_FLTS(e)  bits_get(e, 47, 47)
#define ECAP_SMPWC(e) bits_get(e, 48, 48)
#define ECAP_RPS(e)   bits_get(e, 49, 49)

extern const struct vtd_field vtd_cap_fields[];
extern const size_t vtd_cap_field_count;
extern const struct vtd_field vtd_ecap_fields[];
extern const size_t vtd_ecap_field_count;

/* One line per field: "  SAGAW [12:8] = 0x6 (supported guest address widths)". */
void vtd_describe_fields(const struct vtd_field *f, size_t n, uint64_t reg, void (*line)(const char *));

/* The same for a table entry of several qwords: each field names its qword. */
struct vtd_entry_field {
    const char *name;
    uint8_t qword, hi, lo;
    const char *meaning;
};
/* "  DID     qw1 [23:8] = 0x1 (domain id)" per field. */
void vtd_describe_entry(const struct vtd_entry_field *f, size_t n, const uint64_t *qw, void (*line)(const char *));
/* The tables of each entry's fields are with its encoder (context_entry.h,
 * pasid_entry.h). */

#endif
