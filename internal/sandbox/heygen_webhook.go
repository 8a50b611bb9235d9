package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// webhookState is the HeyGen simulator's webhook bookkeeping; Server.mu guards it.
type webhookState struct {
	notified  map[string]bool // video ids whose end has been announced
	drop, dup int             // deliveries still to lose or to send twice
	sent      []WebhookSend
}

// WebhookSend is one webhook the HeyGen simulator sent, or lost on purpose.
type WebhookSend struct {
	// URL is where it went: a render's callback_url or a registered endpoint.
	URL string
	// EventType is "avatar_video.success" or "avatar_video.fail", or for a translation
	// "video_translate.success" or "video_translate.fail".
	EventType string
	// EventID is the Heygen-Event-Id header, the same for every copy of one event.
	EventID string
	// VideoID names the render, or the translation.
	VideoID string
	// Body is the JSON body sent.
	Body []byte
	// Status is the receiver's HTTP status; 0 when it was not reached or the send was lost.
	Status int
	// Lost reports a delivery dropped by DropWebhooks.
	Lost bool
}

// DropWebhooks makes the next n webhook deliveries get lost, as if the network ate them.
func (s *Server) DropWebhooks(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wh.drop += n
}

// DuplicateWebhooks makes the next n webhook deliveries arrive twice, with one event id.
func (s *Server) DuplicateWebhooks(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wh.dup += n
}

// Webhooks returns the webhooks sent (and lost) so far, oldest first.
func (s *Server) Webhooks() []WebhookSend {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.wh.sent)
}

// RunWebhooks calls DeliverWebhooks every interval until ctx ends.
func (s *Server) RunWebhooks(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.DeliverWebhooks(ctx)
		}
	}
}

// hgWebhook is one event to deliver to one URL.
type hgWebhook struct {
	url, secret, eventType, eventID, videoID string
	key                                      string // the account whose endpoints get the event
	body                                     []byte
	v3                                       bool // v3 deliveries carry only the Heygen-* headers
}

// DeliverWebhooks announces every HeyGen render and translation that has finished (by the
// configured clock) since the last call: avatar_video.success or avatar_video.fail (for a
// translation video_translate.success or video_translate.fail), POSTed to the render's
// callback_url, signed with Config.WebhookSecret, and to each endpoint registered with the
// render's key for that event, signed with the endpoint's secret. Each delivery carries
// Heygen-Signature and Signature (lowercase hex HMAC-SHA256 of the raw body),
// Heygen-Timestamp and Heygen-Event-Id. Deliveries are made once: a lost or refused one is
// not retried. It returns the number of deliveries attempted.
func (s *Server) DeliverWebhooks(ctx context.Context) int {
	hooks := s.dueWebhooks()
	for _, h := range hooks {
		s.sendWebhook(ctx, h)
	}
	return len(hooks)
}

// dueWebhooks marks newly finished renders as announced and returns their deliveries.
func (s *Server) dueWebhooks() []hgWebhook {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wh.notified == nil {
		s.wh.notified = map[string]bool{}
	}
	var out []hgWebhook
	for _, id := range s.hg.order {
		if s.wh.notified[id] {
			continue
		}
		ev, ok := s.finishedEventLocked(id, now)
		if !ok {
			continue
		}
		s.wh.notified[id] = true
		sum := sha256.Sum256([]byte(id + "/" + ev.eventType))
		ev.eventID = "evt_" + hex.EncodeToString(sum[:16])
		if ev.url != "" {
			out = append(out, ev)
		}
		for _, ep := range s.hg.endpoints {
			if ep.key == ev.key && slices.Contains(ep.json.Events, ev.eventType) {
				d := ev
				d.url, d.secret = ep.json.URL, ep.json.Secret
				out = append(out, d)
			}
		}
	}
	return out
}

// finishedEventLocked returns the event announcing the render or translation id, if it has
// finished: addressed to its callback_url (if any) and signed with Config.WebhookSecret, and
// carrying the key whose endpoints also get it. The caller holds s.mu.
func (s *Server) finishedEventLocked(id string, now time.Time) (hgWebhook, bool) {
	if t, ok := s.hg.translations[id]; ok {
		status := s.translationStatusAt(t, now)
		if status != "success" && status != "failed" {
			return hgWebhook{}, false
		}
		eventType, body := translationWebhookBody(t, status, now)
		return hgWebhook{url: t.callbackURL, secret: s.cfg.WebhookSecret, eventType: eventType, videoID: id,
			body: body, key: t.key}, true
	}
	v, ok := s.hg.videos[id]
	if !ok {
		return hgWebhook{}, false
	}
	status := s.statusAt(v, now)
	if status != "completed" && status != "failed" {
		return hgWebhook{}, false
	}
	eventType, body := s.webhookBody(v, status, now)
	return hgWebhook{url: v.req.callbackURL, secret: s.cfg.WebhookSecret, eventType: eventType, videoID: id,
		body: body, v3: v.req.v3 != nil, key: v.key}, true
}

// webhookBody is the legacy payload of a finished render.
func (s *Server) webhookBody(v *hgVideo, status string, now time.Time) (string, []byte) {
	if v.req.v3 != nil {
		return v3WebhookBody(v, status, now) // heygen_v3_video.go
	}
	data := map[string]any{"video_id": v.id, "callback_id": v.req.callbackID}
	eventType := "avatar_video.success"
	if status == "completed" {
		media := v.req.base + "/media/video/" + v.id
		expires := now.Add(7 * 24 * time.Hour).Unix()
		data["url"] = signURL(media+"/video.mp4", expires)
		data["gif_download_url"] = signURL(media+"/preview.gif", expires)
		data["video_share_page_url"] = nil
		data["folder_id"] = ""
	} else {
		eventType = "avatar_video.fail"
		data["msg"] = renderFailure(v.outcome)["message"]
	}
	b, _ := marshalJSON(map[string]any{"event_type": eventType, "event_data": data})
	return eventType, b
}

// sendWebhook makes one delivery, applying DropWebhooks and DuplicateWebhooks.
func (s *Server) sendWebhook(ctx context.Context, h hgWebhook) {
	s.mu.Lock()
	lost, twice := s.wh.drop > 0, false
	if lost {
		s.wh.drop--
	} else if s.wh.dup > 0 {
		s.wh.dup--
		twice = true
	}
	s.mu.Unlock()
	rec := WebhookSend{URL: h.url, EventType: h.eventType, EventID: h.eventID, VideoID: h.videoID, Body: h.body, Lost: lost}
	if lost {
		s.logWebhook(rec)
		return
	}
	for range 1 + btoi(twice) {
		rec.Status = s.postWebhook(ctx, h)
		s.logWebhook(rec)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Server) logWebhook(rec WebhookSend) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wh.sent = append(s.wh.sent, rec)
}

// postWebhook POSTs a signed delivery and returns the receiver's status, 0 on failure.
func (s *Server) postWebhook(ctx context.Context, h hgWebhook) int {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(h.body))
	if err != nil {
		return 0
	}
	mac := hmac.New(sha256.New, []byte(h.secret))
	mac.Write(h.body)
	sig := hex.EncodeToString(mac.Sum(nil))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Heygen-Signature", sig)
	if !h.v3 {
		req.Header.Set("Signature", sig)
	}
	req.Header.Set("Heygen-Timestamp", strconv.FormatInt(s.now().Unix(), 10))
	req.Header.Set("Heygen-Event-Id", h.eventID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
