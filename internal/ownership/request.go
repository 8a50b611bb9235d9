package ownership

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/proxy"
)

// requestIDs returns the ids a request carries at where: "path.NAME",
// "query.NAME" or "body.PATH". It reads them as the provider might: query
// names and body members match whatever their letter case, and a query
// value given twice, or a body member named twice, yields each value, so
// that no second copy can slip another org's id past the check.
func requestIDs(env proxy.Envelope, where string) ([]string, error) {
	from, name, _ := strings.Cut(where, ".")
	switch from {
	case "path":
		if v := env.PathParams[name]; v != "" {
			return []string{v}, nil
		}
		return nil, nil
	case "query":
		var ids []string
		for k, vs := range env.Query {
			if strings.EqualFold(k, name) {
				ids = append(ids, vs...)
			}
		}
		if len(ids) > 1 {
			return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "Query parameter %s may be given only once.", name)
		}
		return nonEmpty(ids), nil
	case "body":
		return bodyIDs(env.Body, name)
	}
	return nil, nil
}

func nonEmpty(ids []string) []string {
	out := ids[:0]
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

// describeRef words where an id goes, for a 400.
func describeRef(where string) string {
	from, name, _ := strings.Cut(where, ".")
	switch from {
	case "path":
		return "path parameter " + name
	case "query":
		return "query parameter " + name
	}
	return "body field " + name
}

// errBodyID is the 400 for an id that is not a string.
func errBodyID(path string) error {
	return aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid request body: %s must be a string.", path)
}

// bodyIDs returns the strings at a dotted path of a JSON body, where "*"
// stands for every element of an array or member of an object. A string
// array at the end of the path yields each element.
func bodyIDs(body json.RawMessage, path string) ([]string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	doc, err := parseNode(body)
	if err != nil {
		return nil, aiproxy.Errorf(aiproxy.CodeInvalid, "Invalid request body: not JSON.")
	}
	var ids []string
	var walk func(n *node, segs []string) error
	walk = func(n *node, segs []string) error {
		if len(segs) == 0 {
			return n.strings(path, &ids)
		}
		for _, child := range n.children(segs[0]) {
			if err := walk(child, segs[1:]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(doc, strings.Split(path, ".")); err != nil {
		return nil, err
	}
	return nonEmpty(ids), nil
}

// node is a parsed JSON value that keeps every member of an object, in
// order, duplicates included: encoding/json's maps would keep only the
// last, while a provider might read the first.
type node struct {
	kind  byte // '{', '[', '"' (string), 'n' (number), 'v' (true, false), '0' (null)
	text  string
	keys  []string
	elems []*node
}

// children returns the values a path segment selects: the members whose
// name matches, in any letter case, or every element or member for "*".
func (n *node) children(seg string) []*node {
	switch n.kind {
	case '{':
		var out []*node
		for i, k := range n.keys {
			if seg == "*" || strings.EqualFold(k, seg) {
				out = append(out, n.elems[i])
			}
		}
		return out
	case '[':
		if seg == "*" {
			return n.elems
		}
	}
	return nil
}

// strings adds the id or ids a value holds: a string, a number's text, or
// an array of those; null holds none.
func (n *node) strings(path string, ids *[]string) error {
	switch n.kind {
	case '"', 'n':
		*ids = append(*ids, n.text)
	case '0':
	case '[':
		for _, e := range n.elems {
			if e.kind != '"' && e.kind != 'n' {
				return errBodyID(path)
			}
			*ids = append(*ids, e.text)
		}
	default:
		return errBodyID(path)
	}
	return nil
}

// parseNode parses one JSON document.
func parseNode(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return n, nil
}

func readNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &node{kind: byte(t)}
		for dec.More() {
			if t == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			child, err := readNode(dec)
			if err != nil {
				return nil, err
			}
			n.elems = append(n.elems, child)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &node{kind: '"', text: t}, nil
	case json.Number:
		return &node{kind: 'n', text: t.String()}, nil
	case nil:
		return &node{kind: '0'}, nil
	}
	return &node{kind: 'v'}, nil
}
