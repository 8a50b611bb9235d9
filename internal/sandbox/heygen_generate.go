package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// generateBody is the body of POST /v2/video/generate, as far as the sandbox checks it.
type generateBody struct {
	VideoInputs []sceneBody    `json:"video_inputs"`
	Dimension   *dimensionBody `json:"dimension"`
	Test        bool           `json:"test"`
	Title       string         `json:"title"`
	Caption     bool           `json:"caption"`
	CallbackID  *string        `json:"callback_id"`
	CallbackURL string         `json:"callback_url"`
}

// sceneBody is one element of video_inputs.
type sceneBody struct {
	Character *characterBody `json:"character"`
	Voice     *voiceBody     `json:"voice"`
}

// characterBody is a scene's character, an avatar or a talking photo.
type characterBody struct {
	Type              string   `json:"type"`
	AvatarID          string   `json:"avatar_id"`
	AvatarStyle       string   `json:"avatar_style"`
	TalkingPhotoID    string   `json:"talking_photo_id"`
	TalkingPhotoStyle string   `json:"talking_photo_style"`
	Scale             *float64 `json:"scale"`
}

// voiceBody is a scene's voice: text, audio or silence.
type voiceBody struct {
	Type         string   `json:"type"`
	VoiceID      string   `json:"voice_id"`
	InputText    *string  `json:"input_text"`
	Speed        *float64 `json:"speed"`
	Pitch        *float64 `json:"pitch"`
	Emotion      string   `json:"emotion"`
	AudioURL     string   `json:"audio_url"`
	AudioAssetID string   `json:"audio_asset_id"`
	Duration     *float64 `json:"duration"`
}

// dimensionBody is the requested output size.
type dimensionBody struct {
	Width  *int `json:"width"`
	Height *int `json:"height"`
}

// templateGenerateBody is the body of POST /v2/template/{template_id}/generate.
type templateGenerateBody struct {
	Variables   map[string]json.RawMessage `json:"variables"`
	Dimension   *dimensionBody             `json:"dimension"`
	Test        bool                       `json:"test"`
	Title       string                     `json:"title"`
	Caption     bool                       `json:"caption"`
	CallbackID  *string                    `json:"callback_id"`
	CallbackURL string                     `json:"callback_url"`
}

// renderRequest is what either generate endpoint hands to the render queue.
type renderRequest struct {
	title      string
	test       bool
	caption    bool
	callbackID *string
	// callbackURL and base are where the render's webhook goes and the base URL its media
	// links use.
	callbackURL, base string
	script            string    // all spoken text, for failure markers and captions
	duration          float64   // seconds of video
	v3                *v3Render // set for renders created through /v3 (heygen_v3_video.go)
}

// maxInputText is HeyGen's per-scene script limit.
const maxInputText = 5000

// hgGenerate answers POST /v2/video/generate.
func (s *Server) hgGenerate(w http.ResponseWriter, c *call) error {
	var body generateBody
	if err := decodeHeyGenBody(c.body, &body); err != nil {
		return err
	}
	if err := s.validateGenerate(c.key, &body); err != nil {
		return err
	}
	return s.startRender(w, c, renderFromGenerate(&body))
}

// renderFromGenerate is the render a validated generate body asks for.
func renderFromGenerate(body *generateBody) renderRequest {
	req := renderRequest{title: body.Title, test: body.Test, caption: body.Caption, callbackID: body.CallbackID,
		callbackURL: body.CallbackURL}
	for _, sc := range body.VideoInputs {
		text, secs := sceneSpeech(sc.Voice)
		req.script += text + "\n"
		req.duration += secs
	}
	return req
}

// hgGenerateFromTemplate answers POST /v2/template/{template_id}/generate.
func (s *Server) hgGenerateFromTemplate(w http.ResponseWriter, c *call) error {
	t, ok := s.heygen.template(c.params["template_id"])
	if !ok {
		return templateNotFound(c.params["template_id"])
	}
	var body templateGenerateBody
	if err := decodeHeyGenBody(c.body, &body); err != nil {
		return err
	}
	if body.Variables == nil {
		return invalidParam("variables", "field required")
	}
	if err := validateDimension(body.Dimension); err != nil {
		return err
	}
	script, err := templateScript(t, body.Variables)
	if err != nil {
		return err
	}
	return s.startRender(w, c, renderRequest{
		title: body.Title, test: body.Test, caption: body.Caption, callbackID: body.CallbackID,
		callbackURL: body.CallbackURL,
		script:      script, duration: speechSeconds(script),
	})
}

