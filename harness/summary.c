/* The end of a run on the framebuffer, for a person across the room from
 * a machine whose serial port nobody reads: the verdict in large letters,
 * the counts, the remapping units found with their key capabilities, and
 * every case that failed with its reason. The layout (margins, scales,
 * gaps) is what tests/tool/test_screen.py reads back from a screendump. */
#include <stdio.h>
#include "summary.h"
#include "../kernel/fbcon.h"
#include "harness.h"
#include "ktap.h"
#include "../iommu/iommu.h"

#define MARGIN          16
#define VERDICT_SCALE   6
#define COUNTS_SCALE    2
#define LINE_GAP        4
#define LINE_MAX        160
#define FONT_ROW        16       /* the font's height at scale 1 */

static unsigned line(unsigned y, unsigned scale, uint32_t color, const char *text)
{
    fbcon_draw_text(MARGIN, y, text, scale, color);
    return y + FONT_ROW * scale + LINE_GAP;
}

static unsigned units(unsigned y, uint32_t color)
{
    const struct dmar_info *d = iommu_dmar();
    char text[LINE_MAX];
    if (!d || !d->ndrhd)
        return line(y, 1, color, "VT-d: no remapping unit (no DMAR table)");
    snprintf(text, sizeof(text), "VT-d: %u unit(s), host address width %u bits", d->ndrhd, d->host_address_width);
    y = line(y, 1, color, text);
    for (unsigned i = 0; i < d->ndrhd; i++) {
        iommu_unit_describe(i, text, sizeof(text));
        y = line(y, 1, color, text);
    }
    return y;
}

void summary_show(void)
{
    if (!fbcon_active())
        return;
    const struct harness_summary *s = harness_summary();
    unsigned bad = s->fail + s->timeout + s->error;
    uint32_t green = fbcon_rgb(0x40, 0xe0, 0x40), red = fbcon_rgb(0xf0, 0x40, 0x40), grey = FBCON_FOREGROUND;
    fbcon_clear();
    unsigned y = MARGIN;
    y = line(y, VERDICT_SCALE, bad ? red : green, bad ? "FAIL" : "PASS");
    char text[LINE_MAX];
    snprintf(text, sizeof(text), "%u passed, %u failed, %u skipped", s->pass, bad, s->skip);
    y = line(y, COUNTS_SCALE, grey, text);
    y = units(y, grey);
    y += LINE_GAP;
    for (unsigned i = 0; i < s->nfailed && i < SUMMARY_FAILED_MAX; i++) {
        const char *kind = s->failed[i].status == KTAP_TIMEOUT ? "TIMEOUT" : s->failed[i].status == KTAP_ERROR ? "ERROR"
                                                                                                                : "FAIL";
        snprintf(text, sizeof(text), "%s %s: %s", kind, s->failed[i].name, s->failed[i].reason);
        y = line(y, 1, red, text);
    }
    if (s->nfailed > SUMMARY_FAILED_MAX) {
        snprintf(text, sizeof(text), "... and %u more (see the serial log)", s->nfailed - SUMMARY_FAILED_MAX);
        line(y, 1, red, text);
    }
    fbcon_freeze();
}
