#include <string.h>
#include "acpi.h"
#include "printk.h"
#include "../mm/mm.h"

static struct acpi_table_ref tables[ACPI_MAX_TABLES];
static unsigned ntables;

/* Maps the header, then the whole table as long as its length says. */
static const struct acpi_header *map_table(uint64_t pa, size_t *mapped)
{
    const struct acpi_header *h = phys_map_cached(pa, sizeof(*h));
    *mapped = 0;
    if (!h)
        return NULL;
    if (h->length < sizeof(*h)) {
        *mapped = sizeof(*h);
        return h;
    }
    *mapped = h->length;
    return phys_map_cached(pa, h->length);
}

const char *acpi_init(uint64_t rsdp_phys)
{
    if (!rsdp_phys)
        return "the firmware gave no RSDP";
    const struct acpi_rsdp *rsdp = phys_map_cached(rsdp_phys, sizeof(*rsdp));
    const char *why = rsdp ? acpi_rsdp_check(rsdp) : "cannot map the RSDP";
    if (why)
        return why;
    size_t mapped;
    const char *signature;
    const struct acpi_header *root = map_table(acpi_root_address(rsdp, &signature), &mapped);
    if (!root)
        return signature[0] == 'X' ? "cannot map the XSDT" : "cannot map the RSDT";
    if ((why = acpi_table_check(root, mapped)))
        return why;
    if (memcmp(root->signature, signature, 4))
        return signature[0] == 'X' ? "the RSDP's XSDT address does not hold an XSDT"
                                   : "the RSDP's RSDT address does not hold an RSDT";
    size_t n = acpi_root_count(root);
    for (size_t i = 0; i < n && ntables < ACPI_MAX_TABLES; i++) {
        struct acpi_table_ref *t = &tables[ntables++];
        t->phys = acpi_root_entry(root, i);
        const struct acpi_header *h = map_table(t->phys, &mapped);
        if (!h) {
            t->problem = "cannot be mapped";
            continue;
        }
        memcpy(t->signature, h->signature, 4);
        t->problem = acpi_table_check(h, mapped);
        if (!t->problem)
            t->table = h;
    }
    return NULL;
}

const struct acpi_header *acpi_find(const char *signature)
{
    for (unsigned i = 0; i < ntables; i++)
        if (tables[i].table && !memcmp(tables[i].signature, signature, 4))
            return tables[i].table;
    return NULL;
}

unsigned acpi_table_count(void) { return ntables; }
const struct acpi_table_ref *acpi_table(unsigned i) { return i < ntables ? &tables[i] : NULL; }
