#include <string.h>
#include "scalable_mode.h"
#include "cap_reg.h"
#include "entry_write.h"
#include "qi.h"
#include "../lib/bits.h"
#include "../lib/errno.h"
#include "../mm/mm.h"

#define PASID_ENTRY_WORDS 8
#define CONTEXT_WORDS     4
#define ROOT_WORDS        2

uint32_t vtd_pasid_limit(const struct vtd_unit *u)
{
    return 1u << (ECAP_PSS(u->ecap) + 1);
}

int vtd_sm_tables_init(struct vtd_sm_tables *t)
{
    memset(t, 0, sizeof(*t));
    t->root_pa = page_alloc();
    t->pasid_dir_pa = page_alloc();
    return t->root_pa && t->pasid_dir_pa ? 0 : -E_NOMEM;
}

int vtd_sm_context_set(const struct vtd_unit *u, struct vtd_sm_tables *t, uint8_t bus, uint8_t devfn,
                       uint32_t rid_pasid, int fpd)
{
    int half = devfn >= SM_DEVFN_UPPER;
    if (!t->context_pa[bus][half]) {
        t->context_pa[bus][half] = page_alloc();
        if (!t->context_pa[bus][half])
            return -E_NOMEM;
        vtd_flush_lines(u, phys_to_virt(t->context_pa[bus][half]), PAGE_SIZE);
        struct vtd_sm_root_entry re;
        vtd_sm_root_entry_encode(&re, t->context_pa[bus][0], t->context_pa[bus][1]);
        struct vtd_sm_root_entry *root = phys_to_virt(t->root_pa);
        /* both halves carry a present bit: write the whole entry, the word
         * of the half being added last */
        vtd_entry_write(u, root[bus].qw, re.qw, ROOT_WORDS, (unsigned)half);
    }
    struct vtd_sm_context_entry ce;
    int err = vtd_sm_context_encode(&ce, t->pasid_dir_pa, SM_DIR_PDTS, rid_pasid, fpd, (int)ECAP_PASID(u->ecap));
    if (err)
        return err;
    struct vtd_sm_context_entry *ctx = phys_to_virt(t->context_pa[bus][half]);
    vtd_entry_write(u, ctx[devfn % SM_CONTEXTS_PER_TABLE].qw, ce.qw, CONTEXT_WORDS, 0);
    return 0;
}

int vtd_sm_context_set_dte(const struct vtd_unit *u, struct vtd_sm_tables *t, uint8_t bus, uint8_t devfn, int dte)
{
    int half = devfn >= SM_DEVFN_UPPER;
    if (!t->context_pa[bus][half])
        return -E_NOENT;
    struct vtd_sm_context_entry *ctx = (struct vtd_sm_context_entry *)phys_to_virt(t->context_pa[bus][half]) +
                                       devfn % SM_CONTEXTS_PER_TABLE;
    uint64_t qw0 = ctx->qw[0];
    if (!bits_get(qw0, SM_CTX_P))
        return -E_NOENT;
    bits_set(&qw0, SM_CTX_DTE, dte ? 1 : 0);
    vtd_entry_write(u, ctx->qw, &qw0, 1, 0);   /* one store: P stays */
    return 0;
}

int vtd_pasid_install(const struct vtd_unit *u, struct vtd_sm_tables *t, uint32_t pasid,
                      const struct vtd_pasid_entry *e, int override_width)
{
    uint32_t dir = pasid >> PASID_DIR_SHIFT;
    if (dir >= SM_DIR_ENTRIES || (pasid >= vtd_pasid_limit(u) && !override_width))
        return -E_RANGE;
    if (!t->pasid_table_pa[dir]) {
        t->pasid_table_pa[dir] = page_alloc();
        if (!t->pasid_table_pa[dir])
            return -E_NOMEM;
        vtd_flush_lines(u, phys_to_virt(t->pasid_table_pa[dir]), PAGE_SIZE);
        struct vtd_pasid_dir_entry de;
        vtd_pasid_dir_entry_encode(&de, t->pasid_table_pa[dir]);
        struct vtd_pasid_dir_entry *d = phys_to_virt(t->pasid_dir_pa);
        vtd_entry_write(u, d[dir].qw, de.qw, 1, 0);
    }
    struct vtd_pasid_entry present = *e;
    pasid_entry_set_present(&present, 1);
    struct vtd_pasid_entry *table = phys_to_virt(t->pasid_table_pa[dir]);
    vtd_entry_write(u, table[pasid % PASID_TABLE_ENTRIES].qw, present.qw, PASID_ENTRY_WORDS, 0);
    return 0;
}

void vtd_pasid_clear(const struct vtd_unit *u, struct vtd_sm_tables *t, uint32_t pasid)
{
    uint32_t dir = pasid >> PASID_DIR_SHIFT;
    if (dir < SM_DIR_ENTRIES && t->pasid_table_pa[dir]) {
        struct vtd_pasid_entry *table = phys_to_virt(t->pasid_table_pa[dir]);
        vtd_entry_clear(u, table[pasid % PASID_TABLE_ENTRIES].qw, PASID_ENTRY_WORDS, 0);
    }
}

int vtd_sm_attach(struct vtd_unit *u, struct vtd_qi *qi, struct vtd_sm_tables *t, uint8_t bus, uint8_t devfn,
                  uint32_t pasid, const struct vtd_pasid_entry *e, int override_width)
{
    int err = vtd_pasid_install(u, t, pasid, e, override_width);
    err = err ? err : vtd_sm_context_set(u, t, bus, devfn, pasid, 0);
    err = err ? err : vtd_set_root_table(u, t->root_pa, 1);
    if (err)
        return err;
    uint16_t did = (uint16_t)bits_get(e->qw[PE_DID_QWORD], PE_DID_HI, PE_DID_LO);
    struct qi_desc d[4];
    qi_desc_context_cache(&d[0], (struct qi_context_cache){ .gran = QI_CC_GLOBAL });
    qi_desc_pasid_cache(&d[1], (struct qi_pasid_cache){ .gran = QI_PC_GLOBAL });
    qi_desc_iotlb(&d[2], (struct qi_iotlb){ .gran = QI_IOTLB_GLOBAL });
    qi_desc_pasid_iotlb(&d[3], (struct qi_pasid_iotlb){ .gran = QI_PIOTLB_ALL_IN_PASID, .did = did, .pasid = pasid });
    err = qi_sync(qi, d, sizeof(d) / sizeof(d[0]));
    return err ? err : vtd_gcmd(u, VTD_GCMD_TE, 1);
}

void vtd_sm_tables_free(struct vtd_sm_tables *t)
{
    for (unsigned b = 0; b < VTD_ROOT_ENTRIES; b++)
        for (unsigned h = 0; h < sizeof(t->context_pa[b]) / sizeof(t->context_pa[b][0]); h++)
            if (t->context_pa[b][h])
                page_free(t->context_pa[b][h]);
    for (unsigned i = 0; i < SM_DIR_ENTRIES; i++)
        if (t->pasid_table_pa[i])
            page_free(t->pasid_table_pa[i]);
    if (t->pasid_dir_pa)
        page_free(t->pasid_dir_pa);
    if (t->root_pa)
        page_free(t->root_pa);
    memset(t, 0, sizeof(*t));
}
