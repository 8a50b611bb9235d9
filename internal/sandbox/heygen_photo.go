package sandbox

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HeyGen photo avatars and talking photos. A photo avatar is made from an image the key
// uploaded (its image_key) and trains for Config.RenderTime: pending, then completed, or
// failed when its name holds SANDBOX_FAIL (SANDBOX_STUCK keeps it pending). Once made, it is
// one of the key's talking photos: listed by GET /v1/talking_photo.list and GET /v2/avatars,
// grouped in GET /v2/avatar_group.list, and usable as talking_photo_id in renders.

// hgPhotoAvatar is one photo avatar a key made.
type hgPhotoAvatar struct {
	id, key, name, assetID string
	created                time.Time
	outcome                outcome
}

// photoAvatarBody is the body of POST /v2/photo_avatar and of HeyGen's documented
// POST /v2/photo_avatar/avatar_group/create.
type photoAvatarBody struct {
	Name     string `json:"name"`
	ImageKey string `json:"image_key"`
}

// hgCreatePhotoAvatar answers POST /v2/photo_avatar: name and image_key (an image the key
// uploaded) are required; the answer is the new photo avatar, pending.
func (s *Server) hgCreatePhotoAvatar(w http.ResponseWriter, c *call) error {
	var b photoAvatarBody
	if err := decodeHeyGenBody(c.body, &b); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(b.Name) == "":
		return invalidParam("name", "field required")
	case b.ImageKey == "":
		return invalidParam("image_key", "field required")
	}
	assetID, _, _ := strings.Cut(strings.TrimPrefix(b.ImageKey, "image/"), "/")
	if a, ok := s.asset(c.key, assetID); !ok || a.fileType != "image" || !strings.HasPrefix(b.ImageKey, "image/") {
		return invalidParam("image_key", "no uploaded image has this image_key")
	}
	p := &hgPhotoAvatar{id: s.newID(lowerHex, 32), key: c.key, name: b.Name, assetID: assetID, created: s.now(),
		outcome: outcomeFor(b.Name)}
	s.mu.Lock()
	s.hg.photos[p.id] = p
	s.mu.Unlock()
	return v2Data(w, s.photoAvatarJSON(c.r, p, p.created))
}

// photoStatusAt is p's training status at now.
func (s *Server) photoStatusAt(p *hgPhotoAvatar, now time.Time) string {
	switch {
	case p.outcome == outcomeStuck || now.Sub(p.created) < s.cfg.RenderTime:
		return "pending"
	case p.outcome == outcomeCompleted:
		return "completed"
	}
	return "failed"
}

// photoAvatarJSON is a photo avatar as GET /v2/photo_avatar/{id} shows it.
func (s *Server) photoAvatarJSON(r *http.Request, p *hgPhotoAvatar, now time.Time) map[string]any {
	status := s.photoStatusAt(p, now)
	upscale := map[string]any{"available": false, "reason": "Photo avatar look upload not completed"}
	image := ""
	if status == "completed" {
		upscale = map[string]any{"available": true, "reason": nil}
		image = s.photoImageURL(r, p)
	}
	return map[string]any{"id": p.id, "image_url": image, "created_at": float64(p.created.Unix()), "name": p.name,
		"status": status, "group_id": p.id, "is_motion": false, "motion_preview_url": nil, "business_type": "uploaded",
		"upscale_availability": upscale, "upscaled": false, "background_sound_effect": nil}
}

// photoImageURL is the picture a photo avatar was made from.
func (s *Server) photoImageURL(r *http.Request, p *hgPhotoAvatar) string {
	s.mu.Lock()
	a, ok := s.hg.assets[p.assetID]
	s.mu.Unlock()
	if !ok {
		return baseURL(r, HeyGen) + "/media/talking_photo/" + p.id + "/preview.png"
	}
	return assetURL(r, a)
}

// photoAvatar returns key's photo avatar with id.
func (s *Server) photoAvatar(key, id string) (hgPhotoAvatar, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.hg.photos[id]
	if !ok || p.key != key {
		return hgPhotoAvatar{}, false
	}
	return *p, true
}

// hgPhotoAvatarStatus answers GET /v2/photo_avatar/{photo_avatar_id}.
func (s *Server) hgPhotoAvatarStatus(w http.ResponseWriter, c *call) error {
	id := c.params["photo_avatar_id"]
	p, ok := s.photoAvatar(c.key, id)
	if !ok {
		return v2Error(http.StatusNotFound, "avatar_not_found", "Photo avatar "+id+" not found")
	}
	return v2Data(w, s.photoAvatarJSON(c.r, &p, s.now()))
}

// keyPhotos lists key's photo avatars, oldest first, that have finished training.
func (s *Server) keyPhotos(key string) []hgPhotoAvatar {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []hgPhotoAvatar
	for _, p := range s.hg.photos {
		if p.key == key && s.photoStatusAt(p, now) == "completed" {
			out = append(out, *p)
		}
	}
	slices.SortFunc(out, func(a, b hgPhotoAvatar) int { return a.created.Compare(b.created) })
	return out
}

// talkingPhotoKnown reports whether id is a talking photo key may use: a seeded one, or one
// of its own trained photo avatars.
func (s *Server) talkingPhotoKnown(key, id string) bool {
	if s.heygen.photoByID[id] {
		return true
	}
	p, ok := s.photoAvatar(key, id)
	return ok && s.photoStatusAt(&p, s.now()) == "completed"
}

// lookKnown reports whether id is an avatar look key may put in a v3 video.
func (s *Server) lookKnown(key, id string) bool {
	return s.heygen.avatarByID[id] || s.talkingPhotoKnown(key, id)
}

// hgListTalkingPhotos answers GET /v1/talking_photo.list with the seeded talking photos and
// the key's trained photo avatars [INF: the item fields].
func (s *Server) hgListTalkingPhotos(w http.ResponseWriter, c *call) error {
	base := baseURL(c.r, HeyGen)
	items := []map[string]any{}
	for _, p := range s.heygen.photos {
		img := base + "/media/talking_photo/" + p.ID + "/preview_target.webp"
		items = append(items, map[string]any{"id": p.ID, "image_url": img, "circle_image": img})
	}
	for _, p := range s.keyPhotos(c.key) {
		img := s.photoImageURL(c.r, &p)
		items = append(items, map[string]any{"id": p.id, "image_url": img, "circle_image": img})
	}
	return v1Data(w, items)
}

// hgGenerateTalkingPhoto answers POST /v2/video/talking_photo. It takes the body of
// /v2/video/generate [INF], every scene's character a talking photo, and renders the same
// way, test mode and caps included.
func (s *Server) hgGenerateTalkingPhoto(w http.ResponseWriter, c *call) error {
	var body generateBody
	if err := decodeHeyGenBody(c.body, &body); err != nil {
		return err
	}
	for i, sc := range body.VideoInputs {
		field := "video_inputs." + strconv.Itoa(i) + ".character"
		switch {
		case sc.Character == nil:
			return invalidParam(field, "field required")
		case sc.Character.Type != "talking_photo":
			return invalidParam(field+".type", enumMsg("talking_photo"))
		}
	}
	if err := s.validateGenerate(c.key, &body); err != nil {
		return err
	}
	return s.startRender(w, c, renderFromGenerate(&body))
}
