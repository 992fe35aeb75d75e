//go:build !(linux || darwin || freebsd)

package broker

// diskSpace: unknown (-1, -1, as Kafka reports it) where statfs is not available.
func diskSpace(string) (total, usable int64) { return -1, -1 }
