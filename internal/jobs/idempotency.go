package jobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// maxIdempotencyKey bounds an Idempotency-Key's length.
const maxIdempotencyKey = 255

// idemRecheck is how often a request waiting for a key that another process
// holds looks at the store again.
const idemRecheck = 100 * time.Millisecond

// claim takes an Idempotency-Key for a job start. It returns the claimed
// record, or the first request's answer to replay. The same key with
// another request is a conflict; while the first request with the key is in
// flight, later ones wait for its answer; a first request that died without
// a recorded answer leaves the key unusable, since its provider job may
// exist.
func (s *Service) claim(ctx context.Context, org, key string, svc *aiproxy.Service, ep *aiproxy.Endpoint, env proxy.Envelope) (aiproxy.IdempotencyRecord, *reply, error) {
	if len(key) > maxIdempotencyKey || !printable(key) {
		return aiproxy.IdempotencyRecord{}, nil, aiproxy.Errorf(aiproxy.CodeInvalid,
			"Idempotency-Key must be 1 to %d printable ASCII characters.", maxIdempotencyKey)
	}
	pr, _ := aiproxy.PrincipalFrom(ctx)
	fp := fingerprint(svc.Slug, ep.Slug, env, pr.TestOnly)
	lease := time.Duration(ep.Timeout(svc))*time.Second + 30*time.Second
	for {
		now := s.now()
		rec := aiproxy.IdempotencyRecord{OrgKey: org, Key: key, Fingerprint: fp, CreatedAt: now,
			LockedUntil: now.Add(lease), ExpiresAt: now.Add(s.cfg.IdempotencyTTL)}
		wait := s.idemWaiter(org, key)
		held, claimed, err := s.cfg.Store.ClaimIdempotency(ctx, rec, now)
		switch {
		case err != nil:
			return rec, nil, err
		case claimed:
			return held, nil, nil
		case held.Fingerprint != fp:
			return rec, nil, aiproxy.Errorf(aiproxy.CodeConflict,
				"Idempotency-Key %q was already used with a different request.", key)
		case held.State == aiproxy.IdempotencyDone:
			r := reply{status: held.Status, header: http.Header{"Idempotent-Replayed": {"true"}}, body: held.Body}
			if held.ContentType != "" {
				r.header.Set("Content-Type", held.ContentType)
			}
			return rec, &r, nil
		case !now.Before(held.LockedUntil):
			return rec, nil, aiproxy.Errorf(aiproxy.CodeConflict,
				"The first request with Idempotency-Key %q ended without a recorded answer, so its job may or may not exist; check the jobs list, then retry with a new key.", key)
		}
		select {
		case <-ctx.Done():
			return rec, nil, proxy.ErrClientGone
		case <-wait:
		case <-time.After(idemRecheck):
		}
	}
}

// idemWaiter returns a channel closed when this process finishes a request
// with the key.
func (s *Service) idemWaiter(org, key string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := org + "\x00" + key
	ch, ok := s.idem[k]
	if !ok {
		ch = make(chan struct{})
		s.idem[k] = ch
	}
	return ch
}

func (s *Service) idemDone(org, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := org + "\x00" + key
	if ch, ok := s.idem[k]; ok {
		close(ch)
		delete(s.idem, k)
	}
}

// completeIdem stores a key's answer outside a job record.
func (s *Service) completeIdem(ctx context.Context, rec *aiproxy.IdempotencyRecord) {
	if err := s.cfg.Store.CompleteIdempotency(ctx, *rec); err != nil {
		s.log.Error("complete idempotency key", "org", rec.OrgKey, "err", err)
	}
	s.idemDone(rec.OrgKey, rec.Key)
}

// release frees a key whose request started nothing, so it can be retried.
func (s *Service) release(rec *aiproxy.IdempotencyRecord) {
	if rec == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.cfg.Store.ReleaseIdempotency(ctx, rec.OrgKey, rec.Key); err != nil {
		s.log.Error("release idempotency key", "org", rec.OrgKey, "err", err)
	}
	s.idemDone(rec.OrgKey, rec.Key)
}

// fingerprint hashes what a request asks for: the endpoint, everything the
// envelope sends to the provider (body, query, headers and path
// parameters, so that a key reused with another template_id or video_id
// is a conflict), and whether the key is test-only, since the proxy puts a
// test-only key's call in test mode after this check. The body is compared
// in a canonical form, so that key order and spacing do not matter.
func fingerprint(service, action string, env proxy.Envelope, testOnly bool) string {
	fields := map[string]any{"service": service, "action": action, "body": canonicalBody(env.Body),
		"query": env.Query, "headers": env.Headers, "path_params": env.PathParams}
	if testOnly {
		fields["test_only"] = true
	}
	canon, _ := json.Marshal(fields)
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}

// canonicalBody returns a body in canonical JSON: members sorted by key,
// no spacing, numbers as written. Unlike a decoded map it keeps every
// member of an object that repeats a key, so that two bodies a provider
// may read differently never compare equal. A body that is not JSON is
// compared as it is.
func canonicalBody(body []byte) any {
	if body == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var buf bytes.Buffer
	if err := canonicalValue(dec, &buf); err != nil {
		return string(body)
	}
	if _, err := dec.Token(); err != io.EOF {
		return string(body)
	}
	return json.RawMessage(buf.Bytes())
}

// canonicalValue writes the next JSON value of dec to buf in canonical form.
func canonicalValue(dec *json.Decoder, buf *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return canonicalArray(dec, buf)
		}
		return canonicalObject(dec, buf)
	case json.Number:
		buf.WriteString(t.String())
	default: // string, bool or nil
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	return nil
}

func canonicalArray(dec *json.Decoder, buf *bytes.Buffer) error {
	buf.WriteByte('[')
	for i := 0; dec.More(); i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := canonicalValue(dec, buf); err != nil {
			return err
		}
	}
	buf.WriteByte(']')
	_, err := dec.Token()
	return err
}

func canonicalObject(dec *json.Decoder, buf *bytes.Buffer) error {
	type member struct {
		key   string
		value []byte
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var v bytes.Buffer
		if err := canonicalValue(dec, &v); err != nil {
			return err
		}
		members = append(members, member{key, v.Bytes()})
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	// Stable, so that repeated keys keep their order.
	slices.SortStableFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
	buf.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(m.value)
	}
	buf.WriteByte('}')
	return nil
}

func printable(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
