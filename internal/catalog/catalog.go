package catalog

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// builtinFiles holds the built-in catalog, one file per service.
//
//go:embed services/*.json schemas/*.json
var builtinFiles embed.FS

// Options tunes Load. The zero value loads the built-in catalog unchanged.
type Options struct {
	// Dir is an extra catalog directory whose *.json files override
	// built-in services (same slug) or add new ones. Other files and
	// subdirectories are ignored. Empty means none.
	Dir string
	// BaseURLs maps a service slug to a base URL that replaces the
	// service's base_url and every one of its upstream hosts, for example
	// to point a service at the sandbox. Every slug must name a service.
	BaseURLs map[string]string
}

// Catalog is a loaded, validated service catalog. It is immutable after
// Load and safe for concurrent use; its methods return copies that the
// caller may keep and change.
type Catalog struct {
	services []*aiproxy.Service // sorted by slug
	bySlug   map[string]*aiproxy.Service
}

// sourceFile is one catalog file's name (as shown in problems) and bytes.
type sourceFile struct {
	name string
	data []byte
	// schema is the name request_schema uses for a schema file
	// (bodyschema.go); "" for a service file.
	schema string
}

// Load reads the built-in catalog and the files of opts.Dir, merges
// overrides onto the built-in services, applies opts.BaseURLs and validates
// the result. Every validation problem is reported at once in a
// *ValidationError; reading opts.Dir may fail with an ordinary error.
func Load(opts Options) (*Catalog, error) {
	builtin, err := readBuiltin()
	if err != nil {
		return nil, err
	}
	extra, err := readDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	return compile(builtin, extra, opts.BaseURLs)
}

func readBuiltin() ([]sourceFile, error) {
	names, err := fs.Glob(builtinFiles, "services/*.json")
	if err != nil {
		return nil, fmt.Errorf("list built-in catalog: %w", err)
	}
	out := make([]sourceFile, 0, len(names))
	for _, name := range names {
		data, err := builtinFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read built-in catalog: %w", err)
		}
		out = append(out, sourceFile{name: "builtin " + path.Base(name), data: data})
	}
	schemas, err := readBuiltinSchemas() // bodyschema.go
	if err != nil {
		return nil, err
	}
	return append(out, schemas...), nil
}

func readDir(dir string) ([]sourceFile, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read catalog dir: %w", err)
	}
	var out []sourceFile
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		name := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read catalog file: %w", err)
		}
		out = append(out, sourceFile{name: name, data: data})
	}
	schemas, err := readSchemaDir(filepath.Join(dir, schemaDir)) // bodyschema.go
	if err != nil {
		return nil, err
	}
	return append(out, schemas...), nil
}

// entry is one service being assembled from a built-in file and at most one
// override.
type entry struct {
	src        string
	doc        map[string]any
	builtin    bool
	overridden bool
}

// compile parses, merges and validates the files. Built-in files come first;
// an extra file whose slug matches a built-in service overrides it.
func compile(builtin, extra []sourceFile, baseURLs map[string]string) (*Catalog, error) {
	r := &report{}
	entries := map[string]*entry{}
	lib := newSchemaLibrary()
	for _, f := range builtin {
		if !lib.take(r, f) {
			addFile(r, entries, f, true)
		}
	}
	for _, f := range extra {
		if !lib.take(r, f) {
			addFile(r, entries, f, false)
		}
	}
	for _, slug := range sortedKeys(baseURLs) {
		if entries[slug] == nil {
			r.add("options", "BaseURLs names no service %q", slug)
		}
	}
	c := &Catalog{bySlug: map[string]*aiproxy.Service{}}
	for _, slug := range sortedKeys(entries) {
		if s := compileEntry(r, entries[slug], baseURLs[slug], lib); s != nil {
			c.services = append(c.services, s)
			c.bySlug[s.Slug] = s
		}
	}
	if len(r.problems) > 0 {
		return nil, &ValidationError{Problems: r.problems}
	}
	return c, nil
}

// addFile parses one file and records it as a new service or an override.
func addFile(r *report, entries map[string]*entry, f sourceFile, builtin bool) {
	var svc fileService
	if err := decodeStrict(f.data, &svc); err != nil {
		r.add(f.name, "%v", err)
		return
	}
	doc, err := decodeObject(f.data)
	if err != nil {
		r.add(f.name, "%v", err)
		return
	}
	if svc.Slug == "" {
		r.add(f.name, "slug is required")
		return
	}
	prev := entries[svc.Slug]
	switch {
	case prev == nil:
		entries[svc.Slug] = &entry{src: f.name, doc: doc, builtin: builtin}
	case builtin || !prev.builtin || prev.overridden:
		r.add(f.name+": "+svc.Slug, "duplicate service slug %q (also in %s)", svc.Slug, prev.src)
	default:
		if checkOverrideEndpoints(r, f.name+": "+svc.Slug, svc.Endpoints) {
			prev.doc = mergeService(prev.doc, doc)
			prev.src += " overridden by " + f.name
			prev.overridden = true
		}
	}
}

// checkOverrideEndpoints makes sure every endpoint of an override names its
// slug once, since the slug decides which endpoint it changes.
func checkOverrideEndpoints(r *report, where string, eps []fileEndpoint) bool {
	ok := true
	var seen []string
	for i, e := range eps {
		switch {
		case e.Slug == "":
			r.add(where, "endpoints[%d]: slug is required in an override", i)
			ok = false
		case slices.Contains(seen, e.Slug):
			r.add(where+"/"+e.Slug, "endpoint listed twice in one override")
			ok = false
		}
		seen = append(seen, e.Slug)
	}
	return ok
}

// compileEntry decodes a (possibly merged) service strictly, applies a base
// URL replacement and validates it.
func compileEntry(r *report, e *entry, baseURL string, lib *schemaLibrary) *aiproxy.Service {
	data, err := json.Marshal(e.doc)
	if err != nil {
		r.add(e.src, "re-encode merged service: %v", err)
		return nil
	}
	var f fileService
	if err := decodeJSON(data, &f, true); err != nil {
		r.add(e.src, "%v", err)
		return nil
	}
	if baseURL != "" {
		f.BaseURL = baseURL
		for name := range f.Upstream.Hosts {
			f.Upstream.Hosts[name] = baseURL
		}
	}
	s := compileService(e.src, f, r)
	compileRequestSchemas(r, e.src, f, s, lib) // bodyschema.go
	return s
}

// Services returns every service, disabled ones included, sorted by slug.
// The services are shared by every caller and must be treated as read-only:
// the invoke path reads them on every call, so copying them would cost an
// allocation per request.
func (c *Catalog) Services() []*aiproxy.Service {
	return slices.Clone(c.services)
}

// Service returns the enabled service with a slug. A disabled or unknown
// service gives false, since the contract treats both as not found.
func (c *Catalog) Service(slug string) (*aiproxy.Service, bool) {
	s, ok := c.bySlug[slug]
	if !ok || !s.IsEnabled {
		return nil, false
	}
	return s, true
}

// Lookup returns an enabled service and its enabled endpoint, the target
// of an invoke call. Both are shared and read-only, like Services.
func (c *Catalog) Lookup(service, action string) (*aiproxy.Service, *aiproxy.Endpoint, bool) {
	s, ok := c.Service(service)
	if !ok {
		return nil, nil, false
	}
	e, ok := s.Endpoint(action)
	if !ok {
		return nil, nil, false
	}
	return s, e, true
}
