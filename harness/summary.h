#ifndef VTDLAB_HARNESS_SUMMARY_H
#define VTDLAB_HARNESS_SUMMARY_H

/* Replaces the framebuffer console's text with the run's summary (after
 * harness_run); does nothing without a framebuffer. */
void summary_show(void);

#endif
