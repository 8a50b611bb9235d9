package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"modernc.org/sqlite"
)

// openPool opens a database/sql pool on the driver's connections, each
// wrapped so that every error it returns passes through classify: a store
// method then hands its caller an error that says whether the database was
// unavailable without any store having to ask. reader marks the query_only
// pool, on which a refused write is a bug rather than an outage.
func openPool(dsn string, reader bool) (*sql.DB, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(&connector{Connector: base, reader: reader}), nil
}

// connector opens classifying connections.
type connector struct {
	driver.Connector
	reader bool
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, classify(err, c.reader)
	}
	return &conn{inner: dc, reader: c.reader}, nil
}

// conn forwards every interface the driver's connections implement (see
// sqlite.NewConnector), classifying errors on the way out.
type conn struct {
	inner  driver.Conn
	reader bool
}

var (
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
)

func (c *conn) err(err error) error { return classify(err, c.reader) }

// Unwrap returns the driver's connection, for code that looks through
// wrappers.
func (c *conn) Unwrap() driver.Conn { return c.inner }

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.inner.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, c.err(err)
	}
	return &stmt{inner: st, c: c}, nil
}

func (c *conn) Close() error { return c.inner.Close() }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	t, err := c.inner.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, c.err(err)
	}
	return &tx{inner: t, c: c}, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.inner.(driver.ExecerContext).ExecContext(ctx, query, args)
	return res, c.err(err)
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	r, err := c.inner.(driver.QueryerContext).QueryContext(ctx, query, args)
	if err != nil {
		return nil, c.err(err)
	}
	return &rows{Rows: r, c: c}, nil
}

func (c *conn) Ping(ctx context.Context) error { return c.err(c.inner.(driver.Pinger).Ping(ctx)) }

func (c *conn) ResetSession(ctx context.Context) error {
	return c.inner.(driver.SessionResetter).ResetSession(ctx)
}

func (c *conn) IsValid() bool { return c.inner.(driver.Validator).IsValid() }

type stmt struct {
	inner driver.Stmt
	c     *conn
}

func (s *stmt) Close() error  { return s.inner.Close() }
func (s *stmt) NumInput() int { return s.inner.NumInput() }

// Exec and Query complete driver.Stmt; database/sql calls the context
// forms below instead.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	//lint:ignore SA1019 driver.Stmt requires Exec; database/sql calls ExecContext.
	res, err := s.inner.Exec(args)
	return res, s.c.err(err)
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	//lint:ignore SA1019 driver.Stmt requires Query; database/sql calls QueryContext.
	r, err := s.inner.Query(args)
	if err != nil {
		return nil, s.c.err(err)
	}
	return &rows{Rows: r, c: s.c}, nil
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	res, err := s.inner.(driver.StmtExecContext).ExecContext(ctx, args)
	return res, s.c.err(err)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	r, err := s.inner.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, s.c.err(err)
	}
	return &rows{Rows: r, c: s.c}, nil
}

// rows classifies the errors of stepping through a result, where SQLite
// reports most of a query's failures.
type rows struct {
	driver.Rows
	c *conn
}

func (r *rows) Next(dest []driver.Value) error { return r.c.err(r.Rows.Next(dest)) }

type tx struct {
	inner driver.Tx
	c     *conn
}

func (t *tx) Commit() error   { return t.c.err(t.inner.Commit()) }
func (t *tx) Rollback() error { return t.c.err(t.inner.Rollback()) }
