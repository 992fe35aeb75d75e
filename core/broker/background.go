package broker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// every runs fn every interval on one goroutine (registered in b.bg) until the broker
// stops. The background services (retention, the cleaner, offset expiry) use it.
func (b *Broker) every(interval time.Duration, fn func()) {
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		b.tick(interval, fn)
	}()
}

// everyLowPriority is every on a goroutine that runs at the lowest CPU priority (see
// priority.go); the log cleaner uses it.
func (b *Broker) everyLowPriority(interval time.Duration, fn func()) {
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		// Locked to its thread until it returns, which ends the thread.
		if err := lowerThreadPriority(); err != nil {
			b.log.Info("background work runs at normal priority", "err", err)
		}
		b.tick(interval, fn)
	}()
}

// tick calls fn every interval until the broker stops.
func (b *Broker) tick(interval time.Duration, fn func()) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
		fn()
	}
}

// register adds a background service's metrics to the broker's registry; a failure is
// logged, never fatal.
func (m *metrics) register(log interface{ Warn(string, ...any) }, service string, cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			log.Warn(service+": registering metric", "err", err)
		}
	}
}
