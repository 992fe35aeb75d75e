//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/twmb/franz-go/pkg/kfake"
)

// childCommand is the hidden first argument that makes this binary run a
// broker instead of the benchmark: `peerbench __peerbench-child kfake|nats DIR sync|async`.
// The child prints "ready ADDR" on stdout once it accepts connections and
// exits cleanly when stdin closes or on SIGTERM/SIGINT.
const childCommand = "__peerbench-child"

const readyTimeout = 60 * time.Second

// runChild is the child process's main.
func runChild(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: peerbench", childCommand, "kfake|nats DIR sync|async")
		return 2
	}
	kind, dir, sync := args[0], args[1], args[2] == "sync"
	var addr string
	var closeFn func()
	switch kind {
	case "kfake":
		opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DataDir(dir)}
		if sync {
			opts = append(opts, kfake.SyncWrites())
		}
		c, err := kfake.NewCluster(opts...)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kfake:", err)
			return 1
		}
		addr, closeFn = c.ListenAddrs()[0], c.Close
	case "nats":
		s, err := server.NewServer(&server.Options{
			Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
			JetStream: true, StoreDir: dir, SyncAlways: sync, DisableJetStreamBanner: true,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "nats-server:", err)
			return 1
		}
		go s.Start()
		if !s.ReadyForConnections(readyTimeout) {
			fmt.Fprintln(os.Stderr, "nats-server: not ready for connections")
			return 1
		}
		addr = s.ClientURL()
		closeFn = func() { s.Shutdown(); s.WaitForShutdown() }
	default:
		fmt.Fprintln(os.Stderr, "unknown child kind", kind)
		return 2
	}
	fmt.Println("ready", addr)

	stdinClosed := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stdinClosed) }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	select {
	case <-stdinClosed:
	case <-sigs:
	}
	closeFn()
	return 0
}

// broker is a running child broker process.
type broker struct {
	name    string
	addr    string // host:port for Kafka systems, nats:// URL for NATS
	admin   string // streamd's admin listener (metrics), host:port; empty for the others
	cmd     *exec.Cmd
	stdin   io.Closer // closing it asks our own children to exit; nil for streamd
	out     *logBuffer
	exited  chan struct{}
	waitErr error
}

// startBroker starts the broker for a system variant with its data in dir.
func startBroker(ctx context.Context, o options, name, dir string) (*broker, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b := &broker{name: name, out: newLogBuffer(), exited: make(chan struct{})}
	var err error
	if name == "streamd" {
		err = b.startStreamd(ctx, o, dir)
	} else {
		kind, mode, _ := strings.Cut(name, "-")
		err = b.startSelf(ctx, kind, filepath.Join(dir, "data"), mode)
	}
	if err != nil {
		b.stop()
		return nil, fmt.Errorf("start %s: %w (output: %s)", name, err, b.logTail())
	}
	return b, nil
}

func (b *broker) start(cmd *exec.Cmd) error {
	cmd.Stdout, cmd.Stderr = b.out, b.out
	// Own process group: a terminal ^C reaches only peerbench, which then
	// stops the children in order. Pdeathsig kills them if peerbench dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		close(b.exited)
		return err
	}
	b.cmd = cmd
	go func() { b.waitErr = cmd.Wait(); close(b.exited) }()
	return nil
}

// startSelf re-executes this binary as a kfake or nats-server child.
func (b *broker) startSelf(ctx context.Context, kind, dir, mode string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, childCommand, kind, dir, mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	b.stdin = stdin
	if err := b.start(cmd); err != nil {
		return err
	}
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case line := <-b.out.ready:
		addr, ok := strings.CutPrefix(line, "ready ")
		if !ok {
			return fmt.Errorf("unexpected ready line %q", line)
		}
		b.addr = strings.TrimSpace(addr)
		return nil
	case <-b.exited:
		return fmt.Errorf("exited before ready: %v", b.waitErr)
	case <-timer.C:
		return errors.New("not ready in time")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startStreamd builds (unless -streamd-bin) and starts `streamd serve`.
func (b *broker) startStreamd(ctx context.Context, o options, dir string) error {
	bin := o.streamdBin
	if bin == "" {
		bin = filepath.Join(dir, "streamd")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/streamd")
		build.Dir = o.repo
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/streamd: %w: %s", err, bytes.TrimSpace(out))
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	adminPort, err := freePort()
	if err != nil {
		return err
	}
	b.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	b.admin = net.JoinHostPort("127.0.0.1", strconv.Itoa(adminPort))
	cmd := exec.Command(bin, "serve", "--listen", b.addr, "--data-dir", filepath.Join(dir, "data"), "--admin-listen", b.admin)
	if err := b.start(cmd); err != nil {
		return err
	}
	// Ready once the port accepts connections (or streamd logs "ready").
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", b.addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-b.exited:
			return fmt.Errorf("exited before ready: %v", b.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-b.out.ready:
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("port not accepting connections in time")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (b *broker) workload(o options) workload {
	if strings.HasPrefix(b.name, "nats") {
		return &natsWorkload{url: b.addr, recordSize: o.recordSize, subjects: int(o.partitions)}
	}
	return &kafkaWorkload{brokers: []string{b.addr}, recordSize: o.recordSize, partitions: o.partitions, concurrency: o.concurrency}
}

// memory reads VmHWM (peak resident set) and VmRSS of the broker process.
func (b *broker) memory() (hwm, rss int64, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	return parseProcStatus(status)
}

// parseProcStatus extracts VmHWM and VmRSS (reported in kB) as bytes.
func parseProcStatus(status []byte) (hwm, rss int64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmHWM" && key != "VmRSS") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("unexpected %s line %q", key, sc.Text())
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if key == "VmHWM" {
			hwm = n << 10
		} else {
			rss = n << 10
		}
	}
	if hwm == 0 || rss == 0 {
		return 0, 0, errors.New("VmHWM or VmRSS missing from /proc status")
	}
	return hwm, rss, nil
}

// stop asks the broker to exit (stdin EOF for our children, SIGTERM for
// streamd) and kills its process group if it has not exited in 10 seconds.
func (b *broker) stop() error {
	if b.cmd == nil {
		return nil
	}
	if b.stdin != nil {
		b.stdin.Close()
	} else {
		b.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-b.exited:
		return b.waitErr
	case <-time.After(10 * time.Second):
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.exited
		return errors.New("killed after 10s")
	}
}

// logTail is the end of the broker's output, for error messages.
func (b *broker) logTail() string { return b.out.tail(800) }

// logBuffer keeps a child's combined output (the last 64 KiB) and reports
// the first line that starts with or contains "ready".
type logBuffer struct {
	mu      sync.Mutex
	buf     []byte
	partial []byte
	ready   chan string
	sent    bool
}

func newLogBuffer() *logBuffer { return &logBuffer{ready: make(chan string, 1)} }

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if over := len(l.buf) - 64<<10; over > 0 {
		l.buf = l.buf[over:]
	}
	if !l.sent {
		l.partial = append(l.partial, p...)
		for {
			i := bytes.IndexByte(l.partial, '\n')
			if i < 0 {
				break
			}
			line := string(l.partial[:i])
			l.partial = l.partial[i+1:]
			if strings.Contains(line, "ready") {
				l.ready <- line
				l.sent, l.partial = true, nil
				break
			}
		}
	}
	return len(p), nil
}

func (l *logBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return strings.TrimSpace(string(s))
}
