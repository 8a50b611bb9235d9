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
	"text/tabwriter"

	"github.com/aiproxy/aiproxy/client"
)

// clientFlags are the flags of the commands that talk to a running server.
// The key is read only from AIPROXY_API_KEY, never from a flag, since argv
// is visible to every user of the machine.
type clientFlags struct {
	url, org string
	json     bool
	key      string
}

func (f *clientFlags) register(fs *flag.FlagSet, e env) {
	fs.StringVar(&f.url, "url", e("AIPROXY_URL"), "server base URL [AIPROXY_URL]")
	fs.StringVar(&f.org, "org", e("AIPROXY_ORG"), orgActOn)
	fs.BoolVar(&f.json, "json", false, "print machine-readable JSON on stdout")
	f.key = e("AIPROXY_API_KEY")
}

func (f *clientFlags) client() (*client.Client, error) {
	c, err := client.New(client.Config{URL: f.url, Org: f.org, APIKey: f.key, UserAgent: "aiproxy-cli/" + version})
	if err != nil {
		return nil, fmt.Errorf("%w (set AIPROXY_URL, AIPROXY_ORG and AIPROXY_API_KEY)", err)
	}
	return c, nil
}

// apiError turns a client error into one line for people, without the
// client's own prefix.
func apiError(err error) error {
	var e *client.Error
	if errors.As(err, &e) {
		return fmt.Errorf("%s (HTTP %d, %s)", e.Detail, e.Status, e.Code)
	}
	return err
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runServices(ctx context.Context, args []string, e env, s stdio) error {
	var f clientFlags
	fs := newFlagSet("services", "services [SERVICE] [flags]", s)
	f.register(fs, e)
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		fs.Usage()
		return errUsage
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		list, err := c.Services(ctx)
		if err != nil {
			return apiError(err)
		}
		if f.json {
			return printJSON(s.out, list)
		}
		tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SERVICE\tNAME\tTYPE\tENDPOINTS\tASYNC\tSTREAMING")
		for _, svc := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", svc.Slug, svc.DisplayName, svc.ServiceType, svc.EndpointCount, yesNo(svc.SupportsAsyncJobs), yesNo(svc.SupportsStreaming))
		}
		return tw.Flush()
	}
	d, err := c.Service(ctx, pos[0])
	if err != nil {
		return apiError(err)
	}
	if f.json {
		return printJSON(s.out, d)
	}
	fmt.Fprintf(s.out, "%s (%s): %s, %d endpoints, timeout %ds, credential %q\n\n",
		d.DisplayName, d.Slug, d.ServiceType, len(d.Endpoints), d.DefaultTimeoutSeconds, d.CredentialName)
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tMETHOD\tUPSTREAM PATH\tREQUEST\tRESPONSE\tCALLBACK")
	for _, ep := range d.Endpoints {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ep.Slug, ep.HTTPMethod, ep.PathTemplate, ep.RequestMode, ep.ResponseMode, ep.CallbackMode)
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// pairFlag collects repeatable key=value flags.
type pairFlag map[string]string

func (p pairFlag) String() string { return "" }

func (p pairFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	p[k] = val
	return nil
}

// readArg returns s, or the contents of the file s names after '@'
// ("@-" is standard input).
func readArg(s string, stdin io.Reader) ([]byte, error) {
	name, ok := strings.CutPrefix(s, "@")
	if !ok {
		return []byte(s), nil
	}
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}

// callFlags are the envelope and output flags of call.
type callFlags struct {
	body, envelope, out string
	query, path, header pairFlag
}

// buildEnvelope merges the flags over the --envelope file.
func (f *callFlags) buildEnvelope(stdin io.Reader) (client.Envelope, error) {
	var env client.Envelope
	if f.envelope != "" {
		data, err := readArg(f.envelope, stdin)
		if err != nil {
			return env, fmt.Errorf("--envelope: %w", err)
		}
		var raw struct {
			Body       json.RawMessage   `json:"body"`
			Query      map[string]any    `json:"query"`
			Headers    map[string]string `json:"headers"`
			PathParams map[string]string `json:"path_params"`
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&raw); err != nil {
			return env, fmt.Errorf("--envelope: %w", err)
		}
		env = client.Envelope{Query: raw.Query, Headers: raw.Headers, PathParams: raw.PathParams}
		if len(raw.Body) > 0 {
			env.Body = raw.Body
		}
	}
	if f.body != "" {
		data, err := readArg(f.body, stdin)
		if err != nil {
			return env, fmt.Errorf("--body: %w", err)
		}
		if !json.Valid(data) {
			return env, errors.New("--body must be JSON")
		}
		env.Body = json.RawMessage(data)
	}
	for k, v := range f.query {
		if env.Query == nil {
			env.Query = map[string]any{}
		}
		env.Query[k] = v
	}
	env.PathParams = merge(env.PathParams, f.path)
	env.Headers = merge(env.Headers, f.header)
	return env, nil
}

