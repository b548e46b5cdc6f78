#ifndef PATHTRACE_CPREFETCH_H
#define PATHTRACE_CPREFETCH_H

/// Starts loading every cache line of `count` bytes at `start`, without waiting for them: the compiler's
/// prefetch builtin (GCC and Clang, any target; a no-op where the CPU has no such instruction), which
/// Swift does not expose.
static inline void pathtrace_prefetch(const void *start, long count) {
    const char *p = (const char *)start;
    for (long i = 0; i < count; i += 64) __builtin_prefetch(p + i, 0, 3);
    if (count > 0) __builtin_prefetch(p + count - 1, 0, 3);
}

#endif
