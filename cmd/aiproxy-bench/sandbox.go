package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

// sandboxChildCmd is the hidden first argument that makes this binary run
// the sandbox as a child process, with the benchmark's knobs.
const sandboxChildCmd = "_sandbox"

// sandboxKnobs are the sandbox settings a scenario may change.
type sandboxKnobs struct {
	avatars    int
	chunkDelay time.Duration
}

func (k sandboxKnobs) args(hgKey, elKey string) []string {
	return []string{sandboxChildCmd, "--heygen-key", hgKey, "--elevenlabs-key", elKey,
		"--avatars", fmt.Sprint(k.avatars), "--chunk-delay", k.chunkDelay.String()}
}

// runSandboxChild serves the sandbox on a loopback port and prints
// SANDBOX_URL= once it listens.
func runSandboxChild(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(sandboxChildCmd, flag.ContinueOnError)
	hg := fs.String("heygen-key", "", "key HeyGen accepts")
	el := fs.String("elevenlabs-key", "", "key ElevenLabs accepts")
	avatars := fs.Int("avatars", 0, "HeyGen avatar count")
	chunkDelay := fs.Duration("chunk-delay", 0, "pause between streamed TTS chunks")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sb := sandbox.New(sandbox.Config{
		HeyGenKeys: []string{*hg}, ElevenLabsKeys: []string{*el},
		AvatarCount: *avatars, StreamChunkDelay: *chunkDelay,
		CharacterLimit: 1 << 50, // Audio scenarios speak far more than a real quota allows.
		MemoizeSpeech:  true,    // Repeated requests measure the path, not the synthesizer.
	})
	return serveChild(ctx, sb, stdout, "SANDBOX_URL")
}

// serveChild serves h on a loopback port until ctx ends, and prints
// NAME=http://ADDR once it listens, for startChild to read.
func serveChild(ctx context.Context, h http.Handler, stdout io.Writer, name string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Fprintf(stdout, "%s=http://%s\n", name, ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