func merge(dst, src map[string]string) map[string]string {
	for k, v := range src {
		if dst == nil {
			dst = map[string]string{}
		}
		dst[k] = v
	}
	return dst
}

func runCall(ctx context.Context, args []string, e env, s stdio) error {
	var f clientFlags
	cf := callFlags{query: pairFlag{}, path: pairFlag{}, header: pairFlag{}}
	fs := newFlagSet("call", "call SERVICE ACTION [flags]", s)
	f.register(fs, e)
	fs.StringVar(&cf.body, "body", "", "the provider request body: JSON, or @FILE")
	fs.Var(cf.query, "query", "KEY=VALUE query parameter; repeatable")
	fs.Var(cf.path, "path", "KEY=VALUE path parameter; repeatable")
	fs.Var(cf.header, "header", "KEY=VALUE request header; repeatable")
	fs.StringVar(&cf.envelope, "envelope", "", "@FILE holding a whole envelope {body, query, headers, path_params}; flags override it")
	fs.StringVar(&cf.out, "o", "", "write the answer to FILE ('-' for stdout); needed for binary answers")
	pos, err := parsePositional(fs, args, 2)
	if err != nil {
		return err
	}
	env, err := cf.buildEnvelope(s.in)
	if err != nil {
		return err
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	resp, err := c.Invoke(ctx, pos[0], pos[1], env)
	if err != nil {
		if f.json {
			printErrorJSON(s.out, err)
		}
		return apiError(err)
	}
	defer resp.Close()
	return writeAnswer(resp, cf.out, f.json, s)
}

// printErrorJSON prints an API error as {"status","code","detail"}.
func printErrorJSON(w io.Writer, err error) {
	var e *client.Error
	if errors.As(err, &e) {
		_ = printJSON(w, map[string]any{"status": e.Status, "code": e.Code, "detail": e.Detail})
	}
}

// writeAnswer prints a JSON answer (indented for people, verbatim with
// --json) or saves any answer to a file.
func writeAnswer(resp *client.Response, out string, asJSON bool, s stdio) error {
	switch {
	case out == "-":
		_, err := io.Copy(s.out, resp.Body)
		return err
	case out != "":
		n, err := saveFile(out, resp.Body)
		if err != nil {
			return err
		}
		return reportFile(s, asJSON, fileReport{File: out, Bytes: n, ContentType: resp.Header.Get("Content-Type")})
	case !resp.IsJSON():
		return fmt.Errorf("the answer is %s, not JSON: save it with -o FILE", resp.Header.Get("Content-Type"))
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if asJSON {
		_, err = s.out.Write(append(bytes.TrimSpace(data), '\n'))
		return err
	}
	var buf bytes.Buffer
	if json.Indent(&buf, data, "", "  ") != nil {
		buf.Reset()
		buf.Write(data)
	}
	buf.WriteByte('\n')
	_, err = s.out.Write(buf.Bytes())
	return err
}

// fileReport is what --json prints after saving a file.
type fileReport struct {
	File        string `json:"file"`
	Bytes       int64  `json:"bytes"`
	ContentType string `json:"content_type"`
}

func reportFile(s stdio, asJSON bool, r fileReport) error {
	if asJSON {
		return printJSON(s.out, r)
	}
	fmt.Fprintf(s.err, "wrote %s (%s, %s)\n", r.File, humanBytes(r.Bytes), r.ContentType)
	return nil
}

// saveFile writes r to path through a temporary file, so that a failed
// download never leaves a truncated file under the final name.
func saveFile(path string, r io.Reader) (int64, error) {
	tmp, err := os.CreateTemp(dirOf(path), ".aiproxy-*")
	if err != nil {
		return 0, fmt.Errorf("save %s: %w", path, err)
	}
	n, err := io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return n, fmt.Errorf("save %s: %w", path, err)
	}
	return n, nil
}

func dirOf(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[:i+1]
	}
	return "."
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
