/* SMBIOS (DMTF DSP0134): just enough to name the machine in the log, so a
 * hardware report says what it ran on. The entry point comes from the
 * UEFI configuration table (SMBIOS3_TABLE_GUID, else SMBIOS_TABLE_GUID),
 * or, on a PVH boot, from the BIOS area scan (DSP0134 5.2). Pure: host-
 * tested against literal tables. */
#ifndef VTDLAB_KERNEL_SMBIOS_H
#define VTDLAB_KERNEL_SMBIOS_H

#include <stddef.h>
#include <stdint.h>

#define SMBIOS_SCAN_START 0xf0000u     /* the BIOS area searched for an anchor */
#define SMBIOS_SCAN_END   0x100000u
#define SMBIOS_SCAN_STEP  16           /* anchors sit on paragraph boundaries */
#define SMBIOS_EP_MAX     32           /* bytes an entry point can take */

struct smbios_entry {
    unsigned major, minor;
    uint64_t table;                    /* structure table: physical address */
    uint32_t table_len;                /* its length (3.0: the maximum) */
};

/* The entry point at ep (len bytes readable): "_SM3_" (3.0, 64-bit) or
 * "_SM_" (2.1, with its "_DMI_" part), checksums verified. 0, or -E_INVAL
 * with the reason in *why. */
int smbios_entry_parse(const uint8_t *ep, size_t len, struct smbios_entry *out, const char **why);
/* The offset of the first anchor ("_SM3_" preferred) in a scanned region
 * on a SMBIOS_SCAN_STEP boundary, or -1. */
long smbios_scan(const uint8_t *region, size_t len);

#define SMBIOS_TEXT_MAX 48
struct smbios_system {
    char manufacturer[SMBIOS_TEXT_MAX], product[SMBIOS_TEXT_MAX];   /* type 1 */
    char bios_vendor[SMBIOS_TEXT_MAX], bios_version[SMBIOS_TEXT_MAX]; /* type 0 */
};
/* The system's and the BIOS's names from the structure table (strings
 * the table does not give stay empty); 0, or -E_INVAL for a structure
 * that runs past the table. */
int smbios_system(const uint8_t *table, size_t len, struct smbios_system *s);

#endif
