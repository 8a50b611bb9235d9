package aiproxy

import (
	"errors"
	"strings"
)

// Speech is paid per character, and the same words are often asked for
// again (a course's greeting, for every learner). An endpoint whose
// identical requests make the same audio may say, as a SpeechCacheRule,
// how aiproxy recognises an identical request, so that the answer can be
// served again from the speech cache without a provider call.

// FieldIn says which part of a request a RequestField is in.
type FieldIn string

// The parts of a request.
const (
	// InPath is a placeholder of the endpoint's path template.
	InPath FieldIn = "path"
	// InQuery is a query parameter.
	InQuery FieldIn = "query"
	// InBody is a top-level member of the JSON body.
	InBody FieldIn = "body"
	// InHeader is a request header the envelope forwards; its name is
	// compared case-insensitively.
	InHeader FieldIn = "header"
)

// RequestField names one field of a request, written "IN.NAME"
// ("body.text", "query.output_format"), and in a rule's Uncacheable list
// optionally a value, written "IN.NAME=VALUE" ("query.enable_logging=false").
type RequestField struct {
	In   FieldIn
	Name string
	// Value, when not empty, is the one value (a query or header value, or
	// a body member's JSON text such as false or "x") the condition is
	// about; empty means any value.
	Value string
}

// String writes the field as the catalog does.
func (f RequestField) String() string {
	s := string(f.In) + "." + f.Name
	if f.Value != "" {
		s += "=" + f.Value
	}
	return s
}

// Same reports whether two fields name the same request field, whatever
// their values.
func (f RequestField) Same(g RequestField) bool {
	if f.In != g.In {
		return false
	}
	if f.In == InHeader {
		return strings.EqualFold(f.Name, g.Name)
	}
	return f.Name == g.Name
}

// ParseRequestField parses "IN.NAME" or "IN.NAME=VALUE". It checks the
// form only; whether the name exists is the catalog's to check.
func ParseRequestField(s string) (RequestField, error) {
	in, rest, ok := strings.Cut(s, ".")
	if !ok {
		return RequestField{}, errors.New(`must be "IN.NAME" with IN one of path, query, body, header`)
	}
	name, value, _ := strings.Cut(rest, "=")
	f := RequestField{In: FieldIn(in), Name: name, Value: value}
	switch f.In {
	case InPath, InQuery, InBody, InHeader:
	default:
		return RequestField{}, errors.New(`must start with one of "path.", "query.", "body.", "header."`)
	}
	if name == "" {
		return RequestField{}, errors.New("names no field")
	}
	return f, nil
}

// SpeechCacheRule is the catalog's statement of when a call of a speech
// endpoint may be answered from the speech cache, and what makes two calls
// the same. A call is cacheable when every field it carries is in Key and
// none matches Uncacheable: a field the rule does not know (one a provider
// added later) makes the call uncacheable rather than be ignored, so that
// two requests that differ in it never share audio.
type SpeechCacheRule struct {
	// Key lists the fields whose values, in a canonical form, identify an
	// answer (with the org and the credential): voice, text, model,
	// settings, output format, and the fields that change the audio on
	// purpose (a seed, the surrounding text). Every placeholder of the
	// path template is in it.
	Key []RequestField
	// Uncacheable lists fields whose presence (or, with a Value, that
	// value) makes a call uncacheable: references to the account's
	// earlier generations, a request not to keep the audio.
	Uncacheable []RequestField
	// CostHeader names the provider's response header that says what the
	// call cost (ElevenLabs' character-cost); a hit cost nothing, so it
	// says 0 and X-Aiproxy-Cache-Original-<CostHeader> keeps the first
	// call's value. "" when the provider sends none.
	CostHeader string
	// DropHeaders are provider response headers that a hit leaves out: the
	// ids of what the first call created (ElevenLabs' history-item-id),
	// since a hit created nothing.
	DropHeaders []string
}
