package sandbox

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"strconv"
	"strings"
	"testing"
)

func TestEmbeddedClipsAreWholeFrames(t *testing.T) {
	for _, name := range supportedFormats {
		f, _ := parseOutputFormat(name)
		if f.codec != "mp3" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			kbps, err := strconv.Atoi(strings.Split(name, "_")[2])
			if err != nil {
				t.Fatal(err)
			}
			for clip := silenceClip; clip < 12; clip++ {
				info, err := parseMP3(mp3Clip(name, clip))
				if err != nil {
					t.Fatalf("clip %d: %v", clip, err)
				}
				if info.sampleRate != f.rate || info.bitrateKbps != kbps {
					t.Fatalf("clip %d: %d Hz %d kbps, want %d Hz %d kbps", clip, info.sampleRate, info.bitrateKbps, f.rate, kbps)
				}
			}
		})
	}
	entries, err := fs.ReadDir(speechClips, "assets/speech")
	if err != nil || len(entries) != 7 {
		t.Fatalf("embedded speech formats: %d, %v", len(entries), err)
	}
}

func TestSpeech(t *testing.T) {
	const text = "The quick brown fox jumps over the lazy dog."
	tests := []struct {
		name   string
		format string
		check  func(t *testing.T, b []byte)
	}{
		{"mp3 is a valid frame stream", "mp3_44100_128", func(t *testing.T, b []byte) {
			info, err := parseMP3(b)
			if err != nil || info.sampleRate != 44100 {
				t.Fatalf("parse: %+v %v", info, err)
			}
		}},
		{"low-rate mp3 is MPEG-2", "mp3_22050_32", func(t *testing.T, b []byte) {
			info, err := parseMP3(b)
			if err != nil || info.sampleRate != 22050 || info.samplesPerFrame != 576 {
				t.Fatalf("parse: %+v %v", info, err)
			}
		}},
		{"pcm is 16-bit samples", "pcm_16000", func(t *testing.T, b []byte) {
			if len(b)%2 != 0 || len(b) < 16000 {
				t.Fatalf("%d bytes", len(b))
			}
		}},
		{"wav has a RIFF header", "wav_24000", func(t *testing.T, b []byte) {
			if !bytes.HasPrefix(b, []byte("RIFF")) || string(b[8:16]) != "WAVEfmt " ||
				binary.LittleEndian.Uint32(b[24:]) != 24000 || int(binary.LittleEndian.Uint32(b[40:])) != len(b)-44 {
				t.Fatalf("header % x", b[:44])
			}
		}},
		{"unknown format falls back to mp3_44100_128", "flac_1", func(t *testing.T, b []byte) {
			if !bytes.Equal(b, Speech(text, rachelID, defaultModelID, defaultOutputFormat)) {
				t.Fatal("differs from the default format")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Speech(text, rachelID, defaultModelID, tt.format)
			tt.check(t, b)
			if !bytes.Equal(b, Speech(text, rachelID, defaultModelID, tt.format)) {
				t.Error("not deterministic")
			}
		})
	}
}

func TestSpeechVaries(t *testing.T) {
	base := Speech("Hello there", rachelID, defaultModelID, defaultOutputFormat)
	tests := []struct {
		name                    string
		text, voice, model, fmt string
		wantLonger              bool
	}{
		{"longer text", "Hello there, and welcome to a much longer sentence.", rachelID, defaultModelID, defaultOutputFormat, true},
		{"other voice", "Hello there", "pNInz6obpgDQGcFmaJgB", defaultModelID, defaultOutputFormat, false},
		{"other model", "Hello there", rachelID, "eleven_flash_v2_5", defaultOutputFormat, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Speech(tt.text, tt.voice, tt.model, tt.fmt)
			if bytes.Equal(b, base) {
				t.Fatal("same bytes as the base input")
			}
			if tt.wantLonger && len(b) <= len(base) {
				t.Fatalf("%d bytes, base %d", len(b), len(base))
			}
		})
	}
	if empty := Speech("", rachelID, defaultModelID, defaultOutputFormat); len(empty) == 0 {
		t.Error("empty text gives no audio")
	}
}

func TestParseMP3RejectsGarbage(t *testing.T) {
	good := mp3Clip(defaultOutputFormat, 0)
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"no sync", []byte("ID3\x04\x00\x00\x00\x00\x00\x00")},
		{"truncated", good[:len(good)-1]},
		{"mixed rates", append(bytes.Clone(good), mp3Clip("mp3_22050_32", 0)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseMP3(tt.b); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
