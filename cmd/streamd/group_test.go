package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
)

// describeUntil polls cl (keeping it a live member of its group) and runs streamd with
// args (a "group describe") until done accepts the output, which it returns; after within
// it fails with failure and the last output.
func describeUntil(t *testing.T, cl *kgo.Client, within time.Duration, failure string, done func(desc string) bool, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		cl.PollFetches(ctx)
		cancel()
		desc := ok(t, "", args...).stdout
		if done(desc) {
			return desc
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:\n%s", failure, desc)
		}
	}
}

func TestGroupCommands(t *testing.T) {
	br := brokertest.StartBroker(t, brokertest.WithConfig(func(c *config.Config) {
		c.GroupInitialRebalanceDelayMs = 50
		c.GroupMinSessionTimeoutMs = 100
		c.OffsetsTopicNumPartitions = 3
	}))
	addr := br.Addr()
	b := "--brokers=" + addr
	admin := "--admin=http://" + br.AdminAddr()
	ok(t, "", b, "topic", "create", "gt", "-p", "1")
	ok(t, "a\nb\nc\nd\n", b, "produce", "gt")
	// A group member prints (and commits) two records, then leaves: the group is Empty.
	ok(t, "", b, "consume", "gt", "--from-beginning", "-n", "2", "-g", "cg")

	if r := row(table(t, ok(t, "", b, "group", "list").stdout, "GROUP"), "cg"); strings.Join(r, " ") != "cg Empty consumer classic" {
		t.Fatalf("group list row %v, want [cg Empty consumer classic]", r)
	}
	desc := ok(t, "", b, "group", "describe", "cg", admin).stdout
	if descField(desc, "State:") != "Empty" || descField(desc, "Assignor:") != "-" || descField(desc, "Assigned by:") != "-" {
		t.Fatalf("describe header wrong:\n%s", desc)
	}
	if r := row(table(t, desc, "TOPIC"), "gt"); strings.Join(r, " ") != "gt 0 - 2 4 2" {
		t.Fatalf("offsets row %v, want [gt 0 - 2 4 2]:\n%s", r, desc)
	}

	ok(t, "", b, "group", "set-assignor", "cg", "roundrobin")
	fails(t, "INVALID_CONFIG", "", b, "group", "set-assignor", "cg", "fastest")

	// A live member: describe shows it, reset-offsets refuses.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("cg"), kgo.ConsumeTopics("gt"),
		kgo.ClientID("cli-test"), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	desc = describeUntil(t, cl, 10*time.Second, "group never became Stable with one member", func(desc string) bool {
		return descField(desc, "State:") == "Stable" && len(table(t, desc, "MEMBER")) == 1 && descField(desc, "Assigned by:") == "roundrobin"
	}, b, "group", "describe", "cg", admin)
	m := table(t, desc, "MEMBER")[0]
	if m[1] != "cli-test" || m[4] != "gt:0" || descField(desc, "Assignor:") != "roundrobin" || descField(desc, "Protocol:") != "consumer/cooperative-sticky" {
		t.Fatalf("describe of the live group wrong:\n%s", desc)
	}
	if r := row(table(t, desc, "TOPIC"), "gt"); r[2] != m[0] {
		t.Fatalf("offsets row %v does not name member %s", r, m[0])
	}
	fails(t, "offsets can only be reset while it is inactive", "", b, "group", "reset-offsets", "cg", "--topic", "gt", "--to-earliest")
	fails(t, "NON_EMPTY_GROUP", "", b, "group", "delete", "cg")
	cl.Close()

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--to-earliest"}, "0"},
		{[]string{"--to-offset", "3"}, "3"},
		{[]string{"--to-offset", "99"}, "4"},
		{[]string{"--to-datetime", "2000-01-01T00:00:00Z"}, "0"},
		{[]string{"--to-datetime", "2999-01-01T00:00:00Z"}, "4"},
		{[]string{"--to-latest"}, "4"},
	} {
		args := append([]string{b, "group", "reset-offsets", "cg", "--topic", "gt"}, tc.args...)
		if r := row(table(t, ok(t, "", args...).stdout, "TOPIC"), "gt"); strings.Join(r, " ") != "gt 0 "+tc.want {
			t.Fatalf("reset %v printed %v, want offset %s", tc.args, r, tc.want)
		}
		desc := ok(t, "", b, "group", "describe", "cg", "--admin=").stdout
		if r := row(table(t, desc, "TOPIC"), "gt"); r[3] != tc.want {
			t.Fatalf("after reset %v committed %v, want %s", tc.args, r, tc.want)
		}
	}
	fails(t, "exactly one of", "", b, "group", "reset-offsets", "cg", "--topic", "gt", "--to-earliest", "--to-latest")
	fails(t, "bad --to-datetime", "", b, "group", "reset-offsets", "cg", "--topic", "gt", "--to-datetime", "yesterday")

	if r := ok(t, "", b, "group", "delete", "cg"); r.stdout != "Deleted group \"cg\".\n" {
		t.Fatalf("delete printed %q", r.stdout)
	}
	fails(t, "GROUP_ID_NOT_FOUND", "", b, "group", "describe", "cg", "--admin=")
}

