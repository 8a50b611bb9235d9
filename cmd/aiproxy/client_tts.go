package main

import (
	"context"
	"fmt"

	"github.com/aiproxy/aiproxy/client"
)

func runTTS(ctx context.Context, args []string, e env, s stdio) error {
	var f clientFlags
	fs := newFlagSet("tts", "tts --voice ID --text TEXT -o out.mp3 [flags]", s)
	f.register(fs, e)
	voice := fs.String("voice", "", "ElevenLabs voice id (see: aiproxy call elevenlabs list-voices)")
	text := fs.String("text", "", "the text to speak")
	out := fs.String("o", "", "the audio file to write ('-' for stdout)")
	model := fs.String("model", client.DefaultTTSModel, "ElevenLabs model id")
	format := fs.String("format", "", "output format, e.g. mp3_44100_128; default the provider's")
	stream := fs.Bool("stream", false, "use the streaming endpoint (tts-stream)")
	if _, err := parseMixed(fs, args); err != nil {
		return err
	}
	if *voice == "" || *text == "" || *out == "" {
		fs.Usage()
		return fmt.Errorf("--voice, --text and -o are required")
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	req := client.TTSRequest{Text: *text, ModelID: *model, OutputFormat: *format}
	el := c.ElevenLabs()
	var resp *client.Response
	if *stream {
		resp, err = el.TTSStream(ctx, *voice, req)
	} else {
		resp, err = c.Invoke(ctx, client.ElevenLabsService, "tts", client.TTSEnvelope(*voice, req))
	}
	if err != nil {
		return apiError(err)
	}
	defer resp.Close()
	return writeAnswer(resp, *out, f.json, s)
}
