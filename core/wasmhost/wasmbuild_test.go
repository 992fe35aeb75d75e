package wasmhost

// A minimal WebAssembly binary writer for the load-rejection tests, so those modules need
// no compiler.

func leb(v uint32) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func vec(items ...[]byte) []byte {
	b := leb(uint32(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func name(s string) []byte { return append(leb(uint32(len(s))), s...) }

func section(id byte, content []byte) []byte {
	return append(append([]byte{id}, leb(uint32(len(content)))...), content...)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

const (
	tI32 = 0x7f
	tI64 = 0x7e
)

// fakeModule describes a hand-written plugin module whose functions return constants.
type fakeModule struct {
	importEvil bool   // import env.evil
	abi        int32  // value returned by abi_version
	kinds      int32  // value returned by plugin_kinds
	skip       string // export name to leave out
}

func (f fakeModule) bytes() []byte {
	types := section(1, vec(
		[]byte{0x60, 0, 1, tI32},             // 0: () -> i32
		[]byte{0x60, 1, tI32, 1, tI32},       // 1: (i32) -> i32
		[]byte{0x60, 2, tI32, tI32, 1, tI64}, // 2: (i32, i32) -> i64
	))
	var imports []byte
	nimp := uint32(0)
	if f.importEvil {
		imports = section(2, vec(cat(name("env"), name("evil"), []byte{0x00, 0})))
		nimp = 1
	}
	i32c := func(v int32) []byte { return []byte{0x41, byte(v & 0x3f)} } // small values only
	bodies := []struct {
		name string
		typ  byte
		code []byte
	}{
		{"abi_version", 0, i32c(f.abi)},
		{"plugin_kinds", 0, i32c(f.kinds)},
		{"plugin_alloc", 1, i32c(0)},
		{"partition", 2, []byte{0x42, 0}},
	}
	var funcs, codes, exports [][]byte
	for i, b := range bodies {
		funcs = append(funcs, []byte{b.typ})
		body := cat([]byte{0}, b.code, []byte{0x0b})
		codes = append(codes, cat(leb(uint32(len(body))), body))
		if b.name != f.skip {
			exports = append(exports, cat(name(b.name), []byte{0x00}, leb(nimp+uint32(i))))
		}
	}
	exports = append(exports, cat(name("memory"), []byte{0x02, 0}))
	return cat(
		[]byte{0, 'a', 's', 'm', 1, 0, 0, 0},
		types, imports,
		section(3, vec(funcs...)),
		section(5, vec([]byte{0x00, 1})),
		section(7, vec(exports...)),
		section(10, vec(codes...)),
	)
}