// templateScript checks the given variables and returns the text the video would speak:
// the given text variables, else the template's own defaults.
func templateScript(t *hgTemplate, given map[string]json.RawMessage) (string, error) {
	var script strings.Builder
	for _, v := range t.Variables {
		content, _ := v.Properties["content"].(string)
		if raw, ok := given[v.Name]; ok {
			var gv struct {
				Properties map[string]any `json:"properties"`
			}
			if err := json.Unmarshal(raw, &gv); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
				return "", invalidParam("variables."+v.Name, "value is not a valid dict")
			}
			if s, ok := gv.Properties["content"].(string); ok {
				content = s
			}
		}
		if v.Type == "text" {
			script.WriteString(content + "\n")
		}
	}
	return script.String(), nil
}

// decodeHeyGenBody decodes a JSON body, answering malformed or mistyped JSON the v2 way.
func decodeHeyGenBody(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return invalidParam(typeErr.Field, "value is not a valid "+typeErr.Type.Kind().String())
	default:
		return invalidParam("body", "request body is not valid JSON")
	}
}

// validateGenerate applies the rules of heygen-api.md §4.
func (s *Server) validateGenerate(key string, b *generateBody) error {
	if len(b.VideoInputs) == 0 {
		return invalidParam("video_inputs", "field required")
	}
	if len(b.VideoInputs) > 50 {
		return invalidParam("video_inputs", "ensure this value has at most 50 items")
	}
	if err := validateDimension(b.Dimension); err != nil {
		return err
	}
	for i, sc := range b.VideoInputs {
		field := "video_inputs." + strconv.Itoa(i)
		if err := s.validateCharacter(key, field+".character", sc.Character); err != nil {
			return err
		}
		if err := s.validateVoice(key, field+".voice", sc.Voice); err != nil {
			return err
		}
	}
	return nil
}

// validateCharacter checks a scene's optional character.
func (s *Server) validateCharacter(key, field string, ch *characterBody) error {
	if ch == nil {
		return nil
	}
	if ch.Scale != nil && (*ch.Scale < 0 || *ch.Scale > 5) {
		return invalidParam(field+".scale", "ensure this value is between 0 and 5.0")
	}
	switch ch.Type {
	case "avatar":
		return s.validateAvatar(field, ch)
	case "talking_photo":
		if ch.TalkingPhotoID == "" {
			return invalidParam(field+".talking_photo_id", "field required")
		}
		if ch.TalkingPhotoStyle != "" && !slices.Contains([]string{"square", "circle"}, ch.TalkingPhotoStyle) {
			return invalidParam(field+".talking_photo_style", enumMsg("square", "circle"))
		}
		if !s.talkingPhotoKnown(key, ch.TalkingPhotoID) {
			return v2Error(http.StatusBadRequest, "avatar_not_found", "Talking photo "+ch.TalkingPhotoID+" not found")
		}
		return nil
	case "":
		return invalidParam(field+".type", "field required")
	default:
		return invalidParam(field+".type", enumMsg("avatar", "talking_photo"))
	}
}

// validateAvatar checks an avatar character.
func (s *Server) validateAvatar(field string, ch *characterBody) error {
	switch {
	case ch.AvatarID == "":
		return invalidParam(field+".avatar_id", "field required")
	case ch.AvatarStyle == "":
		return invalidParam(field+".avatar_style", "field required")
	case !slices.Contains([]string{"normal", "circle", "closeUp"}, ch.AvatarStyle):
		return invalidParam(field+".avatar_style", enumMsg("normal", "circle", "closeUp"))
	case !s.heygen.avatarByID[ch.AvatarID]:
		return v2Error(http.StatusBadRequest, "avatar_not_found", "Avatar "+ch.AvatarID+" not found or no longer available")
	}
	return nil
}

