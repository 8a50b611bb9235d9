package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache holds prepared statements for the reads on every request's
// path (a key, a credential), so that SQLite parses each query once per
// pooled connection instead of on every call: parsing was most of a
// lookup's cost. Its zero value is ready to use.
type stmtCache struct {
	m sync.Map // query text → *sql.Stmt
}

// queryRow runs a read through a prepared statement. If preparing fails,
// it runs the query unprepared, so that the error surfaces from Scan as it
// would have.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st, ok := db.stmts.m.Load(query); ok {
		return st.(*sql.Stmt).QueryRowContext(ctx, args...)
	}
	st, err := db.read.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return db.read.QueryRowContext(ctx, query, args...)
	}
	if prev, loaded := db.stmts.m.LoadOrStore(query, st); loaded {
		st.Close()
		st = prev.(*sql.Stmt)
	}
	return st.QueryRowContext(ctx, args...)
}

// writeStmt returns a statement prepared once on the write connection,
// for writes a busy server runs many times a second. Call it before the
// transaction begins: the write pool has one connection, which a
// transaction holds. Inside the transaction, tx.StmtContext reuses the
// statement on that connection.
func (db *DB) writeStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if v, ok := db.writeStmts.m.Load(query); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := db.write.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.writeStmts.m.LoadOrStore(query, st); loaded {
		st.Close()
		st = prev.(*sql.Stmt)
	}
	return st, nil
}

// closeStmts closes the prepared statements.
func (db *DB) closeStmts() {
	for _, c := range []*stmtCache{&db.stmts, &db.writeStmts} {
		c.m.Range(func(k, v any) bool {
			v.(*sql.Stmt).Close()
			c.m.Delete(k)
			return true
		})
	}
}
