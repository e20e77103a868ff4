package detect

import "sort"

// suppress drops regions that lie mostly inside a higher-scoring one, so that
// the many overlapping prior boxes of one plate count as one region. Nothing
// is lost for privacy: a dropped region is at least 90% covered by a kept one.
func suppress(rs []Region) []Region {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Score > rs[j].Score })
	var kept []Region
	for _, r := range rs {
		area := r.Rect.Dx() * r.Rect.Dy()
		covered := false
		for _, k := range kept {
			in := r.Rect.Intersect(k.Rect)
			if in.Dx()*in.Dy()*10 >= area*9 {
				covered = true
				break
			}
		}
		if !covered {
			kept = append(kept, r)
		}
	}
	return kept
}
