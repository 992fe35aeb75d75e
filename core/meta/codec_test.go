package meta

import (
	"strings"
	"testing"
	"time"
)

func TestTopicKey(t *testing.T) {
	for _, tc := range []struct{ name, key string }{
		{"orders", "6f7264657273"},
		{"a..b", "612e2e62"},
		{".x", "2e78"},
		{"_x", "5f78"},
		{"A-Z", "412d5a"},
	} {
		if got := topicKey(tc.name); got != tc.key {
			t.Errorf("topicKey(%q) = %q, want %q", tc.name, got, tc.key)
		}
		if got, err := topicNameFromKey(tc.key); err != nil || got != tc.name {
			t.Errorf("topicNameFromKey(%q) = %q, %v; want %q", tc.key, got, err, tc.name)
		}
	}
	for _, bad := range []string{"", "zz", "abc"} {
		if _, err := topicNameFromKey(bad); err == nil {
			t.Errorf("topicNameFromKey(%q): no error", bad)
		}
	}
}

// goldenTopic and goldenJSON pin the version 1 value format documented in the package comment.
var goldenTopic = Topic{
	Name:       "orders",
	ID:         [16]byte{0xab, 0x56, 0x6a, 0xda, 0x53, 0x63, 0x43, 0xd7, 0x92, 0x4a, 0x1d, 0x9b, 0x67, 0xa7, 0x76, 0xb8},
	Partitions: []PartitionMeta{{LeaderEpoch: 0}, {LeaderEpoch: 3}},
	Configs:    map[string]string{"retention.ms": "60000", "cleanup.policy": "delete"},
	CreatedAt:  time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC),
}

const goldenJSON = `{"v":1,"name":"orders","id":"q1Zq2lNjQ9eSSh2bZ6d2uA","partitions":[{"leader_epoch":0},{"leader_epoch":3}],"configs":{"cleanup.policy":"delete","retention.ms":"60000"},"created_at":"2025-01-02T03:04:05.123456789Z"}`

func TestEncodeGolden(t *testing.T) {
	b, err := encodeTopic(goldenTopic)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != goldenJSON {
		t.Errorf("encodeTopic:\n got %s\nwant %s", b, goldenJSON)
	}
	got, err := decodeTopic(topicKey("orders"), []byte(goldenJSON))
	if err != nil {
		t.Fatal(err)
	}
	assertTopicsEqual(t, []Topic{got}, []Topic{goldenTopic})

	// Internal is written only when true; a non-UTC time is stored as UTC.
	it := Topic{Name: "__consumer_offsets", ID: goldenTopic.ID, Partitions: []PartitionMeta{{}}, Internal: true,
		CreatedAt: time.Date(2025, 1, 2, 4, 4, 5, 0, time.FixedZone("CET", 3600))}
	b, err = encodeTopic(it)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"name":"__consumer_offsets","id":"q1Zq2lNjQ9eSSh2bZ6d2uA","partitions":[{"leader_epoch":0}],"internal":true,"created_at":"2025-01-02T03:04:05Z"}`
	if string(b) != want {
		t.Errorf("encodeTopic(internal):\n got %s\nwant %s", b, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	key := topicKey("orders")
	for _, tc := range []struct {
		name, key, value, wantErr string
	}{
		{"future version", key, `{"v":2,"name":"orders"}`, "unsupported value version 2"},
		{"no version", key, `{"name":"orders"}`, "unsupported value version 0"},
		{"not json", key, `orders`, "not JSON"},
		{"name mismatch", key, `{"v":1,"name":"other","id":"q1Zq2lNjQ9eSSh2bZ6d2uA","partitions":[]}`, `value names "other"`},
		{"bad id", key, `{"v":1,"name":"orders","id":"xyz","partitions":[]}`, "invalid topic id"},
		{"bad key", "orders", goldenJSON, "not a hex-encoded topic name"},
		{"bad field type", key, `{"v":1,"name":"orders","partitions":7}`, "bad version 1 value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeTopic(tc.key, []byte(tc.value))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "meta: ") {
				t.Errorf("decodeTopic error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidateTopicName(t *testing.T) {
	valid := []string{"a", "a..b", "_x", ".x", "x.", "...", "-", "__consumer_offsets", "A-Z.a_z.0-9",
		strings.Repeat("x", MaxTopicNameLen)}
	for _, n := range valid {
		if err := ValidateTopicName(n); err != nil {
			t.Errorf("ValidateTopicName(%q) = %v, want nil", n, err)
		}
	}
	invalid := []string{"", ".", "..", "a/b", "a b", "ä", "a*", "a>", strings.Repeat("x", MaxTopicNameLen+1)}
	for _, n := range invalid {
		if err := ValidateTopicName(n); err == nil {
			t.Errorf("ValidateTopicName(%q) = nil, want error", n)
		}
	}
}

func TestNewTopicID(t *testing.T) {
	seen := map[[16]byte]bool{}
	for range 1000 {
		id := NewTopicID()
		if seen[id] {
			t.Fatalf("duplicate id %x", id)
		}
		seen[id] = true
		if id[6]>>4 != 4 || id[8]>>6 != 2 {
			t.Fatalf("id %x is not a version 4 / RFC 4122 UUID", id)
		}
		s := formatTopicID(id)
		if len(s) != 22 || s[0] == '-' {
			t.Fatalf("text form %q: want 22 chars not starting with '-'", s)
		}
		back, err := parseTopicID(s)
		if err != nil || back != id {
			t.Fatalf("parseTopicID(%q) = %x, %v; want %x", s, back, err, id)
		}
	}
}
