#include <string.h>
#include "acpi_tables.h"

uint8_t acpi_checksum(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += b[i];
    return sum;
}

const char *acpi_rsdp_check(const struct acpi_rsdp *rsdp)
{
    if (memcmp(rsdp->signature, "RSD PTR ", 8))
        return "RSDP signature is not \"RSD PTR \"";
    if (acpi_checksum(rsdp, ACPI_RSDP_V1_LENGTH))
        return "RSDP checksum does not add up";
    if (rsdp->revision < ACPI_RSDP_REVISION_XSDT)
        return rsdp->rsdt_address ? NULL : "RSDP (ACPI 1.0) has no RSDT address";
    if (rsdp->length < sizeof(*rsdp) || acpi_checksum(rsdp, sizeof(*rsdp)))
        return "RSDP extended checksum does not add up";
    if (!rsdp->xsdt_address)
        return "RSDP has no XSDT address";
    return NULL;
}

uint64_t acpi_root_address(const struct acpi_rsdp *rsdp, const char **signature)
{
    int xsdt = rsdp->revision >= ACPI_RSDP_REVISION_XSDT;
    *signature = xsdt ? "XSDT" : "RSDT";
    return xsdt ? rsdp->xsdt_address : rsdp->rsdt_address;
}

const char *acpi_table_check(const struct acpi_header *h, size_t mapped)
{
    if (mapped < sizeof(*h))
        return "table is shorter than its header";
    if (h->length < sizeof(*h))
        return "table length is shorter than a header";
    if (h->length > mapped)
        return "table length runs past what was mapped";
    if (acpi_checksum(h, h->length))
        return "table checksum does not add up";
    return NULL;
}

/* The XSDT's entries are 64-bit, the RSDT's 32-bit; neither is aligned. */
static size_t root_entry_size(const struct acpi_header *root)
{
    return memcmp(root->signature, "RSDT", 4) ? sizeof(uint64_t) : sizeof(uint32_t);
}

size_t acpi_root_count(const struct acpi_header *root)
{
    return (root->length - sizeof(*root)) / root_entry_size(root);
}

uint64_t acpi_root_entry(const struct acpi_header *root, size_t i)
{
    size_t size = root_entry_size(root);
    uint64_t v = 0;
    memcpy(&v, (const uint8_t *)(root + 1) + i * size, size); /* little-endian */
    return v;
}

/* A processor entry counts when it is enabled or can be brought online. */
static void count_cpu(struct madt_summary *out, const uint8_t *entry, uint8_t len, uint8_t min_len,
                      size_t flags_offset)
{
    if (len < min_len) {
        out->malformed++;
        return;
    }
    uint32_t flags;
    memcpy(&flags, entry + flags_offset, sizeof(flags));
    out->cpus_enabled += (flags & (MADT_LAPIC_ENABLED | MADT_LAPIC_ONLINE_CAPABLE)) != 0;
}

void acpi_madt_parse(const struct acpi_header *madt, struct madt_summary *out)
{
    memset(out, 0, sizeof(*out));
    const uint8_t *base = (const uint8_t *)madt;
    if (madt->length < MADT_ENTRIES_OFFSET)
        return;
    memcpy(&out->lapic_address, base + sizeof(struct acpi_header), sizeof(uint32_t));
    for (size_t off = MADT_ENTRIES_OFFSET; off + 2 <= madt->length;) {
        uint8_t type = base[off], len = base[off + 1];
        if (len < 2 || off + len > madt->length) {
            out->malformed++;
            break;
        }
        switch (type) {
        case MADT_LOCAL_APIC:
            count_cpu(out, base + off, len, MADT_LAPIC_MIN_LENGTH, MADT_LAPIC_FLAGS_OFFSET);
            break;
        case MADT_LOCAL_X2APIC:
            count_cpu(out, base + off, len, MADT_X2APIC_MIN_LENGTH, MADT_X2APIC_FLAGS_OFFSET);
            break;
        case MADT_IO_APIC:
            out->io_apics++;
            break;
        case MADT_INT_OVERRIDE:
            out->overrides++;
            break;
        default:
            break;
        }
        off += len;
    }
}

