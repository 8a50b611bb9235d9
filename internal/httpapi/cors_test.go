package httpapi

import (
	"strings"
	"testing"
)

// originCases seed FuzzOriginSet: a configured list and an origin.
var originCases = []struct {
	list, origin string
	allowed      bool
}{
	{"https://app.example", "https://app.example", true},
	{"https://app.example/", "https://APP.example", true},
	{"https://app.example", "https://app.example.evil", false},
	{"https://app.example", "http://app.example", false},
	{"*", "https://anything", true},
	{"*", "", false},
	{"", "https://app.example", false},
	{" https://a.example , https://b.example ", "https://b.example", true},
}

func TestOriginSet(t *testing.T) {
	for _, tc := range originCases {
		if got := newOriginSet(strings.Split(tc.list, ",")).allows(tc.origin); got != tc.allowed {
			t.Errorf("%q allows %q = %v, want %v", tc.list, tc.origin, got, tc.allowed)
		}
	}
}

// FuzzOriginSet checks that an origin is allowed only when the list names
// it (case-insensitively, without a trailing slash) or holds "*".
func FuzzOriginSet(f *testing.F) {
	for _, tc := range originCases {
		f.Add(tc.list, tc.origin)
	}
	f.Fuzz(func(t *testing.T, list, origin string) {
		items := strings.Split(list, ",")
		if !newOriginSet(items).allows(origin) {
			return
		}
		for _, it := range items {
			it = strings.TrimRight(strings.TrimSpace(it), "/")
			if it == "*" || strings.EqualFold(it, origin) {
				return
			}
		}
		t.Fatalf("%q allows %q", list, origin)
	})
}

// FuzzIncomingRequestID checks that a request id echoed back in headers
// and logs is always short and plain.
func FuzzIncomingRequestID(f *testing.F) {
	for _, s := range []string{"", "abc-123", strings.Repeat("a", 65), "a\r\nb", "ünïcode", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		id := incomingRequestID(in)
		if id == "" || len(id) > 64 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
			t.Fatalf("incomingRequestID(%q) = %q", in, id)
		}
	})
}
