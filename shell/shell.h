/* A command shell on the serial console after the run (shell=1, or
 * shell=auto and a key pressed in time): commands that read every unit's
 * registers and tables, the PCI devices and RAM, decoded by vtdlab's own
 * decoders. */
#ifndef VTDLAB_SHELL_H
#define VTDLAB_SHELL_H

#include "../kernel/cmdline.h"

/* Every line the shell prints starts with this, so a KTAP parser reading
 * the same log never takes it for a result (tools/vtdlabtool/shell.py
 * strips it). */
#define SHELL_OUT "| "
#define SHELL_PROMPT "vtdlab> "
/* The line that says the shell is up (tools/vtdlabtool: watch ends there). */
#define SHELL_READY_MARK "vtdlab: shell: ready"
/* Runs the shell when the cmdline asks for it; returns when the user
 * leaves it (exit), at once under shell=0. */
void shell_after_run(const struct cmdline *cmd);

#endif
