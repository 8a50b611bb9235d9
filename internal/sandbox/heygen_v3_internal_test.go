package sandbox

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestV3RequestInProgress checks HeyGen's 409 for an Idempotency-Key whose first request is
// still in flight: the slot is taken as the first request would take it.
func TestV3RequestInProgress(t *testing.T) {
	s := New(Config{HeyGenKeys: []string{"k"}})
	slot := "k\x00POST\x00/v3/videos\x00dup"
	if replay, err := s.v3ClaimIdem(slot); replay != nil || err != nil {
		t.Fatalf("first claim = %v, %v", replay, err)
	}
	r := httptest.NewRequest(http.MethodPost, "/heygen/v3/videos", strings.NewReader(`{"type":"avatar"}`))
	r.Header.Set("X-Api-Key", "k")
	r.Header.Set("Idempotency-Key", "dup")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), `"code":"request_in_progress"`) {
		t.Fatalf("in flight = %d %s", w.Code, w.Body)
	}
}
