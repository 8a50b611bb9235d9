// Package pgtest gives tests a private schema on a real PostgreSQL server.
// The server is named by the AIPROXY_TEST_POSTGRES_URL environment variable;
// without it the tests that ask for a schema skip, so that the default
// go test ./... needs no database.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the environment variable that holds the test server's URL,
// for example postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvVar = "AIPROXY_TEST_POSTGRES_URL"

// URL creates a fresh, empty schema on the test server and returns a database
// URL whose search_path selects it. The schema is dropped when the test
// ends. Without AIPROXY_TEST_POSTGRES_URL the test is skipped.
func URL(t testing.TB) string {
	t.Helper()
	Require(t)
	base := os.Getenv(EnvVar)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", EnvVar, err)
	}
	schema := "aiproxy_test_" + randomHex(8)
	exec(t, base, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize())
	t.Cleanup(func() {
		exec(t, base, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Require skips the test unless AIPROXY_TEST_POSTGRES_URL names a server.
func Require(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvVar) == "" {
		t.Skip("set " + EnvVar + " (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the Postgres tests")
	}
}

// exec runs one statement on its own connection.
func exec(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
