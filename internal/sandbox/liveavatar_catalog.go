package sandbox

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// LiveAvatar's catalogs: avatars (public and the account's), voices, and contexts, which
// each key may create, edit and delete.

// laAvatarJSON is one avatar of GET /v1/avatars[/public].
type laAvatarJSON struct {
	ID           string       `json:"id"`
	Type         string       `json:"type"`
	Status       string       `json:"status"`
	Name         string       `json:"name"`
	PreviewURL   *string      `json:"preview_url"`
	IsExpired    bool         `json:"is_expired"`
	DefaultVoice *laVoiceRef  `json:"default_voice"`
	Is1080p      bool         `json:"is_1080p"`
	CreatedAt    string       `json:"created_at"`
	public       bool         // in /v1/avatars/public rather than the account's list
	voice        *laVoiceJSON // the default voice, resolved at render
}

// laVoiceRef is an avatar's default voice.
type laVoiceRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// laVoiceJSON is one voice of GET /v1/voices.
type laVoiceJSON struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Language string   `json:"language"`
	Gender   string   `json:"gender"`
	Tags     []string `json:"tags"`
}

// laContext is one context; the list shows id, name and created_at, the detail all of it.
type laContext struct {
	ID                       string   `json:"id"`
	Name                     string   `json:"name"`
	Prompt                   string   `json:"prompt"`
	OpeningText              string   `json:"opening_text"`
	Links                    []string `json:"links"`
	RequiredDynamicVariables []string `json:"required_dynamic_variables"`
	CreatedAt                string   `json:"created_at"`
}

// laCatalogEpoch is when the seeded catalog was made.
var laCatalogEpoch = time.Date(2025, 9, 1, 12, 0, 0, 0, time.UTC).Format(time.RFC3339)

// The seeded voices.
var laVoices = []laVoiceJSON{
	{ID: "1f2b7c3e-5a64-4d8e-9b21-0c7e4a5f6d01", Name: "Ava", Language: "en", Gender: "female", Tags: []string{"warm", "conversational"}},
	{ID: "2a3c8d4f-6b75-4e9f-8c32-1d8f5b6a7e02", Name: "Noah", Language: "en", Gender: "male", Tags: []string{"calm"}},
	{ID: "3b4d9e5a-7c86-4fa0-9d43-2e9a6c7b8f03", Name: "Lucía", Language: "es", Gender: "female", Tags: []string{"bright"}},
	{ID: "4c5eaf6b-8d97-40b1-8e54-3fab7d8c9a04", Name: "Jonas", Language: "de", Gender: "male", Tags: []string{"news"}},
}

// laAvatars are the seeded avatars: public ones, including the sandbox avatar, and two that
// every account owns.
var laAvatars = []laAvatarJSON{
	{ID: sandboxAvatarID, Name: "Sandbox Wayne", Type: "VIDEO", public: true, voice: &laVoices[1]},
	{ID: "5d6fb07c-9ea8-41c2-9f65-40bc8e9dab05", Name: "Katya in the office", Type: "VIDEO", public: true, Is1080p: true, voice: &laVoices[0]},
	{ID: "6e70c18d-afb9-42d3-8076-51cd9faebc06", Name: "Marco at the desk", Type: "VIDEO", public: true, voice: &laVoices[1]},
	{ID: "7f81d29e-b0ca-43e4-9187-62deabfcd107", Name: "Elena portrait", Type: "IMAGE", public: true, voice: &laVoices[2]},
	{ID: "8092e3af-c1db-44f5-a298-73efbc0dee08", Name: "My studio avatar", Type: "VIDEO", Is1080p: true, voice: &laVoices[3]},
	{ID: "91a3f4b0-d2ec-4506-b3a9-84f0cd1eff09", Name: "My photo avatar", Type: "IMAGE"},
}

// laSeedContexts are the contexts every account starts with.
var laSeedContexts = []laContext{
	{ID: "a2b405c1-e3fd-4617-84ba-950ade2f000a", Name: "Friendly receptionist",
		Prompt: "You greet visitors and answer questions about opening hours.", OpeningText: "Hello! How can I help you today?"},
	{ID: "b3c516d2-f40e-4728-95cb-a61bef30111b", Name: "Language tutor",
		Prompt: "You help the user practise conversational Spanish.", OpeningText: "¡Hola! ¿Practicamos?"},
}

