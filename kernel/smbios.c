#include <string.h>
#include "smbios.h"
#include "../lib/errno.h"

#define EP3_LEN_MIN   0x18
#define EP3_LEN       6                /* offsets in the 3.0 entry point */
#define EP3_MAJOR     7
#define EP3_MINOR     8
#define EP3_MAX_SIZE  0x0c
#define EP3_TABLE     0x10
#define EP2_LEN_MIN   0x1f
#define EP2_LEN       5                /* offsets in the 2.1 entry point */
#define EP2_MAJOR     6
#define EP2_MINOR     7
#define EP2_DMI       0x10             /* the intermediate "_DMI_" part, 15 bytes */
#define EP2_DMI_LEN   15
#define EP2_TABLE_LEN 0x16
#define EP2_TABLE     0x18
#define HDR_TYPE      0                /* every structure's header */
#define HDR_LEN       1
#define HDR_SIZE      4
#define TYPE_BIOS     0
#define TYPE_SYSTEM   1
#define TYPE_END      127
#define BIOS_VENDOR   4                /* string numbers' offsets in their structures */
#define BIOS_VERSION  5
#define SYS_MANUFACTURER 4
#define SYS_PRODUCT   5

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static int sums_to_zero(const uint8_t *p, size_t n)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum == 0;
}

int smbios_entry_parse(const uint8_t *ep, size_t len, struct smbios_entry *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    if (len >= EP3_LEN_MIN && !memcmp(ep, "_SM3_", 5)) {
        if (ep[EP3_LEN] < EP3_LEN_MIN || ep[EP3_LEN] > len || !sums_to_zero(ep, ep[EP3_LEN]))
            return *why = "the SMBIOS 3 entry point's length or checksum is wrong", -E_INVAL;
        out->major = ep[EP3_MAJOR];
        out->minor = ep[EP3_MINOR];
        out->table_len = rd32(ep + EP3_MAX_SIZE);
        out->table = rd64(ep + EP3_TABLE);
        return 0;
    }
    if (len >= EP2_LEN_MIN && !memcmp(ep, "_SM_", 4)) {
        if (ep[EP2_LEN] < EP2_LEN_MIN || ep[EP2_LEN] > len || !sums_to_zero(ep, ep[EP2_LEN]))
            return *why = "the SMBIOS entry point's length or checksum is wrong", -E_INVAL;
        if (memcmp(ep + EP2_DMI, "_DMI_", 5) || !sums_to_zero(ep + EP2_DMI, EP2_DMI_LEN))
            return *why = "the SMBIOS entry point's _DMI_ part is missing or its checksum is wrong", -E_INVAL;
        out->major = ep[EP2_MAJOR];
        out->minor = ep[EP2_MINOR];
        out->table_len = rd16(ep + EP2_TABLE_LEN);
        out->table = rd32(ep + EP2_TABLE);
        return 0;
    }
    return *why = "no SMBIOS anchor (_SM3_ or _SM_)", -E_INVAL;
}

long smbios_scan(const uint8_t *region, size_t len)
{
    long found = -1;
    for (size_t off = 0; off + 5 <= len; off += SMBIOS_SCAN_STEP) {
        if (!memcmp(region + off, "_SM3_", 5))
            return (long)off;
        if (found < 0 && !memcmp(region + off, "_SM_", 4))
            found = (long)off;
    }
    return found;
}

/* String number n (from 1) of the structure at s, whose strings start
 * at `strings` and end before `end`; "" for 0 or one it does not have. */
static void copy_string(const uint8_t *strings, const uint8_t *end, unsigned n, char *out)
{
    out[0] = 0;
    for (unsigned i = 1; n && strings < end && *strings; i++) {
        const uint8_t *z = memchr(strings, 0, (size_t)(end - strings));
        if (!z)
            return;
        if (i == n) {
            size_t l = (size_t)(z - strings);
            if (l >= SMBIOS_TEXT_MAX)
                l = SMBIOS_TEXT_MAX - 1;
            memcpy(out, strings, l);
            out[l] = 0;
            return;
        }
        strings = z + 1;
    }
}

int smbios_system(const uint8_t *table, size_t len, struct smbios_system *s)
{
    memset(s, 0, sizeof(*s));
    const uint8_t *p = table, *end = table + len;
    while (p + HDR_SIZE <= end) {
        uint8_t type = p[HDR_TYPE], slen = p[HDR_LEN];
        if (slen < HDR_SIZE || p + slen > end)
            return -E_INVAL;
        const uint8_t *strings = p + slen, *q = strings;
        /* the string set ends with two NULs */
        while (q + 1 < end && (q[0] || q[1]))
            q++;
        if (q + 1 >= end)
            return -E_INVAL;
        if (type == TYPE_BIOS && slen > BIOS_VERSION) {
            copy_string(strings, q + 1, p[BIOS_VENDOR], s->bios_vendor);
            copy_string(strings, q + 1, p[BIOS_VERSION], s->bios_version);
        }
        if (type == TYPE_SYSTEM && slen > SYS_PRODUCT) {
            copy_string(strings, q + 1, p[SYS_MANUFACTURER], s->manufacturer);
            copy_string(strings, q + 1, p[SYS_PRODUCT], s->product);
        }
        if (type == TYPE_END)
            break;
        p = q + 2;
    }
    return 0;
}
