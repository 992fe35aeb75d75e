package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ConsumeOptions configures Consume. The zero value of every field but Topic
// is a valid default: all partitions from the latest offset, no group, until
// ctx is done, printed with DefaultFormat.
type ConsumeOptions struct {
	Topic         string
	FromBeginning bool          // same as Offset "earliest"
	Offset        string        // "earliest", "latest" (default), N (absolute) or -N (N before the end)
	Partitions    []int32       // partitions to read; nil means all
	Count         int64         // stop after this many records; 0 means no limit
	Idle          time.Duration // stop after this long without a record; 0 means until ctx is done
	Format        string        // record format (see the package documentation); "" means DefaultFormat
	Group         string        // consumer group; the offsets of printed records are committed on exit
}

// ParseOffset parses a start offset: "earliest", "latest", N (an absolute
// offset) or -N (N records before the end).
func ParseOffset(s string) (kgo.Offset, error) {
	switch s {
	case "", "latest":
		return kgo.NewOffset().AtEnd(), nil
	case "earliest", "beginning":
		return kgo.NewOffset().AtStart(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return kgo.Offset{}, fmt.Errorf("bad --offset %q: want earliest, latest, N or -N", s)
	}
	if n < 0 {
		return kgo.NewOffset().AtEnd().Relative(n), nil
	}
	return kgo.NewOffset().At(n), nil
}

// Consume prints records of o.Topic to env.Stdout until o.Count records were
// printed, o.Idle passed without a record, or ctx is done (all three end
// without error), and reports the count on env.Stderr.
func Consume(ctx context.Context, env Env, o ConsumeOptions) error {
	if o.Format == "" {
		o.Format = DefaultFormat
	}
	f, err := ParseFormat(o.Format)
	if err != nil {
		return err
	}
	if o.FromBeginning && o.Offset != "" {
		return errors.New("--from-beginning and --offset cannot be used together")
	}
	if o.FromBeginning {
		o.Offset = "earliest"
	}
	start, err := ParseOffset(o.Offset)
	if err != nil {
		return err
	}
	if o.Group != "" && len(o.Partitions) > 0 {
		return errors.New("--group and --partition cannot be used together")
	}
	if o.Count < 0 {
		return fmt.Errorf("bad -n %d: want a count >= 0", o.Count)
	}

	var opts []kgo.Opt
	switch {
	case len(o.Partitions) > 0:
		ps := make(map[int32]kgo.Offset, len(o.Partitions))
		for _, p := range o.Partitions {
			ps[p] = start
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.Topic: ps}),
			kgo.ConsumeResetOffset(start)) // an offset past the end resumes at the end
	case o.Group != "":
		opts = append(opts, kgo.ConsumerGroup(o.Group), kgo.ConsumeTopics(o.Topic),
			kgo.ConsumeResetOffset(start), kgo.AutoCommitMarks())
	default:
		opts = append(opts, kgo.ConsumeTopics(o.Topic), kgo.ConsumeResetOffset(start))
	}

	cctx, cancel := context.WithTimeout(ctx, env.timeout())
	defer cancel()
	cl, err := env.connect(cctx, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := checkTopic(cctx, env, adm, o.Topic, -1); err != nil {
		return err
	}
	for _, p := range o.Partitions {
		if err := checkTopic(cctx, env, adm, o.Topic, p); err != nil {
			return err
		}
	}

	consumed, err := pollLoop(ctx, env, cl, f, o)
	if o.Group != "" {
		gctx, gcancel := context.WithTimeout(context.WithoutCancel(ctx), env.timeout())
		defer gcancel()
		if cerr := cl.CommitMarkedOffsets(gctx); cerr != nil && err == nil {
			err = fmt.Errorf("group %q: commit offsets: %v", o.Group, cerr)
		}
		if lerr := cl.LeaveGroupContext(gctx); lerr != nil && err == nil {
			err = fmt.Errorf("group %q: leave: %v", o.Group, lerr)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "Consumed %d records.\n", consumed)
	return nil
}

// pollLoop prints records until o.Count, o.Idle or ctx ends it.
func pollLoop(ctx context.Context, env Env, cl *kgo.Client, f *Format, o ConsumeOptions) (int64, error) {
	w := bufio.NewWriterSize(env.Stdout, 64<<10)
	var (
		consumed int64
		buf      []byte
		last     = time.Now()
	)
	for o.Count == 0 || consumed < o.Count {
		pctx, pcancel := ctx, context.CancelFunc(func() {})
		if o.Idle > 0 {
			pctx, pcancel = context.WithDeadline(ctx, last.Add(o.Idle))
		}
		limit := -1
		if o.Count > 0 {
			limit = int(min(o.Count-consumed, 1<<20))
		}
		fs := cl.PollRecords(pctx, limit)
		pcancel()

		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			buf = f.Append(buf[:0], r)
			w.Write(buf)
			n++
			if o.Group != "" {
				cl.MarkCommitRecords(r)
			}
		})
		consumed += int64(n)
		if n > 0 {
			last = time.Now()
		}
		if err := w.Flush(); err != nil {
			return consumed, fmt.Errorf("writing output: %v", err)
		}

		for _, fe := range fs.Errors() {
			var loss *kgo.ErrDataLoss
			switch {
			case errors.Is(fe.Err, context.Canceled), errors.Is(fe.Err, context.DeadlineExceeded),
				errors.Is(fe.Err, kgo.ErrClientClosed):
				// ctx done (interrupt) or idle timeout: a normal end.
				return consumed, nil
			case errors.As(fe.Err, &loss):
				fmt.Fprintf(env.Stderr, "streamd: warning: %v\n", fe.Err)
			case fe.Topic == "" && o.Group != "":
				return consumed, fmt.Errorf("consume with group %q: %v", o.Group, fe.Err)
			case fe.Topic == "":
				return consumed, fmt.Errorf("consume: %v", fe.Err)
			default:
				return consumed, fmt.Errorf("consume topic %q partition %d: %v", fe.Topic, fe.Partition, fe.Err)
			}
		}
	}
	return consumed, nil
}
