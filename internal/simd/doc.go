// Package simd holds simd.h, which the project's C loops include to be
// built twice: for baseline x86-64 and for x86-64-v3 (AVX2, FMA), the
// copy the CPU can run picked when the program loads. The hot per-pixel
// loops vectorise 8 floats wide instead of 4 and gather table lookups in
// one instruction. Packages reach it with
//
//	#cgo CFLAGS: -I${SRCDIR}/../internal/simd
package simd
