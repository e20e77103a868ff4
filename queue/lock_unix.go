//go:build unix

package queue

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// dirLock is an exclusive advisory lock on a file, held for a broker's
// life; the kernel drops it when the process dies.
type dirLock struct {
	once sync.Once
	f    *os.File
}

func lockDir(path string) (*dirLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("broker lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrInUse
		}
		return nil, fmt.Errorf("broker lock: %w", err)
	}
	return &dirLock{f: f}, nil
}

func (l *dirLock) release() {
	if l == nil {
		return
	}
	l.once.Do(func() {
		syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		l.f.Close()
	})
}
