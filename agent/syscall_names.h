/* x86_64 syscall numbers to names, for the syscall label of vigil_syscall*_total. */
#ifndef AG_SYSCALL_NAMES_H
#define AG_SYSCALL_NAMES_H

/* The name ("read", "openat"), or NULL for a number this table does not know (the caller
 * labels those "unknown" so a new kernel's syscalls still count). */
const char *ag_syscall_name(long nr);

#endif
