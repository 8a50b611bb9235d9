// Package archtest checks aiproxy's architecture rules, the ones STYLE.md
// writes down, against every package of the module. It has no code of its
// own: the rules run as tests, over `go list -json ./...`, so a package
// added later is covered without touching this file.
package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pkg is the part of `go list -json` output the rules read.
type pkg struct {
	ImportPath   string
	Dir          string
	Name         string
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
	DepsErrors   []struct{ Err string }
}

// module is the module path; packages are named relative to it below.
const module = "github.com/aiproxy/aiproxy"

// The rules' package sets, relative to the module.
var (
	// domain is the package that may import only the standard library.
	domain = "internal/aiproxy"
	// concreteStores are storage engines. No business package may import one.
	concreteStores = []string{"internal/sqlite", "internal/postgres", "internal/redis"}
	// adapters are concrete adapters that only cmd/ may import, outside tests.
	adapters = append([]string{"internal/sandbox"}, concreteStores...)
	// vagueNames are package names that say nothing about what they provide.
	vagueNames = []string{"util", "utils", "common", "helper", "helpers", "misc"}
	// allowedImports lists, for every package under internal/ and for the
	// Go client, the project packages its code may import (tests may import
	// more). A package missing here fails the test: a new package, or a new
	// arrow between packages, is a decision to write down in this table
	// and in docs/architecture.md. The call pipeline sits in proxy; the
	// hooks (jobs, idempotency, ownership) see only the domain and the
	// pipeline; webhooks see only the domain.
	allowedImports = map[string][]string{
		"internal/aiproxy":               {},
		"internal/access":                {"internal/aiproxy"},
		"internal/admin":                 {"internal/aiproxy"},
		"internal/apidocs":               {},
		"internal/archtest":              {},
		"internal/breaker":               {"internal/aiproxy"},
		"internal/budget":                {"internal/aiproxy", "internal/proxy"},
		"internal/egress":                {},
		"internal/cache":                 {},
		"internal/catalog":               {"internal/aiproxy"},
		"internal/concurrency":           {"internal/aiproxy"},
		"internal/console":               {},
		"internal/httpapi":               {"internal/admin", "internal/aiproxy", "internal/jobs", "internal/metrics", "internal/openapi", "internal/proxy"},
		"internal/idempotency":           {"internal/aiproxy", "internal/proxy"},
		"internal/jobs":                  {"internal/aiproxy", "internal/proxy", "internal/diskfile"},
		"internal/metrics":               {"internal/aiproxy", "internal/proxy"},
		"internal/oidc":                  {"internal/aiproxy", "internal/egress"},
		"internal/openapi":               {"internal/aiproxy"},
		"internal/ownership":             {"internal/aiproxy", "internal/proxy"},
		"internal/livesession":           {"internal/aiproxy", "internal/proxy"},
		"internal/postgres":              {"internal/aiproxy"},
		"internal/postgres/pgtest":       {},
		"internal/proxy":                 {"internal/aiproxy"},
		"internal/quota":                 {"internal/aiproxy"},
		"internal/ratelimit":             {"internal/aiproxy"},
		"internal/ratelimit/limitertest": {"internal/aiproxy", "internal/ratelimit"},
		"internal/redis":                 {"internal/aiproxy", "internal/cache", "internal/concurrency", "internal/ratelimit"},
		"internal/retention":             {"internal/aiproxy"},
		"internal/rollup":                {"internal/aiproxy"},
		"internal/sandbox":               {},
		"internal/speechcache":           {"internal/aiproxy", "internal/proxy", "internal/diskfile"},
		"internal/realtime":              {"internal/aiproxy", "internal/proxy"},
		"internal/sqlite":                {"internal/aiproxy"},
		"internal/storetest":             {"internal/aiproxy"},
		"internal/tracing":               {"internal/proxy"},
		"internal/usage":                 {"internal/aiproxy", "internal/diskfile"},
		"internal/diskfile":              {},
		"internal/vault":                 {},
		"internal/webhooks":              {"internal/aiproxy", "internal/egress"},
		"client":                         {},
	}
)

