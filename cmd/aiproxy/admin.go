package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/admin"
	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/catalog"
	"github.com/aiproxy/aiproxy/internal/httpapi"
	"github.com/aiproxy/aiproxy/internal/redis"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// adminFlags are shared by the management commands.
type adminFlags struct {
	store    storeFlags
	key      keyFlags
	org      string
	platform bool
	json     bool
}

func (f *adminFlags) register(fs *flag.FlagSet, e env, scoped bool) {
	f.store.register(fs, e, "aiproxy-data")
	f.key.register(fs, e)
	fs.BoolVar(&f.json, "json", false, "print JSON instead of a table")
	if scoped {
		fs.StringVar(&f.org, "org", e("AIPROXY_ORG"), orgActOn)
		fs.BoolVar(&f.platform, "platform", false, "act on the platform instead of an org")
	}
}

// owner returns the org the command acts on ("" for the platform).
func (f *adminFlags) owner() (string, error) {
	switch {
	case f.platform && f.org != "":
		return "", fmt.Errorf("give --org or --platform, not both")
	case !f.platform && f.org == "":
		return "", fmt.Errorf("give --org ORG or --platform")
	}
	return f.org, nil
}

// parseMixed parses flags that may come before or after positional
// arguments, and returns the positional ones.
func parseMixed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parsePositional parses flags like parseMixed and requires exactly n
// positional arguments, printing the usage otherwise.
func parsePositional(fs *flag.FlagSet, args []string, n int) ([]string, error) {
	pos, err := parseMixed(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != n {
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

// subcommand dispatches "aiproxy NOUN VERB ...".
func subcommand(ctx context.Context, noun string, args []string, e env, s stdio,
	verbs map[string]func(context.Context, []string, env, stdio) error) error {
	if len(args) > 0 {
		if fn, ok := verbs[args[0]]; ok {
			return fn(ctx, args[1:], e, s)
		}
	}
	names := make([]string, 0, len(verbs))
	for v := range verbs {
		names = append(names, v)
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		groupUsage(s.err, noun, sortStrings(names)) // help.go
		return errHelp
	}
	if len(args) > 0 {
		fmt.Fprintf(s.err, "aiproxy %s: unknown command %q\n\n", noun, args[0])
	}
	groupUsage(s.err, noun, sortStrings(names))
	return errUsage
}

func sortStrings(v []string) []string {
	for i := range v {
		for j := i + 1; j < len(v); j++ {
			if v[j] < v[i] {
				v[i], v[j] = v[j], v[i]
			}
		}
	}
	return v
}

func runOrg(ctx context.Context, args []string, e env, s stdio) error {
	return subcommand(ctx, "org", args, e, s, map[string]func(context.Context, []string, env, stdio) error{
		"create": orgCreate, "list": orgList, "settings": orgSettings,
	})
}

// orgSettings shows or changes an org's settings: the default and the
// longest life of the user tokens its keys mint (0 for the deployment's).
func orgSettings(ctx context.Context, args []string, e env, s stdio) error {
	var f adminFlags
	fs := newFlagSet("org settings", "org settings KEY [--user-token-ttl D] [--user-token-max-ttl D] [flags]", s)
	f.register(fs, e, false)
	ttl := fs.Duration("user-token-ttl", -1, "life of a user token minted without ttl_seconds; 0 for the deployment's")
	maxTTL := fs.Duration("user-token-max-ttl", -1, "longest life a user token may ask for; 0 for the deployment's")
	pos, err := parsePositional(fs, args, 1)
	if err != nil {
		return err
	}
	return withAdmin(ctx, &f, e, false, func(a *adminEnv) error {
		o, err := a.svc.Org(ctx, pos[0])
		if err != nil {
			return err
		}
		set := o.Settings
		if *ttl >= 0 {
			set.UserTokenTTL = *ttl
		}
		if *maxTTL >= 0 {
			set.UserTokenMaxTTL = *maxTTL
		}
		if set != o.Settings {
			if o, err = a.svc.SetOrgSettings(ctx, o.Key, set); err != nil {
				return err
			}
		}
		out := httpapi.OrgSettingsJSON{UserTokenTTLSeconds: int(o.Settings.UserTokenTTL.Seconds()),
			UserTokenMaxTTLSeconds: int(o.Settings.UserTokenMaxTTL.Seconds())}
		return a.print(s, out, "ORG\tUSER TOKEN TTL\tUSER TOKEN MAX TTL", func(row func(...any)) {
			row(o.Key, orDeployment(o.Settings.UserTokenTTL), orDeployment(o.Settings.UserTokenMaxTTL))
		})
	})
}

// orDeployment shows a setting, or that the deployment's applies.
func orDeployment(d time.Duration) string {
	if d == 0 {
		return "deployment's"
	}
	return d.String()
}

func orgCreate(ctx context.Context, args []string, e env, s stdio) error {
	var f adminFlags
	fs := newFlagSet("org create", "org create KEY [--name NAME] [flags]", s)
	f.register(fs, e, false)
	name := fs.String("name", "", "display name (default: the key)")
	pos, err := parsePositional(fs, args, 1)
	if err != nil {
		return err
	}
	return withAdmin(ctx, &f, e, false, func(a *adminEnv) error {
		o, err := a.svc.CreateOrg(ctx, pos[0], *name)
		if err != nil {
			return err
		}
		return a.print(s, httpapi.ToOrgJSON(o), "KEY\tNAME\tCREATED", func(row func(...any)) {
			row(o.Key, o.Name, o.CreatedAt.Format(time.RFC3339))
		})
	})
}

func orgList(ctx context.Context, args []string, e env, s stdio) error {
	var f adminFlags
	fs := newFlagSet("org list", "org list [flags]", s)
	f.register(fs, e, false)
	if _, err := parseMixed(fs, args); err != nil {
		return err
	}
	return withAdmin(ctx, &f, e, false, func(a *adminEnv) error {
		orgs, err := a.svc.Orgs(ctx)
		if err != nil {
			return err
		}
		rows := make([]httpapi.OrgJSON, 0, len(orgs))
		for _, o := range orgs {
			rows = append(rows, httpapi.ToOrgJSON(o))
		}
		return a.print(s, rows, "KEY\tNAME\tCREATED", func(row func(...any)) {
			for _, o := range orgs {
				row(o.Key, o.Name, o.CreatedAt.Format(time.RFC3339))
			}
		})
	})
}

func runKey(ctx context.Context, args []string, e env, s stdio) error {
	return subcommand(ctx, "key", args, e, s, map[string]func(context.Context, []string, env, stdio) error{
		"create": keyCreate, "list": keyList, "revoke": keyRevoke,
	})
}

func keyCreate(ctx context.Context, args []string, e env, s stdio) error {
	var f adminFlags
	fs := newFlagSet("key create", "key create (--org ORG | --platform) [--name NAME] [--role invoke|admin]", s)
	f.register(fs, e, true)
	name := fs.String("name", "", "a label for the key")
	role := fs.String("role", "", "invoke (default for org keys) or admin (platform keys are always admin)")
	testOnly := fs.Bool("test-only", false, "start provider jobs only in the provider's test mode (HeyGen test: true)")
	var life keyLifeFlags // audit.go
	life.register(fs)
	if _, err := parseMixed(fs, args); err != nil {
		return err
	}
	org, err := f.owner()
	if err != nil {
		return err
	}
	r := aiproxy.Role(*role)
	if r == "" && org == "" {
		r = aiproxy.RoleAdmin
	}
	return withAdmin(ctx, &f, e, false, func(a *adminEnv) error {
		opts, err := life.options(*testOnly)
		if err != nil {
			return err
		}
		full, k, err := a.svc.CreateKeyWith(ctx, org, *name, r, opts)
		if err != nil {
			return err
		}
		if f.json {
			row := httpapi.ToKeyJSON(k)
			row.Key = full
			return writeJSONTo(s.out, row)
		}
		fmt.Fprintf(s.err, "created %s key %s for %s; it is shown once, below:\n", k.Role, k.ID, ownerName(org))
		fmt.Fprintln(s.out, full)
		return nil
	})
}

func ownerName(org string) string {
	if org == "" {
		return "the platform"
	}
	return "org " + org
}

func keyList(ctx context.Context, args []string, e env, s stdio) error {
	var f adminFlags
	fs := newFlagSet("key list", "key list (--org ORG | --platform) [flags]", s)
	f.register(fs, e, true)
	if _, err := parseMixed(fs, args); err != nil {
		return err
	}
	org, err := f.owner()
	if err != nil {
		return err
	}
	return withAdmin(ctx, &f, e, false, func(a *adminEnv) error {
		keys, err := a.svc.Keys(ctx, org)
		if err != nil {
			return err
		}
		rows := make([]httpapi.KeyJSON, 0, len(keys))
		for _, k := range keys {
			rows = append(rows, httpapi.ToKeyJSON(k))
		}
		return a.print(s, rows, "ID\tNAME\tROLE\tCREATED\tLAST USED\tREVOKED", func(row func(...any)) {
			for _, k := range keys {
				row(k.ID, k.Name, k.Role, k.CreatedAt.Format(time.RFC3339), timeOrDash(k.LastUsedAt), timeOrDash(k.RevokedAt))
			}
		})
	})
}

func keyRevoke(ctx context.Context, args []string, e env, s stdio) error {
	var f adminFlags
	fs := newFlagSet("key revoke", "key revoke (--org ORG | --platform) ID", s)
	f.register(fs, e, true)
	pos, err := parsePositional(fs, args, 1)
	if err != nil {
		return err
	}
	org, err := f.owner()
	if err != nil {
		return err
	}
	return withAdmin(ctx, &f, e, false, func(a *adminEnv) error {
		k, err := a.svc.RevokeKey(ctx, org, pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(s.err, "revoked key %s\n", k.ID)
		return nil
	})
}

func runCredential(ctx context.Context, args []string, e env, s stdio) error {
	return subcommand(ctx, "credential", args, e, s, map[string]func(context.Context, []string, env, stdio) error{
		"set": credentialSet, "list": credentialList, "delete": credentialDelete, "pool": credentialPool,
	})
}

func sourceFor(org string) aiproxy.Source {
	if org == "" {
		return aiproxy.SourcePlatform
	}
	return aiproxy.SourceTenant
}

func credentialSet(ctx context.Context, args []string, e env, s stdio) error {
	var f adminFlags
	fs := newFlagSet("credential set", "credential set (--org ORG | --platform) NAME [--file FILE]\n\n"+
		"The secret is read from FILE or standard input, never from the command line: either the bare\n"+
		"provider key, or a JSON object shaped like the service's credential_schema, e.g. {\"key\":\"...\"},\n"+
		"or a pool of such keys: {\"keys\":[{\"id\":\"k1\",\"key\":\"...\",\"weight\":2,\"max_concurrency\":4},...]}", s)
	f.register(fs, e, true)
	file := fs.String("file", "", "read the secret from this file instead of standard input")
	pos, err := parsePositional(fs, args, 1)
	if err != nil {
		return err
	}
	org, err := f.owner()
	if err != nil {
		return err
	}
	value, err := readSecret(s.in, *file)
	if err != nil {
		return err
	}
	return withAdmin(ctx, &f, e, true, func(a *adminEnv) error {
		c, err := a.svc.SetCredential(ctx, sourceFor(org), org, pos[0], value)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.err, "stored %s credential %q for %s (%s)\n", c.Source, c.Name, ownerName(org), maskedText(c.Masked))
		return nil
	})
}

// readSecret reads a credential value: a JSON object, or a bare key that
// becomes {"key": ...}.
func readSecret(stdin io.Reader, file string) (aiproxy.CredentialValue, error) {
	var data []byte
	var err error
	if file != "" {
		data, err = os.ReadFile(file)
	} else {
		data, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
	}
	if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	text := strings.TrimSpace(string(data))
	if text == "" {
		return nil, fmt.Errorf("no secret given: pipe it on standard input or use --file")
	}
	if strings.HasPrefix(text, "{") {
		var v aiproxy.CredentialValue
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			return nil, fmt.Errorf("the secret looks like JSON but is not an object of strings, nor a pool of keys")
		}
		return v, nil
	}
	return aiproxy.CredentialValue{"key": text}, nil
}

func credentialList(ctx context.Context, args []string, e env, s stdio) error {
	var f adminFlags
	fs := newFlagSet("credential list", "credential list (--org ORG | --platform) [flags]", s)
	f.register(fs, e, true)
	if _, err := parseMixed(fs, args); err != nil {
		return err
	}
	org, err := f.owner()
	if err != nil {
		return err
	}
	return withAdmin(ctx, &f, e, false, func(a *adminEnv) error {
		creds, err := a.svc.Credentials(ctx, sourceFor(org), org)
		if err != nil {
			return err
		}
		rows := make([]httpapi.CredentialJSON, 0, len(creds))
		for _, c := range creds {
			rows = append(rows, httpapi.ToCredentialJSON(c))
		}
		return a.print(s, rows, "NAME\tSOURCE\tVALUE\tUPDATED", func(row func(...any)) {
			for _, c := range creds {
				row(c.Name, c.Source, maskedText(c.Masked), c.UpdatedAt.Format(time.RFC3339))
			}
		})
	})
}

func credentialDelete(ctx context.Context, args []string, e env, s stdio) error {
	var f adminFlags
	fs := newFlagSet("credential delete", "credential delete (--org ORG | --platform) NAME", s)
	f.register(fs, e, true)
	pos, err := parsePositional(fs, args, 1)
	if err != nil {
		return err
	}
	org, err := f.owner()
	if err != nil {
		return err
	}
	return withAdmin(ctx, &f, e, false, func(a *adminEnv) error {
		if err := a.svc.DeleteCredential(ctx, sourceFor(org), org, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(s.err, "deleted credential %q of %s\n", pos[0], ownerName(org))
		return nil
	})
}

// credentialPool shows a credential's keys with their health, or with
// --restore puts a resting or removed key back in use. Key health lives in
// Redis when the servers share one (--redis-url), else in each server's
// memory, which this command cannot read: it then shows the keys' state
// as unknown and cannot restore them (use the server's admin API).
func credentialPool(ctx context.Context, args []string, e env, s stdio) error {
	var f adminFlags
	fs := newFlagSet("credential pool", "credential pool (--org ORG | --platform) NAME [--restore KEY_ID] [flags]", s)
	f.register(fs, e, true)
	restore := fs.String("restore", "", "put this key of the pool back in use")
	redisURL := fs.String("redis-url", e("AIPROXY_REDIS_URL"), "the Redis the servers keep key health in [AIPROXY_REDIS_URL]")
	redisPrefix := fs.String("redis-prefix", envOr(e, "AIPROXY_REDIS_PREFIX", "aiproxy:"), "their Redis key prefix [AIPROXY_REDIS_PREFIX]")
	pos, err := parsePositional(fs, args, 1)
	if err != nil {
		return err
	}
	org, err := f.owner()
	if err != nil {
		return err
	}
	if err := redisURLErr("--redis-url", *redisURL); err != nil {
		return err
	}
	return withAdmin(ctx, &f, e, false, func(a *adminEnv) error {
		if *redisURL != "" {
			rc, err := redis.Open(*redisURL, redis.Options{Prefix: *redisPrefix})
			if err != nil {
				return err
			}
			defer rc.Close()
			a.svc.UseKeyHealth(rc.KeyHealth())
		}
		if *restore != "" {
			k, err := a.svc.RestoreKey(ctx, sourceFor(org), org, pos[0], *restore)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.err, "key %s of credential %q of %s is %s\n", k.Info.ID, pos[0], ownerName(org), k.Status.State)
			return nil
		}
		kp, err := a.svc.KeyPool(ctx, sourceFor(org), org, pos[0])
		if err != nil {
			return err
		}
		out := httpapi.ToPoolJSON(kp)
		return a.print(s, out, "ID\tKEY\tWEIGHT\tMAX\tSTATE\tIN FLIGHT\tUNTIL\tREASON", func(row func(...any)) {
			for _, k := range out.Keys {
				until := "-"
				if k.RestUntil != nil {
					until = k.RestUntil.Format(time.RFC3339)
				}
				row(orDash(k.ID), maskedText(k.Masked), k.Weight, k.MaxConcurrency, k.State, k.InFlight, until, orDash(k.Reason))
			}
		})
	})
}

func maskedText(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortStrings(keysOf(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// adminEnv is what a management command works with.
type adminEnv struct {
	svc  *admin.Service
	json bool
}

// mgmt is what every management command opens: the catalog, the store and,
// when the command seals or opens secrets, the vault.
type mgmt struct {
	cat   *catalog.Catalog
	db    aiproxy.Store
	vault *vault.Vault
}

// withMgmt opens what a management command needs, runs fn, and turns an
// aiproxy error into its client-safe message.
func withMgmt(ctx context.Context, f *adminFlags, e env, needVault bool, fn func(*mgmt) error) error {
	m := &mgmt{}
	var err error
	if needVault {
		if m.vault, err = f.key.vault(e); err != nil {
			return err
		}
	}
	if m.cat, err = loadCatalog(e("AIPROXY_CATALOG_DIR"), nil); err != nil {
		return err
	}
	if m.db, err = f.store.open(ctx); err != nil {
		return err
	}
	defer m.db.Close()
	err = fn(m)
	var ae *aiproxy.Error
	if errors.As(err, &ae) {
		return fmt.Errorf("%s", ae.Message)
	}
	return err
}

// withAdmin runs a management command on the admin service.
func withAdmin(ctx context.Context, f *adminFlags, e env, needVault bool, fn func(*adminEnv) error) error {
	return withMgmt(ctx, f, e, needVault, func(m *mgmt) error {
		return fn(&adminEnv{svc: adminService(m.db, m.vault, m.cat), json: f.json})
	})
}

// print writes rows as JSON or a table (print.go).
func (a *adminEnv) print(s stdio, rows any, header string, cells func(row func(cells ...any))) error {
	if a.json {
		return writeJSONTo(s.out, rows)
	}
	return table(s.out, header, cells)
}

// writeJSONTo writes v as indented JSON, with the characters a terminal
// would act on escaped (print.go).
func writeJSONTo(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(escapeJSON(b.Bytes()))
	return err
}
