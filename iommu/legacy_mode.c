#include <string.h>
#include "legacy_mode.h"
#include "entry_write.h"
#include "inv_reg.h"
#include "../lib/errno.h"
#include "../mm/mm.h"

int vtd_legacy_tables_init(struct vtd_legacy_tables *t)
{
    memset(t, 0, sizeof(*t));
    t->root_pa = page_alloc();
    return t->root_pa ? 0 : -E_NOMEM;
}

int vtd_legacy_context_set(const struct vtd_unit *u, struct vtd_legacy_tables *t, uint8_t bus, uint8_t devfn,
                           const struct vtd_context_entry *e)
{
    struct vtd_root_entry *root = phys_to_virt(t->root_pa);
    if (!t->context_pa[bus]) {
        t->context_pa[bus] = page_alloc();
        if (!t->context_pa[bus])
            return -E_NOMEM;
        vtd_flush_lines(u, phys_to_virt(t->context_pa[bus]), PAGE_SIZE);
        struct vtd_root_entry re;
        vtd_root_entry_encode(&re, t->context_pa[bus]);
        vtd_entry_write(u, root[bus].qw, re.qw, 2, 0);
    }
    struct vtd_context_entry *ctx = phys_to_virt(t->context_pa[bus]);
    vtd_entry_write(u, ctx[devfn].qw, e->qw, 2, 0);
    return 0;
}

int vtd_legacy_attach(struct vtd_unit *u, struct vtd_legacy_tables *t, uint8_t bus, uint8_t devfn,
                      const struct vtd_context_entry *e)
{
    int err = vtd_legacy_context_set(u, t, bus, devfn, e);
    err = err ? err : vtd_set_root_table(u, t->root_pa, 0);
    err = err ? err : vtd_reg_invalidate_context(u, VTD_INV_GLOBAL, 0, 0);
    err = err ? err : vtd_reg_invalidate_iotlb(u, VTD_INV_GLOBAL, 0, 0, 0);
    return err ? err : vtd_gcmd(u, VTD_GCMD_TE, 1);
}

void vtd_legacy_tables_free(struct vtd_legacy_tables *t)
{
    for (unsigned b = 0; b < VTD_ROOT_ENTRIES; b++)
        if (t->context_pa[b])
            page_free(t->context_pa[b]);
    if (t->root_pa)
        page_free(t->root_pa);
    memset(t, 0, sizeof(*t));
}
