/* The stop request of the restore commands (interrupt.h). */
#include "interrupt.h"

volatile sig_atomic_t restore_interrupted;
