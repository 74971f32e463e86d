#ifndef VTDLAB_ACPI_H
#define VTDLAB_ACPI_H

#include <stdint.h>
#include "acpi_tables.h"

#define ACPI_MAX_TABLES 64

struct acpi_table_ref {
    char signature[5];
    uint64_t phys;
    const struct acpi_header *table; /* NULL when it failed its checks */
    const char *problem;             /* why it was rejected */
};

/* Validates the RSDP and XSDT and maps every table they list. Returns a
 * reason on failure (the kernel goes on without ACPI). */
const char *acpi_init(uint64_t rsdp_phys);
/* The first valid table with this signature, or NULL. */
const struct acpi_header *acpi_find(const char *signature);
unsigned acpi_table_count(void);
const struct acpi_table_ref *acpi_table(unsigned i);

#endif
