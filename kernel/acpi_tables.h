/* ACPI table layouts and pure parsers (ACPI 6.5, chapter 5). The kernel
 * hands them memory it mapped; host tests hand them byte arrays. Every
 * parser checks lengths before reading and never reads past a table. */
#ifndef VTDLAB_ACPI_TABLES_H
#define VTDLAB_ACPI_TABLES_H

#include <stddef.h>
#include <stdint.h>

struct acpi_rsdp {
    char signature[8];        /* "RSD PTR " */
    uint8_t checksum;         /* over the first 20 bytes */
    char oem_id[6];
    uint8_t revision;         /* 2 or more: XSDT fields valid */
    uint32_t rsdt_address;
    uint32_t length;
    uint64_t xsdt_address;
    uint8_t extended_checksum;
    uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");
#define ACPI_RSDP_V1_LENGTH 20
/* Revision 2 (ACPI 2.0) and later carry the XSDT fields. */
#define ACPI_RSDP_REVISION_XSDT 2

struct acpi_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header");

/* MADT (5.2.12): header, local APIC address, flags, then entries. */
#define MADT_ENTRIES_OFFSET 44
enum madt_type { MADT_LOCAL_APIC = 0, MADT_IO_APIC = 1, MADT_INT_OVERRIDE = 2, MADT_LOCAL_X2APIC = 9 };
/* Processor Local APIC (5.2.12.2) and Local x2APIC (5.2.12.12) entries. */
#define MADT_LAPIC_MIN_LENGTH     8
#define MADT_LAPIC_FLAGS_OFFSET   4
#define MADT_X2APIC_MIN_LENGTH    16
#define MADT_X2APIC_FLAGS_OFFSET  8
#define MADT_LAPIC_ID_OFFSET      3   /* one byte */
#define MADT_X2APIC_ID_OFFSET     4   /* four bytes */
#define MADT_LAPIC_ENABLED        (1u << 0)
#define MADT_LAPIC_ONLINE_CAPABLE (1u << 1)

/* MCFG (PCI Firmware spec 4.1.2): header, 8 reserved, then 16-byte entries. */
#define MCFG_ENTRIES_OFFSET 44
struct mcfg_entry {
    uint64_t base;
    uint16_t segment;
    uint8_t bus_start, bus_end;
    uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mcfg_entry) == 16, "MCFG allocation");

/* HPET table (IA-PC HPET spec 3.2.4): base address GAS at offset 40. */
#define HPET_TABLE_ADDRESS_OFFSET 44
#define HPET_TABLE_MIN_LENGTH     56

uint8_t acpi_checksum(const void *p, size_t len);
/* 0 when the RSDP is valid and revision 2+ (XSDT); a reason otherwise. */
const char *acpi_rsdp_check(const struct acpi_rsdp *rsdp);
/* Validates a table's length against the mapping and its checksum. */
const char *acpi_table_check(const struct acpi_header *h, size_t mapped);
/* The root table an RSDP points at: the XSDT from ACPI 2.0 on, the RSDT
 * of ACPI 1.0 before (SeaBIOS, which a PVH boot runs on, writes one). */
uint64_t acpi_root_address(const struct acpi_rsdp *rsdp, const char **signature);
/* Number of entries in an XSDT or RSDT (checked) and entry i. */
size_t acpi_root_count(const struct acpi_header *root);
uint64_t acpi_root_entry(const struct acpi_header *root, size_t i);

/* Serial Port Console Redirection table (Microsoft's SPCR spec, rev 2):
 * the interface type, the registers as a Generic Address Structure, the
 * baud rate code. */
#define SPCR_INTERFACE_TYPE   36
#define SPCR_BASE_ADDRESS     40     /* GAS: space id, bit width, bit offset, access size, address */
#define SPCR_BAUD_RATE        58
#define SPCR_MIN_LENGTH       80
enum { SPCR_16550 = 0x00, SPCR_16550_SUBSET = 0x01, SPCR_16550_GAS = 0x12 };
enum { GAS_SYSTEM_MEMORY = 0, GAS_SYSTEM_IO = 1 };
struct spcr_info {
    uint8_t interface_type, space, bit_width, access_size;
    uint64_t address;
    uint32_t baud;          /* 0: as the firmware left it */
};
/* NULL and out filled, or why the table names no 16550 this kernel drives. */
const char *acpi_spcr_parse(const struct acpi_header *h, struct spcr_info *out);

struct madt_summary {
    uint32_t lapic_address;
    unsigned cpus_enabled;     /* local APIC / x2APIC entries usable */
    unsigned io_apics;
    unsigned overrides;
    unsigned malformed;        /* entries skipped for a bad length */
};
void acpi_madt_parse(const struct acpi_header *madt, struct madt_summary *out);
/* The APIC ids of the enabled processors (Local APIC and Local x2APIC
 * entries with the Enabled flag), in table order; up to max are stored,
 * the number the table lists is returned. An id listed twice counts once. */
size_t acpi_madt_cpu_ids(const struct acpi_header *madt, uint32_t *ids, size_t max);

/* Copies up to max MCFG allocations; returns how many the table has. */
size_t acpi_mcfg_parse(const struct acpi_header *mcfg, struct mcfg_entry *out, size_t max);

#endif
