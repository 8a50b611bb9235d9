package proxy

import "testing"

// BenchmarkDecodeEnvelope decodes the envelopes of typical invokes.
func BenchmarkDecodeEnvelope(b *testing.B) {
	for _, bc := range []struct{ name, env string }{
		{"empty", `{}`},
		{"query", `{"query":{"video_id":"5f0c7a3e9b2d4c1e8f6a"}}`},
		{"tts", `{"path_params":{"voice_id":"21m00Tcm4TlvDq8ikWAM"},"query":{"output_format":"mp3_44100_128"},` +
			`"body":{"text":"Hello from aiproxy, a short sentence to speak.","model_id":"eleven_multilingual_v2",` +
			`"voice_settings":{"stability":0.5,"similarity_boost":0.75}}}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data := []byte(bc.env)
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := DecodeEnvelope(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
