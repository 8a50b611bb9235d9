package sandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// HeyGen's legacy webhook endpoints (/v1/webhook/endpoint.*): registered per key, listed,
// changed and removed; DeliverWebhooks (heygen_webhook.go) sends to them.

// hgWebhookEventNames are the legacy webhook events HeyGen lists.
var hgWebhookEventNames = []string{
	"avatar_video.success", "avatar_video.fail", "avatar_video_gif.success", "avatar_video_gif.fail",
	"video_translate.success", "video_translate.fail", "personalized_video",
}

// hgEndpoint is a registered webhook endpoint.
type hgEndpoint struct {
	key  string
	json endpointJSON
}

// endpointJSON is a webhook endpoint as HeyGen shows it.
type endpointJSON struct {
	EndpointID string   `json:"endpoint_id"`
	URL        string   `json:"url"`
	Secret     string   `json:"secret"`
	Status     string   `json:"status"`
	Events     []string `json:"events"`
	Username   string   `json:"username"`
	CreatedAt  string   `json:"created_at"`
}

// hgWebhookEvents answers GET /v1/webhook/webhook.list.
func (s *Server) hgWebhookEvents(w http.ResponseWriter, _ *call) error {
	return v1Data(w, hgWebhookEventNames)
}

// endpointBody is the body of endpoint.add and endpoint.update.
type endpointBody struct {
	EndpointID string   `json:"endpoint_id"`
	URL        *string  `json:"url"`
	Events     []string `json:"events"`
}

// readEndpointBody decodes and checks an endpoint body: url, when given (always, when
// needURL is set), is an http or https URL, and every event is one HeyGen lists.
func readEndpointBody(raw []byte, needURL bool) (endpointBody, error) {
	var body endpointBody
	if err := json.Unmarshal(raw, &body); err != nil {
		return body, v1Error(http.StatusBadRequest, 400175, "Invalid parameter: request body is not valid JSON")
	}
	if body.URL == nil && needURL {
		return body, v1Error(http.StatusBadRequest, 400175, "Invalid parameter: url")
	}
	if body.URL != nil {
		if u, err := url.Parse(*body.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return body, v1Error(http.StatusBadRequest, 400175, "Invalid parameter: url")
		}
	}
	for _, e := range body.Events {
		if !slices.Contains(hgWebhookEventNames, e) {
			return body, v1Error(http.StatusBadRequest, 400175, "Invalid parameter: unknown event "+e)
		}
	}
	return body, nil
}

// hgAddEndpoint answers POST /v1/webhook/endpoint.add. The sandbox does not probe the URL.
func (s *Server) hgAddEndpoint(w http.ResponseWriter, c *call) error {
	body, err := readEndpointBody(c.body, true)
	if err != nil {
		return err
	}
	if body.Events == nil {
		body.Events = hgWebhookEventNames
	}
	ep := endpointJSON{
		EndpointID: s.newID(lowerHex, 32), URL: *body.URL, Secret: s.newID(alnum, 32), Status: "enabled",
		Events: slices.Clone(body.Events), Username: "sandbox", CreatedAt: s.now().UTC().Format(time.RFC3339),
	}
	s.mu.Lock()
	s.hg.endpoints = append(s.hg.endpoints, hgEndpoint{key: c.key, json: ep})
	s.mu.Unlock()
	return v1Data(w, ep)
}

// hgListEndpoints answers GET /v1/webhook/endpoint.list.
func (s *Server) hgListEndpoints(w http.ResponseWriter, c *call) error {
	s.mu.Lock()
	out := []endpointJSON{}
	for _, ep := range s.hg.endpoints {
		if ep.key == c.key {
			out = append(out, ep.json)
		}
	}
	s.mu.Unlock()
	return v1Data(w, out)
}

// hgDeleteEndpoint answers DELETE /v1/webhook/endpoint.delete.
func (s *Server) hgDeleteEndpoint(w http.ResponseWriter, c *call) error {
	id := c.r.URL.Query().Get("endpoint_id")
	if id == "" {
		return v1Error(http.StatusBadRequest, 40001, "Missing required parameter: endpoint_id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.hg.endpoints)
	s.hg.endpoints = slices.DeleteFunc(s.hg.endpoints, func(ep hgEndpoint) bool {
		return ep.key == c.key && ep.json.EndpointID == id
	})
	if len(s.hg.endpoints) == n {
		return v1Error(http.StatusNotFound, 404, "Webhook endpoint not found")
	}
	return v1Data(w, nil)
}

// hgUpdateEndpoint answers PATCH /v1/webhook/endpoint.update: the endpoint named by
// endpoint_id (in the body, or the query [INF]) gets the url and the events given; events
// replace the old list. The answer is the endpoint as endpoint.list shows it.
func (s *Server) hgUpdateEndpoint(w http.ResponseWriter, c *call) error {
	body, err := readEndpointBody(c.body, false)
	if err != nil {
		return err
	}
	id := body.EndpointID
	if id == "" {
		id = c.r.URL.Query().Get("endpoint_id")
	}
	if id == "" {
		return v1Error(http.StatusBadRequest, 40001, "Missing required parameter: endpoint_id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.hg.endpoints, func(ep hgEndpoint) bool { return ep.key == c.key && ep.json.EndpointID == id })
	if i < 0 {
		return v1Error(http.StatusNotFound, 404, "Webhook endpoint not found")
	}
	ep := &s.hg.endpoints[i].json
	if body.URL != nil {
		ep.URL = *body.URL
	}
	if body.Events != nil {
		ep.Events = slices.Clone(body.Events)
	}
	return v1Data(w, *ep)
}
