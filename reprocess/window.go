package reprocess

// window tracks the keys listed but not yet behind the watermark, in
// listing order. When the oldest ones are finished the watermark moves
// past them.
type window struct {
	keys      []string
	done      []bool
	head      int
	pos       map[string]int // key -> index, for keys in flight
	watermark string
}

func newWindow() *window { return &window{pos: map[string]int{}} }

func (w *window) len() int { return len(w.keys) - w.head }

// push appends a listed key, already done or in flight.
func (w *window) push(key string, done bool) {
	if !done {
		w.pos[key] = len(w.keys)
	}
	w.keys = append(w.keys, key)
	w.done = append(w.done, done)
	w.advance()
}

// finish marks a key in flight as done.
func (w *window) finish(key string) {
	if i, ok := w.pos[key]; ok {
		w.done[i] = true
		delete(w.pos, key)
	}
	w.advance()
}

func (w *window) advance() {
	for w.head < len(w.keys) && w.done[w.head] {
		w.watermark = w.keys[w.head]
		w.keys[w.head] = ""
		w.head++
	}
	// Reclaim the consumed front now and then.
	if w.head > 1024 && w.head*2 > len(w.keys) {
		n := copy(w.keys, w.keys[w.head:])
		copy(w.done, w.done[w.head:])
		w.keys, w.done = w.keys[:n], w.done[:n]
		for k, i := range w.pos {
			w.pos[k] = i - w.head
		}
		w.head = 0
	}
}

// doneKeys lists the keys finished beyond the watermark.
func (w *window) doneKeys() []string {
	out := []string{}
	for i := w.head; i < len(w.keys); i++ {
		if w.done[i] {
			out = append(out, w.keys[i])
		}
	}
	return out
}
