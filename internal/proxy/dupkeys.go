package proxy

import (
	"bytes"
	"encoding/json"
	"strings"
)

// checkDuplicateKeys refuses a JSON body in which an object names a member
// twice, in any letter case, at any depth. Go's decoder keeps the last
// member and matches struct fields without regard to case, while a
// provider's parser may keep the first or match case exactly: with
// {"text":"a","Text":"long…"} the meter would count one value and the
// provider read the other. Refusing such bodies makes the validator, the
// meter and the provider read the same thing.
func checkDuplicateKeys(body json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	// seen holds, for each open object, the keys it has named so far; a
	// nil entry is an open array.
	var seen []map[string]bool
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or a syntax error the validator reports
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				seen = append(seen, map[string]bool{})
				expectKey = true
				continue
			case '[':
				seen = append(seen, nil)
			case '}', ']':
				seen = seen[:len(seen)-1]
			}
		case string:
			if expectKey {
				k := strings.ToLower(t)
				if seen[len(seen)-1][k] {
					return invalidf("Invalid request body: the key %q appears more than once in one object (keys differing only in case count as the same).", t)
				}
				seen[len(seen)-1][k] = true
				expectKey = false
				continue
			}
		}
		// After a value, the next token of an object is a key.
		expectKey = len(seen) > 0 && seen[len(seen)-1] != nil
	}
}
