package ownership_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
)

var update = flag.Bool("update", false, "rewrite the ownership table in docs/security.md")

// The markers around the generated table in docs/security.md.
const (
	tableBegin = "<!-- ownership table: generated from the catalog; go test ./internal/ownership -run TestSecurityDocTable -update -->\n"
	tableEnd   = "<!-- end of the ownership table -->\n"
)

// TestSecurityDocTable keeps docs/security.md's table of every built-in
// endpoint's ownership rule equal to the catalog.
func TestSecurityDocTable(t *testing.T) {
	cat, err := catalog.Load(catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := ruleTable(cat.Services())
	path := filepath.Join("..", "..", "docs", "security.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(doc), tableBegin)
	got, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("docs/security.md lacks the markers %q and %q", tableBegin, tableEnd)
	}
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(before+tableBegin+want+tableEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("docs/security.md's ownership table differs from the catalog; run go test ./internal/ownership -run TestSecurityDocTable -update and review the diff")
}

// ruleTable renders every endpoint's rule as a Markdown table.
func ruleTable(services []*aiproxy.Service) string {
	var b strings.Builder
	b.WriteString("| service | endpoint | upstream | rule | object | id | also checked |\n|---|---|---|---|---|---|---|\n")
	for _, s := range services {
		for _, e := range s.Endpoints {
			r := e.Ownership
			fmt.Fprintf(&b, "| %s | `%s` | `%s %s` | %s | %s | %s | %s |\n", s.Slug, e.Slug, e.HTTPMethod, e.PathTemplate,
				r.Op, object(r.Kind, r.Stock), where(r), also(r))
		}
	}
	return b.String()
}

func object(kind string, stock bool) string {
	switch {
	case kind == "":
		return "–"
	case stock:
		return kind + " (stock)"
	}
	return kind
}

func where(r *aiproxy.OwnershipRule) string {
	switch {
	case r.Op == aiproxy.OwnCreate && strings.HasPrefix(r.ID, "header:"):
		return "header `" + strings.TrimPrefix(r.ID, "header:") + "`"
	case r.Op == aiproxy.OwnCreate:
		return "answer `" + r.ID + "`"
	case r.Op == aiproxy.OwnList:
		return "`" + r.Items + "[]." + r.ID + "`"
	case r.ID != "":
		return "`" + r.ID + "`"
	}
	return "–"
}

func also(r *aiproxy.OwnershipRule) string {
	var parts []string
	for _, u := range r.Uses {
		parts = append(parts, object(u.Kind, u.Stock)+" `"+u.ID+"`")
	}
	if r.Cursor != "" {
		parts = append(parts, "cursor `"+r.Cursor+"`")
	}
	if r.Instead != "" {
		parts = append(parts, "org keys: `"+r.Instead+"`")
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ")
}
