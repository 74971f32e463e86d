/* What the unit consumed from the invalidation queue, read back from the
 * ring itself. */
#include <string.h>
#include "vtd_fixture.h"

unsigned fixture_unit_head(struct vtd_qi *q)
{
    return (unsigned)((vtd_read64(q->u, VTD_IQH) & VTD_IQ_INDEX_MASK) >> q->shift);
}

static const struct qi_desc *ring_at(const struct vtd_qi *q, unsigned i)
{
    return (const struct qi_desc *)(q->ring + (size_t)i * q->desc_size);
}

unsigned fixture_count_consumed(const struct vtd_qi *q, unsigned from, unsigned to,
                                int (*match)(const struct qi_desc *d, const void *arg), const void *arg)
{
    unsigned n = 0;
    for (unsigned i = from; i != to; i = (i + 1) % q->entries)
        n += match(ring_at(q, i), arg) != 0;
    return n;
}

void fixture_read_consumed(struct vtd_qi *q, unsigned from, unsigned to, struct vtd_consumed *c)
{
    memset(c, 0, sizeof(*c));
    c->last_ih = -1;
    for (unsigned i = from; i != to; i = (i + 1) % q->entries) {
        const struct qi_desc *d = ring_at(q, i);
        unsigned type = qi_desc_type(d);
        c->descriptors++;
        c->waits += type == QI_WAIT;
        if (type != QI_PASID_IOTLB)
            continue;
        c->pasid_iotlb++;
        int page = bits_get(d->qw[0], QI_GRAN) == QI_PIOTLB_PAGE;
        c->pasid_page += page;
        c->pasid_all += bits_get(d->qw[0], QI_GRAN) == QI_PIOTLB_ALL_IN_PASID;
        c->last_ih = page ? (int)bits_get(d->qw[1], QI_IH_QW1) : -1;
        c->ih_set += c->last_ih == 1;
    }
}