/* The enabled processor entry at off: 1 with its APIC id, else 0. */
static int madt_enabled_cpu(const uint8_t *entry, uint8_t type, uint8_t len, uint32_t *id)
{
    uint32_t flags = 0;
    if (type == MADT_LOCAL_APIC && len >= MADT_LAPIC_MIN_LENGTH) {
        memcpy(&flags, entry + MADT_LAPIC_FLAGS_OFFSET, sizeof(flags));
        *id = entry[MADT_LAPIC_ID_OFFSET];
    } else if (type == MADT_LOCAL_X2APIC && len >= MADT_X2APIC_MIN_LENGTH) {
        memcpy(&flags, entry + MADT_X2APIC_FLAGS_OFFSET, sizeof(flags));
        memcpy(id, entry + MADT_X2APIC_ID_OFFSET, sizeof(*id));
    }
    return (flags & MADT_LAPIC_ENABLED) != 0;
}

/* Whether an entry before end already lists id as an enabled CPU. */
static int madt_listed_before(const uint8_t *base, size_t end, uint32_t id)
{
    for (size_t off = MADT_ENTRIES_OFFSET; off < end;) {
        uint32_t other;
        if (madt_enabled_cpu(base + off, base[off], base[off + 1], &other) && other == id)
            return 1;
        off += base[off + 1];
    }
    return 0;
}

size_t acpi_madt_cpu_ids(const struct acpi_header *madt, uint32_t *ids, size_t max)
{
    const uint8_t *base = (const uint8_t *)madt;
    size_t n = 0;
    if (madt->length < MADT_ENTRIES_OFFSET)
        return 0;
    for (size_t off = MADT_ENTRIES_OFFSET; off + 2 <= madt->length;) {
        uint8_t type = base[off], len = base[off + 1];
        if (len < 2 || off + len > madt->length)
            break;
        uint32_t id;
        if (madt_enabled_cpu(base + off, type, len, &id) && !madt_listed_before(base, off, id)) {
            if (n < max)
                ids[n] = id;
            n++;
        }
        off += len;
    }
    return n;
}

size_t acpi_mcfg_parse(const struct acpi_header *mcfg, struct mcfg_entry *out, size_t max)
{
    if (mcfg->length < MCFG_ENTRIES_OFFSET)
        return 0;
    size_t n = (mcfg->length - MCFG_ENTRIES_OFFSET) / sizeof(struct mcfg_entry);
    for (size_t i = 0; i < n && i < max; i++)
        memcpy(&out[i], (const uint8_t *)mcfg + MCFG_ENTRIES_OFFSET + i * sizeof(struct mcfg_entry),
               sizeof(struct mcfg_entry));
    return n;
}

const char *acpi_spcr_parse(const struct acpi_header *h, struct spcr_info *out)
{
    const uint8_t *t = (const uint8_t *)h;
    memset(out, 0, sizeof(*out));
    if (h->length < SPCR_MIN_LENGTH)
        return "SPCR is shorter than its fixed fields";
    out->interface_type = t[SPCR_INTERFACE_TYPE];
    out->space = t[SPCR_BASE_ADDRESS];
    out->bit_width = t[SPCR_BASE_ADDRESS + 1];
    out->access_size = t[SPCR_BASE_ADDRESS + 3];
    memcpy(&out->address, t + SPCR_BASE_ADDRESS + 4, sizeof(out->address));
    static const uint32_t baud[] = { [3] = 9600, [4] = 19200, [6] = 57600, [7] = 115200 };
    uint8_t code = t[SPCR_BAUD_RATE];
    if (code && (code >= sizeof(baud) / sizeof(baud[0]) || !baud[code]))
        return "SPCR has a baud rate code the spec does not define";
    out->baud = code ? baud[code] : 0;
    if (out->interface_type != SPCR_16550 && out->interface_type != SPCR_16550_SUBSET &&
        out->interface_type != SPCR_16550_GAS)
        return "SPCR names a UART that is not a 16550";
    if (out->space != GAS_SYSTEM_IO && out->space != GAS_SYSTEM_MEMORY)
        return "SPCR's registers are neither in I/O nor in memory space";
    if (!out->address)
        return "SPCR has no register address";
    return NULL;
}