// validateVoice checks a scene's required voice.
func (s *Server) validateVoice(key, field string, v *voiceBody) error {
	if v == nil {
		return invalidParam(field, "field required")
	}
	switch v.Type {
	case "text":
		return s.validateTextVoice(field, v)
	case "audio":
		if v.AudioURL == "" && v.AudioAssetID == "" {
			return invalidParam(field+".audio_url", "either audio_url or audio_asset_id is required")
		}
		if v.AudioAssetID != "" && !s.hasAsset(key, v.AudioAssetID) {
			return v2Error(http.StatusBadRequest, "asset_not_found", "Asset "+v.AudioAssetID+" not found")
		}
		return nil
	case "silence":
		if v.Duration != nil && (*v.Duration < 1 || *v.Duration > 100) {
			return invalidParam(field+".duration", "ensure this value is between 1.0 and 100.0")
		}
		return nil
	case "":
		return invalidParam(field+".type", "field required")
	default:
		return invalidParam(field+".type", enumMsg("text", "audio", "silence"))
	}
}

// validateTextVoice checks a text-to-speech voice.
func (s *Server) validateTextVoice(field string, v *voiceBody) error {
	emotions := []string{"Excited", "Friendly", "Serious", "Soothing", "Broadcaster"}
	switch {
	case v.InputText == nil || strings.TrimSpace(*v.InputText) == "":
		return invalidParam(field+".input_text", "field required")
	case utf8.RuneCountInString(*v.InputText) > maxInputText:
		return invalidParam(field+".input_text", "ensure this value has at most 5000 characters")
	case v.VoiceID == "":
		return invalidParam(field+".voice_id", "field required")
	case v.Speed != nil && (*v.Speed < 0.5 || *v.Speed > 1.5):
		return invalidParam(field+".speed", "ensure this value is between 0.5 and 1.5")
	case v.Pitch != nil && (*v.Pitch < -50 || *v.Pitch > 50):
		return invalidParam(field+".pitch", "ensure this value is between -50 and 50")
	case v.Emotion != "" && !slices.Contains(emotions, v.Emotion):
		return invalidParam(field+".emotion", enumMsg(emotions...))
	case !s.heygen.voiceByID[v.VoiceID]:
		return v2Error(http.StatusBadRequest, "voice_not_found", "Voice "+v.VoiceID+" not found")
	}
	return nil
}

// validateDimension checks an optional dimension: both sides, even, 128–4096.
func validateDimension(d *dimensionBody) error {
	if d == nil {
		return nil
	}
	sides := []struct {
		name string
		v    *int
	}{{"width", d.Width}, {"height", d.Height}}
	for _, side := range sides {
		field := "dimension." + side.name
		switch {
		case side.v == nil:
			return invalidParam(field, "field required")
		case *side.v < 128 || *side.v > 4096:
			return invalidParam(field, "ensure this value is between 128 and 4096")
		case *side.v%2 != 0:
			return invalidParam(field, "must be an even number")
		}
	}
	return nil
}

// enumMsg is pydantic's message for a value outside an enumeration.
func enumMsg(permitted ...string) string {
	quoted := make([]string, len(permitted))
	for i, p := range permitted {
		quoted[i] = "'" + p + "'"
	}
	return "value is not a valid enumeration member; permitted: " + strings.Join(quoted, ", ")
}

// sceneSpeech returns a scene's spoken text and its length in seconds.
func sceneSpeech(v *voiceBody) (string, float64) {
	switch v.Type {
	case "text":
		return *v.InputText, speechSeconds(*v.InputText)
	case "silence":
		if v.Duration != nil {
			return "", *v.Duration
		}
		return "", 1
	default:
		return "", 5 // An uploaded or linked audio track; the sandbox does not measure it.
	}
}

// speechSeconds estimates how long text takes to say, at about 15 characters a second.
func speechSeconds(text string) float64 {
	secs := float64(utf8.RuneCountInString(strings.TrimSpace(text))) / 15
	return math.Max(1, math.Round(secs*1000)/1000)
}
