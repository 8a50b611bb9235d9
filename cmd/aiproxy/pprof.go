//go:build pprof

package main

// Built with -tags pprof (never in a release), aiproxy serves Go's
// profiling endpoints on AIPROXY_PPROF_ADDR, so that the benchmark's
// server can be profiled under load; docs/performance.md shows how.

import (
	_ "expvar"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("AIPROXY_PPROF_ADDR"); addr != "" {
		go http.ListenAndServe(addr, nil)
	}
}