// listPackages runs `go list -json ./...` at the module root.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	cmd := exec.Command("go", "list", "-e", "-json", "./...")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func rel(importPath string) string {
	return strings.TrimPrefix(strings.TrimPrefix(importPath, module), "/")
}

// isStd reports whether an import path is in the standard library: its
// first element has no dot, as no module path without one can be fetched.
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") && path != "C"
}

// isUnder reports whether a module-relative path is dir or inside it.
func isUnder(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// checkDomainStdlibOnly: the domain imports only the standard library, in
// its code and its in-package tests.
func checkDomainStdlibOnly(pkgs []pkg) []string {
	var problems []string
	for _, p := range pkgs {
		if rel(p.ImportPath) != domain {
			continue
		}
		for _, imp := range append(slices.Clone(p.Imports), p.TestImports...) {
			if !isStd(imp) {
				problems = append(problems, fmt.Sprintf("%s imports %s; the domain may import only the standard library", domain, imp))
			}
		}
	}
	return problems
}

// checkAdaptersOnlyInCmd: outside cmd/, no package's code imports a
// concrete adapter (a store engine or the sandbox). Tests may, to run
// against real things.
func checkAdaptersOnlyInCmd(pkgs []pkg) []string {
	var problems []string
	for _, p := range pkgs {
		from := rel(p.ImportPath)
		if isUnder(from, "cmd") {
			continue
		}
		for _, imp := range p.Imports {
			to := rel(imp)
			for _, a := range adapters {
				if strings.HasPrefix(imp, module+"/") && isUnder(to, a) && !isUnder(from, a) {
					problems = append(problems, fmt.Sprintf("%s imports the concrete adapter %s; only cmd/ may wire adapters", from, to))
				}
			}
		}
	}
	return problems
}

// checkAllowedImports: the code of every package under internal/ and of
// the Go client imports only the project packages allowedImports lists for
// it, and every such package is listed.
func checkAllowedImports(pkgs []pkg) []string {
	var problems []string
	for _, p := range pkgs {
		from := rel(p.ImportPath)
		if !isUnder(from, "internal") && from != "client" {
			continue
		}
		allowed, listed := allowedImports[from]
		if !listed {
			problems = append(problems, fmt.Sprintf("%s is not in allowedImports: add it, with the packages it may import, and to docs/architecture.md", from))
			continue
		}
		for _, imp := range p.Imports {
			if to := rel(imp); strings.HasPrefix(imp, module+"/") && !slices.Contains(allowed, to) {
				problems = append(problems, fmt.Sprintf("%s imports %s, which allowedImports does not allow it", from, to))
			}
		}
	}
	return problems
}

// checkNoVagueNames: no package is named util, common, helpers or the like.
func checkNoVagueNames(pkgs []pkg) []string {
	var problems []string
	for _, p := range pkgs {
		last := filepath.Base(p.ImportPath)
		for _, n := range []string{p.Name, last} {
			if slices.Contains(vagueNames, strings.ToLower(n)) {
				problems = append(problems, fmt.Sprintf("%s is named %q; name a package after what it provides", rel(p.ImportPath), n))
				break
			}
		}
	}
	return problems
}

// checkDocComments: every package has a doc comment that starts with
// "Package <name>" ("Command <name>" for a main package). Test-only
// packages carry it in a test file.
func checkDocComments(pkgs []pkg) []string {
	var problems []string
	for _, p := range pkgs {
		files := append(slices.Clone(p.GoFiles), p.CgoFiles...)
		if len(files) == 0 {
			files = p.TestGoFiles
		}
		if len(files) == 0 {
			continue
		}
		if ok, err := hasDocComment(p.Dir, docPrefix(p), files); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", rel(p.ImportPath), err))
		} else if !ok {
			problems = append(problems, fmt.Sprintf("%s has no package doc comment starting %q", rel(p.ImportPath), docPrefix(p)))
		}
	}
	return problems
}

