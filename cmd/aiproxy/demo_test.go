package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
)

// TestDemoPortTaken checks that a demo whose address another program holds
// says so and names the flag and a free address to use instead.
func TestDemoPortTaken(t *testing.T) {
	for _, tt := range []struct{ name, flag string }{{"api", "--addr"}, {"metrics", "--metrics-addr"}} {
		t.Run(tt.name, func(t *testing.T) {
			held, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			taken := held.Addr().String()
			args := []string{"demo", "--data-dir", t.TempDir(), "--addr", taken}
			if tt.flag == "--metrics-addr" {
				args = []string{"demo", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--metrics-addr", taken}
			}
			var out, errOut bytes.Buffer
			err = run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
			if !errors.Is(err, syscall.EADDRINUSE) {
				t.Fatalf("demo on a taken port: %v, want EADDRINUSE", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, taken+" is taken") || !strings.Contains(msg, tt.flag+" 127.0.0.1:") ||
				!strings.Contains(msg, tt.flag+" 127.0.0.1:0 for any free port") {
				t.Errorf("the error does not explain the taken port and suggest %s:\n%s", tt.flag, msg)
			}
		})
	}
}

func TestExplainTakenPortLeavesOtherErrors(t *testing.T) {
	other := errors.New("open database: disk full")
	if got := explainTakenPort(other, "127.0.0.1:8080", ""); got != other {
		t.Errorf("explainTakenPort changed an unrelated error: %v", got)
	}
}
