package httpapi

import (
	"net/http"

	"github.com/aiproxy/aiproxy/internal/openapi"
)

// apiVersion is the info.version of the OpenAPI document.
const apiVersion = "1"

// openAPIRoutes registers GET /api/ai-proxy/openapi.json, the OpenAPI 3.1
// description built from the catalog. It needs no key: it holds nothing the
// catalog files do not. The catalog never changes once loaded, so the
// document is built once.
func (s *server) openAPIRoutes() {
	doc, err := openapi.Build(s.cfg.Catalog.Services(), apiVersion)
	s.mux.Handle("GET "+base+"/openapi.json", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(doc)
		return nil
	}))
}