func docPrefix(p pkg) string {
	if p.Name == "main" {
		return "Command " + filepath.Base(p.ImportPath)
	}
	return "Package " + p.Name
}

// hasDocComment reports whether one of the files' package clauses has a
// doc comment that starts with want.
func hasDocComment(dir, want string, files []string) (bool, error) {
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, filepath.Join(dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return false, err
		}
		if af.Doc == nil {
			continue
		}
		text := af.Doc.Text()
		if strings.HasPrefix(text, want+" ") || strings.HasPrefix(text, want+"\n") {
			return true, nil
		}
	}
	return false, nil
}

// checkLoads: go list could read every package and the packages it
// imports. A package it cannot load (a broken package clause or import
// block, an import that does not resolve, a cycle) has an incomplete
// import list, so the other rules would pass it without looking.
func checkLoads(pkgs []pkg) []string {
	var problems []string
	for _, p := range pkgs {
		if p.Error != nil {
			problems = append(problems, fmt.Sprintf("go list cannot load %s: %s", rel(p.ImportPath), p.Error.Err))
		}
		for _, e := range p.DepsErrors {
			problems = append(problems, fmt.Sprintf("go list cannot load an import of %s: %s", rel(p.ImportPath), e.Err))
		}
	}
	return problems
}

func TestArchitecture(t *testing.T) {
	pkgs := listPackages(t)
	// The rules name these packages; if go list stopped seeing them the
	// checks would pass vacuously.
	for _, want := range []string{domain, "internal/proxy", "internal/httpapi", "internal/sqlite", "internal/archtest", "cmd/aiproxy"} {
		if !slices.ContainsFunc(pkgs, func(p pkg) bool { return rel(p.ImportPath) == want }) {
			t.Fatalf("go list did not report %s", want)
		}
	}
	checks := []struct {
		name  string
		check func([]pkg) []string
	}{
		{"every package loads", checkLoads},
		{"domain imports only the standard library", checkDomainStdlibOnly},
		{"only cmd imports concrete adapters", checkAdaptersOnlyInCmd},
		{"packages import only what the table allows", checkAllowedImports},
		{"no vague package names", checkNoVagueNames},
		{"every package has a doc comment", checkDocComments},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, problem := range c.check(pkgs) {
				t.Error(problem)
			}
		})
	}
}

