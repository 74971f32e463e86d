/* Text console on the UEFI GOP framebuffer, for machines whose serial port
 * nobody reads. Output wraps to the top instead of scrolling: the
 * framebuffer is mapped uncached, where redrawing a screen per line would
 * cost far more than the line. */
#ifndef VTDLAB_FBCON_H
#define VTDLAB_FBCON_H

#include <stddef.h>
#include <stdint.h>
#include "../boot/boot_info.h"

/* Does nothing when the firmware gave no linear framebuffer. */
void fbcon_init(const struct boot_framebuffer *fb);
int fbcon_active(void);
void fbcon_write(const char *s, size_t n);
/* For tests: draws c at a cell and reads one pixel back. */
void fbcon_draw_char(unsigned col, unsigned row, char c);
uint32_t fbcon_read_pixel(unsigned x, unsigned y);
unsigned fbcon_columns(void);
unsigned fbcon_rows(void);
/* For a screen a person reads from across the room (harness/summary.c):
 * text at scale times the font's size from pixel (x, y), cut at the
 * screen's edge; returns the x after it. */
unsigned fbcon_draw_text(unsigned x, unsigned y, const char *s, unsigned scale, uint32_t color);
void fbcon_clear(void);
/* From now on the log no longer draws: what is on the screen stays. */
void fbcon_freeze(void);
/* A colour in the framebuffer's own pixel format. */
uint32_t fbcon_rgb(uint8_t r, uint8_t g, uint8_t b);
unsigned fbcon_width(void);
unsigned fbcon_height(void);
#define FBCON_FOREGROUND 0x00c0c0c0u
#define FBCON_BACKGROUND 0x00000000u

#endif
