package batch

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// goldenBatch is a fixed idempotent, transactional batch with every kind of
// record field; its bytes must never change (they are what is on disk).
func goldenBatch() []byte {
	return Build(BuildOptions{
		BaseOffset: 42, ProducerID: 1001, ProducerEpoch: 3, BaseSequence: 17,
		Attributes: AttrTransactional, PartitionLeaderEpoch: 5,
	}, append(sampleRecords()[:3], Record{TimestampDelta: 7, Key: []byte("k3"), Value: []byte("v"),
		Headers: []RecordHeader{{Key: "h1", Value: []byte("x")}, {Key: "h2", Value: nil}}}), 1_700_000_000_000)
}

func TestBuildGolden(t *testing.T) {
	b := goldenBatch()
	got := hex.Dump(b)
	path := filepath.Join("testdata", "build_uncompressed.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestBuildGolden -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("built batch bytes changed:\n got\n%s\nwant\n%s", got, want)
	}
	// The golden bytes are what kmsg, an independent decoder, reads too.
	kb, recs := kgoRecords(t, b)
	if kb.FirstOffset != 42 || kb.ProducerID != 1001 || kb.FirstSequence != 17 || len(recs) != 4 ||
		string(recs[0].Value) != "hello" || recs[1].Key != nil || recs[2].Value != nil || len(recs[3].Headers) != 2 || recs[3].Headers[1].Value != nil {
		t.Fatalf("kmsg reads %+v %+v", kb, recs)
	}
	if _, err := Validate(b, ValidateOptions{AllowNonZeroBaseOffset: true, CheckRecords: true}); err != nil {
		t.Fatal(err)
	}
}
