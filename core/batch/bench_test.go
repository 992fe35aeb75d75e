package batch

import "testing"

// bigBatch is an uncompressed batch of about 1 MiB: 1024 records of 1 KiB.
func bigBatch() []byte {
	recs := make([]Record, 1024)
	val := compressible(1000)
	for i := range recs {
		recs[i] = Record{TimestampDelta: int64(i), Key: []byte("key"), Value: val}
	}
	return Build(BuildOptions{ProducerID: -1}, recs, 1_700_000_000_000)
}

func BenchmarkValidate(b *testing.B) {
	buf := bigBatch()
	for _, bc := range []struct {
		name string
		opt  ValidateOptions
	}{
		{"header+crc", ValidateOptions{MaxBatchBytes: 2 << 20}},
		{"records", ValidateOptions{MaxBatchBytes: 2 << 20, CheckRecords: true, RequireKeys: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if _, err := Validate(buf, bc.opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCRC(b *testing.B) {
	buf := bigBatch()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		CRC(buf)
	}
}
