package receive

import (
	"io"
	"sync"

	"github.com/platemask/platemask/outcome"
)

// budget bounds the bytes all uploads in flight hold in memory together.
// MaxInFlight alone would let each of them hold a whole MaxBody.
type budget struct {
	mu        sync.Mutex
	used, max int64
}

// take reserves n bytes, or reports that the budget cannot hold them.
func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// account is one request's share of the budget, given back when the
// request ends.
type account struct {
	b     *budget
	taken int64
}

func (a *account) release() {
	a.b.give(a.taken)
	a.taken = 0
}

// reader charges every byte read from r to the account. When the budget
// is spent it fails with outcome.ErrBusy (429): the camera retries later,
// rather than the server buffering without bound or waiting on bytes that
// other stalled uploads hold.
func (a *account) reader(r io.Reader) io.Reader { return &charged{r: r, a: a} }

type charged struct {
	r io.Reader
	a *account
}

func (c *charged) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		if !c.a.b.take(int64(n)) {
			return 0, outcome.ErrBusy
		}
		c.a.taken += int64(n)
	}
	return n, err
}
