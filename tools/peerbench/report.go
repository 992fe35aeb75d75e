//go:build linux

package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// report is everything one peerbench run prints.
type report struct {
	opts        options
	started     time.Time
	machine     string
	disk        diskCeiling
	results     []measurement // per system, the best of its rounds (bestOf)
	rounds      []measurement // every round of every system
	latencyRate float64
}

// columnNames are the table headers of the system variants.
var columnNames = map[string]string{
	"streamd":     "streamd",
	"kfake-async": "kfake",
	"kfake-sync":  "kfake sync",
	"nats-async":  "NATS",
	"nats-sync":   "NATS sync",
}

// row is one metric of the results table: a number (with a ratio column per
// peer) or, when text is set, a description without ratios.
type row struct {
	label  string
	format string // for the value; ratios are always %.2f×
	value  func(measurement) float64
	text   func(measurement) string
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

var rows = []row{
	{"produce peak, MiB/s", "%.1f", func(m measurement) float64 { return m.peak.MiBps }, nil},
	{"produce peak, records/s", "%.0f", func(m measurement) float64 { return m.peak.RecordsPerSec }, nil},
	{"produce at peak, p50 ms", "%.2f", func(m measurement) float64 { return ms(m.peak.P50) }, nil},
	{"produce at peak, p99 ms", "%.2f", func(m measurement) float64 { return ms(m.peak.P99) }, nil},
	{"latency run, achieved records/s", "%.0f", func(m measurement) float64 { return m.latRun.RecordsPerSec }, nil},
	{"latency run, p50 ms", "%.2f", func(m measurement) float64 { return ms(m.latRun.P50) }, nil},
	{"latency run, p99 ms", "%.2f", func(m measurement) float64 { return ms(m.latRun.P99) }, nil},
	{"latency run, p99.9 ms", "%.2f", func(m measurement) float64 { return ms(m.latRun.P999) }, nil},
	{"latency run, broker Produce requests over 10 ms (read to answered)", "", nil, func(m measurement) string { return m.latProduce.String() }},
	{"latency run, log flushes over 10 ms", "", nil, func(m measurement) string { return m.latFlushes.String() }},
	{"latency run, broker goroutine waits for a CPU over 10 ms (sampled)", "", nil, func(m measurement) string { return m.latSched.String() }},
	{"latency run, load generator goroutine waits for a CPU over 10 ms (sampled)", "", nil, func(m measurement) string { return m.latClientSched.String() }},
	{"consume (read back), MiB/s", "%.1f", func(m measurement) float64 { return m.read.MiBps }, nil},
	{"consume, load generator at GOGC=100, MiB/s", "%.1f", func(m measurement) float64 { return m.readDefaultGC.MiBps }, nil},
	{"broker peak RSS (VmHWM), MiB", "%.0f", func(m measurement) float64 { return float64(m.hwm) / (1 << 20) }, nil},
	{"broker RSS at end (VmRSS), MiB", "%.0f", func(m measurement) float64 { return float64(m.rss) / (1 << 20) }, nil},
}

func (r report) write(w io.Writer) error {
	var b strings.Builder
	o := r.opts
	fmt.Fprintf(&b, "### peerbench, %s\n\n", r.started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Machine: %s. The load generator and the broker share the machine and talk over loopback.\n\n", r.machine)
	warm := ""
	if o.warmup > 0 {
		warm = fmt.Sprintf("%s warm-up, then ", o.warmup)
	}
	latWarm := ""
	if o.latencyWarm > 0 {
		latWarm = fmt.Sprintf(" (measured after the same client ran %s at that rate)", o.latencyWarm)
	}
	fmt.Fprintf(&b, "Workload: %d-byte records, %d partitions (NATS: subjects of one stream), acks=all, no compression, "+
		"%d producer client(s); %s%s peak produce, read-back of everything produced, "+
		"%s latency run at %.0f records/s (%s)%s. The load generator runs with GOGC=%d (the brokers with their defaults). %s\n\n",
		o.recordSize, o.partitions, o.concurrency, warm, o.duration, o.latencyDur, r.latencyRate, r.rateOrigin(), latWarm, o.clientGOGC, roundsNote(o.rounds))

	b.WriteString("| disk ceiling (data dir) | result |\n|---|---|\n")
	fmt.Fprintf(&b, "| 64 KiB append + fdatasync | %.1f MiB/s |\n", r.disk.Seq64K)
	fmt.Fprintf(&b, "| 1 MiB append + fdatasync | %.1f MiB/s |\n", r.disk.Seq1M)
	fmt.Fprintf(&b, "| 1 MiB `O_DIRECT` read of that file | %.1f MiB/s |\n", r.disk.Read1M)
	fmt.Fprintf(&b, "| the same, %d readers at once (one per partition) | %.1f MiB/s |\n", r.disk.ReadersPar, r.disk.Read1MPar)
	fmt.Fprintf(&b, "| the same, into huge-page buffers (as streamd reads) | %.1f MiB/s |\n", r.disk.Read1MHuge)
	fmt.Fprintf(&b, "| 4 KiB append + fsync, p50 / p99 | %.2f ms / %.2f ms (%d syncs) |\n\n",
		ms(r.disk.Sync4KP50), ms(r.disk.Sync4KP99), r.disk.Sync4KOps)

	var streamd *measurement
	for i := range r.results {
		if r.results[i].system == "streamd" {
			streamd = &r.results[i]
		}
	}
	var others []measurement
	b.WriteString("| metric |")
	for _, m := range r.results {
		fmt.Fprintf(&b, " %s |", columnNames[m.system])
		if streamd != nil && m.system != "streamd" {
			others = append(others, m)
		}
	}
	for _, m := range others {
		fmt.Fprintf(&b, " streamd ÷ %s |", columnNames[m.system])
	}
	b.WriteString("\n|---|" + strings.Repeat("--:|", len(r.results)+len(others)) + "\n")
	for _, rw := range rows {
		fmt.Fprintf(&b, "| %s |", rw.label)
		for _, m := range r.results {
			if rw.text != nil {
				fmt.Fprintf(&b, " %s |", rw.text(m))
				continue
			}
			fmt.Fprintf(&b, " %s |", cell(rw.format, rw.value(m)))
		}
		for _, m := range others {
			if rw.text != nil {
				b.WriteString(" |")
				continue
			}
			fmt.Fprintf(&b, " %s |", ratio(rw.value(*streamd), rw.value(m)))
		}
		b.WriteString("\n")
	}
	for _, m := range r.results {
		if m.err != nil {
			fmt.Fprintf(&b, "\n%s failed: %s\n", columnNames[m.system], oneLine(m.err.Error()))
		}
	}
	if o.rounds > 1 {
		r.writeRounds(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func roundsNote(rounds int) string {
	if rounds <= 1 {
		return "One round."
	}
	return fmt.Sprintf("%d rounds, each in a rotated order. For each system the table gives its best round per metric: "+
		"the highest peak produce (with that run's latencies), the highest read-back (each of the two), the latency run with the lowest p99 "+
		"(with that run's rate, p50, p99.9 and its events over 10 ms), and the highest RSS of all rounds; every round is listed after it.", rounds)
}

// writeRounds lists every round's main figures.
func (r report) writeRounds(b *strings.Builder) {
	b.WriteString("\n| system | round | produce peak, MiB/s | consume, MiB/s | consume at GOGC=100, MiB/s | latency run, records/s | latency run, p99 ms | over 10 ms in that run | peak RSS, MiB |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|---|--:|\n")
	for _, m := range r.rounds {
		if m.err != nil {
			fmt.Fprintf(b, "| %s | %d | failed: %s | | | | | | |\n", columnNames[m.system], m.round, strings.ReplaceAll(oneLine(m.err.Error()), "|", "/"))
			continue
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", columnNames[m.system], m.round,
			cell("%.1f", m.peak.MiBps), cell("%.1f", m.read.MiBps), cell("%.1f", m.readDefaultGC.MiBps), cell("%.0f", m.latRun.RecordsPerSec),
			cell("%.2f", ms(m.latRun.P99)), m.slowSummary(), cell("%.0f", float64(m.hwm)/(1<<20)))
	}
}

// slowSummary counts a latency run's events over 10 ms, those measured: broker
// Produce requests, log flushes, broker and load generator waits for a CPU.
func (m measurement) slowSummary() string {
	var parts []string
	for _, e := range []struct {
		what string
		s    slowEvents
	}{{"requests", m.latProduce}, {"flushes", m.latFlushes}, {"broker CPU waits", m.latSched}, {"generator CPU waits", m.latClientSched}} {
		if e.s.Watched {
			parts = append(parts, fmt.Sprintf("%s %d", e.what, e.s.Over))
		}
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

func (r report) rateOrigin() string {
	if r.opts.latencyRate > 0 {
		return "set by -latency-rate"
	}
	for _, m := range r.results {
		if m.peak.RecordsPerSec > 0 {
			return "half of " + columnNames[m.system] + "'s peak"
		}
	}
	return "no peak measured"
}

// cell formats a value; zero means "not measured".
func cell(format string, v float64) string {
	if v == 0 {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

// ratio is a / b, or a dash when either side was not measured.
func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "—"
	}
	if r := a / b; r < 0.1 {
		return fmt.Sprintf("%.3f×", r)
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}
