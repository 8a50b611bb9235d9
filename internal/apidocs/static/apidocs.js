// apidocs.js starts Swagger UI (SwaggerUIBundle, from the vendored
// swagger-ui-dist) on this page and points it at the live OpenAPI document,
// GET /api/ai-proxy/openapi.json, found relative to the page so that a
// path prefix in front of aiproxy keeps working.
'use strict';

window.ui = window.SwaggerUIBundle({
  url: new URL('../openapi.json', document.baseURI).href,
  dom_id: '#api',
  // Links like #/heygen/invokeHeygenGenerateVideo open that operation.
  deepLinking: true,
  // A box to filter the operations by tag.
  filter: true,
  // The default would load a badge from validator.swagger.io, which the
  // content security policy refuses; the document is validated by
  // aiproxy's own tests.
  validatorUrl: null,
  // The page shows only aiproxy's document: ?url= and ?configUrl= are
  // not read.
  queryConfigEnabled: false,
  // An API key typed into Authorize lives in this page only, never in
  // localStorage.
  persistAuthorization: false,
  displayRequestDuration: true,
  defaultModelsExpandDepth: 0,
});
