// libseccomp (Debian's libseccomp-dev): builds the sandbox's system-call filter and exports it
// as a BPF program for bubblewrap. Environments is the only target that imports it.
#include <seccomp.h>

// SCMP_ACT_ERRNO is a function-like macro, which Swift does not import.
static inline uint32_t ponder_scmp_act_errno(uint16_t error) { return SCMP_ACT_ERRNO(error); }
