package client

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// HeyGen holds typed helpers for the heygen service.
type HeyGen struct{ c *Client }

// HeyGen returns the HeyGen helpers.
func (c *Client) HeyGen() *HeyGen { return &HeyGen{c: c} }

// HeyGenService is the slug of HeyGen in the catalog.
const HeyGenService = "heygen"

// Avatar is a HeyGen avatar.
type Avatar struct {
	AvatarID        string `json:"avatar_id"`
	AvatarName      string `json:"avatar_name"`
	Gender          string `json:"gender,omitempty"`
	PreviewImageURL string `json:"preview_image_url,omitempty"`
	PreviewVideoURL string `json:"preview_video_url,omitempty"`
}

// HeyGenVoice is a HeyGen voice.
type HeyGenVoice struct {
	VoiceID      string `json:"voice_id"`
	Name         string `json:"name"`
	Language     string `json:"language,omitempty"`
	Gender       string `json:"gender,omitempty"`
	PreviewAudio string `json:"preview_audio,omitempty"`
}

// ListAvatars returns the account's avatars (list-avatars).
func (h *HeyGen) ListAvatars(ctx context.Context) ([]Avatar, error) {
	var out struct {
		Data struct {
			Avatars []Avatar `json:"avatars"`
		} `json:"data"`
	}
	err := h.c.InvokeJSON(ctx, HeyGenService, "list-avatars", Envelope{}, &out)
	return out.Data.Avatars, err
}

// ListVoices returns the account's voices (list-voices).
func (h *HeyGen) ListVoices(ctx context.Context) ([]HeyGenVoice, error) {
	var out struct {
		Data struct {
			Voices []HeyGenVoice `json:"voices"`
		} `json:"data"`
	}
	err := h.c.InvokeJSON(ctx, HeyGenService, "list-voices", Envelope{}, &out)
	return out.Data.Voices, err
}

// VideoRequest is the body of generate-video.
type VideoRequest struct {
	// Test renders a watermarked video that costs no credits.
	Test        bool         `json:"test,omitempty"`
	Caption     bool         `json:"caption,omitempty"`
	Title       string       `json:"title,omitempty"`
	CallbackID  string       `json:"callback_id,omitempty"`
	VideoInputs []VideoInput `json:"video_inputs"`
	Dimension   *Dimension   `json:"dimension,omitempty"`
}

// VideoInput is one scene: who speaks and what.
type VideoInput struct {
	Character Character  `json:"character"`
	Voice     VoiceInput `json:"voice"`
}

// Character is the avatar of a scene.
type Character struct {
	Type        string `json:"type"`
	AvatarID    string `json:"avatar_id"`
	AvatarStyle string `json:"avatar_style,omitempty"`
}

// VoiceInput is the speech of a scene.
type VoiceInput struct {
	Type      string  `json:"type"`
	InputText string  `json:"input_text"`
	VoiceID   string  `json:"voice_id"`
	Speed     float64 `json:"speed,omitempty"`
}

// Dimension is a video's size in pixels.
type Dimension struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// AvatarVideo returns the usual one-scene request: an avatar in normal
// style reading text with a voice, at 1280×720.
func AvatarVideo(avatarID, voiceID, text string) VideoRequest {
	return VideoRequest{
		VideoInputs: []VideoInput{{
			Character: Character{Type: "avatar", AvatarID: avatarID, AvatarStyle: "normal"},
			Voice:     VoiceInput{Type: "text", InputText: text, VoiceID: voiceID},
		}},
		Dimension: &Dimension{Width: 1280, Height: 720},
	}
}

// TemplateVideoRequest is the body of generate-template-video.
type TemplateVideoRequest struct {
	Test      bool           `json:"test,omitempty"`
	Caption   bool           `json:"caption,omitempty"`
	Title     string         `json:"title,omitempty"`
	Variables map[string]any `json:"variables"`
}

// GenerateVideo starts a render and returns its video id.
func (h *HeyGen) GenerateVideo(ctx context.Context, req VideoRequest) (string, error) {
	return h.generate(ctx, "generate-video", Envelope{Body: req})
}

// GenerateTemplateVideo starts a render from a template and returns its
// video id.
func (h *HeyGen) GenerateTemplateVideo(ctx context.Context, templateID string, req TemplateVideoRequest) (string, error) {
	return h.generate(ctx, "generate-template-video", Envelope{Body: req, PathParams: map[string]string{"template_id": templateID}})
}

func (h *HeyGen) generate(ctx context.Context, action string, env Envelope) (string, error) {
	var out struct {
		Data struct {
			VideoID string `json:"video_id"`
		} `json:"data"`
	}
	if err := h.c.InvokeJSON(ctx, HeyGenService, action, env, &out); err != nil {
		return "", err
	}
	if out.Data.VideoID == "" {
		return "", fmt.Errorf("%s answered without data.video_id", action)
	}
	return out.Data.VideoID, nil
}

// VideoStatus is a render's state (video-status). Status is pending,
// waiting, processing, completed or failed.
type VideoStatus struct {
	ID           string      `json:"id"`
	Status       string      `json:"status"`
	VideoURL     string      `json:"video_url,omitempty"`
	ThumbnailURL string      `json:"thumbnail_url,omitempty"`
	Duration     float64     `json:"duration,omitempty"`
	Error        *VideoError `json:"error,omitempty"`
}

