#include "errno.h"

const char *err_name(int err)
{
    switch (err < 0 ? -err : err) {
    case E_OK: return "ok";
    case E_NOMEM: return "out of memory";
    case E_BUSY: return "busy";
    case E_EXIST: return "already exists";
    case E_INVAL: return "invalid argument";
    case E_RANGE: return "out of range";
    case E_NOENT: return "not found";
    case E_IO: return "I/O error";
    case E_FAULT: return "the device's access faulted";
    case E_NODEV: return "no such device";
    case E_DEADLK: return "would deadlock";
    case E_TIMEDOUT: return "timed out";
    default: return "unknown error";
    }
}
