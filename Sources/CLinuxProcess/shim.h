#include <signal.h>
#include <sys/prctl.h>

/// prctl(PR_SET_PDEATHSIG, signal): the kernel sends `signal` to this process when the thread
/// that started it ends. Variadic, so not callable from Swift.
static inline int ciblage_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
}
