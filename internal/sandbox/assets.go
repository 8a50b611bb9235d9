package sandbox

import "embed"

// The media the simulated CDNs serve, embedded so the binary never needs ffmpeg;
// assets/generate.sh made them once.
var (
	//go:embed assets/video.mp4
	videoMP4 []byte
	//go:embed assets/thumbnail.jpeg
	thumbnailJPEG []byte
	//go:embed assets/video.gif
	videoGIF []byte
	//go:embed assets/avatar.webp
	avatarWebP []byte
	// speechClips holds, per MP3 output format, twelve voiced syllables and a silence.
	//go:embed assets/speech
	speechClips embed.FS
)
