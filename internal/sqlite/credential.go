package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

const credentialColumns = `source, org_key, name, sealed, masked, created_at, updated_at`

// PutCredential creates or replaces a credential, keeping the CreatedAt of
// the one it replaces. A tenant credential's org must exist, or it returns
// aiproxy.ErrNotFound; a platform credential must not name an org.
func (db *DB) PutCredential(ctx context.Context, c aiproxy.Credential) error {
	if err := checkOwner(c.Source, c.OrgKey); err != nil {
		return fmt.Errorf("put credential %q: %w", c.Name, err)
	}
	masked, err := json.Marshal(nonNilMap(c.Masked))
	if err != nil {
		return fmt.Errorf("put credential %q: masked preview: %w", c.Name, err)
	}
	// The conflict target is the expression index credentials_identity.
	_, err = db.write.ExecContext(ctx, `
		INSERT INTO credentials (`+credentialColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source, ifnull(org_key, ''), name) DO UPDATE SET
			sealed = excluded.sealed,
			masked = excluded.masked,
			updated_at = excluded.updated_at`,
		string(c.Source), orgKey(c.OrgKey), c.Name, nonNil(c.Sealed), string(masked),
		millis(c.CreatedAt), millis(c.UpdatedAt))
	if isForeignKeyViolation(err) {
		return fmt.Errorf("put credential %q: org %q: %w", c.Name, c.OrgKey, aiproxy.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("put credential %q: %w", c.Name, err)
	}
	return nil
}

// checkOwner rejects a source and org that no row can have: a tenant
// credential of no org belongs to an org that does not exist, and a platform
// credential belongs to no org.
func checkOwner(src aiproxy.Source, org string) error {
	switch {
	case src == aiproxy.SourceTenant && org == "":
		return fmt.Errorf("tenant credential without an org: %w", aiproxy.ErrNotFound)
	case src == aiproxy.SourcePlatform && org != "":
		return fmt.Errorf("platform credential cannot belong to org %q", org)
	case !aiproxy.ValidSource(src):
		return fmt.Errorf("unknown credential source %q", src)
	}
	return nil
}

// Credential returns one credential, or aiproxy.ErrNotFound.
func (db *DB) Credential(ctx context.Context, src aiproxy.Source, org, name string) (aiproxy.Credential, error) {
	row := db.queryRow(ctx, `
		SELECT `+credentialColumns+` FROM credentials
		WHERE source = ? AND org_key IS ? AND name = ?`,
		string(src), orgKey(org), name)
	c, err := scanCredential(row)
	if errors.Is(err, sql.ErrNoRows) {
		return aiproxy.Credential{}, fmt.Errorf("%s credential %q of org %q: %w", src, name, org, aiproxy.ErrNotFound)
	}
	if err != nil {
		return aiproxy.Credential{}, fmt.Errorf("%s credential %q of org %q: %w", src, name, org, err)
	}
	return c, nil
}

// Credentials lists one org's (or the platform's, for "") credentials of a
// source, ordered by name.
func (db *DB) Credentials(ctx context.Context, src aiproxy.Source, org string) ([]aiproxy.Credential, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT `+credentialColumns+` FROM credentials
		WHERE source = ? AND org_key IS ?
		ORDER BY name`,
		string(src), orgKey(org))
	if err != nil {
		return nil, fmt.Errorf("list %s credentials of org %q: %w", src, org, err)
	}
	defer rows.Close()
	var out []aiproxy.Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, fmt.Errorf("list %s credentials of org %q: %w", src, org, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s credentials of org %q: %w", src, org, err)
	}
	return out, nil
}

// DeleteCredential removes a credential, or returns aiproxy.ErrNotFound.
func (db *DB) DeleteCredential(ctx context.Context, src aiproxy.Source, org, name string) error {
	res, err := db.write.ExecContext(ctx, `
		DELETE FROM credentials WHERE source = ? AND org_key IS ? AND name = ?`,
		string(src), orgKey(org), name)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("delete %s credential %q of org %q: %w", src, name, org, err)
	}
	return nil
}

// scanCredential reads the columns of credentialColumns into a credential.
func scanCredential(s scanner) (aiproxy.Credential, error) {
	var (
		c                aiproxy.Credential
		src, masked      string
		org              sql.NullString
		created, updated sql.NullInt64
	)
	if err := s.Scan(&src, &org, &c.Name, &c.Sealed, &masked, &created, &updated); err != nil {
		return aiproxy.Credential{}, err
	}
	c.Source = aiproxy.Source(src)
	c.OrgKey = org.String
	if err := json.Unmarshal([]byte(masked), &c.Masked); err != nil {
		return aiproxy.Credential{}, fmt.Errorf("masked preview of %q: %w", c.Name, err)
	}
	c.Masked = nonNilMap(c.Masked)
	c.CreatedAt = fromMillis(created)
	c.UpdatedAt = fromMillis(updated)
	return c, nil
}

// nonNilMap returns m, or an empty map for nil, so that a stored preview is
// always a JSON object.
func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
