/*
 * The restore commands' stop request: the library's one interrupt flag
 * (common/base/interrupt.h), set by SIGINT/SIGTERM once restore or
 * restore-es installed the interrupt path (G3_INTERRUPT_FLAG), read by
 * every loader, which ends its load cleanly (the partial target dropped,
 * nothing swapped into place).
 */
#ifndef G3_RESTORE_INTERRUPT_H
#define G3_RESTORE_INTERRUPT_H

#include "../common/base/interrupt.h"

#define restore_interrupted g3_interrupted

#endif
