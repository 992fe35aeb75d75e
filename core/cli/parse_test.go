package cli

import (
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestParseBrokers(t *testing.T) {
	got, err := ParseBrokers(" a:1, b:2,,c:3 ")
	if err != nil || !reflect.DeepEqual(got, []string{"a:1", "b:2", "c:3"}) {
		t.Fatalf("ParseBrokers = %v, %v", got, err)
	}
	if _, err := ParseBrokers(" , "); err == nil {
		t.Fatal("ParseBrokers accepted an empty list")
	}
}

func TestParseAcks(t *testing.T) {
	for in, want := range map[string]int{"": -1, "all": -1, "-1": -1, "1": 1, "0": 0} {
		if got, err := ParseAcks(in); err != nil || got != want {
			t.Errorf("ParseAcks(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"2", "ALL", "leader"} {
		if _, err := ParseAcks(in); err == nil {
			t.Errorf("ParseAcks(%q) accepted", in)
		}
	}
}

func TestParseCompression(t *testing.T) {
	for in, want := range map[string]kgo.CompressionCodec{
		"": kgo.NoCompression(), "none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	} {
		if got, err := ParseCompression(in); err != nil || got != want {
			t.Errorf("ParseCompression(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseCompression("brotli"); err == nil || !strings.Contains(err.Error(), "brotli") {
		t.Errorf("ParseCompression(brotli) error %v", err)
	}
}

func TestParseOffset(t *testing.T) {
	for in, want := range map[string]kgo.Offset{
		"":         kgo.NewOffset().AtEnd(),
		"latest":   kgo.NewOffset().AtEnd(),
		"earliest": kgo.NewOffset().AtStart(),
		"0":        kgo.NewOffset().At(0),
		"42":       kgo.NewOffset().At(42),
		"-3":       kgo.NewOffset().AtEnd().Relative(-3),
	} {
		if got, err := ParseOffset(in); err != nil || got.String() != want.String() {
			t.Errorf("ParseOffset(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseOffset("first"); err == nil {
		t.Error(`ParseOffset("first") accepted`)
	}
}

func TestParseKV(t *testing.T) {
	k, v, err := parseKV("-c", "a=b=c")
	if err != nil || k != "a" || v != "b=c" {
		t.Errorf(`parseKV("a=b=c") = %q, %q, %v`, k, v, err)
	}
	k, v, err = parseKV("-c", "empty=")
	if err != nil || k != "empty" || v != "" {
		t.Errorf(`parseKV("empty=") = %q, %q, %v`, k, v, err)
	}
	for _, in := range []string{"novalue", "=v", ""} {
		if _, _, err := parseKV("-c", in); err == nil || !strings.Contains(err.Error(), "want key=value") {
			t.Errorf("parseKV(%q) error %v", in, err)
		}
	}
}
