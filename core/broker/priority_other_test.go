//go:build !linux

package broker

import "testing"

func threadNice(t *testing.T) int { return 0 }
