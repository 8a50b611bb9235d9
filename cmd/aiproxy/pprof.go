//go:build pprof

package main

// Built with -tags pprof (never in a release), aiproxy serves Go's
// profiling endpoints and expvar's /debug/vars (memstats, and the starting
// goroutine stack size) on AIPROXY_PPROF_ADDR, so that the benchmark's
// server can be profiled under load; docs/performance.md shows how.

import (
	"expvar"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime/metrics"
)

func init() {
	addr := os.Getenv("AIPROXY_PPROF_ADDR")
	if addr == "" {
		return
	}
	expvar.Publish("stack_starting_size", expvar.Func(func() any {
		s := []metrics.Sample{{Name: "/gc/stack/starting-size:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}))
	go http.ListenAndServe(addr, nil)
}
