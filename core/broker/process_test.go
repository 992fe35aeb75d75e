package broker_test

import (
	"bufio"
	"context"
	"fmt"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// streamdBinary builds cmd/streamd once per test process.
func streamdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "streamd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "streamd")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/streamd/streamd/cmd/streamd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// child is a `streamd serve` process.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	logs *strings.Builder
	mu   sync.Mutex
	done chan struct{}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startChild runs streamd serve on dataDir and waits until it logs that it is ready.
func startChild(t *testing.T, dataDir, addr string, extra ...string) *child {
	t.Helper()
	args := append([]string{"serve", "--listen", addr, "--data-dir", dataDir, "--admin-listen", "", "--config", filepath.Join(dataDir, "..", "none.toml")}, extra...)
	// An explicit, empty config file keeps the repo's config.toml out of the test.
	_ = os.WriteFile(filepath.Join(dataDir, "..", "none.toml"), nil, 0o644)
	cmd := exec.Command(streamdBinary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, addr: addr, logs: &strings.Builder{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			c.logs.WriteString(line + "\n")
			c.mu.Unlock()
			if strings.Contains(line, "streamd ready") {
				once.Do(func() { close(ready) })
			}
		}
		_ = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() { c.kill() })
	select {
	case <-ready:
	case <-c.done:
		t.Fatalf("streamd exited before ready:\n%s", c.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("streamd not ready after 30s:\n%s", c.output())
	}
	return c
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.String()
}

func (c *child) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// stop sends SIGTERM and waits for a clean exit.
func (c *child) stop() error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.kill()
		return fmt.Errorf("streamd did not stop within 30s")
	}
	if !c.cmd.ProcessState.Success() {
		return fmt.Errorf("streamd exited with %v:\n%s", c.cmd.ProcessState, c.output())
	}
	return nil
}

// TestSigtermShutsDownCleanly: SIGTERM while producers are running answers what was
// read, exits 0 and leaves logs that the next start recovers without scanning.
func TestSigtermShutsDownCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the streamd binary")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	addr := freePort(t)
	c := startChild(t, dataDir, addr)
	createTopic(t, newAdmin(t, addr), "term", 2, nil)
	cl := newClient(t, addr, kgo.DefaultProduceTopic("term"), kgo.RecordRetries(0))
	var acked atomic.Int64
	var wg sync.WaitGroup
	for i := range 2000 {
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Value: []byte(fmt.Sprint(i))}, func(_ *kgo.Record, err error) {
			if err == nil {
				acked.Add(1)
			}
			wg.Done()
		})
		if i == 1000 {
			go func() { _ = c.cmd.Process.Signal(syscall.SIGTERM) }()
		}
	}
	wg.Wait()
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatal("streamd did not exit after SIGTERM")
	}
	if !c.cmd.ProcessState.Success() {
		t.Fatalf("exit status %v after SIGTERM:\n%s", c.cmd.ProcessState, c.output())
	}
	if !strings.Contains(c.output(), "streamd stopped") {
		t.Fatalf("no clean stop logged:\n%s", c.output())
	}
	cl.Close()
	c2 := startChild(t, dataDir, addr)
	defer c2.stop()
	end, err := newAdmin(t, addr).ListEndOffsets(ctxT(t, 10*time.Second), "term")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	end.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total < acked.Load() {
		t.Fatalf("%d records acknowledged but only %d in the log after restart", acked.Load(), total)
	}
	if strings.Contains(c2.output(), "truncat") {
		t.Fatalf("restart after clean shutdown truncated data:\n%s", c2.output())
	}
}
