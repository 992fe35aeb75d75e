package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultTimeout bounds connecting and each admin request when Env.Timeout
// is zero.
const DefaultTimeout = 10 * time.Second

// Env is where a command reads and writes and how it reaches the cluster.
type Env struct {
	Brokers []string      // seed brokers, host:port
	Timeout time.Duration // bounds connecting and admin requests; 0 means DefaultTimeout (and no --timeout hint in errors)
	Stdin   io.Reader     // produce input
	Stdout  io.Writer     // command output
	Stderr  io.Writer     // summaries and warnings
}

func (e Env) timeout() time.Duration {
	if e.Timeout > 0 {
		return e.Timeout
	}
	return DefaultTimeout
}

// ParseBrokers splits a comma-separated broker list, dropping blanks.
func ParseBrokers(s string) ([]string, error) {
	var out []string
	for b := range strings.SplitSeq(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no brokers given (--brokers host:port[,host:port...])")
	}
	return out, nil
}

// connect creates a client and checks within ctx that one broker answers,
// so an unreachable cluster fails quickly with a clear error instead of
// retrying until some far-away deadline.
func (e Env) connect(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, error) {
	if len(e.Brokers) == 0 {
		return nil, errors.New("no brokers given (--brokers host:port[,host:port...])")
	}
	// The request overhead also bounds the connection handshake, which
	// does not watch ctx; kgo allows 100ms to 15m.
	overhead := min(max(e.timeout(), 100*time.Millisecond), 15*time.Minute)
	all := append([]kgo.Opt{
		kgo.SeedBrokers(e.Brokers...),
		kgo.DialTimeout(e.timeout()),
		kgo.RequestTimeoutOverhead(overhead),
	}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, err
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		var ne net.Error
		if ctxErr := e.ctxError(ctx); ctxErr != nil {
			if !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
				return nil, ctxErr // interrupted
			}
			err = ctxErr
		} else if errors.As(err, &ne) && ne.Timeout() {
			err = e.timeoutError()
		}
		return nil, fmt.Errorf("cannot reach any broker (%s): %v", strings.Join(e.Brokers, ","), err)
	}
	return cl, nil
}

// admin runs fn with an admin client bounded by the Env timeout.
func (e Env) admin(ctx context.Context, fn func(ctx context.Context, adm *kadm.Client) error) error {
	return e.clients(ctx, func(ctx context.Context, _ *kgo.Client, adm *kadm.Client) error {
		return fn(ctx, adm)
	})
}

// ctxError explains why ctx (bounded by the Env timeout) ended, or returns
// nil if it has not.
func (e Env) ctxError(ctx context.Context) error {
	switch {
	case ctx.Err() == nil:
		return nil
	case !errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		return errors.New("interrupted")
	default:
		return e.timeoutError()
	}
}

func (e Env) timeoutError() error {
	if e.Timeout == 0 {
		return fmt.Errorf("no answer from the broker within %v", e.timeout())
	}
	return fmt.Errorf("no answer from the broker within %v (see --timeout)", e.timeout())
}

// kafkaErr renders a Kafka error code with the broker's own message when it
// sent one ("INVALID_CONFIG: <message>"), else with the code's description.
func kafkaErr(err error, brokerMsg string) error {
	var ke *kerr.Error
	if brokerMsg != "" && errors.As(err, &ke) {
		return fmt.Errorf("%s: %s", ke.Message, brokerMsg)
	}
	return err
}

// parseKV splits "key=value"; flag names the option for the error message.
func parseKV(flag, s string) (key, value string, err error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", "", fmt.Errorf("bad %s %q: want key=value", flag, s)
	}
	return k, v, nil
}
