#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "dmar.h"
#include "../lib/errno.h"

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, sizeof(v)); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, sizeof(v)); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, sizeof(v)); return v; }

static void problem(struct dmar_info *d, const char *fmt, ...)
{
    if (d->nproblems >= DMAR_MAX_PROBLEMS) {
        /* the last slot says that more were dropped */
        snprintf(d->problems[DMAR_MAX_PROBLEMS - 1], DMAR_PROBLEM_LEN, "more problems than are kept");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->problems[d->nproblems++], DMAR_PROBLEM_LEN, fmt, ap);
    va_end(ap);
}

const char *dmar_scope_type_name(uint8_t type)
{
    switch (type) {
    case DMAR_SCOPE_PCI_ENDPOINT: return "PCI endpoint";
    case DMAR_SCOPE_PCI_SUBHIERARCHY: return "PCI sub-hierarchy";
    case DMAR_SCOPE_IOAPIC: return "I/O APIC";
    case DMAR_SCOPE_HPET: return "HPET";
    case DMAR_SCOPE_ACPI_NAMESPACE: return "ACPI namespace device";
    default: return "unknown";
    }
}

/* Device scopes fill [p, end) exactly; one that runs past it ends the list. */
static void parse_scopes(struct dmar_info *d, const char *what, unsigned idx, const uint8_t *p,
                         const uint8_t *end, struct dmar_scopes *out)
{
    out->count = 0;
    while (p < end) {
        uint8_t len = end - p > DMAR_SCOPE_LENGTH ? p[DMAR_SCOPE_LENGTH] : 0;
        if (end - p < DMAR_SCOPE_HEADER || len < DMAR_SCOPE_HEADER || len > end - p) {
            problem(d, "%s %u: device scope at +%ld runs past its structure", what, idx, (long)(end - p));
            return;
        }
        if ((len - DMAR_SCOPE_HEADER) % 2) {
            problem(d, "%s %u: device scope length %u leaves half a path entry", what, idx, len);
        } else if (out->count == DMAR_MAX_SCOPES) {
            problem(d, "%s %u: more than %d device scopes; the rest are ignored", what, idx, DMAR_MAX_SCOPES);
            return;
        } else {
            struct dmar_scope *s = &out->s[out->count++];
            s->type = p[DMAR_SCOPE_TYPE];
            s->enumeration_id = p[DMAR_SCOPE_ENUM_ID];
            s->start_bus = p[DMAR_SCOPE_START_BUS];
            unsigned n = (len - DMAR_SCOPE_HEADER) / 2;
            if (n > DMAR_MAX_PATH) {
                problem(d, "%s %u: a device scope path of %u hops is cut to %d", what, idx, n, DMAR_MAX_PATH);
                n = DMAR_MAX_PATH;
            }
            if (n == 0)
                problem(d, "%s %u: device scope with an empty path", what, idx);
            s->path_len = (uint8_t)n;
            for (unsigned i = 0; i < n; i++) {
                s->path[i].device = p[DMAR_SCOPE_HEADER + 2 * i];
                s->path[i].function = p[DMAR_SCOPE_HEADER + 2 * i + 1];
            }
        }
        p += len;
    }
}

static int room(struct dmar_info *d, unsigned n, unsigned max, const char *what)
{
    if (n < max)
        return 1;
    problem(d, "more than %u %s structures; the rest are ignored", max, what);
    return 0;
}

