package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// bodySchemaName is the component that holds an endpoint's request_schema,
// e.g. HeygenGenerateVideoBody.
func bodySchemaName(svc *aiproxy.Service, ep aiproxy.Endpoint) string {
	return operationID("", svc.Slug, ep.Slug) + "Body"
}

// addBodySchemas adds each enabled endpoint's request_schema to the
// component schemas. A catalog schema is self-contained (the catalog
// refuses $ref and $id), so it is embedded as written, less its $schema:
// OpenAPI 3.1 schemas are JSON Schema 2020-12 already.
func addBodySchemas(schemas obj, services []*aiproxy.Service) error {
	for _, svc := range services {
		if !svc.IsEnabled {
			continue
		}
		for _, ep := range svc.EnabledEndpoints() {
			if ep.RequestSchema == nil {
				continue
			}
			var doc map[string]any
			dec := json.NewDecoder(bytes.NewReader(ep.RequestSchema.Document))
			dec.UseNumber()
			if err := dec.Decode(&doc); err != nil {
				return fmt.Errorf("openapi: %s/%s: request schema: %w", svc.Slug, ep.Slug, err)
			}
			delete(doc, "$schema")
			schemas[bodySchemaName(svc, ep)] = doc
		}
	}
	return nil
}

// attachBodySchema points the envelope's body at the endpoint's
// request_schema and makes the body required, since aiproxy refuses a
// call without one.
func attachBodySchema(op obj, svc *aiproxy.Service, ep aiproxy.Endpoint) {
	if ep.RequestSchema == nil {
		return
	}
	content, _ := op["requestBody"].(obj)["content"].(obj)
	media, _ := content["application/json"].(obj)
	env, _ := media["schema"].(obj)
	props, _ := env["properties"].(obj)
	if props == nil {
		return
	}
	props["body"] = obj{"$ref": "#/components/schemas/" + bodySchemaName(svc, ep),
		"description": "The provider's request body, checked against this schema before the provider is called."}
	required, _ := env["required"].([]any)
	env["required"] = append(required, "body")
	op["requestBody"].(obj)["required"] = true
}

// attachNativeBodySchema gives a native JSON operation the same body
// schema: aiproxy checks native bodies too.
func attachNativeBodySchema(op obj, svc *aiproxy.Service, ep aiproxy.Endpoint) {
	if ep.RequestSchema == nil || ep.RequestMode != aiproxy.RequestJSON {
		return
	}
	rb, ok := op["requestBody"].(obj)
	if !ok {
		return
	}
	rb["required"] = true
	rb["content"] = obj{"application/json": obj{"schema": obj{"$ref": "#/components/schemas/" + bodySchemaName(svc, ep)}}}
}