// Done reports whether the render has ended, well or not.
func (s *VideoStatus) Done() bool { return s.Status == "completed" || s.Status == "failed" }

// VideoError is why a render failed. HeyGen sends an object; the
// contract's examples show a plain string, which lands in Message.
type VideoError struct {
	// Code is the provider's error code as text, e.g. "40119".
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// UnmarshalJSON accepts a string, or an object whose code is a number or
// a string.
func (e *VideoError) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil {
		*e = VideoError{Message: s}
		return nil
	}
	var o struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
		Detail  string `json:"detail"`
	}
	if err := json.Unmarshal(data, &o); err != nil {
		return err
	}
	*e = VideoError{Message: o.Message, Detail: o.Detail}
	if o.Code != nil {
		e.Code = fmt.Sprint(o.Code)
	}
	return nil
}

// Error returns the message and detail.
func (e *VideoError) Error() string {
	if e.Detail != "" && e.Detail != e.Message {
		return e.Message + ": " + e.Detail
	}
	return e.Message
}

// VideoStatus reads a render's state.
func (h *HeyGen) VideoStatus(ctx context.Context, videoID string) (*VideoStatus, error) {
	st, _, err := h.videoStatus(ctx, videoID, 0)
	return st, err
}

// Progress is reported to WaitOptions.OnProgress after each poll.
type Progress struct {
	VideoID string
	Status  string
	Elapsed time.Duration
	Polls   int
}

// WaitOptions tune WaitForVideo. Zero values mean the stated defaults.
type WaitOptions struct {
	// Interval between polls; 0 means 5s, as in the contract's example.
	Interval time.Duration
	// Timeout for the whole wait; 0 means 10 minutes.
	Timeout time.Duration
	// OnProgress, when set, is called after every poll.
	OnProgress func(Progress)
	// LongPoll is how long one status call may wait on the server for the
	// render's state to change (Prefer: wait=N, in whole seconds, at most
	// 60); 0 means Interval, so that progress is still reported at least
	// that often while a change is seen at once. A negative value, or one
	// under a second, turns it off. A server that does not long-poll
	// answers at once, and the wait falls back to polling every Interval
	// (wait.go).
	LongPoll time.Duration
}

// ErrWaitTimeout is returned (wrapped) when a render outlasts the wait.
var ErrWaitTimeout = errors.New("video not finished before the timeout")

// VideoFailedError is returned when a render ends as failed.
type VideoFailedError struct {
	VideoID string
	Reason  *VideoError
}

// Error names the video and the reason.
func (e *VideoFailedError) Error() string {
	reason := "no reason given"
	if e.Reason != nil {
		reason = e.Reason.Error()
	}
	return fmt.Sprintf("aiproxy: video %s failed: %s", e.VideoID, reason)
}

// transientPolls is how many transient failures in a row (502, 504, 429)
// a wait rides out before giving up.
const transientPolls = 3

// WaitForVideo polls video-status until the render completes, fails, the
// timeout passes or ctx ends. A completed render returns its status; a
// failed one returns its status and a *VideoFailedError.
func (h *HeyGen) WaitForVideo(ctx context.Context, videoID string, opt WaitOptions) (*VideoStatus, error) {
	if opt.Interval <= 0 {
		opt.Interval = 5 * time.Second
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Minute
	}
	start := time.Now()
	ctx, cancel := context.WithTimeoutCause(ctx, opt.Timeout, ErrWaitTimeout)
	defer cancel()
	failures := 0
	deadline := start.Add(opt.Timeout)
	for polls := 1; ; polls++ {
		asked := time.Now()
		st, longPolled, err := h.videoStatus(ctx, videoID, longPollFor(cmp.Or(opt.LongPoll, opt.Interval), deadline))
		switch {
		case err == nil:
			failures = 0
			if opt.OnProgress != nil {
				opt.OnProgress(Progress{VideoID: videoID, Status: st.Status, Elapsed: time.Since(start), Polls: polls})
			}
			if st.Status == "failed" {
				return st, &VideoFailedError{VideoID: videoID, Reason: st.Error}
			}
			if st.Status == "completed" {
				return st, nil
			}
		case ctx.Err() != nil:
			return nil, waitErr(ctx, videoID, opt.Timeout)
		case transient(err) && failures < transientPolls:
			failures++
		default:
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, waitErr(ctx, videoID, opt.Timeout)
		case <-time.After(pause(err == nil && longPolled, opt.Interval, time.Since(asked))):
		}
	}
}

func waitErr(ctx context.Context, videoID string, timeout time.Duration) error {
	if errors.Is(context.Cause(ctx), ErrWaitTimeout) {
		return fmt.Errorf("video %s after %s: %w", videoID, timeout, ErrWaitTimeout)
	}
	return ctx.Err()
}

func transient(err error) bool {
	return errors.Is(err, ErrUpstreamFailed) || errors.Is(err, ErrUpstreamTimeout) || errors.Is(err, ErrRateLimited)
}
