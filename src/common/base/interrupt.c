#include "interrupt.h"

#include <string.h>
#include <unistd.h>

volatile sig_atomic_t g3_interrupted;

/* The registry is a fixed array so a signal handler can walk it: a slot's
 * fn and arg are written before its used flag is raised, and the flag is
 * cleared before the slot is reused. */
static struct {
	g3_interrupt_fn fn;
	void *arg;
	volatile sig_atomic_t used;
} slots[G3_INTERRUPT_MAX];

static void run_cleanups(void)
{
	for (int i = G3_INTERRUPT_MAX - 1; i >= 0; i--) {
		if (slots[i].used) {
			slots[i].used = 0;
			slots[i].fn(slots[i].arg);
		}
	}
}

static void on_flag(int sig)
{
	(void)sig;
	g3_interrupted = 1;
}

static void on_die(int sig)
{
	g3_interrupted = 1;
	run_cleanups();
	signal(sig, SIG_DFL);
	raise(sig);
}

void g3_interrupt_install(enum g3_interrupt_mode mode)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mode == G3_INTERRUPT_DIE ? on_die : on_flag;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (mode == G3_INTERRUPT_DIE)
		sigaction(SIGHUP, &sa, NULL);
}

int g3_interrupt_register(g3_interrupt_fn fn, void *arg)
{
	/* the highest free slot above every used one keeps newest-first order */
	int top = 0;

	for (int i = 0; i < G3_INTERRUPT_MAX; i++)
		if (slots[i].used)
			top = i + 1;
	if (top == G3_INTERRUPT_MAX)
		return -1;
	slots[top].fn = fn;
	slots[top].arg = arg;
	slots[top].used = 1;
	return top;
}

void g3_interrupt_unregister(int handle)
{
	if (handle >= 0 && handle < G3_INTERRUPT_MAX)
		slots[handle].used = 0;
}

void g3_interrupt_run_cleanups(void)
{
	run_cleanups();
}

void g3_interrupt_unlink(void *path)
{
	if (path)
		unlink(path);
}
