//go:build !linux

package storage

import (
	"errors"
	"os"
)

func fallocKeepSize(*os.File, int64, int64) error { return errors.ErrUnsupported }
