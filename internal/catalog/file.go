package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// fileService is one catalog file as written: the contract's service
// descriptor in snake_case plus the proxy-only upstream object. Pointers mark
// fields whose absence means a documented default rather than the zero value.
type fileService struct {
	Slug                  string            `json:"slug"`
	DisplayName           string            `json:"display_name"`
	BaseURL               string            `json:"base_url"`
	ServiceType           string            `json:"service_type"`
	AuthMode              string            `json:"auth_mode"`
	IsEnabled             *bool             `json:"is_enabled,omitempty"`
	SupportsAsyncJobs     bool              `json:"supports_async_jobs"`
	SupportsStreaming     bool              `json:"supports_streaming"`
	DefaultTimeoutSeconds int               `json:"default_timeout_seconds"`
	CredentialName        string            `json:"credential_name"`
	CredentialPolicy      filePolicy        `json:"credential_policy"`
	CredentialSchema      map[string]string `json:"credential_schema"`
	Endpoints             []fileEndpoint    `json:"endpoints"`
	Upstream              fileUpstream      `json:"upstream"`
	JobWebhook            *fileJobWebhook   `json:"job_webhook,omitempty"`
	CredentialCheckAction string            `json:"credential_check_action,omitempty"`
}

type filePolicy struct {
	AllowTenantKey        bool   `json:"allow_tenant_key"`
	AllowPlatformKey      bool   `json:"allow_platform_key"`
	DefaultSource         string `json:"default_source"`
	FallbackToPlatformKey bool   `json:"fallback_to_platform_key"`
}

type fileUpstream struct {
	AuthHeader      string            `json:"auth_header"`
	AuthPrefix      string            `json:"auth_prefix,omitempty"`
	CredentialField string            `json:"credential_field,omitempty"`
	Hosts           map[string]string `json:"hosts,omitempty"`
	RequestHeaders  []string          `json:"request_headers,omitempty"`
	ResponseHeaders []string          `json:"response_headers,omitempty"`
	ErrorEnvelope   string            `json:"error_envelope,omitempty"`
}

type fileEndpoint struct {
	Slug              string `json:"slug"`
	PathTemplate      string `json:"path_template"`
	HTTPMethod        string `json:"http_method"`
	RequestMode       string `json:"request_mode"`
	ResponseMode      string `json:"response_mode"`
	SupportsStreaming bool   `json:"supports_streaming"`
	CallbackMode      string `json:"callback_mode,omitempty"`
	IsEnabled         *bool  `json:"is_enabled,omitempty"`
	Description       string `json:"description,omitempty"`
	TimeoutSeconds    int    `json:"timeout_seconds,omitempty"`
	Host              string `json:"host,omitempty"`
	RetrySafe         *bool  `json:"retry_safe,omitempty"`
	CacheTTLSeconds   int    `json:"cache_ttl_seconds,omitempty"`
	Meter             string `json:"meter,omitempty"`
	TestModeField     string `json:"test_mode_field,omitempty"`
	MaxBodyBytes      int64  `json:"max_body_bytes,omitempty"`
	// RequestSchema is a JSON Schema object or the name of a schema file
	// (bodyschema.go).
	RequestSchema json.RawMessage  `json:"request_schema,omitempty"`
	Job           *fileJob         `json:"job,omitempty"`
	JobStatus     *fileJobStatus   `json:"job_status,omitempty"`
	Ownership     *fileOwnership   `json:"ownership,omitempty"`
	SpeechCache   *fileSpeechCache `json:"speech_cache,omitempty"`
	UpstreamAuth  string           `json:"upstream_auth,omitempty"`
	Socket        *fileSocket      `json:"socket,omitempty"`
}

// decodeStrict decodes one JSON object into v, refusing unknown fields,
// fields whose case differs from the format's, and trailing data.
func decodeStrict(data []byte, v *fileService) error {
	var generic any
	if err := decodeJSON(data, &generic, false); err != nil {
		return err
	}
	obj, ok := generic.(map[string]any)
	if !ok {
		return errors.New("a catalog file must hold one JSON object")
	}
	if err := checkKeys(obj, reflect.TypeFor[fileService](), ""); err != nil {
		return err
	}
	return decodeJSON(data, v, true)
}

// decodeObject decodes one JSON object into a generic map, keeping numbers
// exact, for merging.
func decodeObject(data []byte) (map[string]any, error) {
	var obj map[string]any
	if err := decodeJSON(data, &obj, false); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, errors.New("a catalog file must hold one JSON object")
	}
	return obj, nil
}

