package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// nginxConf is the reference proxy's configuration: plain reverse proxying
// to the sandbox with the provider key injected per service, keep-alive
// upstream connections, unbuffered responses read 32 KiB at a time (as aiproxy streams them) and
// a buffered access log (as aiproxy writes one line per request).
var nginxConf = template.Must(template.New("nginx").Parse(`
{{if .Root}}user root root;{{end}}
worker_processes 2;
worker_rlimit_nofile 65536;
error_log {{.Dir}}/error.log warn;
pid {{.Dir}}/nginx.pid;
events { worker_connections 30000; multi_accept on; }
http {
  access_log {{.Dir}}/access.log combined buffer=64k flush=1s;
  client_body_temp_path {{.Dir}}/tmp/body;
  proxy_temp_path {{.Dir}}/tmp/proxy;
  fastcgi_temp_path {{.Dir}}/tmp/fastcgi;
  uwsgi_temp_path {{.Dir}}/tmp/uwsgi;
  scgi_temp_path {{.Dir}}/tmp/scgi;
  client_max_body_size 64m;
  keepalive_requests 1000000;
  upstream sandbox { server {{.Upstream}}; keepalive 512; keepalive_requests 1000000; }
  server {
    listen {{.Listen}} backlog=16384;
    proxy_http_version 1.1;
    proxy_buffering off;
    proxy_buffer_size 32k;
    proxy_buffers 8 32k;
    proxy_request_buffering off;
    proxy_read_timeout 120s;
    location /heygen/ {
      proxy_set_header Host "{{.Upstream}}";
      proxy_set_header Connection "";
      proxy_set_header X-Api-Key "{{.HeyGenKey}}";
      proxy_pass http://sandbox;
    }
    location /elevenlabs/ {
      proxy_set_header Host "{{.Upstream}}";
      proxy_set_header Connection "";
      proxy_set_header xi-api-key "{{.ElevenLabsKey}}";
      proxy_pass http://sandbox;
    }
  }
}
`))

// startNginx runs nginx in the foreground in front of the sandbox at
// upstream ("127.0.0.1:PORT") and returns it with its base URL.
func startNginx(ctx context.Context, bin, dir, upstream, hgKey, elKey string) (*child, string, error) {
	dir = filepath.Join(dir, "nginx")
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, "", err
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	var conf strings.Builder
	err = nginxConf.Execute(&conf, map[string]any{
		"Root": os.Geteuid() == 0, "Dir": dir, "Upstream": upstream, "Listen": listen,
		"HeyGenKey": hgKey, "ElevenLabsKey": elKey,
	})
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		return nil, "", err
	}
	c, _, err := startChild(ctx, "nginx", dir, bin, []string{"-c", path, "-p", dir, "-g", "daemon off;"}, nil)
	if err != nil {
		return nil, "", err
	}
	master := c.cmd.Process.Pid
	c.pids = func() []int { return append([]int{master}, childrenOf(master)...) }
	if err := waitListening(ctx, listen); err != nil {
		c.stop()
		return nil, "", fmt.Errorf("nginx: %w; see %s/error.log", err, dir)
	}
	return c, "http://" + listen, nil
}
