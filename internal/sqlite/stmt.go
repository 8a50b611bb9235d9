package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache holds prepared statements for the queries a busy server runs
// all the time (the reads on every request's path, a key and a credential;
// the usage INSERTs), so that SQLite parses each once per pooled
// connection instead of on every call: parsing was most of a lookup's
// cost. Its zero value is ready to use.
type stmtCache struct {
	m sync.Map // query text → *sql.Stmt
}

// get returns query's statement prepared on pool, preparing it on first
// use.
func (c *stmtCache) get(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, error) {
	if v, ok := c.m.Load(query); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := pool.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.m.LoadOrStore(query, st); loaded {
		st.Close()
		st = prev.(*sql.Stmt)
	}
	return st, nil
}

// close closes the cached statements.
func (c *stmtCache) close() {
	c.m.Range(func(k, v any) bool {
		v.(*sql.Stmt).Close()
		c.m.Delete(k)
		return true
	})
}

// queryRow runs a read through a prepared statement. If preparing fails,
// it runs the query unprepared, so that the error surfaces from Scan as it
// would have.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := db.stmts.get(ctx, db.read, query)
	if err != nil {
		return db.read.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// writeStmt returns a statement prepared once on the write connection,
// for writes a busy server runs many times a second. Call it before the
// transaction begins: the write pool has one connection, which a
// transaction holds. Inside the transaction, tx.StmtContext reuses the
// statement on that connection.
func (db *DB) writeStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	return db.writeStmts.get(ctx, db.write, query)
}

// closeStmts closes the prepared statements.
func (db *DB) closeStmts() {
	db.stmts.close()
	db.writeStmts.close()
}
