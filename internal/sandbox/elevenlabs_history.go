package sandbox

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ElevenLabs' speech history (GET/DELETE /v1/history…): every text-to-speech generation made
// with logging on becomes an item of its key's history, named by the history-item-id header
// of the generation's answer. The audio is not stored: synthesis is deterministic, so the
// item keeps what made it and renders the same bytes again.

// elHistoryCap is how many items the sandbox keeps per key: past a tenth more, the oldest
// are dropped, so that long benchmarks do not grow without bound.
const elHistoryCap = 5000

// elHistoryItem is one generation in a key's history.
type elHistoryItem struct {
	id, requestID, text string
	voice               elVoice
	modelID             string
	format              outputFormat
	date                time.Time
	from, to            int // character_count before and after the generation
	settings            voiceSettingsJSON
}

// addHistory records a generation in key's history and returns the new item's id.
func (s *Server) addHistory(key string, job ttsJob, requestID string, from, to int, settings voiceSettingsJSON) string {
	item := &elHistoryItem{id: s.newID(alnum, 20), requestID: requestID, text: job.text, voice: job.voice,
		modelID: job.model.ID, format: job.format, date: s.now(), from: from, to: to, settings: settings}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.elAccountLocked(key)
	a.history = append(a.history, item)
	if len(a.history) > elHistoryCap+elHistoryCap/10 {
		a.history = slices.Delete(a.history, 0, len(a.history)-elHistoryCap)
	}
	return item.id
}

// ttsSettings returns the voice settings a text-to-speech body asked for, over the defaults.
// The body has been validated already.
func ttsSettings(body []byte) voiceSettingsJSON {
	out := defaultSettings()
	var b struct {
		VoiceSettings *struct {
			Stability       *float64 `json:"stability"`
			SimilarityBoost *float64 `json:"similarity_boost"`
			Style           *float64 `json:"style"`
			UseSpeakerBoost *bool    `json:"use_speaker_boost"`
			Speed           *float64 `json:"speed"`
		} `json:"voice_settings"`
	}
	if json.Unmarshal(body, &b) != nil || b.VoiceSettings == nil {
		return out
	}
	vs := b.VoiceSettings
	setIf(&out.Stability, vs.Stability)
	setIf(&out.SimilarityBoost, vs.SimilarityBoost)
	setIf(&out.Style, vs.Style)
	setIf(&out.UseSpeakerBoost, vs.UseSpeakerBoost)
	setIf(&out.Speed, vs.Speed)
	return out
}

// setIf sets *dst to *v when v is not nil.
func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// historyJSON is SpeechHistoryItemResponseModel.
func historyJSON(it *elHistoryItem) map[string]any {
	return map[string]any{
		"history_item_id": it.id, "request_id": it.requestID, "voice_id": it.voice.ID, "model_id": it.modelID,
		"voice_name": it.voice.Name, "voice_category": it.voice.Category, "text": it.text,
		"date_unix": it.date.Unix(), "character_count_change_from": it.from, "character_count_change_to": it.to,
		"content_type": it.format.contentType(), "state": "created", "settings": it.settings,
		"feedback": nil, "share_link_id": nil, "source": "TTS", "alignments": nil, "dialogue": nil,
	}
}

// historyNotFound is the 404 for an id that is not in the caller's history [INF: the
// reference does not show this body].
func historyNotFound(id string) *apiError {
	return detailError(http.StatusNotFound, "history_item_not_found", "Could not find history item with id "+id+".")
}

// historyQuery is GET /v1/history's validated query.
type historyQuery struct {
	pageSize                    int
	startAfter, voiceID, search string
}

