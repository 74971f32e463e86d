#ifndef VTDLAB_SERIAL_H
#define VTDLAB_SERIAL_H

void serial_init(void);
void serial_write(const char *s, unsigned long len);

#endif
