package cache

// ranges is a sorted list of disjoint, non-adjacent half-open byte ranges.
type ranges [][2]int64

// add inserts [from, to), merging with neighbours.
func (r *ranges) add(from, to int64) {
	if to <= from {
		return
	}
	out := make(ranges, 0, len(*r)+1)
	placed := false
	for _, x := range *r {
		switch {
		case x[1] < from:
			out = append(out, x)
		case x[0] > to:
			if !placed {
				out = append(out, [2]int64{from, to})
				placed = true
			}
			out = append(out, x)
		default:
			from = min(from, x[0])
			to = max(to, x[1])
		}
	}
	if !placed {
		out = append(out, [2]int64{from, to})
	}
	*r = out
}

// covers reports whether [from, to) is wholly present.
func (r ranges) covers(from, to int64) bool {
	if to <= from {
		return true
	}
	for _, x := range r {
		if x[0] <= from && to <= x[1] {
			return true
		}
	}
	return false
}

// gaps returns the missing parts of [from, to).
func (r ranges) gaps(from, to int64) [][2]int64 {
	var out [][2]int64
	cur := from
	for _, x := range r {
		if x[1] <= cur {
			continue
		}
		if x[0] >= to {
			break
		}
		if x[0] > cur {
			out = append(out, [2]int64{cur, x[0]})
		}
		cur = max(cur, x[1])
		if cur >= to {
			break
		}
	}
	if cur < to {
		out = append(out, [2]int64{cur, to})
	}
	return out
}
