package aiproxy

// RateStatus is a rate limiter's answer, sent as the X-RateLimit-* headers.
type RateStatus struct {
	// Limit is the burst of the tightest bucket; 0 means no limit applied.
	Limit     int
	Remaining int
	// ResetSeconds is when the bucket is full again.
	ResetSeconds int
}