// liveAvatarCatalogRoutes wires the catalog routes into sv.
func (s *Server) liveAvatarCatalogRoutes(sv *service) {
	sv.handlePublic(http.MethodGet, "/v1/avatars/public", s.laListAvatars(true))
	sv.handle(http.MethodGet, "/v1/avatars", s.laListAvatars(false))
	sv.handle(http.MethodGet, "/v1/voices", s.laListVoices)
	sv.handle(http.MethodGet, "/v1/contexts", s.laListContexts)
	sv.handle(http.MethodPost, "/v1/contexts", s.laCreateContext)
	sv.handle(http.MethodGet, "/v1/contexts/{context_id}", s.laGetContext)
	sv.handle(http.MethodPatch, "/v1/contexts/{context_id}", s.laUpdateContext)
	sv.handle(http.MethodDelete, "/v1/contexts/{context_id}", s.laDeleteContext)
	sv.handlePublic(http.MethodGet, "/media/avatar/{avatar_id}/preview.png", s.laAvatarPreview)
}

// laAvatarPreview serves a seeded avatar's preview image.
func (s *Server) laAvatarPreview(w http.ResponseWriter, c *call) error {
	if !s.laAvatarExists(c.params["avatar_id"]) {
		return detailStatus(http.StatusNotFound)
	}
	return serveBytes(w, c.r, "image/png", previewPNG(c.params["avatar_id"]))
}

// laListAvatars answers GET /v1/avatars/public (public) or GET /v1/avatars (the account's).
func (s *Server) laListAvatars(public bool) handler {
	return func(w http.ResponseWriter, c *call) error {
		page, size, err := laPage(c)
		if err != nil {
			return err
		}
		var out []laAvatarJSON
		for _, a := range laAvatars {
			if a.public != public {
				continue
			}
			preview := baseURL(c.r, LiveAvatar) + "/media/avatar/" + a.ID + "/preview.png"
			a.Status, a.CreatedAt, a.PreviewURL = "ACTIVE", laCatalogEpoch, &preview
			if a.voice != nil {
				a.DefaultVoice = &laVoiceRef{ID: a.voice.ID, Name: a.voice.Name}
			}
			out = append(out, a)
		}
		return laPaged(w, c, out, page, size)
	}
}

// laAvatarExists reports whether id is a seeded avatar.
func (s *Server) laAvatarExists(id string) bool {
	return slices.ContainsFunc(laAvatars, func(a laAvatarJSON) bool { return a.ID == id })
}

// laVoiceExists reports whether id is a seeded voice.
func (s *Server) laVoiceExists(id string) bool {
	return slices.ContainsFunc(laVoices, func(v laVoiceJSON) bool { return v.ID == id })
}

// laListVoices answers GET /v1/voices; ?voice_type=private lists none, the account having
// no voices of its own.
func (s *Server) laListVoices(w http.ResponseWriter, c *call) error {
	page, size, err := laPage(c)
	if err != nil {
		return err
	}
	voices := laVoices
	switch vt := c.r.URL.Query().Get("voice_type"); vt {
	case "", "public":
	case "private":
		voices = nil
	default:
		return unprocessable(fieldError{Loc: []any{"query", "voice_type"}, Type: "enum", Input: vt,
			Msg: "Input should be 'public' or 'private'"})
	}
	return laPaged(w, c, voices, page, size)
}

// laContextsLocked returns key's contexts, starting it with copies of the seeded ones.
// s.mu must be held.
func (s *Server) laContextsLocked(key string) []*laContext {
	list, ok := s.la.contexts[key]
	if !ok {
		for _, seed := range laSeedContexts {
			cp := seed
			cp.CreatedAt = laCatalogEpoch
			list = append(list, &cp)
		}
		s.la.contexts[key] = list
	}
	return list
}

// laContextExists reports whether key has context id.
func (s *Server) laContextExists(key, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.laContextsLocked(key), func(x *laContext) bool { return x.ID == id })
}

// laContextNotFound is the 404 for a context the caller does not have.
func laContextNotFound() *apiError {
	return laError(http.StatusNotFound, laCodeNotFound, "Context not found")
}

