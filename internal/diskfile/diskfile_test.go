package diskfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool", "jobs")
	if err := Write(dir, "a.json", []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, "a.json", []byte("second")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "a.json"))
	if err != nil || string(got) != "second" {
		t.Fatalf("a.json = %q, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || IsTemp(entries[0].Name()) {
		t.Fatalf("entries = %v, want only a.json and no temporary file", entries)
	}
}

func TestWriteLeavesNothingOnFailure(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "taken"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A directory of the target's name makes the rename fail.
	if err := os.WriteFile(filepath.Join(dir, "taken", "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, "taken", []byte("data")); err == nil {
		t.Fatal("Write over a non-empty directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if IsTemp(e.Name()) {
			t.Fatalf("a temporary file was left behind: %s", e.Name())
		}
	}
}
