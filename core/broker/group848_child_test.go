package broker_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// childEnv makes the test binary run as a kgo group member (runChildConsumer) instead of
// running tests: "addr,group,topic". A test starts it with startChildConsumer and kills it
// with SIGKILL, a real crash: no LeaveGroup, no commit of what it processed last.
const childEnv = "STREAMD_TEST_CHILD_CONSUMER"

// runChildConsumer joins the group with kgo.ServerSideBalancer and prints "assigned" on
// every assignment and "v VALUE" for every record it processed, committing after each
// poll.
func runChildConsumer() int {
	parts := strings.Split(os.Getenv(childEnv), ",")
	if len(parts) != 3 {
		fmt.Fprintln(os.Stderr, "child consumer: want addr,group,topic")
		return 2
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	say := func(s string) {
		mu.Lock()
		fmt.Fprintln(out, s)
		out.Flush()
		mu.Unlock()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(parts[0]), kgo.ConsumerGroup(parts[1]), kgo.ConsumeTopics(parts[2]),
		kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { say("assigned") }))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for {
		fs := cl.PollFetches(context.Background())
		for _, r := range fs.Records() {
			say("v " + string(r.Value))
		}
		_ = cl.CommitUncommittedOffsets(context.Background())
	}
}

// childConsumer is a group member running in another process.
type childConsumer struct {
	cmd      *exec.Cmd
	mu       sync.Mutex
	seen     map[string]int
	assigned int
	done     chan struct{}
}

func startChildConsumer(t *testing.T, addr, grp, topic string) *childConsumer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+addr+","+grp+","+topic)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &childConsumer{cmd: cmd, seen: map[string]int{}, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			if v, ok := strings.CutPrefix(line, "v "); ok {
				c.seen[v]++
			} else if line == "assigned" {
				c.assigned++
			}
			c.mu.Unlock()
		}
	}()
	t.Cleanup(c.kill)
	return c
}

// kill ends the process with SIGKILL and waits for it.
func (c *childConsumer) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
	_ = c.cmd.Wait()
}

func (c *childConsumer) seenCopy() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.seen))
	for k, v := range c.seen {
		out[k] = v
	}
	return out
}
