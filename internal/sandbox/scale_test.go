package sandbox_test

import (
	"strings"
	"testing"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

func TestAvatarCountGrowsTheList(t *testing.T) {
	f := newFixture(t, sandbox.Config{AvatarCount: 2500})
	_, body := f.hg("GET", "/v2/avatars", "")
	var list avatarList
	decode(t, body, &list)
	if n := len(list.Data.Avatars); n != 2500 {
		t.Fatalf("got %d avatars, want 2500", n)
	}
	if len(body) < 800<<10 {
		t.Errorf("list is %d bytes, want about 1 MB", len(body))
	}
}

func TestCharacterLimitRaisesTheQuota(t *testing.T) {
	text := strings.Repeat("a", 9000)
	body := `{"text":"` + text + `","model_id":"eleven_multilingual_v2"}`
	for _, tc := range []struct {
		name   string
		limit  int
		status int
	}{
		{"default quota runs out", 0, 401},
		{"raised quota does not", 1_000_000, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, sandbox.Config{CharacterLimit: tc.limit})
			var status int
			for range 12 {
				resp, _ := f.el("POST", "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM?output_format=mp3_22050_32", body)
				status = resp.StatusCode
			}
			if status != tc.status {
				t.Errorf("12th request: status %d, want %d", status, tc.status)
			}
		})
	}
}

func TestMemoizeSpeechAnswersTheSameBytes(t *testing.T) {
	body := `{"text":"Hello there, memo.","model_id":"eleven_multilingual_v2"}`
	plain := newFixture(t, sandbox.Config{})
	memo := newFixture(t, sandbox.Config{MemoizeSpeech: true})
	_, want := plain.el("POST", "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM", body)
	for i := range 2 {
		resp, got := memo.el("POST", "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM", body)
		if resp.StatusCode != 200 || string(got) != string(want) {
			t.Fatalf("request %d: status %d, %d bytes; want the %d bytes of an unmemoized answer", i, resp.StatusCode, len(got), len(want))
		}
	}
}
