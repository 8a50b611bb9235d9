package ratelimit_test

import (
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/ratelimit"
	"github.com/aiproxy/aiproxy/internal/ratelimit/limitertest"
)

// TestMemoryArithmetic pins Memory to the numbers worked out from the rules.
func TestMemoryArithmetic(t *testing.T) {
	limitertest.Run(t, func(_ *testing.T, now func() time.Time) ratelimit.Limiter {
		return ratelimit.NewMemory(now)
	})
}
