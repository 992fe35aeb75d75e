//go:build !linux

package broker

import "testing"

func threadNice(t *testing.T) int { return 0 }

func threadPolicy(t *testing.T) int { return 0 }

const schedIdle = 5
