package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/cli"
	"github.com/streamd/streamd/core/wasmbuild/wasmbuildtest"
	"github.com/streamd/streamd/plugins/sdk"
)

func TestRange(t *testing.T) {
	for _, tc := range []struct {
		key    string
		n      int32
		lo, hi int32
	}{
		{"eu:x", 16, 0, 8}, {"us:x", 16, 8, 12}, {"ap:x", 16, 12, 16}, {"zz:x", 16, 0, 16},
		{"eu:x", 3, 0, 1}, {"us:x", 3, 1, 2}, {"ap:x", 3, 2, 3},
		{"eu:x", 1, 0, 1}, {"us:x", 1, 0, 1}, {"ap:x", 1, 0, 1},
	} {
		if lo, hi := Range([]byte(tc.key), tc.n); lo != tc.lo || hi != tc.hi {
			t.Errorf("Range(%s, %d) = [%d,%d), want [%d,%d)", tc.key, tc.n, lo, hi, tc.lo, tc.hi)
		}
	}
	recs := []sdk.Record{{Key: []byte("eu:a")}, {Key: nil}, {Key: []byte("ap:b")}}
	out, err := Partition("t", 16, recs)
	if err != nil || out[0] >= 8 || out[2] < 12 {
		t.Fatalf("Partition = %v, %v", out, err)
	}
}

// TestExample runs the README's commands against an in-process broker: upload the built
// module, create a topic using it, produce through streamd, and check every record
// landed in its region's range.
func TestExample(t *testing.T) {
	wasm := wasmbuildtest.Path(t, ".")
	wasmbuildtest.ShareCLICache(t)
	dir := t.TempDir()
	wasmbuildtest.LinkCompileCache(t, dir)
	b := brokertest.StartBroker(t, brokertest.WithDataDir(dir))
	admin := "http://" + b.AdminAddr()
	var out, errb bytes.Buffer
	env := cli.Env{Brokers: []string{b.Addr()}, Timeout: 3 * time.Minute, Stdout: &out, Stderr: &errb}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	if err := cli.UploadPlugin(ctx, env, admin, "tenant", wasm, "partitioner"); err != nil {
		t.Fatal(err)
	}
	if err := cli.CreateTopic(ctx, env, "regions", 16, 1, []string{"partitioner=wasm:tenant"}); err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	keys := map[string]bool{}
	for i := 0; i < 40; i++ {
		k := fmt.Sprintf("%s:user-%d", []string{"eu", "us", "ap", "other"}[i%4], i)
		keys[k] = true
		fmt.Fprintf(&in, "%s|event %d\n", k, i)
	}
	env.Stdin = strings.NewReader(in.String())
	if err := cli.Produce(ctx, env, cli.ProduceOptions{Topic: "regions", KeySeparator: "|", Partition: -1, Admin: admin}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := cli.Consume(ctx, env, cli.ConsumeOptions{Topic: "regions", FromBeginning: true, Count: 40, Format: "%k %p\n"}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var k string
		var p int32
		if _, err := fmt.Sscanf(l, "%s %d", &k, &p); err != nil || !keys[k] {
			t.Fatalf("consumed line %q", l)
		}
		if lo, hi := Range([]byte(k), 16); p < lo || p >= hi {
			t.Errorf("%s on partition %d, outside [%d,%d)", k, p, lo, hi)
		}
		n++
	}
	if n != 40 {
		t.Fatalf("consumed %d records", n)
	}
}
