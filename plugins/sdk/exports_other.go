//go:build !wasip1

package sdk

// On targets other than wasip1 the package has no exports: it still builds and vets so
// that the handlers and codec can be unit-tested natively.
