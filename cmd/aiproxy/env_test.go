package main

import (
	"strings"
	"testing"
	"time"
)

func TestEnvValues(t *testing.T) {
	vars := map[string]string{
		"D_OK": "250ms", "D_BAD": "soon",
		"I_OK": "7", "I_BAD": "7.5",
		"L_OK": "1099511627776", "L_BAD": "1MB",
		"B_OK": "true", "B_BAD": "maybe",
	}
	v := newEnvValues(func(name string) string { return vars[name] })
	if got := v.duration("D_OK", time.Second); got != 250*time.Millisecond {
		t.Errorf("duration D_OK = %v, want 250ms", got)
	}
	if got := v.duration("D_UNSET", time.Second); got != time.Second {
		t.Errorf("duration D_UNSET = %v, want the default", got)
	}
	if got := v.int("I_OK", 1); got != 7 {
		t.Errorf("int I_OK = %d, want 7", got)
	}
	if got := v.int64("L_OK", 1); got != 1<<40 {
		t.Errorf("int64 L_OK = %d, want 1<<40", got)
	}
	if got := v.bool("B_OK", false); !got {
		t.Error("bool B_OK = false, want true")
	}
	if err := v.err(); err != nil {
		t.Fatalf("good and unset values gave %v", err)
	}

	if got := v.duration("D_BAD", time.Second); got != time.Second {
		t.Errorf("duration D_BAD = %v, want the default beside the error", got)
	}
	v.int("I_BAD", 1)
	v.int64("L_BAD", 1)
	v.bool("B_BAD", false)
	err := v.err()
	if err == nil {
		t.Fatal("bad values gave no error")
	}
	for _, want := range []string{`D_BAD="soon"`, `I_BAD="7.5"`, `L_BAD="1MB"`, `B_BAD="maybe"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
