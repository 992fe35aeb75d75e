package meta

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// TestGroupConfigs: group configs live beside the topics without disturbing them,
// survive a reopen, and an empty map removes them.
func TestGroupConfigs(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := openTest(t, Options{StoreDir: dir})
	mustPut(t, s, testTopic("orders", 3))
	for g, c := range map[string]map[string]string{
		"billing": {"group.assignor": "range"},
		"a..b":    {"group.assignor": "wasm:weighted"},
		"gone":    {"group.assignor": "uniform"},
	} {
		if err := s.PutGroupConfigs(ctx, g, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutGroupConfigs(ctx, "gone", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGroupConfigs(ctx, "never-set", map[string]string{}); err != nil {
		t.Fatalf("removing absent configs: %v", err)
	}
	if err := s.PutGroupConfigs(ctx, "", map[string]string{"group.assignor": "range"}); err == nil {
		t.Fatal("empty group id accepted")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openTest(t, Options{StoreDir: dir})
	got, err := s2.GroupConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"billing": {"group.assignor": "range"},
		"a..b":    {"group.assignor": "wasm:weighted"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("group configs after reopen: %v, want %v", got, want)
	}
	if ts := mustTopics(t, s2); len(ts) != 1 || ts[0].Name != "orders" {
		t.Fatalf("topics beside group configs: %v", names(ts))
	}
}

func TestGroupConfigsRejectUnknownValues(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	kv, err := s.JetStream().KeyValue(ctx, DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, groupKey("future"), []byte(`{"v":2,"group":"future"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GroupConfigs(ctx); err == nil || !strings.Contains(err.Error(), "unsupported value version 2") {
		t.Fatalf("GroupConfigs error = %v, want unsupported version", err)
	}
	if _, err := kv.Put(ctx, groupKey("future"), []byte(`{"v":1,"group":"other","configs":{}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GroupConfigs(ctx); err == nil || !strings.Contains(err.Error(), `holds the configs of group "other"`) {
		t.Fatalf("GroupConfigs error = %v, want a key/group mismatch", err)
	}
}
