package sandbox

import "testing"

func TestInitials(t *testing.T) {
	for id, want := range map[string]string{
		"Abigail_expressive_2024112501": "AE",
		"Kristin_public_3_20240108":     "KP",
		"a1b2c3":                        "A1",
		"x":                             "X",
		"__":                            "?",
		"Émile_zola":                    "MZ",
	} {
		if got := initials(id); got != want {
			t.Errorf("initials(%q) = %q, want %q", id, got, want)
		}
	}
	if previewColor("a") == previewColor("b") {
		t.Error("two ids got the same colour")
	}
}
