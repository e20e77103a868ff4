package reprocess

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/platemask/platemask/command/cmdutil"
	"github.com/platemask/platemask/reprocess"
)

// progress draws a bar with rate and ETA on a terminal, and prints a
// plain line every interval otherwise. It shows counts only, never keys.
type progress struct {
	io       *cmdutil.IOStreams
	interval time.Duration
	stats    func() reprocess.Stats
	done     chan struct{}
	wg       sync.WaitGroup
}

func newProgress(io *cmdutil.IOStreams, interval time.Duration, stats func() reprocess.Stats) *progress {
	if io.ErrTTY {
		interval = 200 * time.Millisecond
	}
	if interval <= 0 {
		interval = 10 * time.Second
	}
	return &progress{io: io, interval: interval, stats: stats, done: make(chan struct{})}
}

func (p *progress) start() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(p.interval)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				if p.io.ErrTTY {
					fmt.Fprint(p.io.ErrOut, "\r\033[K")
				}
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
}

func (p *progress) draw() {
	line := Line(p.stats(), p.io.ErrTTY)
	if p.io.ErrTTY {
		fmt.Fprint(p.io.ErrOut, "\r\033[K"+line)
		return
	}
	fmt.Fprintln(p.io.ErrOut, "reprocess: "+line)
}

// Line renders the progress; bar adds a bar for terminals.
func Line(s reprocess.Stats, bar bool) string {
	processed := s.Redacted + s.Quarantined + s.Failed
	rate := 0.0
	if sec := s.Elapsed.Seconds(); sec > 0 {
		rate = float64(processed) / sec
	}
	counts := fmt.Sprintf("%d redacted, %d quarantined, %d failed", s.Redacted, s.Quarantined, s.Failed)
	if s.Skipped > 0 {
		counts += fmt.Sprintf(", %d done earlier", s.Skipped)
	}
	if s.Total < 0 {
		return fmt.Sprintf("%d objects, %.1f/s, counting… · %s", s.Finished(), rate, counts)
	}
	frac := 1.0
	if s.Total > 0 {
		frac = min(1, float64(s.Finished())/float64(s.Total))
	}
	eta := "–"
	if rate > 0 {
		left := float64(s.Total - s.Finished())
		eta = (time.Duration(max(0, left)/rate) * time.Second).Round(time.Second).String()
	}
	out := fmt.Sprintf("%d/%d (%.0f%%), %.1f/s, ETA %s · %s", s.Finished(), s.Total, frac*100, rate, eta, counts)
	if bar {
		const width = 24
		n := int(frac * width)
		out = "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "] " + out
	}
	return out
}
