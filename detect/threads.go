package detect

// #cgo !windows pkg-config: opencv4
// #cgo CXXFLAGS: -std=c++11
// #include "threads.h"
import "C"

// SetThreads sets how many threads OpenCV uses inside one call (DNN layers,
// cascade scales). Workers that run in parallel want 1 each; gocv v0.31 has
// no binding for it.
func SetThreads(n int) { C.pm_set_num_threads(C.int(n)) }

// Threads reports OpenCV's current thread count.
func Threads() int { return int(C.pm_get_num_threads()) }
