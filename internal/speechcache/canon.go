package speechcache

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// errRepeated reports an object that names a member twice: providers read
// such a body differently (the first or the last wins), so it is not
// cached.
var errRepeated = errors.New("a member is named twice")

// canonicalMembers returns the members of a JSON object, each value in
// canonical form, leaving out members whose value is null (the provider
// reads them as absent). It fails on anything but one valid UTF-8 JSON
// object without repeated member names.
func canonicalMembers(raw []byte) (map[string]string, error) {
	if !utf8.Valid(raw) {
		return nil, errors.New("not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	out := map[string]string{}
	for dec.More() {
		name, v, err := member(dec)
		if err != nil {
			return nil, err
		}
		if _, ok := out[name]; ok {
			return nil, errRepeated
		}
		if string(v) != "null" {
			out[name] = string(v)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	return out, nil
}

// member reads one object member: its name and its canonical value.
func member(dec *json.Decoder) (string, []byte, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", nil, err
	}
	name, _ := tok.(string)
	v, err := canonicalValue(dec, nil)
	return name, v, err
}

// canonicalValue appends the next JSON value in canonical form: object
// members sorted by name, numbers in one spelling, strings escaped one way,
// no spaces. Two values that a JSON reader takes as equal come out the
// same; values it takes as different never do.
func canonicalValue(dec *json.Decoder, out []byte) ([]byte, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return canonicalArray(dec, out)
		}
		return canonicalObject(dec, out)
	case string:
		q, _ := json.Marshal(t)
		return append(out, q...), nil
	case json.Number:
		return append(out, canonicalNumber(string(t))...), nil
	case bool:
		return strconv.AppendBool(out, t), nil
	}
	return append(out, "null"...), nil
}

func canonicalArray(dec *json.Decoder, out []byte) ([]byte, error) {
	out = append(out, '[')
	for i := 0; dec.More(); i++ {
		if i > 0 {
			out = append(out, ',')
		}
		var err error
		if out, err = canonicalValue(dec, out); err != nil {
			return nil, err
		}
	}
	_, err := dec.Token()
	return append(out, ']'), err
}

func canonicalObject(dec *json.Decoder, out []byte) ([]byte, error) {
	members := map[string][]byte{}
	for dec.More() {
		name, v, err := member(dec)
		if err != nil {
			return nil, err
		}
		if _, ok := members[name]; ok {
			return nil, errRepeated
		}
		members[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	slices.Sort(names)
	out = append(out, '{')
	for i, name := range names {
		if i > 0 {
			out = append(out, ',')
		}
		q, _ := json.Marshal(name)
		out = append(append(append(out, q...), ':'), members[name]...)
	}
	return append(out, '}'), nil
}

// canonicalNumber spells a number one way. An integer written without a
// fraction or exponent is kept as written (a provider may read it exactly,
// beyond a float's precision); any other number is the float64 it stands
// for, in its shortest form, and an integral one below 2^53 as an integer,
// so that 1.0, 1e0 and 1 agree.
func canonicalNumber(s string) string {
	if !strings.ContainsAny(s, ".eE") {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
