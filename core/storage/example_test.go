package storage_test

import (
	"context"
	"fmt"
	"os"

	"github.com/streamd/streamd/core/batch"
	"github.com/streamd/streamd/core/storage"
)

func Example() {
	dir, _ := os.MkdirTemp("", "partition")
	defer os.RemoveAll(dir)

	fl := storage.NewFlusher(nil) // one per broker
	defer fl.Close()
	l, err := storage.Open(dir, storage.Options{Fsync: true}, fl, nil)
	if err != nil {
		panic(err)
	}
	defer l.Close()

	b := batch.Build(batch.BuildOptions{ProducerID: -1},
		[]batch.Record{{Value: []byte("hello")}, {Value: []byte("world")}}, 1700000000000)
	res, _ := l.Append(b, 0)
	// Acknowledge the produce request only once the records are durable.
	if err := l.WaitDurable(context.Background(), res.LastOffset); err != nil {
		panic(err)
	}
	r, _ := l.Read(0, 1<<20)
	_, recs, _ := batch.Records(r.Data)
	fmt.Println(res.BaseOffset, res.LastOffset, r.HighWatermark, string(recs[1].Value))
	// Output: 0 1 2 world
}
