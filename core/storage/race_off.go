//go:build !race

package storage

// raceEnabled: built with -race (see race_on.go).
const raceEnabled = false
