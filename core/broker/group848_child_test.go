package broker_test

import (
	"bufio"
	"context"
	"fmt"
	"maps"
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
// running tests: "addr,group,topic,balancer" (balancer "848" is kgo.ServerSideBalancer,
// else a classic balancer with a 2s session timeout). A test starts it with
// startChildConsumer and kills it with SIGKILL, a real crash: no LeaveGroup, no commit of
// what it processed last.
const childEnv = "STREAMD_TEST_CHILD_CONSUMER"

// runChildConsumer joins the group and prints "assigned" on every assignment and
// "v VALUE" for every record it processed, committing after each poll.
func runChildConsumer() int {
	parts := strings.Split(os.Getenv(childEnv), ",")
	if len(parts) != 4 {
		fmt.Fprintln(os.Stderr, "child consumer: want addr,group,topic,balancer")
		return 2
	}
	group := []kgo.Opt{kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer())}
	if parts[3] != "848" {
		group = []kgo.Opt{kgo.Balancers(balancerByName(parts[3])), kgo.SessionTimeout(2 * time.Second),
			kgo.HeartbeatInterval(100 * time.Millisecond)}
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	say := func(s string) {
		mu.Lock()
		fmt.Fprintln(out, s)
		out.Flush()
		mu.Unlock()
	}
	cl, err := kgo.NewClient(append(group, kgo.SeedBrokers(parts[0]), kgo.ConsumerGroup(parts[1]), kgo.ConsumeTopics(parts[2]),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { say("assigned") }))...)
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

// balancerByName returns the kgo classic balancer with the given protocol name.
func balancerByName(name string) kgo.GroupBalancer {
	switch name {
	case "roundrobin":
		return kgo.RoundRobinBalancer()
	case "sticky":
		return kgo.StickyBalancer()
	case "cooperative-sticky":
		return kgo.CooperativeStickyBalancer()
	}
	return kgo.RangeBalancer()
}

func startChildConsumer(t *testing.T, addr, grp, topic, balancer string) *childConsumer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join([]string{addr, grp, topic, balancer}, ","))
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

func (c *childConsumer) assignedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.assigned
}

func (c *childConsumer) seenCopy() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.seen)
}

// waitProcessing waits until the child was assigned partitions and processed a record.
func (c *childConsumer) waitProcessing(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for c.assignedCount() == 0 || len(c.seenCopy()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the child member processed nothing")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
