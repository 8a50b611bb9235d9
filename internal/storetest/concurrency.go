package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// writers is how many goroutines write at once in the concurrency tests.
const writers = 20

// runConcurrency checks that simultaneous writers all succeed: a store must
// queue or retry, never fail with a lock error.
func runConcurrency(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("CreateKeys", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		errs := parallel(writers, func(i int) error {
			org := "acme"
			if i%2 == 0 {
				org = ""
			}
			return s.CreateKey(ctx, newKey(fmt.Sprintf("k%02d", i), org, aiproxy.RoleInvoke, i))
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		}
		acme, err1 := s.Keys(ctx, "acme")
		platform, err2 := s.Keys(ctx, "")
		if err1 != nil || err2 != nil || len(acme)+len(platform) != writers {
			t.Fatalf("after %d writes: %d org keys (%v), %d platform keys (%v)", writers, len(acme), err1, len(platform), err2)
		}
	})
	t.Run("MixedWritesAndReads", func(t *testing.T) {
		s, ctx := open(t), t.Context()
		mustCreateOrg(ctx, t, s, "acme")
		mustCreateKey(ctx, t, s, newKey("k1", "acme", aiproxy.RoleInvoke, 0))
		errs := parallel(writers, func(i int) error {
			switch i % 4 {
			case 0:
				return s.TouchKey(ctx, "k1", at(i))
			case 1:
				return s.PutCredential(ctx, newCredential(aiproxy.SourceTenant, "acme", fmt.Sprintf("svc%02d", i), i))
			case 2:
				_, err := s.Keys(ctx, "acme")
				return err
			default:
				return s.PutCredential(ctx, newCredential(aiproxy.SourcePlatform, "", "shared", i))
			}
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
		}
		list, err := s.Credentials(ctx, aiproxy.SourceTenant, "acme")
		if err != nil || len(list) != writers/4 {
			t.Fatalf("tenant credentials = %d, %v; want %d", len(list), err, writers/4)
		}
	})
}

// parallel runs f(0) … f(n-1) at once, released together, and returns their
// errors by index.
func parallel(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}
