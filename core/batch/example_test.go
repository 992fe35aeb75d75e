package batch_test

import (
	"fmt"

	"github.com/streamd/streamd/core/batch"
)

func Example() {
	// A producer's batch: offsets start at 0, no producer id.
	b := batch.Build(batch.BuildOptions{ProducerID: -1, Codec: batch.CodecZstd},
		[]batch.Record{{Key: []byte("k"), Value: []byte("v1")}, {Key: []byte("k"), Value: []byte("v2")}},
		1_700_000_000_000)

	h, err := batch.Validate(b, batch.ValidateOptions{MaxBatchBytes: 1 << 20, RequireKeys: true})
	fmt.Println(h.NumRecords, h.Codec(), err)

	// The broker assigns the log offset in place; the CRC stays valid.
	batch.SetBaseOffset(b, 100)
	_ = batch.RecordTimestamps(b, func(off, ts int64) bool {
		fmt.Println(off, ts)
		return true
	})

	// A corrupted byte is refused with the Kafka error code to answer.
	b[len(b)-1] ^= 0xff
	_, err = batch.Validate(b, batch.ValidateOptions{AllowNonZeroBaseOffset: true})
	fmt.Println(batch.ErrorCode(err))
	// Output:
	// 2 zstd <nil>
	// 100 1700000000000
	// 101 1700000000000
	// 2
}
