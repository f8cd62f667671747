/*
 * The one interrupt path of every command (after pg_dump's on_exit_nicely):
 * one flag, and one registry of cleanups, for SIGINT and SIGTERM.
 *
 * A command installs the path once, in one of two modes:
 *
 *   G3_INTERRUPT_FLAG  the handler only sets g3_interrupted; the command's
 *                      main path notices it, winds down (cancels COPYs,
 *                      deletes a partial index) and exits with its code.
 *                      g3_interrupt_run_cleanups() runs the registry from
 *                      that main path when the command wants it.
 *   G3_INTERRUPT_DIE   the handler sets g3_interrupted, runs the registered
 *                      cleanups (newest first) and dies of the same signal,
 *                      so the parent sees the real cause. SIGHUP is caught
 *                      too. Cleanups then run inside a signal handler: they
 *                      must be async-signal-safe (unlink(2), close(2)).
 *
 * Contract: install, register and unregister are called from the main
 * thread only. Registration keeps at most G3_INTERRUPT_MAX cleanups (a
 * full registry is a programming error: register returns -1). A cleanup
 * runs at most once (whichever of signal, run_cleanups comes first); an
 * unregistered cleanup never runs.
 */
#ifndef G3_INTERRUPT_H
#define G3_INTERRUPT_H

#include <signal.h>

#define G3_INTERRUPT_MAX 16

enum g3_interrupt_mode {
	G3_INTERRUPT_FLAG,
	G3_INTERRUPT_DIE
};

/* 1 once SIGINT or SIGTERM (or, in G3_INTERRUPT_DIE mode, SIGHUP) arrived.
 * Long loops (and the library's cancel pointers) poll it. */
extern volatile sig_atomic_t g3_interrupted;

/* Installs the handlers for SIGINT and SIGTERM (and SIGHUP in DIE mode).
 * Calling it again switches the mode. */
void g3_interrupt_install(enum g3_interrupt_mode mode);

typedef void (*g3_interrupt_fn)(void *arg);

/* Registers fn(arg) to run on interrupt; returns a handle for unregister,
 * or -1 when the registry is full. */
int g3_interrupt_register(g3_interrupt_fn fn, void *arg);
/* The cleanup of handle no longer runs (a negative handle is ignored). */
void g3_interrupt_unregister(int handle);
/* Runs every registered cleanup, newest first, and empties the registry. */
void g3_interrupt_run_cleanups(void);

/* A ready cleanup: unlink(2) of arg, a path, when not NULL
 * (async-signal-safe). */
void g3_interrupt_unlink(void *path);

#endif
