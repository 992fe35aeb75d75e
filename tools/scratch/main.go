//go:build ignore

package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	addr := flag.String("b", "127.0.0.1:19092", "")
	inflight := flag.Int("inflight", 0, "")
	dur := flag.Duration("d", 8*time.Second, "")
	flag.Parse()
	opts := []kgo.Opt{kgo.SeedBrokers(*addr), kgo.DefaultProduceTopic("perf"), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression())}
	if *inflight > 0 {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(*inflight))
	}
	cl, _ := kgo.NewClient(opts...)
	adm := kadm.NewClient(cl)
	adm.CreateTopic(context.Background(), 3, 1, nil, "perf")
	val := make([]byte, 1024)
	var n atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for ctx.Err() == nil {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: val}, func(r *kgo.Record, err error) {
			if err == nil {
				n.Add(1)
			}
			wg.Done()
		})
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Printf("%.1f MiB/s (%d records)\n", float64(n.Load())*1024/el.Seconds()/(1<<20), n.Load())
}