int dmar_parse(const void *table, size_t len, struct dmar_info *d)
{
    memset(d, 0, sizeof(*d));
    const uint8_t *t = table;
    if (len < DMAR_STRUCTS_OFFSET)
        return -E_INVAL;
    d->host_address_width = (uint8_t)(t[DMAR_HAW_OFFSET] + 1);
    d->flags = t[DMAR_FLAGS_OFFSET];
    size_t off = DMAR_STRUCTS_OFFSET;
    while (off < len) {
        if (len - off < DMAR_STRUCT_HEADER) {
            problem(d, "%zu stray bytes at the end of the table", len - off);
            break;
        }
        const uint8_t *s = t + off;
        uint16_t type = rd16(s), slen = rd16(s + DMAR_STRUCT_LENGTH);
        if (slen < DMAR_STRUCT_HEADER || slen > len - off) {
            problem(d, "structure type %u at offset %zu has length %u, past the table's %zu bytes", type, off,
                    slen, len);
            break;
        }
        const uint8_t *end = s + slen;
        switch (type) {
        case DMAR_TYPE_DRHD:
            if (slen < DMAR_DRHD_SCOPES) {
                problem(d, "DRHD at offset %zu is %u bytes, shorter than its fixed part", off, slen);
            } else if (room(d, d->ndrhd, DMAR_MAX_UNITS, "DRHD")) {
                struct dmar_drhd *u = &d->drhd[d->ndrhd];
                u->flags = s[DMAR_DRHD_FLAGS];
                u->size = s[DMAR_DRHD_SIZE] & DMAR_DRHD_SIZE_MASK;
                u->segment = rd16(s + DMAR_DRHD_SEGMENT);
                u->base = rd64(s + DMAR_DRHD_BASE);
                parse_scopes(d, "DRHD", d->ndrhd, s + DMAR_DRHD_SCOPES, end, &u->scopes);
                d->ndrhd++;
            }
            break;
        case DMAR_TYPE_RMRR:
            if (slen < DMAR_RMRR_SCOPES) {
                problem(d, "RMRR at offset %zu is %u bytes, shorter than its fixed part", off, slen);
            } else if (room(d, d->nrmrr, DMAR_MAX_RMRR, "RMRR")) {
                struct dmar_rmrr *r = &d->rmrr[d->nrmrr];
                r->segment = rd16(s + DMAR_RMRR_SEGMENT);
                r->base = rd64(s + DMAR_RMRR_BASE);
                r->limit = rd64(s + DMAR_RMRR_LIMIT);
                if (r->limit < r->base)
                    problem(d, "RMRR %u: limit 0x%lx below base 0x%lx", d->nrmrr, (unsigned long)r->limit,
                            (unsigned long)r->base);
                else if (!dmar_rmrr_aligned(r))
                    problem(d, "RMRR %u: 0x%lx-0x%lx is not 4 KiB aligned (the base and limit + 1 must be)", d->nrmrr,
                            (unsigned long)r->base, (unsigned long)r->limit);
                parse_scopes(d, "RMRR", d->nrmrr, s + DMAR_RMRR_SCOPES, end, &r->scopes);
                d->nrmrr++;
            }
            break;
        case DMAR_TYPE_ATSR:
        case DMAR_TYPE_SATC: {
            int atsr = type == DMAR_TYPE_ATSR;
            unsigned *n = atsr ? &d->natsr : &d->nsatc;
            const char *name = atsr ? "ATSR" : "SATC";
            if (slen < (atsr ? DMAR_ATSR_SCOPES : DMAR_SATC_SCOPES)) {
                problem(d, "%s at offset %zu is %u bytes, shorter than its fixed part", name, off, slen);
            } else if (room(d, *n, DMAR_MAX_OTHER, name)) {
                struct dmar_port_list *a = atsr ? &d->atsr[*n] : &d->satc[*n];
                a->flags = s[DMAR_PORTS_FLAGS];
                a->segment = rd16(s + DMAR_PORTS_SEGMENT);
                parse_scopes(d, name, *n, s + (atsr ? DMAR_ATSR_SCOPES : DMAR_SATC_SCOPES), end, &a->scopes);
                (*n)++;
            }
            break;
        }
        case DMAR_TYPE_RHSA:
            if (slen < DMAR_RHSA_LENGTH) {
                problem(d, "RHSA at offset %zu is %u bytes, shorter than its %d", off, slen, DMAR_RHSA_LENGTH);
            } else if (room(d, d->nrhsa, DMAR_MAX_OTHER, "RHSA")) {
                d->rhsa[d->nrhsa].base = rd64(s + DMAR_RHSA_BASE);
                d->rhsa[d->nrhsa].proximity_domain = rd32(s + DMAR_RHSA_DOMAIN);
                d->nrhsa++;
            }
            break;
        case DMAR_TYPE_ANDD:
            if (slen < DMAR_ANDD_MIN_LENGTH) {
                problem(d, "ANDD at offset %zu is %u bytes, shorter than its fixed part", off, slen);
            } else if (room(d, d->nandd, DMAR_MAX_OTHER, "ANDD")) {
                struct dmar_andd *a = &d->andd[d->nandd];
                a->device_number = s[DMAR_ANDD_DEVICE];
                /* The name runs to its NUL or the structure's end. */
                size_t n = 0;
                for (const uint8_t *c = s + DMAR_ANDD_NAME; c < end && *c && n + 1 < sizeof(a->name); c++)
                    a->name[n++] = (char)*c;
                a->name[n] = 0;
                d->nandd++;
            }
            break;
        default:
            /* Newer spec revisions add types; skipping them is what the
             * spec asks of software that does not know them. */
            problem(d, "structure of unknown type %u (%u bytes) at offset %zu skipped", type, slen, off);
            d->nunknown++;
            break;
        }
        off += slen;
    }
    return 0;
}

int dmar_unit_for(const struct dmar_info *d, uint16_t segment,
                  int (*covers)(const struct dmar_scope *s, const void *device), const void *device)
{
    int all = -1;
    for (unsigned i = 0; i < d->ndrhd; i++) {
        const struct dmar_drhd *u = &d->drhd[i];
        if (u->segment != segment)
            continue;
        if (u->flags & DMAR_DRHD_INCLUDE_PCI_ALL) {
            all = (int)i;
            continue;
        }
        for (unsigned k = 0; k < u->scopes.count; k++)
            if (covers(&u->scopes.s[k], device))
                return (int)i;
    }
    return all;
}

