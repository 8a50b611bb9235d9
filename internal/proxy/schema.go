package proxy

import (
	"errors"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// checkBody refuses a body that fails its endpoint's request_schema, the
// contract's 400 with a detail that names the bad field, before anything is
// spent on the call: no rate or quota unit, no credential read, no
// provider request. Endpoints without a schema pass unchecked.
func checkBody(ep *aiproxy.Endpoint, env Envelope) error {
	if ep.RequestSchema == nil || ep.RequestSchema.Validator == nil {
		return nil
	}
	err := ep.RequestSchema.Validator.ValidateBody(env.Body)
	if err == nil {
		return nil
	}
	var v *aiproxy.BodyViolation
	switch {
	case !errors.As(err, &v):
		return internal("validate body", err)
	case env.Body == nil:
		return invalidf("Invalid request body: this action needs a JSON body.")
	}
	return invalidf("Invalid request body: %s", v.Error())
}
