package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a server process the bench started: the sandbox, aiproxy, the
// bare Go proxy or nginx.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	// pids lists the process and, for nginx, its workers.
	pids func() []int
}

// startChild starts bin with args, its stderr going to a log file in dir,
// and waits until it prints every KEY= line in want on stdout. It returns
// those values.
func startChild(ctx context.Context, name, dir, bin string, args, env []string, want ...string) (*child, map[string]string, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	c.pids = func() []int { return []int{cmd.Process.Pid} }
	go func() { _ = cmd.Wait(); logf.Close(); close(c.done) }()

	found := map[string]string{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	deadline := time.After(30 * time.Second)
	for len(found) < len(want) {
		select {
		case line, ok := <-lines:
			if !ok {
				c.stop()
				return nil, nil, fmt.Errorf("%s exited before it was ready; see %s", name, logf.Name())
			}
			for _, k := range want {
				if v, ok := strings.CutPrefix(line, k+"="); ok {
					found[k] = v
				}
			}
		case <-deadline:
			c.stop()
			return nil, nil, fmt.Errorf("%s not ready after 30s; see %s", name, logf.Name())
		case <-ctx.Done():
			c.stop()
			return nil, nil, ctx.Err()
		}
	}
	go func() {
		for range lines {
		}
	}()
	return c, found, nil
}

// stop ends the process: SIGTERM, then SIGKILL after five seconds.
func (c *child) stop() {
	if c == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(p); err == nil && st.ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// clockTick is USER_HZ, which is 100 on every Linux the bench targets.
const clockTick = 10 * time.Millisecond

type procStat struct {
	ppid int
	cpu  time.Duration
}

// readStat reads a process's parent and CPU time (user plus system).
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name may hold spaces; fields start after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, errors.New("bad stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return procStat{}, errors.New("short stat")
	}
	ppid, _ := strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return procStat{ppid: ppid, cpu: time.Duration(utime+stime) * clockTick}, nil
}

// readMem returns a process's resident set and its peak, in bytes.
func readMem(pid int) (rss, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// meter measures the CPU time and memory of a set of processes over one
// phase: CPU from /proc/PID/stat, peak RSS from VmHWM (reset at the start
// through clear_refs) and from sampling VmRSS every 10 ms.
type meter struct {
	pids      func() []int
	startCPU  time.Duration
	startRSS  int64
	started   time.Time
	stopc     chan struct{}
	wg        sync.WaitGroup
	mu        sync.Mutex
	sampled   int64
	resetPeak bool
}

// usage is what a meter measured.
type usage struct {
	CPU      time.Duration
	Wall     time.Duration
	StartRSS int64
	PeakRSS  int64
}

func startMeter(pids func() []int) *meter {
	m := &meter{pids: pids, started: time.Now(), stopc: make(chan struct{}), resetPeak: true}
	for _, p := range pids() {
		st, _ := readStat(p)
		m.startCPU += st.cpu
		rss, _ := readMem(p)
		m.startRSS += rss
		if os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p), []byte("5"), 0) != nil {
			m.resetPeak = false
		}
	}
	m.sampled = m.startRSS
	m.wg.Add(1)
	go m.sample()
	return m
}

func (m *meter) sample() {
	defer m.wg.Done()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.stopc:
			return
		case <-t.C:
		}
		var sum int64
		for _, p := range m.pids() {
			rss, _ := readMem(p)
			sum += rss
		}
		m.mu.Lock()
		m.sampled = max(m.sampled, sum)
		m.mu.Unlock()
	}
}

func (m *meter) stop() usage {
	close(m.stopc)
	m.wg.Wait()
	u := usage{Wall: time.Since(m.started), StartRSS: m.startRSS, PeakRSS: m.sampled}
	var hwm int64
	for _, p := range m.pids() {
		st, _ := readStat(p)
		u.CPU += st.cpu
		_, h := readMem(p)
		hwm += h
	}
	u.CPU -= m.startCPU
	if m.resetPeak {
		u.PeakRSS = max(u.PeakRSS, hwm)
	}
	return u
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitListening waits until addr accepts connections.
func waitListening(ctx context.Context, addr string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s is not listening", addr)
}

// raiseFileLimit lifts the open-file limit so that ten thousand clients and
// their upstream connections fit; children inherit it.
func raiseFileLimit(want uint64) {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return
	}
	if l.Max < want {
		l.Max = want // Only root may raise the hard limit; if this fails, the soft one still goes up.
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}) == nil {
			return
		}
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	l.Cur = l.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}

// fileLimit returns the open-file limit in force.
func fileLimit() int {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return 1024
	}
	return int(min(l.Cur, 1<<30))
}
