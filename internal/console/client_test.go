package console

import (
	"bytes"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestVendoredClientMatchesDist fails when the console's copy of the JS
// client (static/client) differs from the client's committed build
// (clients/js/dist). Fix it with scripts/sync-console-client.sh.
func TestVendoredClientMatchesDist(t *testing.T) {
	dist := filepath.Join("..", "..", "clients", "js", "dist")
	want := jsFiles(t, os.DirFS(dist), ".")
	if len(want) == 0 {
		t.Skipf("no built JS client in %s", dist)
	}
	got := jsFiles(t, static, "static/client")
	for name, data := range want {
		vendored, ok := got[name]
		switch {
		case !ok:
			t.Errorf("static/client/%s is missing", name)
		case !bytes.Equal(vendored, data):
			t.Errorf("static/client/%s differs from clients/js/dist/%s", name, name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("static/client/%s is not in clients/js/dist", name)
		}
	}
	if t.Failed() {
		t.Log("run scripts/sync-console-client.sh to copy the client's build into the console")
	}
}

// jsFiles reads the .js files directly in dir.
func jsFiles(t *testing.T, fsys fs.FS, dir string) map[string][]byte {
	t.Helper()
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".js") {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	return files
}

// TestConsoleImportsTheClient keeps the console on the project's client:
// the API module imports it, and no other module calls fetch itself.
func TestConsoleImportsTheClient(t *testing.T) {
	api, err := fs.ReadFile(static, "static/js/api.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(api, []byte(`from '../client/index.js'`)) {
		t.Error("js/api.js does not import the vendored client")
	}
	var offenders []string
	_ = fs.WalkDir(static, "static/js", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := fs.ReadFile(static, name)
		if bytes.Contains(data, []byte("fetch(")) {
			offenders = append(offenders, name)
		}
		return nil
	})
	sort.Strings(offenders)
	if len(offenders) > 0 {
		t.Errorf("modules call fetch directly instead of the client: %v", offenders)
	}
}
