package sandbox

import (
	"net/http"
)

// HeyGen's v2 avatar details and avatar groups (heygen-api.md §2). The public groups are the
// ones v3 lists (the catalog's avatars grouped by person); each photo avatar a key trained
// is a private group of one look.

// hgAvatarDetails answers GET /v2/avatar/{avatar_id}/details.
func (s *Server) hgAvatarDetails(w http.ResponseWriter, c *call) error {
	id := c.params["avatar_id"]
	for _, a := range s.heygen.avatars {
		if a.ID != id {
			continue
		}
		base := baseURL(c.r, HeyGen) + "/media/avatar/" + a.ID
		return v2Data(w, map[string]any{"type": "avatar", "id": a.ID, "name": a.Name, "gender": a.Gender,
			"preview_image_url": base + "/preview.png", "preview_video_url": base + "/preview_video_target.mp4",
			"premium": a.Premium, "is_public": true, "default_voice_id": a.DefaultVoiceID, "tags": a.Tags})
	}
	return v2Error(http.StatusNotFound, "avatar_not_found", "Avatar "+id+" not found or no longer available")
}

// hgListAvatarGroups answers GET /v2/avatar_group.list: the key's photo avatar groups, and
// the public groups too with include_public=true.
func (s *Server) hgListAvatarGroups(w http.ResponseWriter, c *call) error {
	include := c.r.URL.Query().Get("include_public")
	if include != "" && include != "true" && include != "false" {
		return invalidParam("include_public", "value could not be parsed to a boolean")
	}
	groups := []map[string]any{}
	for _, p := range s.keyPhotos(c.key) {
		groups = append(groups, map[string]any{"id": p.id, "name": p.name, "created_at": float64(p.created.Unix()),
			"num_looks": 1, "preview_image": s.photoImageURL(c.r, &p), "group_type": "PHOTO", "train_status": "ready",
			"default_voice_id": nil})
	}
	if include == "true" {
		for _, g := range s.v3Groups() {
			first := g.looks[0]
			groups = append(groups, map[string]any{"id": g.id, "name": g.name, "created_at": float64(v3Epoch),
				"num_looks": len(g.looks), "preview_image": baseURL(c.r, HeyGen) + "/media/avatar/" + first.ID + "/preview.png",
				"group_type": "PUBLIC", "train_status": "ready", "default_voice_id": first.DefaultVoiceID})
		}
	}
	return v2Data(w, map[string]any{"total_count": len(groups), "avatar_group_list": groups})
}

// hgGroupAvatars answers GET /v2/avatar_group/{group_id}/avatars with the group's looks; an
// unknown group, or another key's, is 404 avatar_group_not_found [INF: the code].
func (s *Server) hgGroupAvatars(w http.ResponseWriter, c *call) error {
	id := c.params["group_id"]
	if p, ok := s.photoAvatar(c.key, id); ok && s.photoStatusAt(&p, s.now()) == "completed" {
		look := groupLook(p.id, p.name, s.photoImageURL(c.r, &p), p.id, "uploaded", float64(p.created.Unix()), nil)
		return v2Data(w, map[string]any{"avatar_list": []any{look}})
	}
	for _, g := range s.v3Groups() {
		if g.id != id {
			continue
		}
		looks := make([]any, len(g.looks))
		for i, a := range g.looks {
			img := baseURL(c.r, HeyGen) + "/media/avatar/" + a.ID + "/preview_target.webp"
			looks[i] = groupLook(a.ID, a.Name, img, g.id, "public", float64(v3Epoch), a.DefaultVoiceID)
		}
		return v2Data(w, map[string]any{"avatar_list": looks})
	}
	return v2Error(http.StatusNotFound, "avatar_group_not_found", "Avatar group "+id+" not found")
}

// groupLook is one entry of a group's avatar_list.
func groupLook(id, name, image, group, business string, created float64, voice *string) map[string]any {
	return map[string]any{"id": id, "image_url": image, "created_at": created, "name": name, "status": "completed",
		"group_id": group, "is_motion": false, "motion_preview_url": nil, "business_type": business,
		"upscale_availability": map[string]any{"available": true, "reason": nil}, "upscaled": false,
		"background_sound_effect": nil, "default_voice_id": voice}
}
