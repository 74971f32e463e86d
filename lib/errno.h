#ifndef VTDLAB_LIB_ERRNO_H
#define VTDLAB_LIB_ERRNO_H

/* Error returns are negative values of these. */
enum {
    E_OK = 0,
    E_NOMEM = 12,
    E_BUSY = 16,
    E_EXIST = 17,
    E_INVAL = 22,
    E_RANGE = 34,
    E_NOENT = 2,
    E_IO = 5,
    E_FAULT = 14,   /* a device reported a translation fault on its access */
    E_NODEV = 19,
    E_DEADLK = 35,
    E_TIMEDOUT = 110,
};

const char *err_name(int err);

#endif
