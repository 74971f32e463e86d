#include <string.h>
#include "fbcon.h"
#include "fbcon_font.h"
#include "../mm/mm.h"

/* EFI_GRAPHICS_PIXEL_FORMAT values with a 32-bit linear framebuffer. The
 * foreground grey has equal channels, so RGB and BGR draw alike. */
enum { PIXEL_RGB_RESERVED_8BIT = 0, PIXEL_BGR_RESERVED_8BIT = 1 };
#define BYTES_PER_PIXEL 4
#define TAB_WIDTH       8

static volatile uint32_t *pixels;
static unsigned stride, cols, rows, col, row, height_px, width_px;
static uint32_t format;
static int frozen;   /* the summary is up: the log no longer draws */

void fbcon_init(const struct boot_framebuffer *fb)
{
    if (!fb->base || (fb->format != PIXEL_RGB_RESERVED_8BIT && fb->format != PIXEL_BGR_RESERVED_8BIT) ||
        fb->pixels_per_line < fb->width || fb->size < (uint64_t)fb->pixels_per_line * fb->height * BYTES_PER_PIXEL)
        return;
    pixels = mmio_map(fb->base, fb->size);
    if (!pixels)
        return;
    stride = fb->pixels_per_line;
    format = fb->format;
    width_px = fb->width;
    height_px = fb->height;
    cols = fb->width / FONT_WIDTH;
    rows = fb->height / FONT_HEIGHT;
    for (uint64_t i = 0; i < (uint64_t)stride * fb->height; i++)
        pixels[i] = FBCON_BACKGROUND;
}

int fbcon_active(void) { return pixels != NULL; }
unsigned fbcon_columns(void) { return cols; }
unsigned fbcon_rows(void) { return rows; }

void fbcon_draw_char(unsigned c_col, unsigned c_row, char c)
{
    const uint8_t *glyph = fbcon_font[(c >= FONT_FIRST && c <= FONT_LAST ? c : '?') - FONT_FIRST];
    volatile uint32_t *p = pixels + (uint64_t)c_row * FONT_HEIGHT * stride + c_col * FONT_WIDTH;
    for (int y = 0; y < FONT_HEIGHT; y++, p += stride)
        for (int x = 0; x < FONT_WIDTH; x++)
            p[x] = (glyph[y] & (0x80 >> x)) ? FBCON_FOREGROUND : FBCON_BACKGROUND;
}

uint32_t fbcon_read_pixel(unsigned x, unsigned y)
{
    return pixels[(uint64_t)y * stride + x];
}

static void new_line(void)
{
    col = 0;
    row = (row + 1) % rows;
    for (unsigned c = 0; c < cols; c++)
        fbcon_draw_char(c, row, ' ');
}

void fbcon_freeze(void) { frozen = 1; }

void fbcon_write(const char *s, size_t n)
{
    if (!pixels || frozen)
        return;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            new_line();
        } else if (s[i] == '\t') {
            do
                fbcon_draw_char(col++, row, ' ');
            while (col % TAB_WIDTH && col < cols);
        } else if (s[i] != '\r') {
            fbcon_draw_char(col++, row, s[i]);
        }
        if (col >= cols)
            new_line();
    }
}

uint32_t fbcon_rgb(uint8_t r, uint8_t g, uint8_t b)
{
    /* The pixel's bytes in memory: blue, green, red (BGR) or red, green, blue. */
    return format == PIXEL_BGR_RESERVED_8BIT ? (uint32_t)r << 16 | (uint32_t)g << 8 | b
                                             : (uint32_t)b << 16 | (uint32_t)g << 8 | r;
}

void fbcon_clear(void)
{
    if (!pixels)
        return;
    for (uint64_t i = 0; i < (uint64_t)stride * height_px; i++)
        pixels[i] = FBCON_BACKGROUND;
    col = row = 0;
}

unsigned fbcon_draw_text(unsigned x, unsigned y, const char *s, unsigned scale, uint32_t color)
{
    if (!pixels || !scale)
        return x;
    for (; *s; s++, x += FONT_WIDTH * scale) {
        if (x + FONT_WIDTH * scale > width_px || y + FONT_HEIGHT * scale > height_px)
            break;
        char c = *s >= FONT_FIRST && *s <= FONT_LAST ? *s : '?';
        const uint8_t *glyph = fbcon_font[c - FONT_FIRST];
        for (unsigned gy = 0; gy < FONT_HEIGHT * scale; gy++) {
            volatile uint32_t *p = pixels + (uint64_t)(y + gy) * stride + x;
            for (unsigned gx = 0; gx < FONT_WIDTH * scale; gx++)
                p[gx] = (glyph[gy / scale] & (0x80 >> (gx / scale))) ? color : FBCON_BACKGROUND;
        }
    }
    return x;
}

unsigned fbcon_width(void) { return width_px; }
unsigned fbcon_height(void) { return height_px; }
