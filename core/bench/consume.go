package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Consume reads c.Topic from the earliest offset of every partition until
// c.Records records were read or c.Duration passed, whichever comes first.
// When no broker answers at the start, it returns at once. Retriable fetch
// errors (such as a topic that does not exist yet) are retried by kgo until
// c.IdleTimeout passes without a record: then the run ends, with an error
// when the topic does not exist or fewer than c.Records were read (a run
// bounded by Duration alone just ends). The first other fetch error ends the
// run and is returned.
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
	idle := false      // the run ended waiting IdleTimeout for a record
	last := time.Now() // when the last record arrived (or the run started)
	for fetchErr == nil && (c.Records == 0 || m.Records() < c.Records) {
		pollCtx, cancel := runCtx, context.CancelFunc(func() {})
		if c.IdleTimeout > 0 {
			pollCtx, cancel = context.WithDeadline(runCtx, last.Add(c.IdleTimeout))
		}
		fs := cl.PollFetches(pollCtx)
		cancel()
		var got int64
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			var bytes int64
			for _, r := range p.Records {
				bytes += int64(len(r.Key) + len(r.Value))
			}
			got += int64(len(p.Records))
			m.Add(int64(len(p.Records)), bytes)
		})
		if runCtx.Err() != nil {
			break
		}
		if got > 0 {
			last = time.Now()
		} else if c.IdleTimeout > 0 && time.Since(last) >= c.IdleTimeout {
			fetchErr = idleError(ctx, cl, c, m.Records()) // nil: the run just ends
			idle = true
			break
		}
		fs.EachError(func(_ string, _ int32, err error) {
			if fetchErr == nil && !kerr.IsRetriable(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				fetchErr = err
			}
		})
	}
	end := time.Now()
	if idle && m.Records() > 0 {
		end = last // the wait for nothing is not part of the run
	}
	res := m.StopAt(end)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("bench: consume: %w", err)
	}
	if fetchErr != nil {
		return res, fmt.Errorf("bench: consume: %w", fetchErr)
	}
	return res, nil
}

// idleError explains a run that waited IdleTimeout for a record: the topic
// does not exist, or fewer records than c.Records came. A run bounded by
// Duration alone (c.Records 0) just ends, as when Duration passes: nil.
func idleError(ctx context.Context, cl *kgo.Client, c ConsumeConfig, read int64) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	topics, err := kadm.NewClient(cl).ListTopics(ctx, c.Topic)
	if err == nil && !topics.Has(c.Topic) {
		return fmt.Errorf("topic %q does not exist", c.Topic)
	}
	if c.Records == 0 {
		return nil
	}
	return fmt.Errorf("no record for %s after reading %d of %d (see the idle timeout)", c.IdleTimeout, read, c.Records)
}
