package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/sandbox"
)

func runSandbox(ctx context.Context, args []string, e env, s stdio) error {
	fs := newFlagSet("sandbox", "sandbox [flags]", s)
	addr := fs.String("addr", envOr(e, "AIPROXY_SANDBOX_ADDR", "127.0.0.1:8090"), "listen address [AIPROXY_SANDBOX_ADDR]")
	heygenKey := fs.String("heygen-key", e("AIPROXY_SANDBOX_HEYGEN_KEY"), "key the fake HeyGen accepts; generated if empty [AIPROXY_SANDBOX_HEYGEN_KEY]")
	elevenKey := fs.String("elevenlabs-key", e("AIPROXY_SANDBOX_ELEVENLABS_KEY"), "key the fake ElevenLabs accepts; generated if empty [AIPROXY_SANDBOX_ELEVENLABS_KEY]")
	liveAvatarKey := fs.String("liveavatar-key", e("AIPROXY_SANDBOX_LIVEAVATAR_KEY"), "key the fake LiveAvatar accepts; generated if empty [AIPROXY_SANDBOX_LIVEAVATAR_KEY]")
	renderTime := fs.Duration("render-time", 15*time.Second, "how long a video takes to render")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *heygenKey == "" {
		*heygenKey = randomKey("hg")
	}
	if *elevenKey == "" {
		*elevenKey = randomKey("el")
	}
	if *liveAvatarKey == "" {
		*liveAvatarKey = randomKey("la")
	}
	sb, err := startSandbox(ctx, *addr, sandbox.Config{
		HeyGenKeys: []string{*heygenKey}, ElevenLabsKeys: []string{*elevenKey}, RenderTime: *renderTime,
		LiveAvatarKeys: []string{*liveAvatarKey},
		// HeyGen's webhooks to a render's callback_url are signed with this
		// secret; give aiproxy the same one in AIPROXY_PROVIDER_WEBHOOK_SECRETS.
		WebhookSecret: e("AIPROXY_SANDBOX_WEBHOOK_SECRET"),
	})
	if err != nil {
		return err
	}
	go sb.server.RunWebhooks(ctx, 250*time.Millisecond)
	fmt.Fprintf(s.out, "HEYGEN_BASE_URL=%s/heygen\nELEVENLABS_BASE_URL=%s/elevenlabs\n", sb.url, sb.url)
	fmt.Fprintf(s.out, "SANDBOX_HEYGEN_KEY=%s\nSANDBOX_ELEVENLABS_KEY=%s\n", *heygenKey, *elevenKey)
	fmt.Fprintf(s.out, "LIVEAVATAR_BASE_URL=%s/liveavatar\nSANDBOX_LIVEAVATAR_KEY=%s\n", sb.url, *liveAvatarKey)
	fmt.Fprintf(s.err, "sandbox providers listening on %s; point aiproxy at them with\n"+
		"  aiproxy serve --upstream heygen=%s/heygen --upstream elevenlabs=%s/elevenlabs --upstream liveavatar=%s/liveavatar\n"+
		"and store the keys above with 'aiproxy credential set'. Ctrl-C stops.\n", sb.url, sb.url, sb.url, sb.url)
	<-ctx.Done()
	return nil
}
