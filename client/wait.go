package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxLongPoll is aiproxy's own cap on Prefer: wait.
const maxLongPoll = 60 * time.Second

// minLongPollGap spaces long-poll calls that come back at once (a state
// changed), so that a server answering early never makes a busy loop.
const minLongPollGap = 250 * time.Millisecond

// videoStatus reads a render's state. With wait > 0 it asks the server to
// hold the answer until the state changes (Prefer: wait=N, RFC 7240), and
// reports whether the server did (Preference-Applied).
func (h *HeyGen) videoStatus(ctx context.Context, videoID string, wait time.Duration) (*VideoStatus, bool, error) {
	env := Envelope{Query: map[string]any{"video_id": videoID}}
	data, err := json.Marshal(env)
	if err != nil {
		return nil, false, fmt.Errorf("encode envelope: %w", err)
	}
	req, err := h.c.newRequest(ctx, http.MethodPost, h.c.orgURL("services", HeyGenService, "video-status"), bytes.NewReader(data))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	if wait > 0 {
		req.Header.Set("Prefer", "wait="+strconv.Itoa(int(wait/time.Second)))
	}
	resp, err := h.c.do(req)
	if err != nil {
		return nil, false, err
	}
	applied := wait > 0 && strings.HasPrefix(resp.Header.Get("Preference-Applied"), "wait=")
	var out struct {
		Data VideoStatus `json:"data"`
	}
	if err := resp.JSON(&out); err != nil {
		return nil, false, err
	}
	if out.Data.ID == "" {
		out.Data.ID = videoID
	}
	return &out.Data, applied, nil
}

// longPollFor is the wait to ask for: the configured long poll in whole
// seconds, at most a minute, and no longer than what is left before the
// deadline; 0 means none.
func longPollFor(configured time.Duration, deadline time.Time) time.Duration {
	if configured <= 0 {
		return 0
	}
	left := time.Until(deadline)
	return max(min(configured, left, maxLongPoll).Truncate(time.Second), 0)
}

// pause is how long to sleep before the next status call: nothing (beyond
// a small gap) after a long poll, which already waited on the server, and
// the polling interval otherwise.
func pause(longPolled bool, interval, took time.Duration) time.Duration {
	if longPolled {
		return max(minLongPollGap-took, 0)
	}
	return interval
}
