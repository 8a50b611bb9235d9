package apidocs

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// sumsFile is the checked-in SHA-256 list of the vendored renderer, in
// sha256sum's format, with paths relative to static/npm.
const sumsFile = "swagger-ui-dist.sha256"

// TestVendoredFilesMatchTheirSums checks every embedded file under
// static/npm against the list: none missing, none added, none changed.
// scripts/vendor-apidocs.sh writes the files from npm's tarball (checked
// against its pinned integrity) and checks them against the same list.
func TestVendoredFilesMatchTheirSums(t *testing.T) {
	want := readSums(t)
	got := map[string]string{}
	err := fs.WalkDir(static, "static/npm", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		got[strings.TrimPrefix(name, "static/npm/")] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, sum := range want {
		switch g, ok := got[name]; {
		case !ok:
			t.Errorf("%s is in %s but not embedded", name, sumsFile)
		case g != sum:
			t.Errorf("%s has SHA-256 %s, want %s: run scripts/vendor-apidocs.sh", name, g, sum)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("static/npm/%s is not in %s", name, sumsFile)
		}
	}
}

// TestOneVersionEverywhere checks that the script's pinned version, the
// list's directory and the page's two paths name the same release, so
// that a bump cannot leave one behind.
func TestOneVersionEverywhere(t *testing.T) {
	script, err := os.ReadFile("../../scripts/vendor-apidocs.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^VERSION=(\S+)$`).FindSubmatch(script)
	if m == nil {
		t.Fatal("scripts/vendor-apidocs.sh sets no VERSION")
	}
	dir := "swagger-ui-dist-" + string(m[1]) + "/"
	for name := range readSums(t) {
		if !strings.HasPrefix(name, dir) {
			t.Errorf("%s lists %s, not under %s", sumsFile, name, dir)
		}
	}
	page := readStatic(t, "index.html")
	refs := regexp.MustCompile(`"npm/([^"]+)"`).FindAllSubmatch(page, -1)
	var loaded []string
	for _, r := range refs {
		loaded = append(loaded, string(r[1]))
	}
	slices.Sort(loaded)
	want := []string{dir + "swagger-ui-bundle.js", dir + "swagger-ui.css"}
	if !slices.Equal(loaded, want) {
		t.Errorf("index.html loads %q from npm/, want %q", loaded, want)
	}
}

// readSums reads the list into a map from path to hex SHA-256.
func readSums(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(sumsFile)
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^([0-9a-f]{64})  (\S+)$`)
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("%s: bad line %q", sumsFile, sc.Text())
		}
		sums[m[2]] = m[1]
	}
	if len(sums) == 0 {
		t.Fatalf("%s is empty", sumsFile)
	}
	return sums
}
