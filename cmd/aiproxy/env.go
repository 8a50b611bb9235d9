package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// envOr returns a variable's value, or def when it is unset or empty.
func envOr(e env, name, def string) string {
	if v := e(name); v != "" {
		return v
	}
	return def
}

// envValues reads typed AIPROXY_* variables as flag defaults. An unset or
// empty variable gives the default; a value that does not parse is kept as
// a problem naming the variable, so that the configuration step reports
// it with every other problem instead of quietly using the default. A bad
// value is reported even when a flag overrides it: it is wrong wherever
// else the variable is read.
type envValues struct {
	get  env
	errs []error
}

// newEnvValues reads variables through e.
func newEnvValues(e env) *envValues { return &envValues{get: e} }

func (v *envValues) bad(name, value, want string) {
	v.errs = append(v.errs, fmt.Errorf("%s=%q: want %s", name, value, want))
}

func (v *envValues) duration(name string, def time.Duration) time.Duration {
	s := v.get(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		v.bad(name, s, "a duration such as 500ms, 30s or 2h")
		return def
	}
	return d
}

func (v *envValues) int(name string, def int) int {
	s := v.get(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		v.bad(name, s, "a whole number")
		return def
	}
	return n
}

func (v *envValues) int64(name string, def int64) int64 {
	s := v.get(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		v.bad(name, s, "a whole number")
		return def
	}
	return n
}

func (v *envValues) bool(name string, def bool) bool {
	s := v.get(name)
	if s == "" {
		return def
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		v.bad(name, s, "true or false")
		return def
	}
	return b
}

// err returns every problem found, or nil.
func (v *envValues) err() error { return errors.Join(v.errs...) }
