package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/client"
)

func runVideo(ctx context.Context, args []string, e env, s stdio) error {
	if len(args) > 0 {
		switch args[0] {
		case "generate":
			return runVideoGenerate(ctx, args[1:], e, s)
		case "status":
			return runVideoStatus(ctx, args[1:], e, s)
		}
	}
	fmt.Fprintln(s.err, "Usage: aiproxy video generate --avatar ID --voice ID --text TEXT [-o out.mp4] [flags]")
	fmt.Fprintln(s.err, "       aiproxy video status VIDEO_ID [flags]")
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		return errHelp
	}
	return errUsage
}

// videoResult is what video generate prints with --json.
type videoResult struct {
	VideoID        string  `json:"video_id"`
	Status         string  `json:"status"`
	VideoURL       string  `json:"video_url"`
	File           string  `json:"file,omitempty"`
	Bytes          int64   `json:"bytes,omitempty"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
}

func runVideoGenerate(ctx context.Context, args []string, e env, s stdio) error {
	var f clientFlags
	fs := newFlagSet("video generate", "video generate --avatar ID --voice ID --text TEXT [-o out.mp4] [flags]", s)
	f.register(fs, e)
	avatar := fs.String("avatar", "", "HeyGen avatar id (see: aiproxy call heygen list-avatars)")
	voice := fs.String("voice", "", "HeyGen voice id (see: aiproxy call heygen list-voices)")
	text := fs.String("text", "", "what the avatar says")
	out := fs.String("o", "", "where to save the MP4; default VIDEO_ID.mp4")
	test := fs.Bool("test", false, "render in HeyGen's test mode (watermarked, no credits)")
	width := fs.Int("width", 1280, "video width")
	height := fs.Int("height", 720, "video height")
	interval := fs.Duration("interval", 5*time.Second, "how often to poll the render's status")
	timeout := fs.Duration("timeout", 20*time.Minute, "how long to wait for the render")
	noDownload := fs.Bool("no-download", false, "wait for the render but do not download it")
	if _, err := parseMixed(fs, args); err != nil {
		return err
	}
	var missing []string
	for name, v := range map[string]string{"--avatar": *avatar, "--voice": *voice, "--text": *text} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		fs.Usage()
		return fmt.Errorf("%s required", strings.Join(slices.Sorted(slices.Values(missing)), ", "))
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	hg := c.HeyGen()
	req := client.AvatarVideo(*avatar, *voice, *text)
	req.Test = *test
	req.Dimension = &client.Dimension{Width: *width, Height: *height}
	start := time.Now()
	id, err := hg.GenerateVideo(ctx, req)
	if err != nil {
		return apiError(err)
	}
	bar := newProgressBar(s.err, !f.json)
	bar.line("video %s submitted", id)
	st, err := hg.WaitForVideo(ctx, id, client.WaitOptions{Interval: *interval, Timeout: *timeout,
		OnProgress: func(p client.Progress) { bar.render(p.Status, p.Elapsed) }})
	bar.done()
	if err != nil {
		var failed *client.VideoFailedError
		if errors.As(err, &failed) {
			return fmt.Errorf("video %s failed: %s", id, failed.Reason.Error())
		}
		return apiError(err)
	}
	res := videoResult{VideoID: id, Status: st.Status, VideoURL: st.VideoURL}
	if !*noDownload {
		name := *out
		if name == "" {
			name = id + ".mp4"
		}
		n, err := download(ctx, c, st.VideoURL, name, bar)
		if err != nil {
			return err
		}
		res.File, res.Bytes = name, n
		bar.line("saved %s (%s)", name, humanBytes(n))
	}
	res.ElapsedSeconds = math.Round(time.Since(start).Seconds()*10) / 10
	if f.json {
		return printJSON(s.out, res)
	}
	fmt.Fprintf(s.out, "video %s %s in %s\n%s\n", id, st.Status, formatElapsed(time.Since(start)), st.VideoURL)
	return nil
}

func download(ctx context.Context, c *client.Client, url, name string, bar *progressBar) (int64, error) {
	resp, err := c.Download(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("download %s: %w", name, apiError(err))
	}
	defer resp.Close()
	body := io.Reader(resp.Body)
	if bar.on && bar.tty {
		body = &countingReader{r: resp.Body, total: resp.Header.Get("Content-Length"), bar: bar}
	}
	return saveFile(name, body)
}

func runVideoStatus(ctx context.Context, args []string, e env, s stdio) error {
	var f clientFlags
	fs := newFlagSet("video status", "video status VIDEO_ID [flags]", s)
	f.register(fs, e)
	pos, err := parsePositional(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	st, err := c.HeyGen().VideoStatus(ctx, pos[0])
	if err != nil {
		return apiError(err)
	}
	if f.json {
		return printJSON(s.out, st)
	}
	fmt.Fprintf(s.out, "video %s: %s\n", pos[0], st.Status)
	if st.VideoURL != "" {
		fmt.Fprintln(s.out, st.VideoURL)
	}
	if st.Error != nil {
		fmt.Fprintln(s.out, "error:", st.Error.Error())
	}
	return nil
}

// progressBar draws a one-line bar with the render's status and the time
// elapsed on a terminal's stderr. HeyGen reports no percentage, so the bar
// estimates one from the status and the time spent processing. Into a file
// or a pipe it writes plain lines instead, one per change of status.
type progressBar struct {
	w  io.Writer
	on bool
	// tty says w is a terminal, which redraws a line on \r.
	tty bool
	// last is the status of the last plain line.
	last string
}

func newProgressBar(w io.Writer, on bool) *progressBar {
	return &progressBar{w: w, on: on, tty: isTerminal(w)}
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

const barWidth = 30

// fraction estimates progress: a step per queued state, then an
// approach to 95% while processing.
func fraction(status string, elapsed time.Duration) float64 {
	switch status {
	case "completed":
		return 1
	case "pending":
		return 0.05
	case "waiting":
		return 0.1
	}
	return 0.15 + 0.8*(1-math.Exp(-elapsed.Seconds()/90))
}

func (b *progressBar) render(status string, elapsed time.Duration) {
	if !b.on {
		return
	}
	if !b.tty {
		if status != b.last {
			b.last = status
			fmt.Fprintf(b.w, "status %s after %s\n", status, formatElapsed(elapsed))
		}
		return
	}
	filled := int(fraction(status, elapsed) * barWidth)
	fmt.Fprintf(b.w, "\r[%s%s] %-10s %s ", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled), status, formatElapsed(elapsed))
}

func (b *progressBar) done() {
	if b.on && b.tty {
		fmt.Fprintln(b.w)
	}
}

func (b *progressBar) line(format string, args ...any) {
	if b.on {
		fmt.Fprintf(b.w, format+"\n", args...)
	}
}

// countingReader draws download progress.
type countingReader struct {
	r     io.Reader
	n     int64
	total string
	bar   *progressBar
	last  time.Time
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if time.Since(c.last) > 200*time.Millisecond || err != nil {
		c.last = time.Now()
		fmt.Fprintf(c.bar.w, "\rdownloading %s", humanBytes(c.n))
		if err != nil {
			fmt.Fprintln(c.bar.w)
		}
	}
	return n, err
}

// formatElapsed writes a duration as 1m05s or 4.2s.
func formatElapsed(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
