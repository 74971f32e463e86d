/* vtdlab-decode: the kernel's own VT-d decoders, built for the host, for
 * the engineer at a Linux machine with a register value, a fault record or
 * /sys/firmware/acpi/tables/DMAR in hand. `tools/vtdlab decode` runs it.
 *
 *   vtdlab-decode [--json] dmar FILE
 *   vtdlab-decode [--json] cap|ecap VALUE
 *   vtdlab-decode [--json] fault HI LO
 *   vtdlab-decode [--json] desc QW0 QW1 [QW2 QW3]
 *   vtdlab-decode [--json] context QW0 QW1
 *   vtdlab-decode [--json] pasid-entry QW0 .. QW7 (missing qwords are 0)
 *
 * Values are C literals: 0x... for hexadecimal, else decimal. Exit 0, or
 * 2 with a message for bad input. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "iommu/cap_reg.h"
#include "iommu/dmar.h"
#include "iommu/context_entry.h"
#include "iommu/fault_record.h"
#include "iommu/pasid_entry.h"
#include "iommu/qi_desc.h"

#define EXIT_USAGE 2
#define DMAR_FILE_MAX (1u << 20)   /* far above any real DMAR table */
#define PASID_ENTRY_QWORDS 8
#define CONTEXT_ENTRY_QWORDS 2

static int json;

static void usage(const char *why)
{
    fprintf(stderr, "vtdlab-decode: %s\n"
                    "usage: vtdlab-decode [--json] dmar FILE | cap VALUE | ecap VALUE | fault HI LO |\n"
                    "       desc QW0 QW1 [QW2 QW3] | context QW0 QW1 | pasid-entry QW0 [.. QW7]\n", why);
    exit(EXIT_USAGE);
}

static uint64_t number(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-') {
        char why[160];
        snprintf(why, sizeof(why), "'%s' is not a number (write hexadecimal as 0x...)", s);
        usage(why);
    }
    return v;
}

/* ---------------------------------------------------------------- fields */

static void text_line(const char *l) { printf("%s\n", l); }

static void json_fields(const struct vtd_field *f, size_t n, uint64_t v)
{
    printf("{\"value\": \"0x%016llx\", \"fields\": {", (unsigned long long)v);
    for (size_t i = 0; i < n; i++)
        printf("%s\"%s\": %llu", i ? ", " : "", f[i].name, (unsigned long long)bits_get(v, f[i].hi, f[i].lo));
    printf("}}\n");
}

static void entry(const struct vtd_entry_field *f, size_t n, const uint64_t *qw)
{
    if (!json) {
        vtd_describe_entry(f, n, qw, text_line);
        return;
    }
    printf("{\"fields\": {");
    for (size_t i = 0; i < n; i++)
        printf("%s\"%s\": %llu", i ? ", " : "", f[i].name,
               (unsigned long long)bits_get(qw[f[i].qword], f[i].hi, f[i].lo));
    printf("}}\n");
}

/* ---------------------------------------------------------------- DMAR */

static void json_scopes(const struct dmar_scopes *s)
{
    printf("\"scopes\": [");
    for (unsigned i = 0; i < s->count; i++) {
        const struct dmar_scope *d = &s->s[i];
        printf("%s{\"type\": %u, \"enumeration_id\": %u, \"start_bus\": %u, \"path\": [", i ? ", " : "", d->type,
               d->enumeration_id, d->start_bus);
        for (unsigned p = 0; p < d->path_len; p++)
            printf("%s[%u, %u]", p ? ", " : "", d->path[p].device, d->path[p].function);
        printf("]}");
    }
    printf("]");
}

