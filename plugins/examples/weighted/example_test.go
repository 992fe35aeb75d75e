package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/cli"
	"github.com/streamd/streamd/core/config"
	"github.com/streamd/streamd/core/wasmbuild/wasmbuildtest"
)

// TestExample runs the README's commands against an in-process broker: upload the built
// module, make it group ingest's assignor, and check that consumers weighing 3 and 1
// share an 8-partition topic 6 to 2.
func TestExample(t *testing.T) {
	wasm := wasmbuildtest.Path(t, ".")
	dir := t.TempDir()
	wasmbuildtest.LinkCompileCache(t, dir)
	b := brokertest.StartBroker(t, brokertest.WithDataDir(dir), brokertest.WithConfig(func(c *config.Config) {
		c.GroupInitialRebalanceDelayMs = 0
	}))
	admin := "http://" + b.AdminAddr()
	var out, errb bytes.Buffer
	env := cli.Env{Brokers: []string{b.Addr()}, Timeout: 3 * time.Minute, Stdout: &out, Stderr: &errb}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	if err := cli.UploadPlugin(ctx, env, admin, "weighted", wasm, "assignor"); err != nil {
		t.Fatal(err)
	}
	if err := cli.SetGroupAssignor(ctx, env, "ingest", "wasm:weighted"); err != nil {
		t.Fatal(err)
	}
	if err := cli.CreateTopic(ctx, env, "events", 8, 1, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ingest-w3", "ingest"} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ClientID(id), kgo.ConsumerGroup("ingest"), kgo.ConsumeTopics("events"))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		go func() {
			for ctx.Err() == nil && !cl.PollFetches(ctx).IsClientClosed() {
			}
		}()
	}
	adm, err := kadm.NewOptClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		shares := map[string]int{}
		if dg, err := adm.DescribeGroups(ctx, "ingest"); err == nil && dg["ingest"].State == "Stable" {
			for _, m := range dg["ingest"].Members {
				if c, ok := m.Assigned.AsConsumer(); ok {
					for _, tp := range c.Topics {
						shares[m.ClientID] += len(tp.Partitions)
					}
				}
			}
		}
		if shares["ingest-w3"] == 6 && shares["ingest"] == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("shares %v, want ingest-w3: 6, ingest: 2", shares)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
