package aiproxy

import "encoding/json"

// BodySchema is the JSON Schema an endpoint's request body must satisfy
// before aiproxy spends a provider call on it. The catalog compiles it when
// it loads; the invoke path only calls Validator.
type BodySchema struct {
	// Name is the schema file's name, such as "heygen-generate-video.json",
	// or "" for a schema written inline in the catalog.
	Name string
	// Document is the schema as written, compact JSON, for documents such
	// as the OpenAPI description.
	Document json.RawMessage
	// Validator checks a body against the compiled schema.
	Validator BodyValidator
}

// BodyValidator checks a request body, the raw JSON the client sent (nil
// when it sent none), against a compiled schema.
type BodyValidator interface {
	// ValidateBody returns nil for a valid body, or a *BodyViolation naming
	// the first bad field.
	ValidateBody(body json.RawMessage) error
}

// BodyViolation is why a body fails its schema: where, as a JSON pointer
// into the body ("" for the body itself), and what is wrong, in words safe
// to show the client.
type BodyViolation struct {
	Pointer string
	Reason  string
}

// Error returns "pointer: reason", or only the reason for the whole body.
func (v *BodyViolation) Error() string {
	if v.Pointer == "" {
		return v.Reason
	}
	return v.Pointer + ": " + v.Reason
}