static void json_ports(const char *name, const struct dmar_port_list *a, unsigned n)
{
    printf(", \"%s\": [", name);
    for (unsigned i = 0; i < n; i++) {
        printf("%s{\"segment\": %u, \"flags\": %u, ", i ? ", " : "", a[i].segment, a[i].flags);
        json_scopes(&a[i].scopes);
        printf("}");
    }
    printf("]");
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void dmar(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        char why[300];
        snprintf(why, sizeof(why), "cannot open '%s': %s", path, strerror(errno));
        usage(why);
    }
    static uint8_t buf[DMAR_FILE_MAX];
    size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (len < DMAR_STRUCTS_OFFSET || memcmp(buf, "DMAR", 4))
        usage("the file is not a DMAR table (no \"DMAR\" signature, or shorter than its header)");
    static struct dmar_info d;
    dmar_parse(buf, len, &d);
    if (json) {
        printf("{\"host_address_width\": %u, \"flags\": %u, \"drhd\": [", d.host_address_width, d.flags);
        for (unsigned i = 0; i < d.ndrhd; i++) {
            const struct dmar_drhd *u = &d.drhd[i];
            printf("%s{\"base\": %llu, \"segment\": %u, \"flags\": %u, \"size\": %u, ", i ? ", " : "",
                   (unsigned long long)u->base, u->segment, u->flags, u->size);
            json_scopes(&u->scopes);
            printf("}");
        }
        printf("], \"rmrr\": [");
        for (unsigned i = 0; i < d.nrmrr; i++) {
            const struct dmar_rmrr *r = &d.rmrr[i];
            printf("%s{\"segment\": %u, \"base\": %llu, \"limit\": %llu, ", i ? ", " : "", r->segment,
                   (unsigned long long)r->base, (unsigned long long)r->limit);
            json_scopes(&r->scopes);
            printf("}");
        }
        printf("]");
        json_ports("atsr", d.atsr, d.natsr);
        json_ports("satc", d.satc, d.nsatc);
        printf(", \"rhsa\": [");
        for (unsigned i = 0; i < d.nrhsa; i++)
            printf("%s{\"base\": %llu, \"proximity_domain\": %u}", i ? ", " : "",
                   (unsigned long long)d.rhsa[i].base, d.rhsa[i].proximity_domain);
        printf("], \"andd\": [");
        for (unsigned i = 0; i < d.nandd; i++) {
            printf("%s{\"device_number\": %u, \"name\": ", i ? ", " : "", d.andd[i].device_number);
            json_string(d.andd[i].name);
            printf("}");
        }
        printf("], \"unknown\": %u, \"problems\": [", d.nunknown);
        for (unsigned i = 0; i < d.nproblems; i++) {
            printf("%s", i ? ", " : "");
            json_string(d.problems[i]);
        }
        printf("]}\n");
        return;
    }
    dmar_describe(&d, text_line);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    int a = 1;
    if (a < argc && !strcmp(argv[a], "--json")) {
        json = 1;
        a++;
    }
    if (a >= argc)
        usage("no command");
    const char *cmd = argv[a++];
    int n = argc - a;
    if (!strcmp(cmd, "dmar")) {
        if (n != 1)
            usage("dmar takes one FILE");
        dmar(argv[a]);
    } else if (!strcmp(cmd, "cap") || !strcmp(cmd, "ecap")) {
        if (n != 1)
            usage("cap and ecap take one VALUE");
        uint64_t v = number(argv[a]);
        int cap = !strcmp(cmd, "cap");
        const struct vtd_field *f = cap ? vtd_cap_fields : vtd_ecap_fields;
        size_t count = cap ? vtd_cap_field_count : vtd_ecap_field_count;
        if (json) {
            json_fields(f, count, v);
        } else {
            printf("%s 0x%016llx:\n", cap ? "CAP" : "ECAP", (unsigned long long)v);
            vtd_describe_fields(f, count, v, text_line);
        }
    } else if (!strcmp(cmd, "fault")) {
        if (n != 2)
            usage("fault takes HI LO: the record's upper and lower qword");
        uint64_t hi = number(argv[a]), lo = number(argv[a + 1]);
        struct vtd_fault f;
        if (!vtd_fault_decode(lo, hi, &f)) {
            if (json)
                printf("{\"fault\": false}\n");
            else
                printf("no fault recorded (F, bit 127, is clear)\n");
            return 0;
        }
        char text[200];
        vtd_fault_describe(&f, text, sizeof(text));
        if (json) {
            printf("{\"fault\": true, \"reason\": %u, \"reason_name\": ", f.reason);
            json_string(vtd_fault_reason_name(f.reason));
            printf(", \"sid\": %u, \"interrupt\": %s, \"index\": %u, \"address\": %llu, \"read\": %s, "
                   "\"pasid_present\": %s, \"pasid\": %u, \"text\": ", f.sid, f.is_interrupt ? "true" : "false",
                   f.ir_index, (unsigned long long)f.addr, f.is_read ? "true" : "false",
                   f.pasid_present ? "true" : "false", f.pasid);
            json_string(text);
            printf("}\n");
        } else {
            printf("%s\n", text);
        }
    } else if (!strcmp(cmd, "desc")) {
        if (n != 2 && n != 4)
            usage("desc takes QW0 QW1, or QW0 QW1 QW2 QW3 for a 256-bit descriptor");
        struct qi_desc d = { { 0 } };
        for (int i = 0; i < n; i++)
            d.qw[i] = number(argv[a + i]);
        char text[200];
        qi_desc_describe(&d, text, sizeof(text));
        if (json) {
            printf("{\"type\": %u, \"type_name\": ", qi_desc_type(&d));
            json_string(qi_type_name(qi_desc_type(&d)));
            printf(", \"text\": ");
            json_string(text);
            printf("}\n");
        } else {
            printf("%s\n", text);
        }
    } else if (!strcmp(cmd, "context") || !strcmp(cmd, "pasid-entry")) {
        int ctx = !strcmp(cmd, "context");
        int max = ctx ? CONTEXT_ENTRY_QWORDS : PASID_ENTRY_QWORDS;
        if (n < 1 || n > max)
            usage(ctx ? "context takes QW0 QW1" : "pasid-entry takes QW0 up to QW7");
        uint64_t qw[PASID_ENTRY_QWORDS] = { 0 };
        for (int i = 0; i < n; i++)
            qw[i] = number(argv[a + i]);
        if (ctx)
            entry(vtd_context_entry_fields, vtd_context_entry_field_count, qw);
        else
            entry(vtd_pasid_entry_fields, vtd_pasid_entry_field_count, qw);
    } else {
        char why[120];
        snprintf(why, sizeof(why), "unknown command '%s'", cmd);
        usage(why);
    }
    return 0;
}
