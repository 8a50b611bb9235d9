package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// schemaDir is where schema files live: services/../schemas in the
// built-in catalog, and a "schemas" subdirectory of Options.Dir.
const schemaDir = "schemas"

// draft2020 is the only $schema a request schema may declare: OpenAPI 3.1
// documents embed JSON Schema 2020-12.
const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// schemaFilePattern is what a request_schema reference must look like.
var schemaFilePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*\.json$`)

// refKeywords would let a schema reach outside itself; request schemas are
// self-contained so that OpenAPI can embed them as they are.
var refKeywords = []string{"$ref", "$dynamicRef", "$recursiveRef", "$id"}

// schemaLibrary holds the schema files a catalog's request_schema
// references name, and compiles each once.
type schemaLibrary struct {
	files    map[string]sourceFile
	compiled map[string]*aiproxy.BodySchema
	failed   map[string]bool
}

func newSchemaLibrary() *schemaLibrary {
	return &schemaLibrary{files: map[string]sourceFile{}, compiled: map[string]*aiproxy.BodySchema{}, failed: map[string]bool{}}
}

// take keeps f when it is a schema file and reports whether it was; a file
// of Options.Dir replaces a built-in one of the same name.
func (l *schemaLibrary) take(f sourceFile) bool {
	if f.schema == "" {
		return false
	}
	l.files[f.schema] = f
	return true
}

// resolve compiles an endpoint's request_schema: the name of a schema file
// or an inline schema object. Problems go to r; the result is nil then.
func (l *schemaLibrary) resolve(r *report, where string, raw json.RawMessage) *aiproxy.BodySchema {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		return l.named(r, where, name)
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		r.add(where, "request_schema must be a JSON Schema object or the name of a file in %s/", schemaDir)
		return nil
	}
	s, err := compileBodySchema("inline.json", raw)
	if err != nil {
		r.add(where, "request_schema: %v", err)
		return nil
	}
	return s
}

func (l *schemaLibrary) named(r *report, where, name string) *aiproxy.BodySchema {
	if s, ok := l.compiled[name]; ok {
		return s
	}
	f, ok := l.files[name]
	switch {
	case !schemaFilePattern.MatchString(name):
		r.add(where, "request_schema %q must be a file name matching %s", name, schemaFilePattern)
		return nil
	case !ok:
		r.add(where, "request_schema %q names no file in %s/", name, schemaDir)
		return nil
	case l.failed[name]:
		return nil
	}
	s, err := compileBodySchema(name, f.data)
	if err != nil {
		// Reported once, under the file, however many endpoints use it.
		r.add(f.name, "%v", err)
		l.failed[name] = true
		return nil
	}
	l.compiled[name] = s
	return s
}

// compileRequestSchemas attaches each endpoint's compiled request_schema.
// f.Endpoints and s.Endpoints are in the same order (compileService).
func compileRequestSchemas(r *report, src string, f fileService, s *aiproxy.Service, lib *schemaLibrary) {
	for i, fe := range f.Endpoints {
		if len(fe.RequestSchema) == 0 || i >= len(s.Endpoints) {
			continue
		}
		where := fmt.Sprintf("%s: %s/%s", src, orPlaceholder(f.Slug), orPlaceholder(fe.Slug))
		if fe.RequestMode != "json" && fe.RequestMode != "multipart" {
			r.add(where, "request_schema needs request_mode json or multipart, whose body is JSON")
			continue
		}
		s.Endpoints[i].RequestSchema = lib.resolve(r, where, fe.RequestSchema)
	}
}

// compileBodySchema checks and compiles one schema document. The compiler
// loads nothing from outside: every reference keyword is refused first.
func compileBodySchema(name string, data []byte) (*aiproxy.BodySchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("a request schema must be a JSON object")
	}
	if v, ok := obj["$schema"]; ok && v != draft2020 && v != draft2020+"#" {
		return nil, fmt.Errorf("$schema %v is not %q, the draft OpenAPI 3.1 uses", v, draft2020)
	}
	if kw := findKeyword(obj, refKeywords); kw != "" {
		return nil, fmt.Errorf("%s is not supported: a request schema must be self-contained", kw)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	url := "aiproxy:///" + schemaDir + "/" + name
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("add schema: %w", err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("invalid JSON Schema: %s", oneLine(err))
	}
	compact, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("re-encode schema: %w", err)
	}
	s := &aiproxy.BodySchema{Document: compact, Validator: bodyValidator{sch}}
	if name != "inline.json" {
		s.Name = name
	}
	return s, nil
}

// findKeyword returns the first of keywords used as a key anywhere in v.
func findKeyword(v any, keywords []string) string {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			for _, kw := range keywords {
				if k == kw {
					return kw
				}
			}
			if kw := findKeyword(v[k], keywords); kw != "" {
				return kw
			}
		}
	case []any:
		for _, el := range v {
			if kw := findKeyword(el, keywords); kw != "" {
				return kw
			}
		}
	}
	return ""
}

// oneLine folds the compiler's indented, multi-line message into one
// problem line.
func oneLine(err error) string {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- ")); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}

// noLoader refuses every URL: a request schema never loads another
// document (the metaschemas are built into the compiler).
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("request schemas may not load %s", url)
}

// printer words validation failures in English, as the rest of the API.
var printer = message.NewPrinter(language.English)

// bodyValidator checks bodies against one compiled schema.
type bodyValidator struct{ schema *jsonschema.Schema }

var _ aiproxy.BodyValidator = bodyValidator{}

// ValidateBody checks body (nil: none was sent, checked as JSON null) and
// reports the first failure as a *aiproxy.BodyViolation.
func (v bodyValidator) ValidateBody(body json.RawMessage) error {
	var doc any
	if len(bytes.TrimSpace(body)) > 0 {
		var err error
		if doc, err = jsonschema.UnmarshalJSON(bytes.NewReader(body)); err != nil {
			return &aiproxy.BodyViolation{Reason: "not valid JSON"}
		}
	}
	err := v.schema.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &aiproxy.BodyViolation{Reason: "does not match the action's schema"}
	}
	leaf := firstLeaf(ve)
	return &aiproxy.BodyViolation{Pointer: pointer(leaf.InstanceLocation), Reason: leaf.ErrorKind.LocalizedString(printer)}
}

// firstLeaf follows the first cause down to the failure that names a
// field. anyOf and oneOf stop the descent: their alternatives failed
// together, and naming only the first would mislead.
func firstLeaf(e *jsonschema.ValidationError) *jsonschema.ValidationError {
	for len(e.Causes) > 0 {
		switch e.ErrorKind.(type) {
		case *kind.AnyOf, *kind.OneOf:
			return e
		}
		e = e.Causes[0]
	}
	return e
}

// pointer writes a JSON pointer (RFC 6901) from its tokens.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

// readBuiltinSchemas reads the embedded schema files.
func readBuiltinSchemas() ([]sourceFile, error) {
	names, err := fs.Glob(builtinFiles, schemaDir+"/*.json")
	if err != nil {
		return nil, fmt.Errorf("list built-in schemas: %w", err)
	}
	out := make([]sourceFile, 0, len(names))
	for _, name := range names {
		data, err := builtinFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read built-in schema: %w", err)
		}
		out = append(out, sourceFile{name: "builtin " + name, data: data, schema: path.Base(name)})
	}
	return out, nil
}

// readSchemaDir reads the *.json files of an extra catalog's schemas
// directory; a missing directory holds none.
func readSchemaDir(dir string) ([]sourceFile, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read catalog schema dir: %w", err)
	}
	var out []sourceFile
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		name := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read catalog schema: %w", err)
		}
		out = append(out, sourceFile{name: name, data: data, schema: e.Name()})
	}
	return out, nil
}

// encodeRequestSchema writes a compiled schema back in the file format:
// its file name, or the inline object.
func encodeRequestSchema(s *aiproxy.BodySchema) json.RawMessage {
	switch {
	case s == nil:
		return nil
	case s.Name != "":
		name, _ := json.Marshal(s.Name)
		return name
	}
	return s.Document
}