// readHistoryQuery validates page_size (1–1000, default 100) and source (TTS or STS) the
// pydantic way.
func readHistoryQuery(c *call) (historyQuery, error) {
	q := c.r.URL.Query()
	hq := historyQuery{pageSize: 100, startAfter: q.Get("start_after_history_item_id"),
		voiceID: q.Get("voice_id"), search: strings.ToLower(q.Get("search"))}
	var items []validationItem
	if raw := q.Get("page_size"); raw != "" {
		n, err := strconv.Atoi(raw)
		switch {
		case err != nil:
			items = append(items, validationItem{Type: "int_parsing", Loc: []any{"query", "page_size"},
				Msg: "Input should be a valid integer, unable to parse string as an integer", Input: raw})
		default:
			if item, bad := rangeItem([]any{"query", "page_size"}, float64(n), 1, 1000); bad {
				item.Input = raw
				items = append(items, item)
			}
			hq.pageSize = n
		}
	}
	if src := q.Get("source"); src != "" && src != "TTS" && src != "STS" {
		items = append(items, enumItem([]any{"query", "source"}, src, []string{"TTS", "STS"}))
	}
	if len(items) > 0 {
		return historyQuery{}, validationError(items)
	}
	return hq, nil
}

// elListHistory answers GET /v1/history: newest first, filtered by voice_id, search and
// source, a page of page_size after start_after_history_item_id. An unknown start id is 400
// invalid_history_item_id [INF].
func (s *Server) elListHistory(w http.ResponseWriter, c *call) error {
	hq, err := readHistoryQuery(c)
	if err != nil {
		return err
	}
	source := c.r.URL.Query().Get("source")
	s.mu.Lock()
	var matched []*elHistoryItem
	for _, it := range slices.Backward(s.elAccountLocked(c.key).history) {
		if (hq.voiceID == "" || it.voice.ID == hq.voiceID) && strings.Contains(strings.ToLower(it.text), hq.search) && source != "STS" {
			matched = append(matched, it)
		}
	}
	s.mu.Unlock()
	start := 0
	if hq.startAfter != "" {
		i := slices.IndexFunc(matched, func(it *elHistoryItem) bool { return it.id == hq.startAfter })
		if i < 0 {
			return detailError(http.StatusBadRequest, "invalid_history_item_id",
				"The history item "+hq.startAfter+" given as start_after_history_item_id does not exist.")
		}
		start = i + 1
	}
	end := min(len(matched), start+hq.pageSize)
	page := make([]map[string]any, 0, end-start)
	var last any
	for _, it := range matched[start:end] {
		page = append(page, historyJSON(it))
		last = it.id
	}
	writeJSON(w, http.StatusOK, map[string]any{"history": page, "last_history_item_id": last, "has_more": end < len(matched)})
	return nil
}

// historyItem finds id in the caller's history.
func (s *Server) historyItem(c *call) (*elHistoryItem, error) {
	id := c.params["history_item_id"]
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.elAccountLocked(c.key).history
	if i := slices.IndexFunc(h, func(it *elHistoryItem) bool { return it.id == id }); i >= 0 {
		return h[i], nil
	}
	return nil, historyNotFound(id)
}

// elGetHistoryItem answers GET /v1/history/{history_item_id}.
func (s *Server) elGetHistoryItem(w http.ResponseWriter, c *call) error {
	it, err := s.historyItem(c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, historyJSON(it))
	return nil
}

// elHistoryAudio answers GET /v1/history/{history_item_id}/audio with the generation's
// audio, byte for byte what the generation returned.
func (s *Server) elHistoryAudio(w http.ResponseWriter, c *call) error {
	it, err := s.historyItem(c)
	if err != nil {
		return err
	}
	audio := synthesize(it.text, it.voice.ID, it.modelID, it.format).audio
	writeRaw(w, &apiError{status: http.StatusOK, contentType: it.format.contentType(), body: audio})
	return nil
}

// elDeleteHistoryItem answers DELETE /v1/history/{history_item_id}.
func (s *Server) elDeleteHistoryItem(w http.ResponseWriter, c *call) error {
	id := c.params["history_item_id"]
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.elAccountLocked(c.key)
	n := len(a.history)
	a.history = slices.DeleteFunc(a.history, func(it *elHistoryItem) bool { return it.id == id })
	if len(a.history) == n {
		return historyNotFound(id)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
