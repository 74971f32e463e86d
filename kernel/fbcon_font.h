/* The console font: printable ASCII, 8x16, one byte per row with the
 * leftmost pixel in bit 7. build/gen/font.c is generated from a Debian
 * console font by scripts/psf2c.py. */
#ifndef VTDLAB_FBCON_FONT_H
#define VTDLAB_FBCON_FONT_H

#include <stdint.h>

#define FONT_WIDTH  8
#define FONT_HEIGHT 16
#define FONT_FIRST  0x20
#define FONT_LAST   0x7e

extern const uint8_t fbcon_font[FONT_LAST - FONT_FIRST + 1][FONT_HEIGHT];

#endif
