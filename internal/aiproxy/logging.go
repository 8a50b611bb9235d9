package aiproxy

import (
	"context"
	"log/slog"
)

// The types below that hold secrets format themselves for log/slog, so
// that logging one whole can never print its secret: redaction by
// construction rather than by care at every call.

// LogValue shows a credential value's masked preview only.
func (v CredentialValue) LogValue() slog.Value { return slog.AnyValue(v.Masked()) }

// String shows a credential value's masked preview only, for fmt.
func (v CredentialValue) String() string { return slog.AnyValue(v.Masked()).String() }

// LogValue shows a credential's identity and masked preview, never its
// sealed blob.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("source", string(c.Source)), slog.String("org", c.OrgKey),
		slog.String("name", c.Name), slog.Any("masked", c.Masked))
}

// LogValue shows a key's identity and state, never its secret's hash.
func (k APIKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("org", k.OrgKey), slog.String("role", string(k.Role)),
		slog.Bool("revoked", k.Revoked()))
}

type requestIDKey struct{}

// WithRequestID returns a context that carries the id of the request it
// serves, so that logs written deep in the call can name it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id a context carries, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestIDHandler wraps a slog handler to add the request_id attribute
// to every record logged with a context that carries one.
func RequestIDHandler(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestIDFrom(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == "request_id"
			return !has
		})
		if !has {
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
