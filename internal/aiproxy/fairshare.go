package aiproxy

// Shares divides a cap that several orgs share (the in-flight or
// running-job cap of a platform credential) fairly among them, so that one
// org's slow calls never starve the others. Every engine that keeps such a
// cap (in process, Redis, SQLite, Postgres) applies the same rule, Grant.
//
// The rule: the orgs that hold units of the cap, plus the org asking,
// plus one place kept for an org that holds none yet (the newcomer),
// divide the cap by weight. Each gets a share of max(1, ⌊Max·weight/W⌋),
// W being the sum of their weights and the newcomer's (1). An org below
// its share may take any free unit; an org at or above it may take one
// only if the units still missing from the other orgs' shares and the
// newcomer's share stay free. So an org alone on a cap of 10 holds at
// most 5, the next org finds its share (3) free at once, and a freed unit
// goes to an org below its share before any org above it.
type Shares struct {
	// Weights gives orgs a weight other than 1; a weight below 1 counts
	// as 1.
	Weights map[string]int
}

// Weight returns an org's weight; a nil Shares weighs every org 1.
func (s *Shares) Weight(org string) int {
	if s == nil {
		return 1
	}
	if w := s.Weights[org]; w > 1 {
		return w
	}
	return 1
}

// Grant reports whether org may take one more of limit units, given the
// units each org holds now (orgs holding none may be absent).
func (s *Shares) Grant(limit int, org string, held map[string]int) bool {
	total := 0
	for _, n := range held {
		total += n
	}
	if total >= limit {
		return false
	}
	weights := s.weights(org, held)
	if held[org] < shareOf(limit, s.Weight(org), weights) {
		return true
	}
	reserved := shareOf(limit, 1, weights) // the newcomer's
	for o, n := range held {
		if o != org && n > 0 {
			reserved += max(0, shareOf(limit, s.Weight(o), weights)-n)
		}
	}
	return total+1+reserved <= limit
}

// Share returns org's share of limit units while the orgs in held hold
// theirs; for refusals and tests.
func (s *Shares) Share(limit int, org string, held map[string]int) int {
	return shareOf(limit, s.Weight(org), s.weights(org, held))
}

// weights sums the weights of the orgs holding units, the asker and the
// newcomer's place.
func (s *Shares) weights(org string, held map[string]int) int {
	w := 1 + s.Weight(org)
	for o, n := range held {
		if o != org && n > 0 {
			w += s.Weight(o)
		}
	}
	return w
}

func shareOf(limit, w, weights int) int { return max(1, limit*w/weights) }