// TestChecksCatchViolations feeds made-up packages to each check, so that
// a check that silently stopped working fails here.
func TestChecksCatchViolations(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	dir := t.TempDir()
	writeFile(t, dir, "nodoc.go", "package nodoc\n")
	writeFile(t, dir, "doc.go", "// Package good does things.\npackage good\n")
	writeFile(t, dir, "wrongdoc.go", "// This package does things.\npackage wrong\n")
	writeFile(t, dir, "main.go", "// Command tool does things.\npackage main\n")
	writeFile(t, dir, "only_test.go", "// Package testonly does things.\npackage testonly\n")
	tests := []struct {
		name  string
		check func([]pkg) []string
		pkg   pkg
		bad   bool
	}{
		{"package go list cannot load", checkLoads, pkg{ImportPath: m("internal/proxy"), Error: &struct{ Err string }{"expected declaration, found oops"}}, true},
		{"import that does not resolve", checkLoads, pkg{ImportPath: m("internal/proxy"), DepsErrors: []struct{ Err string }{{"no required module provides package"}}}, true},
		{"package that loads", checkLoads, pkg{ImportPath: m("internal/proxy"), Imports: []string{"net/http"}}, false},
		{"domain importing the store", checkDomainStdlibOnly, pkg{ImportPath: m(domain), Imports: []string{"fmt", m("internal/sqlite")}}, true},
		{"domain test importing a module", checkDomainStdlibOnly, pkg{ImportPath: m(domain), TestImports: []string{"golang.org/x/sync/errgroup"}}, true},
		{"domain on stdlib", checkDomainStdlibOnly, pkg{ImportPath: m(domain), Imports: []string{"net/http", "crypto/sha256"}}, false},
		{"proxy importing sqlite", checkAdaptersOnlyInCmd, pkg{ImportPath: m("internal/proxy"), Imports: []string{m("internal/sqlite")}}, true},
		{"httpapi importing postgres", checkAdaptersOnlyInCmd, pkg{ImportPath: m("internal/httpapi"), Imports: []string{m("internal/postgres")}}, true},
		{"new package importing redis", checkAdaptersOnlyInCmd, pkg{ImportPath: m("internal/jobs"), Imports: []string{m("internal/redis")}}, true},
		{"package importing the sandbox", checkAdaptersOnlyInCmd, pkg{ImportPath: m("internal/jobs"), Imports: []string{m("internal/sandbox")}}, true},
		{"tests may use sqlite", checkAdaptersOnlyInCmd, pkg{ImportPath: m("internal/httpapi"), TestImports: []string{m("internal/sqlite"), m("internal/sandbox")}}, false},
		{"cmd wires sqlite", checkAdaptersOnlyInCmd, pkg{ImportPath: m("cmd/aiproxy"), Imports: []string{m("internal/sqlite")}}, false},
		{"adapter subpackage", checkAdaptersOnlyInCmd, pkg{ImportPath: m("internal/sqlite/migrations"), Imports: []string{m("internal/sqlite")}}, false},
		{"similar prefix is no adapter", checkAdaptersOnlyInCmd, pkg{ImportPath: m("internal/proxy"), Imports: []string{m("internal/sqlitex")}}, false},
		{"hook importing the HTTP API", checkAllowedImports, pkg{ImportPath: m("internal/jobs"), Imports: []string{m("internal/proxy"), m("internal/httpapi")}}, true},
		{"webhooks importing jobs", checkAllowedImports, pkg{ImportPath: m("internal/webhooks"), Imports: []string{m("internal/jobs")}}, true},
		{"unlisted package", checkAllowedImports, pkg{ImportPath: m("internal/newthing"), Imports: []string{"net/http"}}, true},
		{"listed arrows", checkAllowedImports, pkg{ImportPath: m("internal/jobs"), Imports: []string{m("internal/proxy"), m("internal/aiproxy"), "net/http"}}, false},
		{"cmd is free", checkAllowedImports, pkg{ImportPath: m("cmd/aiproxy"), Imports: []string{m("internal/sqlite")}}, false},
		{"tests may import more", checkAllowedImports, pkg{ImportPath: m("internal/jobs"), TestImports: []string{m("internal/webhooks")}}, false},
		{"util", checkNoVagueNames, pkg{ImportPath: m("internal/util"), Name: "util"}, true},
		{"Helpers dir", checkNoVagueNames, pkg{ImportPath: m("internal/helpers"), Name: "x"}, true},
		{"common", checkNoVagueNames, pkg{ImportPath: m("internal/common"), Name: "common"}, true},
		{"good name", checkNoVagueNames, pkg{ImportPath: m("internal/vault"), Name: "vault"}, false},
		{"no doc", checkDocComments, pkg{ImportPath: m("x"), Dir: dir, Name: "nodoc", GoFiles: []string{"nodoc.go"}}, true},
		{"doc", checkDocComments, pkg{ImportPath: m("x"), Dir: dir, Name: "good", GoFiles: []string{"nodoc.go", "doc.go"}}, false},
		{"doc not starting with Package", checkDocComments, pkg{ImportPath: m("x"), Dir: dir, Name: "wrong", GoFiles: []string{"wrongdoc.go"}}, true},
		{"command doc", checkDocComments, pkg{ImportPath: m("cmd/tool"), Dir: dir, Name: "main", GoFiles: []string{"main.go"}}, false},
		{"test-only package", checkDocComments, pkg{ImportPath: m("t"), Dir: dir, Name: "testonly", TestGoFiles: []string{"only_test.go"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			problems := tc.check([]pkg{tc.pkg})
			if (len(problems) > 0) != tc.bad {
				t.Fatalf("problems = %q, want violation %v", problems, tc.bad)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
