package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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

// schemaLibrary holds the compiled schema files that request_schema
// references name. Every file is compiled as it is read, so a bad schema is
// a problem even when no endpoint uses it yet.
type schemaLibrary struct {
	compiled map[string]*aiproxy.BodySchema
	failed   map[string]bool
}

func newSchemaLibrary() *schemaLibrary {
	return &schemaLibrary{compiled: map[string]*aiproxy.BodySchema{}, failed: map[string]bool{}}
}

// take compiles f when it is a schema file and reports whether it was. A
// file of Options.Dir replaces a built-in one of the same name.
func (l *schemaLibrary) take(r *report, f sourceFile) bool {
	if f.schema == "" {
		return false
	}
	delete(l.compiled, f.schema)
	delete(l.failed, f.schema)
	s, err := compileBodySchema(f.schema, f.data)
	if err != nil {
		r.add(f.name, "%v", err)
		l.failed[f.schema] = true
	} else {
		l.compiled[f.schema] = s
	}
	return true
}

// resolve returns an endpoint's compiled request_schema: the name of a
// schema file or an inline schema object. Problems go to r; the result is
// nil then.
func (l *schemaLibrary) resolve(r *report, where string, raw json.RawMessage) *aiproxy.BodySchema {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		return l.named(r, where, name)
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		r.add(where, "request_schema must be a JSON Schema object or the name of a file in %s/", schemaDir)
		return nil
	}
	s, err := compileBodySchema("", raw)
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
	switch {
	case l.failed[name]:
		// Already reported under the file, however many endpoints use it.
	case !schemaFilePattern.MatchString(name):
		r.add(where, "request_schema %q must be a file name matching %s", name, schemaFilePattern)
	default:
		r.add(where, "request_schema %q names no file in %s/", name, schemaDir)
	}
	return nil
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

// compileBodySchema checks and compiles one schema document, named by its
// file ("" when inline). The compiler
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
	url := "aiproxy:///" + schemaDir + "/inline.json"
	if name != "" {
		url = "aiproxy:///" + schemaDir + "/" + name
	}
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
	return &aiproxy.BodySchema{Name: name, Document: compact, Validator: bodyValidator{sch}}, nil
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
	at := leaf.InstanceLocation
	if req, ok := leaf.ErrorKind.(*kind.Required); ok && len(req.Missing) > 0 {
		// Point at the missing field itself, not at its parent.
		at = append(slices.Clip(at), req.Missing[0])
	}
	return &aiproxy.BodyViolation{Pointer: pointer(at), Reason: reason(leaf.ErrorKind)}
}

// reason words the common failures the way the API's other messages read
// ("length must be <= 5000"), and leaves the rest to the library.
func reason(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Required:
		return "is required"
	case *kind.Type:
		return fmt.Sprintf("must be %s, not %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("length must be <= %d, but got %d", k.Want, k.Got)
	case *kind.MinLength:
		return fmt.Sprintf("length must be >= %d, but got %d", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items, but has %d", k.Want, k.Got)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items, but has %d", k.Want, k.Got)
	case *kind.Maximum:
		return fmt.Sprintf("must be <= %s, but got %s", ratString(k.Want), ratString(k.Got))
	case *kind.Minimum:
		return fmt.Sprintf("must be >= %s, but got %s", ratString(k.Want), ratString(k.Got))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("must be < %s, but got %s", ratString(k.Want), ratString(k.Got))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("must be > %s, but got %s", ratString(k.Want), ratString(k.Got))
	}
	return k.LocalizedString(printer)
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// firstLeaf returns the failure to report: of the failures that name a
// field, the one earliest by position in the body. (The library walks
// objects in map order, so its own first cause changes from run to run.)
// anyOf and oneOf end the descent: their alternatives failed together, and
// naming only one would mislead.
func firstLeaf(e *jsonschema.ValidationError) *jsonschema.ValidationError {
	var best *jsonschema.ValidationError
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		switch e.ErrorKind.(type) {
		case *kind.AnyOf, *kind.OneOf:
		default:
			if len(e.Causes) > 0 {
				for _, c := range e.Causes {
					walk(c)
				}
				return
			}
		}
		if best == nil || locationLess(e.InstanceLocation, best.InstanceLocation) {
			best = e
		}
	}
	walk(e)
	return best
}

// locationLess orders instance locations: array indexes by number, names
// by text, a parent before its children.
func locationLess(a, b []string) bool {
	for i := range min(len(a), len(b)) {
		if a[i] == b[i] {
			continue
		}
		x, errX := strconv.Atoi(a[i])
		y, errY := strconv.Atoi(b[i])
		if errX == nil && errY == nil {
			return x < y
		}
		return a[i] < b[i]
	}
	return len(a) < len(b)
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

// encodeRequestSchema writes a compiled schema back in the file format,
// inline, so that the compiled catalog shows (and reloads to) exactly what
// is checked without the schema files beside it.
func encodeRequestSchema(s *aiproxy.BodySchema) json.RawMessage {
	if s == nil {
		return nil
	}
	return s.Document
}
