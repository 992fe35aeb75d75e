//go:build !linux

package storage

import "os"

func prefetch(*os.File, int64, int64) {}

func noReadahead(*os.File) {}
