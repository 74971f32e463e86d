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
static unsigned stride, cols, rows, col, row;

void fbcon_init(const struct boot_framebuffer *fb)
{
    if (!fb->base || (fb->format != PIXEL_RGB_RESERVED_8BIT && fb->format != PIXEL_BGR_RESERVED_8BIT) ||
        fb->pixels_per_line < fb->width || fb->size < (uint64_t)fb->pixels_per_line * fb->height * BYTES_PER_PIXEL)
        return;
    pixels = mmio_map(fb->base, fb->size);
    if (!pixels)
        return;
    stride = fb->pixels_per_line;
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

void fbcon_write(const char *s, size_t n)
{
    if (!pixels)
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
