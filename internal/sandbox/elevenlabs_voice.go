package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
)

// ElevenLabs voices as one account sees them. Every key starts with the seeded catalog; what
// a key adds, edits or deletes changes its own view only, so that two accounts sharing one
// sandbox never see each other's voices.

// elAccount is one ElevenLabs key's own objects; Server.mu guards it.
type elAccount struct {
	custom   []elVoice          // voices made with add-voice, oldest first
	edited   map[string]elVoice // seeded voices as this key edited them
	deleted  map[string]bool    // seeded voices this key deleted
	history  []*elHistoryItem   // generations, oldest first (elevenlabs_history.go)
	dubbings map[string]*elDubbing
}

// elSlotsBase is how many voice slots the subscription shows in use before any add-voice.
const elSlotsBase = 3

// elVoiceLimit is the subscription's voice_limit.
const elVoiceLimit = 30

// elAccountLocked returns key's account, creating it; the caller holds s.mu.
func (s *Server) elAccountLocked(key string) *elAccount {
	a := s.el.accounts[key]
	if a == nil {
		a = &elAccount{edited: map[string]elVoice{}, deleted: map[string]bool{}, dubbings: map[string]*elDubbing{}}
		s.el.accounts[key] = a
	}
	return a
}

// elVoices returns the voices key sees: the seeded catalog as the key changed it, then the
// voices it added.
func (s *Server) elVoices(key string) []elVoice {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.elAccountLocked(key)
	out := make([]elVoice, 0, len(s.eleven.voices)+len(a.custom))
	for _, v := range s.eleven.voices {
		if a.deleted[v.ID] {
			continue
		}
		if e, ok := a.edited[v.ID]; ok {
			v = e
		}
		out = append(out, v)
	}
	return append(out, a.custom...)
}

// elVoice returns the voice with id as key sees it.
func (s *Server) elVoice(key, id string) (elVoice, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.elVoiceLocked(key, id)
}

// storeVoiceLocked saves an edited voice in key's view; the caller holds s.mu.
func (s *Server) storeVoiceLocked(key string, v elVoice) {
	a := s.elAccountLocked(key)
	if i := slices.IndexFunc(a.custom, func(c elVoice) bool { return c.ID == v.ID }); i >= 0 {
		a.custom[i] = v
		return
	}
	a.edited[v.ID] = v
}

// voiceFields are the form fields add-voice and edit-voice share.
type voiceFields struct {
	name, description string
	hasDescription    bool
	labels            map[string]string
	samples           []elSample
}

// readVoiceForm validates an add-voice or edit-voice form: name is required, files only when
// needFiles is set, and labels must be a serialized JSON object of strings.
func (s *Server) readVoiceForm(c *call, needFiles bool) (voiceFields, error) {
	f := parseForm(c)
	var items []validationItem
	var vf voiceFields
	name, ok := f.value("name")
	if !ok {
		items = append(items, missingItem("body", "name"))
	}
	vf.name = name
	if needFiles && len(f.files["files"]) == 0 {
		items = append(items, missingItem("body", "files"))
	}
	f.formBool("remove_background_noise", false, &items)
	vf.description, vf.hasDescription = f.value("description")
	if raw, ok := f.value("labels"); ok && raw != "" {
		if json.Unmarshal([]byte(raw), &vf.labels) != nil {
			items = append(items, validationItem{Type: "value_error", Loc: []any{"body", "labels"},
				Msg: "Value error, labels must be a JSON object of strings", Input: raw})
		}
	}
	if len(items) > 0 {
		return voiceFields{}, validationError(items)
	}
	for _, file := range f.files["files"] {
		sum := sha256.Sum256(file.data)
		vf.samples = append(vf.samples, elSample{SampleID: s.newID(alnum, 20), FileName: file.filename,
			MimeType: file.contentType, SizeBytes: len(file.data), Hash: hex.EncodeToString(sum[:16])})
	}
	return vf, nil
}

// elAddVoice answers POST /v1/voices/add (multipart: name, files, description, labels,
// remove_background_noise) with the new cloned voice's id.
func (s *Server) elAddVoice(w http.ResponseWriter, c *call) error {
	vf, err := s.readVoiceForm(c, true)
	if err != nil {
		return err
	}
	created := s.now().Unix()
	v := elVoice{ID: s.newID(alnum, 20), Name: vf.name, Category: "cloned", Description: vf.description,
		Labels: vf.labels, CreatedAtUnix: &created, Owned: true, Samples: vf.samples}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.elAccountLocked(c.key)
	if elSlotsBase+len(a.custom) >= elVoiceLimit {
		return detailError(http.StatusBadRequest, "voice_limit_reached",
			"You have reached your maximum amount of custom voices ("+strconv.Itoa(elVoiceLimit)+
				"). You can upgrade your subscription to increase your custom voice limit.")
	}
	a.custom = append(a.custom, v)
	writeJSON(w, http.StatusOK, map[string]any{"voice_id": v.ID, "requires_verification": false})
	return nil
}

// elEditVoice answers POST /v1/voices/{voice_id}/edit: a new name (required), and, when sent,
// a description, labels and more samples.
func (s *Server) elEditVoice(w http.ResponseWriter, c *call) error {
	id := c.params["voice_id"]
	if _, ok := s.elVoice(c.key, id); !ok {
		return voiceNotFound(id)
	}
	vf, err := s.readVoiceForm(c, false)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.elVoiceLocked(c.key, id)
	if !ok {
		return voiceNotFound(id) // Deleted meanwhile.
	}
	v.Name = vf.name
	if vf.hasDescription {
		v.Description = vf.description
	}
	if vf.labels != nil {
		v.Labels = vf.labels
	}
	v.Samples = append(slices.Clone(v.Samples), vf.samples...)
	s.storeVoiceLocked(c.key, v)
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// elVoiceLocked is elVoice for a caller that holds s.mu.
func (s *Server) elVoiceLocked(key, id string) (elVoice, bool) {
	a := s.elAccountLocked(key)
	if i := slices.IndexFunc(a.custom, func(v elVoice) bool { return v.ID == id }); i >= 0 {
		return a.custom[i], true
	}
	if a.deleted[id] {
		return elVoice{}, false
	}
	if e, ok := a.edited[id]; ok {
		return e, true
	}
	return s.eleven.voice(id)
}

// elDeleteVoice answers DELETE /v1/voices/{voice_id}; the voice is gone for this key only.
func (s *Server) elDeleteVoice(w http.ResponseWriter, c *call) error {
	id := c.params["voice_id"]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.elVoiceLocked(c.key, id); !ok {
		return voiceNotFound(id)
	}
	a := s.elAccountLocked(c.key)
	a.custom = slices.DeleteFunc(a.custom, func(v elVoice) bool { return v.ID == id })
	if _, seeded := s.eleven.voice(id); seeded {
		a.deleted[id] = true
		delete(a.edited, id)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// elVoiceSettings answers GET /v1/voices/{voice_id}/settings with the voice's
// VoiceSettingsResponseModel (the defaults: the sandbox does not keep edited settings).
func (s *Server) elVoiceSettings(w http.ResponseWriter, c *call) error {
	id := c.params["voice_id"]
	if _, ok := s.elVoice(c.key, id); !ok {
		return voiceNotFound(id)
	}
	writeJSON(w, http.StatusOK, defaultSettings())
	return nil
}

// defaultSettings are the documented defaults of every voice's settings.
func defaultSettings() voiceSettingsJSON {
	return voiceSettingsJSON{Stability: 0.5, SimilarityBoost: 0.75, Style: 0, UseSpeakerBoost: true, Speed: 1}
}
