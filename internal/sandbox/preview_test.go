package sandbox_test

import (
	"bytes"
	"image/png"
	"io"
	"testing"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// get fetches a media URL the sandbox handed out, with no key: media links
// are public, as a CDN's are.
func (f *fixture) get(url string) (string, []byte) {
	f.t.Helper()
	resp, err := f.srv.Client().Get(url)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		f.t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	return resp.Header.Get("Content-Type"), b
}

// distinct fails the test when two URLs, or what they serve, are the same.
func distinct(t *testing.T, what string, served map[string][]byte) {
	t.Helper()
	seen := map[string]string{}
	for url, b := range served {
		if other, ok := seen[string(b)]; ok {
			t.Errorf("%s %s and %s serve the same bytes", what, url, other)
		}
		seen[string(b)] = url
	}
}

func TestAvatarPreviewsAreDistinctImages(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	var list struct {
		Data struct {
			Avatars []struct {
				AvatarID        string `json:"avatar_id"`
				PreviewImageURL string `json:"preview_image_url"`
			} `json:"avatars"`
			TalkingPhotos []struct {
				ID              string `json:"talking_photo_id"`
				PreviewImageURL string `json:"preview_image_url"`
			} `json:"talking_photos"`
		} `json:"data"`
	}
	_, body := f.hg("GET", "/v2/avatars", "")
	decode(t, body, &list)
	urls := []string{}
	for _, a := range list.Data.Avatars {
		urls = append(urls, a.PreviewImageURL)
	}
	for _, p := range list.Data.TalkingPhotos {
		urls = append(urls, p.PreviewImageURL)
	}
	if len(urls) < 2 {
		t.Fatalf("%d previews listed, want several", len(urls))
	}
	served := map[string][]byte{}
	for _, u := range urls {
		if _, dup := served[u]; dup {
			t.Fatalf("two entries share the preview %s", u)
		}
		ctype, b := f.get(u)
		img, err := png.Decode(bytes.NewReader(b))
		if ctype != "image/png" || err != nil || img.Bounds().Dx() != 160 {
			t.Fatalf("preview %s: %s, %v", u, ctype, err)
		}
		served[u] = b
	}
	distinct(t, "previews", served)
}

func TestVoicePreviewsAreDistinctAudio(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	var hg struct {
		Data struct {
			Voices []struct {
				PreviewAudio string `json:"preview_audio"`
			} `json:"voices"`
		} `json:"data"`
	}
	_, body := f.hg("GET", "/v2/voices", "")
	decode(t, body, &hg)
	served := map[string][]byte{}
	for _, v := range hg.Data.Voices[:min(len(hg.Data.Voices), 6)] {
		ctype, b := f.get(v.PreviewAudio)
		if ctype != "audio/mpeg" || len(b) == 0 {
			t.Fatalf("HeyGen voice preview %s: %s, %d bytes", v.PreviewAudio, ctype, len(b))
		}
		served[v.PreviewAudio] = b
	}
	if len(served) < 2 {
		t.Fatalf("%d HeyGen voice previews, want several", len(served))
	}
	distinct(t, "HeyGen voice previews", served)

	var el struct {
		Voices []struct {
			PreviewURL string `json:"preview_url"`
		} `json:"voices"`
	}
	_, body = f.el("GET", "/v1/voices", "")
	decode(t, body, &el)
	served = map[string][]byte{}
	for _, v := range el.Voices[:min(len(el.Voices), 6)] {
		ctype, b := f.get(v.PreviewURL)
		if ctype != "audio/mpeg" || len(b) == 0 {
			t.Fatalf("ElevenLabs voice preview %s: %s, %d bytes", v.PreviewURL, ctype, len(b))
		}
		served[v.PreviewURL] = b
	}
	if len(served) < 2 {
		t.Fatalf("%d ElevenLabs voice previews, want several", len(served))
	}
	distinct(t, "ElevenLabs voice previews", served)
}
