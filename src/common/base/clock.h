/*
 * The one clock of the library: monotonic seconds, for deadlines, rates and
 * elapsed times (never for timestamps shown as dates), and a sleep.
 *
 * Thread-safe; no state.
 */
#ifndef G3_CLOCK_H
#define G3_CLOCK_H

/* Seconds on CLOCK_MONOTONIC (an arbitrary origin; only differences mean
 * anything). */
double g3_clock_now(void);

/* Sleeps s seconds (nothing when s <= 0), resuming after a signal unless
 * it set the interrupt flag (interrupt.h), which ends the wait early. */
void g3_clock_sleep(double s);

#endif
