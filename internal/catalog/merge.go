package catalog

import (
	"maps"
	"slices"
)

// mergeService applies an override document onto a base service document,
// both decoded generically. Objects merge key by key, recursively; a null
// value removes the key, so the field falls back to its default; any other
// value, arrays included, replaces the base value. The one exception is
// "endpoints", which merges element by element, matched on "slug": a known
// slug merges onto that endpoint and a new slug is appended. The inputs are
// not modified.
func mergeService(base, override map[string]any) map[string]any {
	out := mergeObjects(base, override, "endpoints")
	if ov, ok := override["endpoints"]; ok && ov != nil {
		baseEps, _ := base["endpoints"].([]any)
		ovEps, _ := ov.([]any)
		out["endpoints"] = mergeEndpoints(baseEps, ovEps)
	}
	return out
}

// mergeObjects merges override onto a copy of base, leaving the keys named
// in skip to the caller (they are copied from base unless override deletes
// them with null).
func mergeObjects(base, override map[string]any, skip ...string) map[string]any {
	out := make(map[string]any, len(base)+len(override))
	maps.Copy(out, base)
	for k, v := range override {
		switch {
		case v == nil:
			delete(out, k)
		case slices.Contains(skip, k):
			// The caller merges this key.
		default:
			bo, bok := out[k].(map[string]any)
			oo, ook := v.(map[string]any)
			if bok && ook {
				out[k] = mergeObjects(bo, oo)
			} else {
				out[k] = v
			}
		}
	}
	return out
}

func mergeEndpoints(base, override []any) []any {
	out := make([]any, len(base), len(base)+len(override))
	copy(out, base)
	for _, ov := range override {
		oe, _ := ov.(map[string]any)
		i := indexBySlug(out, oe["slug"])
		if i < 0 {
			out = append(out, oe)
			continue
		}
		be, _ := out[i].(map[string]any)
		// A request_schema is replaced whole: merging two JSON Schemas key
		// by key would make a third that neither file shows. So is an
		// ownership rule, whose fields only make sense together.
		out[i] = mergeObjects(be, oe, wholeEndpointFields...)
		for _, k := range wholeEndpointFields {
			if v, ok := oe[k]; ok && v != nil {
				out[i].(map[string]any)[k] = v
			}
		}
	}
	return out
}

// wholeEndpointFields are the endpoint fields an override replaces whole.
var wholeEndpointFields = []string{"request_schema", "ownership"}

func indexBySlug(eps []any, slug any) int {
	s, ok := slug.(string)
	if !ok || s == "" {
		return -1
	}
	for i, e := range eps {
		if m, ok := e.(map[string]any); ok && m["slug"] == s {
			return i
		}
	}
	return -1
}
