package sandbox

import (
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// HeyGen assets: uploaded on the upload host (POST /v1/asset, the raw file as the body) or
// through v3 (POST /v3/assets, multipart), then listed and read through v1 (GET
// /v1/asset/list, GET /v1/asset/{asset_id}) and read, listed and deleted through v3. Both
// surfaces see one account's assets; another key's asset is not found.

// hgAsset is an uploaded file.
type hgAsset struct {
	id, key, name, fileType, contentType string
	created                              time.Time
	data                                 []byte
}

// assetTypes maps the upload MIME types HeyGen accepts to its file_type.
func assetTypes() map[string]string {
	return map[string]string{
		"image/jpeg": "image", "image/png": "image", "video/mp4": "video", "video/webm": "video",
		"audio/mpeg": "audio", "audio/wav": "audio", "audio/x-wav": "audio",
	}
}

// assetName is the stored name of an upload: its id and the extension of its type.
func assetName(id, contentType string) string {
	if ext, _ := mime.ExtensionsByType(contentType); len(ext) > 0 {
		return id + ext[len(ext)-1]
	}
	return id
}

// storeAsset keeps an upload for key and returns it.
func (s *Server) storeAsset(key, fileType, contentType string, data []byte) *hgAsset {
	a := &hgAsset{id: s.newID(lowerHex, 32), key: key, fileType: fileType, contentType: contentType, created: s.now(), data: data}
	a.name = a.id // HeyGen names an upload after its id.
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hg.assets[a.id] = a
	s.hg.assetOrder = append(s.hg.assetOrder, a.id)
	return a
}

// assetURL is where the simulated CDN serves a.
func assetURL(r *http.Request, a *hgAsset) string {
	return baseURL(r, HeyGen) + "/media/asset/" + a.id + "/" + assetName(a.id, a.contentType)
}

// imageKey is the key HeyGen gives an uploaded image, which photo avatars are made from.
func imageKey(a *hgAsset) string { return "image/" + a.id + "/original" }

// hgUploadAsset answers POST /v1/asset (upload.heygen.com): the raw file is the body.
func (s *Server) hgUploadAsset(w http.ResponseWriter, c *call) error {
	ct, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	fileType, ok := assetTypes()[ct]
	if !ok {
		return v1Error(http.StatusBadRequest, 400111, "Invalid file type: "+ct)
	}
	if len(c.body) == 0 {
		return v1Error(http.StatusBadRequest, 40001, "Missing file content")
	}
	a := s.storeAsset(c.key, fileType, ct, c.body)
	data := v1AssetJSON(c.r, a)
	data["meta"] = nil
	return v1Data(w, data)
}

// v1AssetJSON is an asset as the v1 routes show it.
func v1AssetJSON(r *http.Request, a *hgAsset) map[string]any {
	data := map[string]any{"id": a.id, "name": a.name, "file_type": a.fileType, "folder_id": "",
		"created_ts": a.created.Unix(), "url": assetURL(r, a)}
	if a.fileType == "image" {
		data["image_key"] = imageKey(a)
	}
	return data
}

// hasAsset reports whether key uploaded an asset with id.
func (s *Server) hasAsset(key, id string) bool {
	_, ok := s.asset(key, id)
	return ok
}

// asset returns key's asset with id.
func (s *Server) asset(key, id string) (*hgAsset, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.hg.assets[id]
	if !ok || a.key != key {
		return nil, false
	}
	return a, true
}

// keyAssets lists key's assets, newest first, of fileType when it is set.
func (s *Server) keyAssets(key, fileType string) []*hgAsset {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*hgAsset
	for _, id := range slices.Backward(s.hg.assetOrder) {
		if a, ok := s.hg.assets[id]; ok && a.key == key && (fileType == "" || a.fileType == fileType) {
			out = append(out, a)
		}
	}
	return out
}

// hgListAssets answers GET /v1/asset/list (limit 0–100, token, file_type, folder_id),
// newest first. The sandbox keeps every asset in the root folder, so a folder_id lists none.
func (s *Server) hgListAssets(w http.ResponseWriter, c *call) error {
	q := c.r.URL.Query()
	limit, err := queryInt(q.Get("limit"), 100)
	if err != nil || limit < 0 || limit > 100 {
		return v1Error(http.StatusBadRequest, 40012, "Invalid query parameter: limit must be between 0 and 100")
	}
	if limit == 0 {
		limit = 100
	}
	start, err := queryInt(q.Get("token"), 0)
	if err != nil || start < 0 {
		return v1Error(http.StatusBadRequest, 40012, "Invalid query parameter: token")
	}
	assets := s.keyAssets(c.key, q.Get("file_type"))
	if q.Get("folder_id") != "" {
		assets = nil
	}
	start = min(start, len(assets))
	end := min(len(assets), start+limit)
	items := make([]map[string]any, 0, end-start)
	for _, a := range assets[start:end] {
		items = append(items, v1AssetJSON(c.r, a))
	}
	var token *string
	if end < len(assets) {
		t := strconv.Itoa(end)
		token = &t
	}
	return v1Data(w, map[string]any{"assets": items, "token": token})
}

// hgGetAsset answers GET /v1/asset/{asset_id}; an asset of another key is not found.
func (s *Server) hgGetAsset(w http.ResponseWriter, c *call) error {
	a, ok := s.asset(c.key, c.params["asset_id"])
	if !ok {
		return v1Error(http.StatusNotFound, 404, "Asset not found")
	}
	data := v1AssetJSON(c.r, a)
	data["meta"] = nil
	return v1Data(w, data)
}

// hgAssetMedia serves an uploaded file back.
func (s *Server) hgAssetMedia(w http.ResponseWriter, c *call) error {
	s.mu.Lock()
	a, ok := s.hg.assets[c.params["id"]]
	s.mu.Unlock()
	if !ok {
		return cdnError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	}
	return serveBytes(w, c.r, a.contentType, a.data)
}

// v3AssetJSON is an asset as GET /v3/assets/{asset_id} shows it.
func v3AssetJSON(r *http.Request, a *hgAsset, key string) map[string]any {
	return map[string]any{"id": a.id, "name": a.name, "type": a.fileType, "owner": v3Username(key),
		"space_id": "space_" + v3Username(key), "uploaded_at": a.created.Unix(), "folder_id": nil, "url": assetURL(r, a)}
}

// v3AssetNotFound is v3's 404 for an asset, worded as HeyGen's live bodies are.
func v3AssetNotFound(id string) *apiError {
	return v3Error(http.StatusNotFound, "asset_not_found", "Asset "+id+" not found", "")
}

// v3GetAsset answers GET /v3/assets/{asset_id}.
func (s *Server) v3GetAsset(w http.ResponseWriter, c *call) error {
	a, ok := s.asset(c.key, c.params["asset_id"])
	if !ok {
		return v3AssetNotFound(c.params["asset_id"])
	}
	return v3Data(w, v3AssetJSON(c.r, a, c.key))
}

// v3ListAssets answers GET /v3/assets (beta; limit 1–100, default 20), newest first. The
// sandbox does not insist on the beta's username parameter.
func (s *Server) v3ListAssets(w http.ResponseWriter, c *call) error {
	assets := s.keyAssets(c.key, "")
	p, err := v3Paginate(c, len(assets), 20, 100)
	if err != nil {
		return err
	}
	items := make([]map[string]any, len(assets))
	for i := p.start; i < p.end; i++ {
		items[i] = v3AssetJSON(c.r, assets[i], c.key)
	}
	return v3List(w, items, p)
}

// v3DeleteAsset answers DELETE /v3/assets/{asset_id} with {"data":{"id"}}; the asset is gone
// from every surface, its file included.
func (s *Server) v3DeleteAsset(w http.ResponseWriter, c *call) error {
	id := c.params["asset_id"]
	if _, ok := s.asset(c.key, id); !ok {
		return v3AssetNotFound(id)
	}
	s.mu.Lock()
	delete(s.hg.assets, id)
	s.hg.assetOrder = slices.DeleteFunc(s.hg.assetOrder, func(a string) bool { return a == id })
	s.mu.Unlock()
	return v3Data(w, map[string]any{"id": id})
}
