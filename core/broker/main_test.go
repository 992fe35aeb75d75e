package broker_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChildConsumer()) // this process is a group member a test will kill
	}
	goleak.VerifyTestMain(m,
		// Third-party clients used by the compatibility tests keep package-level
		// goroutines: sarama's go-metrics meter ticker and kafka-go's shared default
		// transport. None of these belong to the broker.
		goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
		goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*conn).run"),
		goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*connPool).discover"),
	)
}
