package quota

import (
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/storetest"
)

// TestMemoryReservations runs the engines' reservation contract on Memory.
func TestMemoryReservations(t *testing.T) {
	storetest.RunQuotaReservations(t, func(*testing.T) aiproxy.QuotaStore { return NewMemory() })
}
