package redact

import (
	"fmt"
	"image"

	"github.com/platemask/platemask/codec"
)

// destroyBlocks destroys rects in a JPEG held as DCT coefficients: each
// rect grows to whole MCUs (the units the blocks are coded in, 8 or 16
// pixels), the pixels around them are decoded, the grown rects painted
// from those by Destroy, and their blocks encoded back. No other block
// changes. Because a grown rect covers every block that held any of the
// plate, the paint, like the rest of the output, owes nothing to the
// plate. Returns the rects as painted.
func destroyBlocks(c *codec.Coefficients, rects []image.Rectangle, m Method) ([]image.Rectangle, error) {
	var painted []image.Rectangle
	for _, r := range rects {
		if a := c.Align(r); !a.Empty() {
			painted = append(painted, a)
		}
	}
	// Destroy samples a band of at most 8 pixels around each rect: rects
	// whose windows do not touch cannot affect each other, so each group
	// of touching ones is painted on its own small buffer rather than one
	// spanning the frame.
	windows := make([]image.Rectangle, len(painted))
	for i, a := range painted {
		windows[i] = a.Inset(-8).Intersect(c.Bounds())
	}
	for _, g := range groups(windows) {
		if err := paintGroup(c, painted, windows, g, m); err != nil {
			return nil, err
		}
	}
	return painted, nil
}

// paintGroup decodes the ring around each rect of group, paints the rects
// and encodes them back.
func paintGroup(c *codec.Coefficients, painted, windows []image.Rectangle, group []int, m Method) error {
	var bounds image.Rectangle
	for _, i := range group {
		bounds = bounds.Union(windows[i])
	}
	pix := make([]byte, bounds.Dx()*bounds.Dy()*3)
	local := make([]image.Rectangle, 0, len(group))
	for _, i := range group {
		// Only the band a window adds around its rect is ever read; the
		// inside can be most of the frame.
		w, a := windows[i], painted[i]
		for _, r := range []image.Rectangle{
			image.Rect(w.Min.X, w.Min.Y, w.Max.X, a.Min.Y), // above
			image.Rect(w.Min.X, a.Max.Y, w.Max.X, w.Max.Y), // below
			image.Rect(w.Min.X, a.Min.Y, a.Min.X, a.Max.Y), // left
			image.Rect(a.Max.X, a.Min.Y, w.Max.X, a.Max.Y), // right
		} {
			if r.Empty() {
				continue
			}
			if err := c.DecodeArea(pix, bounds, r); err != nil {
				return err
			}
		}
		local = append(local, a.Sub(bounds.Min))
	}
	if err := Destroy(pix, bounds.Dx(), bounds.Dy(), local, m); err != nil {
		return fmt.Errorf("paint: %w", err)
	}
	for _, i := range group {
		if err := c.EncodeArea(pix, bounds, painted[i]); err != nil {
			return err
		}
	}
	return nil
}

// groups partitions rects into sets that overlap transitively, as index
// lists.
func groups(rects []image.Rectangle) [][]int {
	parent := make([]int, len(rects))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	for i := range rects {
		for j := i + 1; j < len(rects); j++ {
			if rects[i].Overlaps(rects[j]) {
				parent[find(i)] = find(j)
			}
		}
	}
	byRoot := map[int][]int{}
	var order []int
	for i := range rects {
		r := find(i)
		if _, ok := byRoot[r]; !ok {
			order = append(order, r)
		}
		byRoot[r] = append(byRoot[r], i)
	}
	out := make([][]int, 0, len(order))
	for _, r := range order {
		out = append(out, byRoot[r])
	}
	return out
}
