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

// wfunc is one function of a hand-written module: a type index, local declarations
// (count, type) and the code without its final end.
type wfunc struct {
	typ    byte
	locals []localDecl
	code   []byte
	export string
}

type localDecl struct {
	n   uint32
	typ byte
}

// wmod is a small module builder for tests that need code a Go guest cannot produce.
// Types: 0 () -> i32, 1 (i32) -> i32, 2 (i32, i32) -> i64, 3 (i32) -> (), 4 () -> ().
type wmod struct {
	imports  [][]byte
	nImports uint32 // imported functions
	funcs    []wfunc
	table    uint32 // funcref table size (0: none)
	tableMax int64  // -1: no maximum
	elems    []uint32
	globals  [][]byte
	start    int // function index + 1 of the start function (0: none)
	data     map[uint32][]byte
	pages    byte
}

func (m wmod) bytes() []byte {
	types := section(1, vec(
		[]byte{0x60, 0, 1, tI32},
		[]byte{0x60, 1, tI32, 1, tI32},
		[]byte{0x60, 2, tI32, tI32, 1, tI64},
		[]byte{0x60, 1, tI32, 0},
		[]byte{0x60, 0, 0},
	))
	var parts [][]byte
	parts = append(parts, []byte{0, 'a', 's', 'm', 1, 0, 0, 0}, types)
	if len(m.imports) > 0 {
		parts = append(parts, section(2, vec(m.imports...)))
	}
	var fs, codes, exports [][]byte
	for i, f := range m.funcs {
		fs = append(fs, []byte{f.typ})
		var locals [][]byte
		for _, l := range f.locals {
			locals = append(locals, append(leb(l.n), l.typ))
		}
		body := cat(vec(locals...), f.code, []byte{0x0b})
		codes = append(codes, cat(leb(uint32(len(body))), body))
		if f.export != "" {
			exports = append(exports, cat(name(f.export), []byte{0x00}, leb(m.nImports+uint32(i))))
		}
	}
	parts = append(parts, section(3, vec(fs...)))
	if m.table > 0 {
		lim := cat([]byte{0x00}, leb(m.table))
		if m.tableMax >= 0 {
			lim = cat([]byte{0x01}, leb(m.table), leb(uint32(m.tableMax)))
		}
		parts = append(parts, section(4, vec(cat([]byte{0x70}, lim))))
	}
	parts = append(parts, section(5, vec([]byte{0x00, max(m.pages, 1)})))
	if len(m.globals) > 0 {
		parts = append(parts, section(6, vec(m.globals...)))
	}
	exports = append(exports, cat(name("memory"), []byte{0x02, 0}))
	parts = append(parts, section(7, vec(exports...)))
	if m.start > 0 {
		parts = append(parts, section(8, leb(m.nImports+uint32(m.start-1))))
	}
	if len(m.elems) > 0 {
		var idx [][]byte
		for _, e := range m.elems {
			idx = append(idx, leb(e))
		}
		parts = append(parts, section(9, vec(cat([]byte{0x00, 0x41, 0x00, 0x0b}, vec(idx...)))))
	}
	parts = append(parts, section(10, vec(codes...)))
	if len(m.data) > 0 {
		var segs [][]byte
		for off, d := range m.data {
			segs = append(segs, cat([]byte{0x00, 0x41}, sleb(int64(off)), []byte{0x0b}, leb(uint32(len(d))), d))
		}
		parts = append(parts, section(11, vec(segs...)))
	}
	return cat(parts...)
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func i32const(v int32) []byte { return cat([]byte{0x41}, sleb(int64(v))) }
func i64const(v int64) []byte { return cat([]byte{0x42}, sleb(v)) }

// pluginFuncs are the exports every plugin needs: abi_version, plugin_kinds (all kinds)
// and plugin_alloc, which returns address 1024.
func pluginFuncs() []wfunc {
	return []wfunc{
		{typ: 0, code: i32const(ABIVersion), export: "abi_version"},
		{typ: 0, code: i32const(7), export: "plugin_kinds"},
		{typ: 1, code: i32const(1024), export: "plugin_alloc"},
	}
}

// resultModule is a plugin whose kind exports return ptr<<32|len of a data segment
// holding result, at address 4096.
func resultModule(result []byte) []byte {
	ret := i64const(4096<<32 | int64(len(result)))
	m := wmod{funcs: pluginFuncs(), data: map[uint32][]byte{4096: result}}
	for _, e := range []string{"partition", "assign", "transform"} {
		m.funcs = append(m.funcs, wfunc{typ: 2, code: ret, export: e})
	}
	return m.bytes()
}
