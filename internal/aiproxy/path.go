package aiproxy

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// PathTemplate is an upstream path such as /v1/text-to-speech/{voice_id},
// parsed into literal parts and placeholders.
type PathTemplate struct {
	raw   string
	parts []pathPart
}

type pathPart struct {
	literal string
	param   string
}

// ParsePathTemplate parses a path template. It must start with '/', its
// placeholders must be {name} with name made of letters, digits and '_',
// each name may appear once, and the literal text may not hold '?', '#' or
// unbalanced braces.
func ParsePathTemplate(s string) (PathTemplate, error) {
	if !strings.HasPrefix(s, "/") {
		return PathTemplate{}, fmt.Errorf("path template %q must start with /", s)
	}
	if strings.ContainsAny(s, "?#") {
		return PathTemplate{}, fmt.Errorf("path template %q may not contain ? or #", s)
	}
	t := PathTemplate{raw: s}
	seen := map[string]bool{}
	rest := s
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if close := strings.IndexByte(rest, '}'); close >= 0 && (open < 0 || close < open) {
			return PathTemplate{}, fmt.Errorf("path template %q has an unbalanced }", s)
		}
		if open < 0 {
			t.parts = append(t.parts, pathPart{literal: rest})
			break
		}
		if open > 0 {
			t.parts = append(t.parts, pathPart{literal: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return PathTemplate{}, fmt.Errorf("path template %q has an unclosed {", s)
		}
		name := rest[open+1 : open+end]
		if !validParamName(name) {
			return PathTemplate{}, fmt.Errorf("path template %q has a bad placeholder name %q", s, name)
		}
		if seen[name] {
			return PathTemplate{}, fmt.Errorf("path template %q repeats placeholder %q", s, name)
		}
		seen[name] = true
		t.parts = append(t.parts, pathPart{param: name})
		rest = rest[open+end+1:]
	}
	return t, nil
}

func validParamName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// String returns the template as written.
func (t PathTemplate) String() string { return t.raw }

// Params returns the placeholder names in order.
func (t PathTemplate) Params() []string {
	var out []string
	for _, p := range t.parts {
		if p.param != "" {
			out = append(out, p.param)
		}
	}
	return out
}

// Expand fills the placeholders and returns the escaped path. Each value
// becomes exactly one escaped path segment: a missing placeholder gives the
// contract's 400, and a value that is empty, "." or "..", or that holds '/',
// '\', '?', '#' or a control character, is refused. So is a parameter the
// template does not name.
func (t PathTemplate) Expand(params map[string]string) (string, error) {
	var b strings.Builder
	used := 0
	for _, p := range t.parts {
		if p.param == "" {
			b.WriteString(p.literal)
			continue
		}
		v, ok := params[p.param]
		if !ok {
			return "", ErrMissingPathParam(p.param)
		}
		if err := checkSegment(p.param, v); err != nil {
			return "", err
		}
		used++
		b.WriteString(url.PathEscape(v))
	}
	if used != len(params) {
		for name := range params {
			if !t.hasParam(name) {
				e := Errorf(CodeInvalid, "Unknown path parameter: %s", name)
				e.Field = FieldError
				return "", e
			}
		}
	}
	return b.String(), nil
}

func (t PathTemplate) hasParam(name string) bool {
	for _, p := range t.parts {
		if p.param == name {
			return true
		}
	}
	return false
}

// checkSegment refuses a value that could leave its path segment: empty,
// dot segments, separators, control characters, and percent signs (a
// provider or a load balancer in front of it may decode "%2F" again), and
// invalid UTF-8.
func checkSegment(name, v string) error {
	bad := v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/\\?#%") || !utf8.ValidString(v)
	for i := 0; i < len(v) && !bad; i++ {
		bad = v[i] < 0x20 || v[i] == 0x7f
	}
	if bad {
		e := Errorf(CodeInvalid, "Invalid path parameter: %s", name)
		e.Field = FieldError
		return e
	}
	return nil
}