func decodeJSON(data []byte, v any, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("invalid JSON: data after the top-level object")
	}
	return nil
}

// describeJSONError words a decoding error for someone editing the file,
// without Go type names.
func describeJSONError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("invalid JSON at byte %d: %w", syntax.Offset, err)
	case errors.As(err, &typ):
		return fmt.Errorf("invalid JSON: field %q holds a JSON %s, want %s", typ.Field, typ.Value, jsonKind(typ.Type))
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Slice:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// checkKeys closes the gap DisallowUnknownFields leaves: encoding/json
// matches field names case-insensitively, so "Slug" would silently pass for
// "slug". It walks the document along the struct type t.
func checkKeys(v any, t reflect.Type, at string) error {
	switch t.Kind() {
	case reflect.Pointer:
		return checkKeys(v, t.Elem(), at)
	case reflect.Slice:
		arr, _ := v.([]any)
		for i, el := range arr {
			if err := checkKeys(el, t.Elem(), fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		obj, _ := v.(map[string]any)
		fields := jsonFields(t)
		for _, k := range sortedKeys(obj) {
			f, ok := fields[k]
			if !ok {
				return fmt.Errorf("unknown field %q", strings.TrimPrefix(at+"."+k, "."))
			}
			if err := checkKeys(obj[k], f.Type, at+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out[name] = f
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// encodeService turns a compiled service back into the file format with
// every default made explicit; the golden test and the docs show this form.
func encodeService(s *aiproxy.Service) fileService {
	enabled := s.IsEnabled
	f := fileService{
		Slug:                  s.Slug,
		DisplayName:           s.DisplayName,
		BaseURL:               s.BaseURL,
		ServiceType:           s.ServiceType,
		AuthMode:              s.AuthMode,
		IsEnabled:             &enabled,
		SupportsAsyncJobs:     s.SupportsAsyncJobs,
		SupportsStreaming:     s.SupportsStreaming,
		DefaultTimeoutSeconds: s.DefaultTimeoutSeconds,
		CredentialName:        s.CredentialName,
		CredentialPolicy: filePolicy{
			AllowTenantKey:        s.CredentialPolicy.AllowTenantKey,
			AllowPlatformKey:      s.CredentialPolicy.AllowPlatformKey,
			DefaultSource:         string(s.CredentialPolicy.DefaultSource),
			FallbackToPlatformKey: s.CredentialPolicy.FallbackToPlatformKey,
		},
		CredentialSchema: s.CredentialSchema,
		Upstream: fileUpstream{
			AuthHeader:      s.Upstream.AuthHeader,
			AuthPrefix:      s.Upstream.AuthPrefix,
			CredentialField: s.Upstream.CredentialField,
			Hosts:           s.Upstream.Hosts,
			RequestHeaders:  s.Upstream.RequestHeaders,
			ResponseHeaders: s.Upstream.ResponseHeaders,
			ErrorEnvelope:   s.Upstream.ErrorEnvelope,
		},
	}
	f.JobWebhook = encodeJobWebhook(s.JobWebhook)
	f.CredentialCheckAction = s.CredentialCheckAction
	for _, e := range s.Endpoints {
		enabled := e.IsEnabled
		retrySafe := e.RetrySafe
		f.Endpoints = append(f.Endpoints, fileEndpoint{
			Slug:              e.Slug,
			PathTemplate:      e.PathTemplate,
			HTTPMethod:        e.HTTPMethod,
			RequestMode:       string(e.RequestMode),
			ResponseMode:      string(e.ResponseMode),
			SupportsStreaming: e.SupportsStreaming,
			CallbackMode:      e.CallbackMode,
			IsEnabled:         &enabled,
			Description:       e.Description,
			TimeoutSeconds:    e.TimeoutSeconds,
			Host:              e.Host,
			RetrySafe:         &retrySafe,
			CacheTTLSeconds:   e.CacheTTLSeconds,
			Meter:             string(e.Meter),
			TestModeField:     e.TestModeField,
			MaxBodyBytes:      e.MaxBodyBytes,
			RequestSchema:     encodeRequestSchema(e.RequestSchema),
			Job:               encodeJob(e.Job),
			JobStatus:         encodeJobStatus(e.JobStatus),
			Ownership:         encodeOwnership(e.Ownership),
			SpeechCache:       encodeSpeechCache(e.SpeechCache),
			UpstreamAuth:      string(e.UpstreamAuth),
			Socket:            encodeSocket(e.Socket),
		})
	}
	return f
}
