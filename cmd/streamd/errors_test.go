package main

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamd/streamd/core/broker/brokertest"
)

func TestBadInputFailsWithOneLine(t *testing.T) {
	b := "--brokers=" + brokertest.Start(t)
	ok(t, "", b, "topic", "create", "t", "-p", "2")

	for _, tc := range []struct {
		name, stdin, want string
		args              []string
	}{
		{"create without -p", "", `required flag(s) "partitions" not set`, []string{"topic", "create", "x"}},
		{"create bad -c", "", `bad -c "retention.ms": want key=value`, []string{"topic", "create", "x", "-p", "1", "-c", "retention.ms"}},
		{"create invalid config value", "", "INVALID_CONFIG", []string{"topic", "create", "x1", "-p", "1", "-c", "retention.ms=soon"}},
		{"create unknown config", "", "INVALID_CONFIG", []string{"topic", "create", "x2", "-p", "1", "-c", "no.such.config=1"}},
		{"create twice", "", "TOPIC_ALREADY_EXISTS", []string{"topic", "create", "t", "-p", "1"}},
		{"alter nothing", "", "nothing to change", []string{"topic", "alter-config", "t"}},
		{"alter bad pair", "", `bad config "retention.ms"`, []string{"topic", "alter-config", "t", "retention.ms"}},
		{"alter invalid value", "", "INVALID_CONFIG", []string{"topic", "alter-config", "t", "retention.ms=soon"}},
		{"describe unknown", "", `topic "nope": UNKNOWN_TOPIC_OR_PARTITION`, []string{"topic", "describe", "nope"}},
		{"describe no name", "", "wrong number of arguments; usage: streamd topic describe NAME", []string{"topic", "describe"}},
		{"unknown subcommand", "", `unknown command "frobnicate"`, []string{"topic", "frobnicate"}},
		{"unknown flag", "", "unknown flag: --bogus", []string{"topic", "list", "--bogus"}},
		{"produce unknown topic", "a\n", `topic "nope": UNKNOWN_TOPIC_OR_PARTITION`, []string{"produce", "nope"}},
		{"produce bad acks", "a\n", `bad --acks "2": want all, 1 or 0`, []string{"produce", "t", "--acks", "2"}},
		{"produce bad compression", "a\n", `bad --compression "brotli"`, []string{"produce", "t", "--compression", "brotli"}},
		{"produce bad header", "a\n", `bad -H "novalue"`, []string{"produce", "t", "-H", "novalue"}},
		{"produce missing partition", "a\n", `topic "t" has no partition 7`, []string{"produce", "t", "--partition", "7"}},
		{"produce key and separator", "a\n", "cannot be used together", []string{"produce", "t", "--key", "k", "--key-separator", ":"}},
		{"produce line without separator", "k:v\nnokey\n", `line 2: no key separator ":" (1 records produced)`, []string{"produce", "t", "--key-separator", ":"}},
		{"consume unknown topic", "", `topic "nope": UNKNOWN_TOPIC_OR_PARTITION`, []string{"consume", "nope", "-n", "1"}},
		{"consume missing partition", "", `topic "t" has no partition 5`, []string{"consume", "t", "--partition", "5"}},
		{"consume bad offset", "", `bad --offset "first"`, []string{"consume", "t", "--offset", "first"}},
		{"consume offset and beginning", "", "cannot be used together", []string{"consume", "t", "--offset", "3", "--from-beginning"}},
		{"consume bad format", "", "unknown verb %x", []string{"consume", "t", "-f", "%x"}},
		{"consume group and partition", "", "cannot be used together", []string{"consume", "t", "-g", "g", "--partition", "0"}},
		{"bench bad acks", "", `bad --acks "many"`, []string{"bench", "produce", "--acks", "many"}},
		{"empty brokers", "", "no brokers given", []string{"topic", "list", "--brokers", " , "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fails(t, tc.want, tc.stdin, append([]string{b}, tc.args...)...)
		})
	}
}

func TestProduceRejectedByBroker(t *testing.T) {
	b := "--brokers=" + brokertest.Start(t)
	ok(t, "", b, "topic", "create", "small", "-p", "1", "-c", "max.message.bytes=200")
	big := strings.Repeat("x", 1000)
	fails(t, `produce to topic "small" partition 0: MESSAGE_TOO_LARGE`, "ok\n"+big+"\n", b, "produce", "small", "--acks", "1")
	fails(t, "MESSAGE_TOO_LARGE", big+"\n", b, "produce", "small")
}

func TestUnreachableBrokerFailsFast(t *testing.T) {
	b := "--brokers=" + closedAddr(t)
	for _, args := range [][]string{
		{"topic", "list", "--timeout", "3s"},
		{"topic", "create", "x", "-p", "1", "--timeout", "3s"},
		{"produce", "x", "--timeout", "3s"},
		{"consume", "x"},
		{"bench", "produce", "--records", "10"},
		{"bench", "consume", "--records", "10"},
	} {
		start := time.Now()
		fails(t, "cannot reach any broker ("+b[len("--brokers="):]+")", "a\n", append([]string{b}, args...)...)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%v: took %v to report a refused connection", args, d)
		}
	}
}

func TestSilentBrokerTimesOut(t *testing.T) {
	addr := silentAddr(t)
	for _, args := range [][]string{
		{"topic", "list", "--timeout", "300ms"},
		{"produce", "x", "--timeout", "300ms"},
	} {
		start := time.Now()
		fails(t, "no answer from the broker within 300ms (see --timeout)", "a\n", append([]string{"--brokers", addr}, args...)...)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%v: took %v with --timeout 300ms", args, d)
		}
	}
}

// silentAddr is a 127.0.0.1 address that accepts connections and never
// answers.
func silentAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}
