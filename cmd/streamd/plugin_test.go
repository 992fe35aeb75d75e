package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamd/streamd/core/broker/brokertest"
	"github.com/streamd/streamd/core/config"
	"github.com/streamd/streamd/core/wasmbuild"
	"github.com/streamd/streamd/core/wasmbuild/wasmbuildtest"
)

// pluginBroker starts a broker sharing compiled plugins with the other tests and returns
// its Kafka address and admin URL.
func pluginBroker(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	wasmbuildtest.LinkCompileCache(t, dir)
	b := brokertest.StartBroker(t, brokertest.WithDataDir(dir), brokertest.WithConfig(func(c *config.Config) {
		c.GroupInitialRebalanceDelayMs = 0
	}))
	return b.Addr(), "http://" + b.AdminAddr()
}

// TestPluginCommands runs the plugin commands end to end: build, upload, list,
// describe, delete, every one's bad input, and produce through a topic's Wasm
// partitioner, which must agree record for record with the broker's HTTP produce.
func TestPluginCommands(t *testing.T) {
	if err := wasmbuild.Supported(); err != nil {
		t.Skip(err)
	}
	wasmbuildtest.ShareCLICache(t) // the CLI's compiled plugins
	addr, admin := pluginBroker(t)
	// Uploads compile the module in the broker: seconds under -race on a loaded machine.
	b, a := "--brokers="+addr, "--admin="+admin
	up := func(args ...string) []string { return append([]string{a, "--timeout=3m"}, args...) }
	dir := t.TempDir()
	wasm := filepath.Join(dir, "tenant.wasm")

	// plugin build wraps the Go toolchain (a cold build of the wasip1 runtime is slow).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"plugin", "build", "../../plugins/examples/tenant", "-o", wasm}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("plugin build: exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "Built "+wasm+" (") {
		t.Fatalf("plugin build printed %q", out.String())
	}
	broken := filepath.Join(dir, "broken")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "main.go"), []byte("package main\n\nfunc main() { undefinedCall() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "go.mod"), []byte("module broken\n\ngo 1.24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := run(ctx, []string{"plugin", "build", broken, "-o", filepath.Join(dir, "x.wasm")}, strings.NewReader(""), &out, &errb); code != 1 ||
		strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), "undefined: undefinedCall") {
		t.Fatalf("broken build: exit %d, stderr %q", code, errb.String())
	}
	fails(t, "-o FILE.wasm is required", "", "plugin", "build", broken)
	fails(t, "no such file or directory", "", "plugin", "build", filepath.Join(dir, "nope"), "-o", "x.wasm")

	upOut := ok(t, "", up("plugin", "upload", "tenant", wasm, "--kind", "partitioner")...).stdout
	if !strings.HasPrefix(upOut, `Uploaded partitioner "tenant" version 1 (sha256 `) {
		t.Fatalf("upload printed %q", upOut)
	}
	if again := ok(t, "", a, "plugin", "upload", "tenant", wasm, "--kind", "partitioner").stdout; !strings.HasPrefix(again, `Partitioner "tenant" is already version 1`) {
		t.Fatalf("second upload printed %q", again)
	}
	junk := filepath.Join(dir, "junk.wasm")
	if err := os.WriteFile(junk, []byte("not a module"), 0o644); err != nil {
		t.Fatal(err)
	}
	fails(t, "--kind is required", "", a, "plugin", "upload", "p", wasm)
	fails(t, `bad --kind "sorter"`, "", a, "plugin", "upload", "p", wasm, "--kind", "sorter")
	fails(t, "no such file or directory", "", a, "plugin", "upload", "p", filepath.Join(dir, "nope.wasm"), "--kind", "partitioner")
	fails(t, "plugin upload p: invalid module", "", up("plugin", "upload", "p", junk, "--kind", "partitioner")...)
	fails(t, `plugin "tenant" is a partitioner; delete it before uploading a assignor`, "", a, "plugin", "upload", "tenant", wasm, "--kind", "assignor")
	fails(t, `plugin describe nope: no such plugin: "nope"`, "", a, "plugin", "describe", "nope")
	fails(t, `plugin delete nope: no such plugin: "nope"`, "", a, "plugin", "delete", "nope")
	fails(t, "connection refused (see --admin)", "", "--admin=http://"+closedAddr(t), "plugin", "list")

	ok(t, "", b, "topic", "create", "regions", "-p", "16", "-c", "partitioner=wasm:tenant")
	fails(t, `no such plugin: "nope"`, "", b, "topic", "create", "other", "-p", "1", "-c", "partitioner=wasm:nope")
	list := table(t, ok(t, "", a, "plugin", "list").stdout, "NAME")
	if r := row(list, "tenant"); len(r) != 8 || r[1] != "partitioner" || r[2] != "1" || len(r[3]) != 12 || r[6] != "topic" || r[7] != "regions" {
		t.Fatalf("plugin list row %v", r)
	}
	desc := ok(t, "", a, "plugin", "describe", "tenant").stdout
	if descField(desc, "Kind:") != "partitioner" || descField(desc, "Versions:") != "1" || descField(desc, "Used by:") != "topic regions" {
		t.Fatalf("describe:\n%s", desc)
	}
	fails(t, `plugin delete tenant: plugin in use: plugin "tenant" is used by topic regions; detach it first`, "", a, "plugin", "delete", "tenant")

	// produce without --partition runs the topic's partitioner in the producer; the
	// broker's HTTP produce places the same keys on the same partitions.
	var keys []string
	var lines strings.Builder
	for i := 0; i < 60; i++ {
		k := fmt.Sprintf("%s:tenant-%d", []string{"eu", "us", "ap", "xx"}[i%4], i)
		keys = append(keys, k)
		fmt.Fprintf(&lines, "%s|value %d\n", k, i)
	}
	ok(t, lines.String(), b, a, "--timeout=3m", "produce", "regions", "--key-separator", "|")
	got := ok(t, "", b, "consume", "regions", "--from-beginning", "-n", "60", "--format", "%k %p\n").stdout
	cliPart := map[string]int32{}
	for l := range strings.SplitSeq(strings.TrimSpace(got), "\n") {
		f := strings.Fields(l)
		p, _ := strconv.Atoi(f[1])
		cliPart[f[0]] = int32(p)
	}
	httpPart := httpProduce(t, admin, "regions", keys)
	for i, k := range keys {
		if cliPart[k] != httpPart[i] {
			t.Errorf("key %s: streamd produce put it on %d, the broker's partitioner on %d", k, cliPart[k], httpPart[i])
		}
		if strings.HasPrefix(k, "eu:") && cliPart[k] >= 8 {
			t.Errorf("key %s on %d, outside eu's partitions 0-7", k, cliPart[k])
		}
	}
	fails(t, `topic "regions" uses partitioner wasm:tenant`, "x|y\n", b, "--admin=http://"+closedAddr(t), "produce", "regions", "--key-separator", "|")

	// A group with a Wasm assignor that fails: group describe shows why.
	mis := filepath.Join(dir, "mis.wasm")
	if err := os.WriteFile(mis, wasmbuildtest.Module(t, "../../plugins/testdata/misbehave"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok(t, "", up("plugin", "upload", "bad", mis, "--kind", "assignor")...)
	fails(t, "INVALID_CONFIG", "", b, "group", "set-assignor", "fail-cli", "wasm:tenant")
	ok(t, "", b, "group", "set-assignor", "fail-cli", "wasm:bad")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("fail-cli"), kgo.ConsumeTopics("regions"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	desc = describeUntil(t, cl, 60*time.Second, "group describe never showed the assignor's error", func(desc string) bool {
		return strings.HasPrefix(descField(desc, "Assign error:"), "wasm:bad: ")
	}, b, a, "group", "describe", "fail-cli")
	if descField(desc, "Assignor:") != "wasm:bad" || !strings.Contains(desc, "misbehave: refusing to assign group fail-cli (members kept their previous assignment)") {
		t.Fatalf("group describe:\n%s", desc)
	}
	fails(t, `plugin "bad" is used by group fail-cli`, "", a, "plugin", "delete", "bad")
	cl.Close()
	ok(t, "", b, "group", "set-assignor", "fail-cli", "none")
	ok(t, "", a, "plugin", "delete", "bad")
}

// httpProduce produces keys through the broker's HTTP endpoint and returns where each went.
func httpProduce(t *testing.T, admin, topic string, keys []string) []int32 {
	t.Helper()
	type rec struct {
		Key string `json:"key"`
	}
	var req struct {
		Records []rec `json:"records"`
	}
	for _, k := range keys {
		req.Records = append(req.Records, rec{Key: k})
	}
	body, _ := json.Marshal(req)
	resp, err := http.Post(admin+"/v1/topics/"+topic+"/records", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res struct {
		Offsets []struct {
			Partition int32 `json:"partition"`
		} `json:"offsets"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 || len(res.Offsets) != len(keys) {
		t.Fatalf("HTTP produce: %d %v", resp.StatusCode, err)
	}
	out := make([]int32, len(keys))
	for i, o := range res.Offsets {
		out[i] = o.Partition
	}
	return out
}
