package catalog

import (
	"slices"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// fileSpeechCache is an endpoint's "speech_cache" block: which calls may be
// answered from the speech cache and what makes two calls the same
// (aiproxy.SpeechCacheRule).
type fileSpeechCache struct {
	Key         []string `json:"key"`
	Uncacheable []string `json:"uncacheable,omitempty"`
	CostHeader  string   `json:"cost_header,omitempty"`
	DropHeaders []string `json:"drop_headers,omitempty"`
}

// compileSpeechCache checks an endpoint's speech_cache block and fills it
// in. The rule must name every field that can change the audio, so it is
// checked strictly: fields in a known form, every path placeholder in the
// key (two voices must never share an entry), valid header names, and
// only on calls whose answer is the same every time (a JSON body in, no
// job started).
func compileSpeechCache(r *report, where string, f fileEndpoint, e *aiproxy.Endpoint) {
	s := f.SpeechCache
	if s == nil {
		return
	}
	rule := &aiproxy.SpeechCacheRule{CostHeader: s.CostHeader, DropHeaders: s.DropHeaders}
	e.SpeechCache = rule
	if f.RequestMode != "json" {
		r.add(where, "speech_cache keys on a JSON body: it needs request_mode json")
	}
	if e.StartsJob() || f.Job != nil {
		r.add(where, "speech_cache may not be on a job-starting endpoint: a cached answer would start no job")
	}
	if len(s.Key) == 0 {
		r.add(where, "speech_cache.key is required: list the fields that identify an answer")
	}
	rule.Key = speechFields(r, where, "speech_cache.key", s.Key, f, e, false)
	rule.Uncacheable = speechFields(r, where, "speech_cache.uncacheable", s.Uncacheable, f, e, true)
	for _, name := range e.Path.Params() {
		if !slices.ContainsFunc(rule.Key, func(k aiproxy.RequestField) bool { return k.In == aiproxy.InPath && k.Name == name }) {
			r.add(where, "speech_cache.key must hold \"path.%s\": calls with another %s would share an entry", name, name)
		}
	}
	for _, u := range rule.Uncacheable {
		if u.Value == "" && slices.ContainsFunc(rule.Key, u.Same) {
			r.add(where, "speech_cache.uncacheable %q is also in speech_cache.key: with any value it can never join a key", u.String())
		}
	}
	if s.CostHeader != "" {
		checkSpeechHeader(r, where, "speech_cache.cost_header", s.CostHeader)
	}
	seen := map[string]bool{}
	for _, h := range s.DropHeaders {
		checkSpeechHeader(r, where, "speech_cache.drop_headers", h)
		if seen[strings.ToLower(h)] {
			r.add(where, "speech_cache.drop_headers: %q is listed twice", h)
		}
		seen[strings.ToLower(h)] = true
	}
}

// speechFields parses a list of request fields. Values ("IN.NAME=VALUE")
// are allowed only where withValue says so; a field may be listed once.
func speechFields(r *report, where, list string, raw []string, f fileEndpoint, e *aiproxy.Endpoint, withValue bool) []aiproxy.RequestField {
	var out []aiproxy.RequestField
	for _, s := range raw {
		fld, err := aiproxy.ParseRequestField(s)
		if err != nil {
			r.add(where, "%s %q %v", list, s, err)
			continue
		}
		if fld.Value != "" && !withValue {
			r.add(where, "%s %q may not hold a value: the key takes the field's value from each call", list, s)
			continue
		}
		if !validSpeechName(fld, e) {
			r.add(where, "%s %q names no valid %s field%s", list, s, fld.In, placeholderHint(fld))
			continue
		}
		if slices.ContainsFunc(out, func(g aiproxy.RequestField) bool { return g.Same(fld) && g.Value == fld.Value }) {
			r.add(where, "%s %q is listed twice", list, s)
			continue
		}
		out = append(out, fld)
	}
	return out
}

// validSpeechName checks a field's name for its part of the request.
func validSpeechName(fld aiproxy.RequestField, e *aiproxy.Endpoint) bool {
	switch fld.In {
	case aiproxy.InPath:
		return slices.Contains(e.Path.Params(), fld.Name)
	case aiproxy.InHeader:
		return validToken(fld.Name)
	}
	return fieldPattern.MatchString(fld.Name)
}

func placeholderHint(fld aiproxy.RequestField) string {
	if fld.In == aiproxy.InPath {
		return " (not a placeholder of path_template)"
	}
	return ""
}

// checkSpeechHeader checks the name of a response header the speech cache
// changes on a hit. It need not be in upstream.response_headers: an
// override that stops passing it back leaves the hit nothing to change.
func checkSpeechHeader(r *report, where, field, name string) {
	if !validToken(name) {
		r.add(where, "%s %q is not a valid header name", field, name)
	}
}

func encodeSpeechCache(s *aiproxy.SpeechCacheRule) *fileSpeechCache {
	if s == nil {
		return nil
	}
	f := &fileSpeechCache{CostHeader: s.CostHeader, DropHeaders: s.DropHeaders}
	for _, k := range s.Key {
		f.Key = append(f.Key, k.String())
	}
	for _, u := range s.Uncacheable {
		f.Uncacheable = append(f.Uncacheable, u.String())
	}
	return f
}
