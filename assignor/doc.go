// Package assignor holds consumer-group assignment strategies as pure functions (group
// spec → assignment): Range, RoundRobin, Sticky, CooperativeSticky and Uniform, plus the
// adapter for uploaded Wasm assignors. Introduced with the consumer-group coordinator.
package assignor
