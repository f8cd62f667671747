/* The stop request of the restore commands (interrupt.h). */
#include "interrupt.h"

volatile sig_atomic_t restore_interrupted;

void restore_interrupt(int sig)
{
	(void)sig;
	restore_interrupted = 1;
}
