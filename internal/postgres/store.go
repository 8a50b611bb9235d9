package postgres

import "github.com/aiproxy/aiproxy/internal/aiproxy"

// DB implements every store contract at once, so that the wiring holds one
// aiproxy.Store and never asks at run time what an engine can do.
var _ aiproxy.Store = (*DB)(nil)
