package main

import (
	"errors"
	"flag"
	"time"

	"github.com/aiproxy/aiproxy/internal/concurrency"
	"github.com/aiproxy/aiproxy/internal/proxy"
	"github.com/aiproxy/aiproxy/internal/realtime"
	"github.com/aiproxy/aiproxy/internal/redis"
)

// realtimeFlags configure the WebSocket relay (docs/realtime.md).
type realtimeFlags struct {
	socketCaps  listFlag
	caps        []concurrency.Rule
	maxDuration time.Duration
	envErr      error
}

// defaultSocketCaps apply when --socket-cap is not given: an org may hold
// 20 sockets open at once, and the orgs sharing a platform credential 50
// together, well within the providers' plan concurrency.
var defaultSocketCaps = []string{"org=20", "credential=50"}

func (f *realtimeFlags) register(fs *flag.FlagSet, e env) {
	f.socketCaps = newListFlag(e("AIPROXY_SOCKET_CAPS"))
	v := newEnvValues(e)
	fs.DurationVar(&f.maxDuration, "socket-max-duration", v.duration("AIPROXY_SOCKET_MAX_DURATION", time.Hour),
		"the longest a relayed WebSocket stays open before aiproxy closes it with 4408 [AIPROXY_SOCKET_MAX_DURATION]")
	f.envErr = v.err()
	fs.Var(&f.socketCaps, "socket-cap", "cap on WebSockets open at once SCOPE[:SERVICE]=N, scope org or credential (the platform credential), e.g. org:elevenlabs=10; repeatable; default org=20 and credential=50 [AIPROXY_SOCKET_CAPS, comma-separated]")
}

func (f *realtimeFlags) validate() error {
	values := f.socketCaps.values
	if len(values) == 0 {
		values = defaultSocketCaps
	}
	errs := []error{f.envErr}
	if f.maxDuration < time.Second || f.maxDuration > 24*time.Hour {
		errs = append(errs, errors.New("--socket-max-duration: want from 1s to 24h"))
	}
	f.caps = nil
	for _, v := range values {
		r, err := concurrency.ParseRule(v)
		if err != nil {
			errs = append(errs, errors.New("--socket-cap: "+err.Error()))
			continue
		}
		f.caps = append(f.caps, r)
	}
	return errors.Join(errs...)
}

// apply sets the relay's protocols and socket caps on a proxy
// configuration; with Redis the caps hold across replicas.
func (f *realtimeFlags) apply(c proxy.Config, rc *redis.Client) proxy.Config {
	c.Sockets = realtime.Protocols{}
	var sem concurrency.Semaphore = concurrency.NewMemory()
	if rc != nil {
		sem = rc.Semaphore()
	}
	c.SocketCaps = &concurrency.Policy{Rules: f.caps, Sem: sem, QueueTimeout: 100 * time.Millisecond, Sockets: true}
	c.MaxSocketDuration = f.maxDuration
	return c
}
