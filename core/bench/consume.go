package bench

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Consume reads c.Topic from the earliest offset of every partition until
// c.Records records were read or c.Duration passed, whichever comes first.
// Retriable fetch errors (such as a topic that does not exist yet) are
// retried by kgo; the first other fetch error ends the run and is returned.
// When no broker answers at the start, it returns at once.
func Consume(ctx context.Context, c ConsumeConfig) (Result, error) {
	c, err := c.normalize()
	if err != nil {
		return Result{}, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ConsumeTopics(c.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	if c.FetchMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxBytes(c.FetchMaxBytes))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return Result{}, fmt.Errorf("bench: consumer client: %w", err)
	}
	defer cl.Close()
	if err := reachable(ctx, cl, c.Brokers); err != nil {
		return Result{}, err
	}

	runCtx := ctx
	if c.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, c.Duration)
		defer cancel()
	}
	m := StartMeter("consume", c.Progress)
	var fetchErr error
	for fetchErr == nil && (c.Records == 0 || m.Records() < c.Records) {
		fs := cl.PollFetches(runCtx)
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			var bytes int64
			for _, r := range p.Records {
				bytes += int64(len(r.Key) + len(r.Value))
			}
			m.Add(int64(len(p.Records)), bytes)
		})
		if runCtx.Err() != nil {
			break
		}
		fs.EachError(func(_ string, _ int32, err error) {
			if fetchErr == nil && !kerr.IsRetriable(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				fetchErr = err
			}
		})
	}
	res := m.Stop()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("bench: consume: %w", err)
	}
	if fetchErr != nil {
		return res, fmt.Errorf("bench: consume: %w", fetchErr)
	}
	return res, nil
}
