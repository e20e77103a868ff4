// Package simd holds simd.h, which the project's C loops include to be
// built twice: for baseline x86-64 and for x86-64-v3 (AVX2, FMA), the
// copy the CPU can run picked when the program loads. The hot loops over
// pixels and coefficients vectorise twice as wide, and table lookups
// gather in one instruction. Packages reach it with
//
//	#cgo CFLAGS: -I${SRCDIR}/../internal/simd
package simd
