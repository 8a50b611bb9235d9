package metrics

import "testing"

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{0: "0xx", 101: "1xx", 200: "2xx", 204: "2xx", 302: "3xx", 429: "4xx", 503: "5xx", 600: "6xx", 999: "9xx"} {
		if got := statusClass(status); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", status, got, want)
		}
	}
}
