/* libFuzzer target for the firmware-table parsers: DMAR, MADT, MCFG and the
 * generic table checks, on arbitrary bytes. The parsers are handed exactly
 * the bytes there are (the kernel maps a table by its length field after
 * acpi_table_check), so AddressSanitizer catches any read past them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "iommu/dmar.h"
#include "kernel/acpi_tables.h"

#define MCFG_MAX 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size heap copy: one byte more is out of bounds */
    uint8_t *t = malloc(size ? size : 1);
    memcpy(t, data, size);
    struct dmar_info d;
    dmar_parse(t, size, &d);
    if (size >= sizeof(struct acpi_header)) {
        struct acpi_header *h = (struct acpi_header *)t;
        acpi_table_check(h, size);
        /* what the kernel guarantees before parsing: length == mapped */
        h->length = (uint32_t)size;
        struct madt_summary m;
        acpi_madt_parse(h, &m);
        uint32_t ids[4];
        acpi_madt_cpu_ids(h, ids, sizeof(ids) / sizeof(ids[0]));
        struct mcfg_entry e[MCFG_MAX];
        acpi_mcfg_parse(h, e, MCFG_MAX);
        if (!memcmp(h->signature, "XSDT", 4) || !memcmp(h->signature, "RSDT", 4))
            for (size_t i = 0; i < acpi_root_count(h); i++)
                (void)acpi_root_entry(h, i);
    }
    free(t);
    return 0;
}
