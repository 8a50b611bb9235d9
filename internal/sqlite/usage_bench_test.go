package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// BenchmarkAppendUsage writes batches of usage records as the recorder
// does; ns/op is per record.
func BenchmarkAppendUsage(b *testing.B) {
	for _, n := range []int{16, 256} {
		b.Run(map[int]string{16: "batch16", 256: "batch256"}[n], func(b *testing.B) {
			db, err := Open(b.Context(), filepath.Join(b.TempDir(), "aiproxy.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			recs := make([]aiproxy.UsageRecord, n)
			for i := range recs {
				recs[i] = aiproxy.UsageRecord{At: time.Now(), OrgKey: "bench", KeyID: "k1", Service: "heygen",
					Action: "get-remaining-quota", Status: 200, UpstreamStatus: 200, LatencyMS: 1, BytesOut: 135}
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%n == 0 {
					if err := db.AppendUsage(b.Context(), recs); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
