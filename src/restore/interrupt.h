/*
 * The restore commands' stop request: set by their SIGINT/SIGTERM handler
 * (restore.c, restore_es.c), read by every loader, which ends its load
 * cleanly (the partial target dropped, nothing swapped into place).
 */
#ifndef G3_RESTORE_INTERRUPT_H
#define G3_RESTORE_INTERRUPT_H

#include <signal.h>

extern volatile sig_atomic_t restore_interrupted;

/* The handler: sets restore_interrupted. */
void restore_interrupt(int sig);

#endif