#define DESCRIBE_LINE 160

static void describe_scopes(const struct dmar_scopes *sc, void (*line)(const char *))
{
    char buf[DESCRIBE_LINE];
    for (unsigned i = 0; i < sc->count; i++) {
        const struct dmar_scope *s = &sc->s[i];
        int n = snprintf(buf, sizeof(buf), "    scope: %s, enumeration id %u, bus %u, path",
                         dmar_scope_type_name(s->type), s->enumeration_id, s->start_bus);
        for (unsigned h = 0; h < s->path_len && n > 0 && (size_t)n < sizeof(buf); h++)
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, " %02x.%x", s->path[h].device, s->path[h].function);
        line(buf);
    }
}

void dmar_describe(const struct dmar_info *d, void (*line)(const char *))
{
    char buf[DESCRIBE_LINE];
    snprintf(buf, sizeof(buf), "DMAR: host address width %u bits;%s%s%s %u unit(s)", d->host_address_width,
             d->flags & DMAR_FLAG_INTR_REMAP ? " interrupt remapping;" : "",
             d->flags & DMAR_FLAG_X2APIC_OPT_OUT ? " x2APIC opt-out;" : "",
             d->flags & DMAR_FLAG_DMA_CTRL_OPT_IN ? " DMA control opt-in;" : "", d->ndrhd);
    line(buf);
    for (unsigned i = 0; i < d->ndrhd; i++) {
        const struct dmar_drhd *u = &d->drhd[i];
        snprintf(buf, sizeof(buf), "  DRHD %u: registers at 0x%lx (%u pages), segment %u%s", i,
                 (unsigned long)u->base, 1u << u->size, u->segment,
                 u->flags & DMAR_DRHD_INCLUDE_PCI_ALL ? ", all PCI devices not listed elsewhere" : "");
        line(buf);
        describe_scopes(&u->scopes, line);
    }
    for (unsigned i = 0; i < d->nrmrr; i++) {
        snprintf(buf, sizeof(buf), "  RMRR %u: reserved memory 0x%lx-0x%lx, segment %u", i,
                 (unsigned long)d->rmrr[i].base, (unsigned long)d->rmrr[i].limit, d->rmrr[i].segment);
        line(buf);
        describe_scopes(&d->rmrr[i].scopes, line);
    }
    /* Overlaps are allowed (firmware often reserves one range for several
     * devices), but worth a line: the shared pages are mapped once. */
    for (unsigned i = 0; i < d->nrmrr; i++)
        for (unsigned j = 0; j < i; j++)
            if (d->rmrr[i].segment == d->rmrr[j].segment && d->rmrr[i].base <= d->rmrr[j].limit &&
                d->rmrr[j].base <= d->rmrr[i].limit) {
                snprintf(buf, sizeof(buf), "  note: RMRR %u overlaps RMRR %u: their shared pages are mapped once", i, j);
                line(buf);
            }
    for (unsigned i = 0; i < d->natsr; i++) {
        snprintf(buf, sizeof(buf), "  ATSR %u: ATS on segment %u%s", i, d->atsr[i].segment,
                 d->atsr[i].flags & DMAR_ATSR_ALL_PORTS ? ", all root ports" : "");
        line(buf);
        describe_scopes(&d->atsr[i].scopes, line);
    }
    for (unsigned i = 0; i < d->nsatc; i++) {
        snprintf(buf, sizeof(buf), "  SATC %u: SoC-integrated ATC on segment %u%s", i, d->satc[i].segment,
                 d->satc[i].flags & DMAR_SATC_ATC_REQUIRED ? ", ATC required" : "");
        line(buf);
        describe_scopes(&d->satc[i].scopes, line);
    }
    for (unsigned i = 0; i < d->nrhsa; i++) {
        snprintf(buf, sizeof(buf), "  RHSA %u: unit 0x%lx in proximity domain %u", i, (unsigned long)d->rhsa[i].base,
                 d->rhsa[i].proximity_domain);
        line(buf);
    }
    for (unsigned i = 0; i < d->nandd; i++) {
        snprintf(buf, sizeof(buf), "  ANDD %u: ACPI device %u is %s", i, d->andd[i].device_number, d->andd[i].name);
        line(buf);
    }
    for (unsigned i = 0; i < d->nproblems; i++) {
        snprintf(buf, sizeof(buf), "  problem: %s", d->problems[i]);
        line(buf);
    }
}

int dmar_segment_has_rmrr(const struct dmar_info *d, uint16_t segment)
{
    for (unsigned r = 0; r < d->nrmrr; r++)
        if (d->rmrr[r].segment == segment)
            return 1;
    return 0;
}

int dmar_rmrr_aligned(const struct dmar_rmrr *r)
{
    return !(r->base & (DMAR_RMRR_ALIGN - 1)) && !((r->limit + 1) & (DMAR_RMRR_ALIGN - 1)) && r->limit >= r->base;
}
