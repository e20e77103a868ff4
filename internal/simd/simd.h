#ifndef PM_SIMD_H
#define PM_SIMD_H

// PM_CLONES before a function builds it for baseline x86-64 and for
// x86-64-v3 (AVX2, FMA); the dynamic loader picks the one the CPU runs
// (GCC's target_clones, through an ifunc). Elsewhere it is one build.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define PM_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define PM_CLONES
#endif

#endif