// TestGroupCommandsConsumerProtocol: the group commands on a KIP-848 consumer group.
func TestGroupCommandsConsumerProtocol(t *testing.T) {
	addr := brokertest.Start(t, brokertest.WithConfig(func(c *config.Config) {
		c.OffsetsTopicNumPartitions = 3
		c.GroupConsumerHeartbeatIntervalMs = 100
	}))
	b := "--brokers=" + addr
	ok(t, "", b, "topic", "create", "gt848", "-p", "2")
	ok(t, "a\nb\nc\nd\n", b, "produce", "gt848")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("cg848"), kgo.ConsumeTopics("gt848"),
		kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ClientID("cli-848"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	waitDescribe := func(what string, done func(desc string) bool) string {
		t.Helper()
		return describeUntil(t, cl, 15*time.Second, what+" never happened", done, b, "group", "describe", "cg848", "--admin=")
	}
	desc := waitDescribe("a stable group with one member", func(desc string) bool {
		return descField(desc, "State:") == "Stable" && len(table(t, desc, "MEMBER")) == 1
	})
	m := table(t, desc, "MEMBER")[0]
	if descField(desc, "Protocol:") != "consumer (KIP-848)" || descField(desc, "Assignor:") != "uniform" ||
		descField(desc, "Configured:") != "-" || m[1] != "cli-848" || m[5] != "gt848:0,1" || m[6] != "gt848:0,1" {
		t.Fatalf("describe of a consumer group wrong:\n%s", desc)
	}
	if r := row(table(t, ok(t, "", b, "group", "list").stdout, "GROUP"), "cg848"); strings.Join(r, " ") != "cg848 Stable consumer consumer" {
		t.Fatalf("group list row %v", r)
	}
	ok(t, "", b, "group", "set-assignor", "cg848", "range")
	desc = waitDescribe("the range assignor", func(desc string) bool {
		return descField(desc, "Assignor:") == "range" && descField(desc, "State:") == "Stable"
	})
	if descField(desc, "Configured:") != "range" {
		t.Fatalf("describe after set-assignor:\n%s", desc)
	}
	fails(t, "offsets can only be reset while it is inactive", "", b, "group", "reset-offsets", "cg848", "--topic", "gt848", "--to-earliest")
	fails(t, "NON_EMPTY_GROUP", "", b, "group", "delete", "cg848")
	cl.Close()
	if r := row(table(t, ok(t, "", b, "group", "list").stdout, "GROUP"), "cg848"); r[1] != "Empty" {
		t.Fatalf("group list row after the member left %v", r)
	}
	ok(t, "", b, "group", "reset-offsets", "cg848", "--topic", "gt848", "--to-earliest")
	ok(t, "", b, "group", "delete", "cg848")
}
