package batch

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// segment returns three batches stored back to back at offsets 0, 3 and 5,
// the concatenation and each batch's start.
func segment() ([][]byte, []byte, []int) {
	bs := [][]byte{
		Build(BuildOptions{BaseOffset: 0, ProducerID: -1}, keyedRecords(3), 100),
		Build(BuildOptions{BaseOffset: 3, ProducerID: -1, Codec: CodecGzip}, keyedRecords(2), 200),
		Build(BuildOptions{BaseOffset: 5, ProducerID: 9, Codec: CodecZstd}, keyedRecords(20), 300),
	}
	var all []byte
	var pos []int
	for _, b := range bs {
		pos = append(pos, len(all))
		all = append(all, b...)
	}
	return bs, all, pos
}

func TestSplit(t *testing.T) {
	bs, all, _ := segment()
	got, err := Split(all)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d batches, want 3", len(got))
	}
	for i := range got {
		if !bytes.Equal(got[i], bs[i]) || cap(got[i]) != len(got[i]) {
			t.Fatalf("batch %d differs (or its capacity reaches into the next)", i)
		}
	}
	if got, err := Split(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty record set: %d batches, %v", len(got), err)
	}
	for name, bad := range map[string][]byte{
		"trailing partial batch": all[:len(all)-1],
		"trailing 5 bytes":       append(slices.Clone(bs[0]), 1, 2, 3, 4, 5),
		"length below minimum":   rewriteLength(bs[0], 48),
		"negative length":        rewriteLength(bs[0], -1),
	} {
		if _, err := Split(bad); ErrorCode(err) != kerr.CorruptMessage.Code {
			t.Errorf("%s: got %v, want CORRUPT_MESSAGE", name, err)
		}
	}
}

func rewriteLength(b []byte, n int32) []byte {
	out := slices.Clone(b)
	out[8], out[9], out[10], out[11] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return out
}

func TestScanWhole(t *testing.T) {
	_, all, pos := segment()
	var seen []int
	var offsets []int64
	n, err := Scan(all, func(p int, h Header) bool {
		seen = append(seen, p)
		offsets = append(offsets, h.BaseOffset, h.LastOffset())
		return true
	})
	if err != nil || n != len(all) {
		t.Fatalf("Scan = %d, %v; want %d, nil", n, err, len(all))
	}
	if !slices.Equal(seen, pos) || !slices.Equal(offsets, []int64{0, 2, 3, 4, 5, 24}) {
		t.Fatalf("positions %v (want %v), offsets %v", seen, pos, offsets)
	}
}

// Every possible torn tail (a crash part way through writing the last batch)
// leaves exactly the whole batches before it.
func TestScanTornTail(t *testing.T) {
	bs, all, pos := segment()
	last := pos[2]
	for cut := last + 1; cut < len(all); cut++ {
		calls := 0
		n, err := Scan(all[:cut], func(int, Header) bool { calls++; return true })
		if n != last || calls != 2 || !errors.Is(err, ErrTorn) {
			t.Fatalf("cut at %d: Scan = %d, %v after %d batches; want %d, ErrTorn after 2", cut, n, err, calls, last)
		}
	}
	// A torn header whose length field is garbage is torn too.
	torn := append(slices.Clone(all[:last]), bs[2][:HeaderLen]...)
	if n, err := Scan(torn, func(int, Header) bool { return true }); n != last || !errors.Is(err, ErrTorn) {
		t.Fatalf("header only: %d, %v", n, err)
	}
}

func TestScanCorrupt(t *testing.T) {
	_, all, pos := segment()
	for name, tc := range map[string]struct {
		buf  []byte
		want int
	}{
		"flipped bit in second batch": {setByte(all, pos[1]+HeaderLen+2, all[pos[1]+HeaderLen+2]^0x10), pos[1]},
		"flipped crc of first batch":  {setByte(all, offCRC, all[offCRC]^1), 0},
		"zero-filled tail":            {append(slices.Clone(all), make([]byte, 4096)...), len(all)},
		"bad magic":                   {setByte(all, pos[2]+offMagic, 1), pos[2]},
		"impossible length":           {append(slices.Clone(all[:pos[2]]), rewriteLength(all[pos[2]:], 10)...), pos[2]},
	} {
		n, err := Scan(tc.buf, func(int, Header) bool { return true })
		if n != tc.want || !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Scan = %d, %v; want %d, ErrCorrupt", name, n, err, tc.want)
		}
	}
}

func TestScanStopsWhenAsked(t *testing.T) {
	_, all, pos := segment()
	calls := 0
	n, err := Scan(all, func(p int, h Header) bool { calls++; return h.BaseOffset < 3 })
	if n != pos[2] || err != nil || calls != 2 {
		t.Fatalf("Scan = %d, %v after %d calls; want %d, nil after 2", n, err, calls, pos[2])
	}
	if n, err := Scan(nil, nil); n != 0 || err != nil {
		t.Fatalf("empty: %d, %v", n, err)
	}
}
