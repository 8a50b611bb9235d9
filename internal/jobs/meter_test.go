package jobs

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// usageLog collects usage records.
type usageLog struct {
	mu   sync.Mutex
	recs []aiproxy.UsageRecord
}

func (u *usageLog) Record(r aiproxy.UsageRecord) {
	u.mu.Lock()
	u.recs = append(u.recs, r)
	u.mu.Unlock()
}

func (u *usageLog) take() []aiproxy.UsageRecord {
	u.mu.Lock()
	defer u.mu.Unlock()
	recs := u.recs
	u.recs = nil
	return recs
}

// nativeAs sends a native request with an org's invoke key, as httpapi does.
func (h *harness) nativeAs(org, method, path string, body []byte) (*httptest.ResponseRecorder, error) {
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	pr := aiproxy.Principal{KeyID: "key-" + org, OrgKey: org, Role: aiproxy.RoleInvoke}
	r = r.WithContext(aiproxy.WithPrincipal(r.Context(), pr))
	w := httptest.NewRecorder()
	u, _, _ := bytes.Cut([]byte(path), []byte("?"))
	_, err := h.invoker().InvokeNative(w, r, org, "heygen", string(u))
	return w, err
}

func TestJobCallsAreMetered(t *testing.T) {
	log := &usageLog{}
	h := newHarness(t, func(h *harness) { h.meter = log })
	data, _ := json.Marshal(generateBody("metered"))
	w, err := h.nativeAs("acme", http.MethodPost, "/v2/video/generate", data)
	if err != nil || w.Code != 200 {
		t.Fatalf("native generate = %d %v", w.Code, err)
	}
	recs := log.take()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	if r := recs[0]; r.Status != 200 || r.UpstreamStatus != 200 || r.BytesOut != int64(w.Body.Len()) ||
		r.Action != "generate-video" || r.Unit != aiproxy.MetricRenders || r.Units != 1 || r.KeyID != "key-acme" || r.ErrorCode != "" {
		t.Fatalf("native generate record = %+v", r)
	}
	id, _ := aiproxy.LookupJSON(mustDoc(t, w.Body.Bytes()), "data.video_id")

	// Refused before reaching the provider: another org's job, a bad body.
	if _, err := h.nativeAs("beta", http.MethodGet, "/v1/video_status.get?video_id="+id.(string), nil); aiproxy.ErrorCode(err) != aiproxy.CodeNotFound {
		t.Fatalf("beta's status call = %v", err)
	}
	if _, err := h.nativeAs("acme", http.MethodPost, "/v2/video/generate", []byte("{not json")); aiproxy.ErrorCode(err) != aiproxy.CodeInvalid {
		t.Fatalf("bad body = %v", err)
	}
	recs = log.take()
	if len(recs) != 2 || recs[0].ErrorCode != aiproxy.CodeNotFound || recs[0].Action != "video-status" || recs[0].KeyID != "key-beta" ||
		recs[1].ErrorCode != aiproxy.CodeInvalid || recs[1].Action != "generate-video" || recs[1].UpstreamStatus != 0 {
		t.Fatalf("refusal records = %+v", recs)
	}
}