// laContextDetail renders ctx in full, with empty lists rather than null.
func laContextDetail(ctx laContext) laContext {
	if ctx.Links == nil {
		ctx.Links = []string{}
	}
	if ctx.RequiredDynamicVariables == nil {
		ctx.RequiredDynamicVariables = []string{}
	}
	return ctx
}

// laListContexts answers GET /v1/contexts.
func (s *Server) laListContexts(w http.ResponseWriter, c *call) error {
	page, size, err := laPage(c)
	if err != nil {
		return err
	}
	type item struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		CreatedAt string `json:"created_at"`
	}
	s.mu.Lock()
	var out []item
	for _, x := range s.laContextsLocked(c.key) {
		out = append(out, item{ID: x.ID, Name: x.Name, CreatedAt: x.CreatedAt})
	}
	s.mu.Unlock()
	return laPaged(w, c, out, page, size)
}

// laContextBody is the body of POST and PATCH /v1/contexts.
type laContextBody struct {
	Name        *string   `json:"name"`
	Prompt      *string   `json:"prompt"`
	OpeningText *string   `json:"opening_text"`
	Links       *[]string `json:"links"`
}

// laCreateContext answers POST /v1/contexts; name and prompt are required.
func (s *Server) laCreateContext(w http.ResponseWriter, c *call) error {
	var b laContextBody
	if err := decodeLABody(c, &b, false); err != nil {
		return err
	}
	var errs []fieldError
	if b.Name == nil || strings.TrimSpace(*b.Name) == "" {
		errs = append(errs, missingField(nil, "name"))
	}
	if b.Prompt == nil {
		errs = append(errs, missingField(nil, "prompt"))
	}
	if len(errs) > 0 {
		return unprocessable(errs...)
	}
	ctx := &laContext{ID: s.newUUID(), CreatedAt: s.now().UTC().Format(time.RFC3339)}
	b.apply(ctx)
	s.mu.Lock()
	s.la.contexts[c.key] = append(s.laContextsLocked(c.key), ctx)
	out := laContextDetail(*ctx)
	s.mu.Unlock()
	return laData(w, http.StatusOK, out)
}

// apply copies the fields b sets into ctx.
func (b laContextBody) apply(ctx *laContext) {
	if b.Name != nil {
		ctx.Name = *b.Name
	}
	if b.Prompt != nil {
		ctx.Prompt = *b.Prompt
	}
	if b.OpeningText != nil {
		ctx.OpeningText = *b.OpeningText
	}
	if b.Links != nil {
		ctx.Links = slices.Clone(*b.Links)
	}
}

// laGetContext answers GET /v1/contexts/{context_id}.
func (s *Server) laGetContext(w http.ResponseWriter, c *call) error {
	return s.laEditContext(w, c, nil)
}

// laUpdateContext answers PATCH /v1/contexts/{context_id}.
func (s *Server) laUpdateContext(w http.ResponseWriter, c *call) error {
	var b laContextBody
	if err := decodeLABody(c, &b, false); err != nil {
		return err
	}
	return s.laEditContext(w, c, &b)
}

// laEditContext applies b (if any) to the caller's context and answers with it.
func (s *Server) laEditContext(w http.ResponseWriter, c *call, b *laContextBody) error {
	s.mu.Lock()
	var out *laContext
	for _, x := range s.laContextsLocked(c.key) {
		if x.ID == c.params["context_id"] {
			if b != nil {
				b.apply(x)
			}
			detail := laContextDetail(*x)
			out = &detail
		}
	}
	s.mu.Unlock()
	if out == nil {
		return laContextNotFound()
	}
	return laData(w, http.StatusOK, out)
}

// laDeleteContext answers DELETE /v1/contexts/{context_id}.
func (s *Server) laDeleteContext(w http.ResponseWriter, c *call) error {
	s.mu.Lock()
	list := s.laContextsLocked(c.key)
	i := slices.IndexFunc(list, func(x *laContext) bool { return x.ID == c.params["context_id"] })
	if i >= 0 {
		s.la.contexts[c.key] = slices.Delete(list, i, i+1)
	}
	s.mu.Unlock()
	if i < 0 {
		return laContextNotFound()
	}
	return laData(w, http.StatusOK, nil)
}
