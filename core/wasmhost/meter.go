package wasmhost

import (
	"fmt"

	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Metering: how the host stops runaway guests cheaply.
//
// wazero's own mechanism, RuntimeConfig.WithCloseOnContextDone, compiles a call back into
// Go at every loop back-edge; in a Go guest that costs tens of nanoseconds per loop
// iteration and function call (wazero issue #2466) and dominated every plugin call. It
// also checks nothing at function entry, so code that recurses exponentially without a
// loop is never stopped.
//
// Instead, Load rewrites every module before compiling it (meter):
//
//   - a mutable i32 global, the fuel counter, is appended to the globals;
//   - an import "streamd"."refuel" () -> i32 is appended to the imports (so the index of
//     every defined function shifts by one; calls, ref.func, exports, the start function,
//     and element segments are renumbered; custom sections, the name section included,
//     are dropped);
//   - at every function entry and at the top of every loop body, a charge is inserted:
//     fuel -= cost; if fuel < 0 { fuel = refuel() }, where cost is the number of
//     instructions the function (outside its loops) or the loop body (outside nested
//     loops) holds. Between two charges a guest therefore executes at most the charged
//     number of instructions, plus calls whose callees charge on entry;
//   - before every bulk memory or table operation (memory.fill/copy/init, table.*), a
//     charge of size/64 more units, since their cost grows with the size operand.
//
// refuel is a Go host function: each time the fuel runs out (every refuelBudget units,
// well under a millisecond of guest work) the guest exits to Go, where the goroutine can
// be preempted (the Go GC's stop-the-world waits for it otherwise) and where the call's
// deadline, its context and the instance's closed state are checked; a call past its
// deadline is aborted there and its instance discarded. A fuel check costs a few
// nanoseconds of inline code instead of an exit to Go.
//
// The rewriter decodes every instruction of the WebAssembly 2.0 feature set the runtime
// enables and rejects anything it does not know. It also protects the host process from
// modules that would make wazero allocate without bound, in the host's heap, whatever they
// declare: every vector length must fit in its section, every length in its vector (a
// 20-byte module declaring a data section of 2^32 segments would otherwise exhaust the
// host's memory at compile time), a function may have at most maxLocals locals and a
// table at most maxTableEntry entries.

const (
	meterModule    = "streamd"
	meterFunc      = "refuel"
	refuelBudget   = 1 << 20 // fuel units granted per refuel (≈ instructions)
	bulkUnitShift  = 6       // bulk operations cost 1 unit per 64 bytes or entries
	maxLocals      = 50000   // per function, parameters included
	maxTableEntry  = 1 << 20 // per table, minimum and (when table.grow is used) maximum
	maxSectionElts = 1 << 24 // sanity bound on vector lengths
)

// wasm section ids
const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secFunction = 3
	secTable    = 4
	secMemory   = 5
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secElement  = 9
	secCode     = 10
	secData     = 11
	secDataCnt  = 12
)

// sectionOrder is the position of each known section id in the required order.
var sectionOrder = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secGlobal: 6,
	secExport: 7, secStart: 8, secElement: 9, secDataCnt: 10, secCode: 11, secData: 12,
}

type modSection struct {
	id      byte
	content []byte
}

// meterer holds what rewriting one module needs.
type meterer struct {
	sections   []modSection
	types      [][2]int // param and result counts per type
	funcTypes  []uint32 // type index per defined function
	oldImports uint32   // number of imported functions in the input
	refuelType uint32
	fuelGlobal uint32
	tableGrow  bool // the code uses table.grow
	tablesMax  bool // every table declares a maximum ≤ maxTableEntry
}

// meter returns the metered form of a module (see above), or an error that says why the
// module is not acceptable. allowedImport reports whether a wasi_snapshot_preview1
// function may be imported.
func meter(wasm []byte, allowedImport func(string) bool) ([]byte, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, fmt.Errorf("not a WebAssembly module")
	}
	if string(wasm[4:8]) != "\x01\x00\x00\x00" {
		return nil, fmt.Errorf("unsupported WebAssembly binary version %x", wasm[4:8])
	}
	m := &meterer{tablesMax: true}
	r := &wreader{b: wasm, i: 8}
	last := 0
	for !r.eof() {
		id := r.byte()
		content := r.bytes(r.u32())
		if r.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, r.err)
		}
		if id == secCustom {
			m.sections = append(m.sections, modSection{id, content})
			continue
		}
		ord, ok := sectionOrder[id]
		if !ok {
			return nil, fmt.Errorf("unknown section %d", id)
		}
		if ord <= last {
			return nil, fmt.Errorf("section %d out of order", id)
		}
		last = ord
		m.sections = append(m.sections, modSection{id, content})
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := m.scan(allowedImport); err != nil {
		return nil, err
	}
	return m.write()
}

// scan reads the sections the rewrite depends on and checks imports and limits.
func (m *meterer) scan(allowedImport func(string) bool) error {
	var nGlobals uint32
	for _, s := range m.sections {
		r := &wreader{b: s.content}
		switch s.id {
		case secType:
			n := r.count()
			for i := uint32(0); i < n && r.err == nil; i++ {
				if r.byte() != 0x60 {
					return fmt.Errorf("type %d: not a function type", i)
				}
				np := r.valTypes()
				resAt := r.i
				nr := r.valTypes()
				m.types = append(m.types, [2]int{np, nr})
				if np == 0 && nr == 1 && r.err == nil && r.b[resAt+1] == 0x7f && m.refuelType == 0 {
					m.refuelType = i + 1 // +1: 0 means none yet
				}
			}
		case secImport:
			n := r.count()
			for i := uint32(0); i < n && r.err == nil; i++ {
				mod, name := r.name(), r.name()
				kind := r.byte()
				if r.err != nil {
					break
				}
				if kind != 0x00 || mod != wasi_snapshot_preview1.ModuleName || !allowedImport(name) {
					what := map[byte]string{0: "", 1: "table ", 2: "memory ", 3: "global "}[kind]
					return fmt.Errorf("import %s%s.%s is not allowed (only the wasi_snapshot_preview1 functions the Go runtime needs)", what, mod, name)
				}
				r.u32()
				m.oldImports++
			}
		case secFunction:
			n := r.count()
			for i := uint32(0); i < n && r.err == nil; i++ {
				m.funcTypes = append(m.funcTypes, r.u32())
			}
		case secTable:
			n := r.count()
			for i := uint32(0); i < n && r.err == nil; i++ {
				if c := r.byte(); c != 0x70 && c != 0x6f {
					r.fail("table %d: bad reference type", i)
				}
				flags := r.byte()
				if flags > 1 {
					r.fail("table %d: limits flags %d", i, flags)
				}
				if min := r.u32(); min > maxTableEntry {
					return fmt.Errorf("table %d: %d entries, limit %d", i, min, maxTableEntry)
				}
				if flags&1 == 0 {
					m.tablesMax = false
				} else if r.u32() > maxTableEntry {
					m.tablesMax = false
				}
			}
		case secMemory:
			if n := r.count(); n > 1 {
				r.fail("%d memories", n)
			} else if n == 1 {
				flags := r.byte()
				if flags > 1 {
					r.fail("memory limits flags %d", flags)
				}
				r.u32()
				if flags == 1 {
					r.u32()
				}
			}
		case secDataCnt:
			r.u32()
		case secGlobal:
			nGlobals = r.count()
			r.i = len(r.b) // parsed by globals
		case secExport, secStart, secElement, secCode, secCustom:
			r.i = len(r.b) // parsed when written (custom sections: dropped)
		case secData:
			// Copied unchanged, but checked: wazero's decoder allocates a segment's
			// declared size before reading it.
			n := r.count()
			for i := uint32(0); i < n && r.err == nil; i++ {
				switch flags := r.u32(); flags {
				case 0:
					m.constExpr(r, nil)
				case 1:
				case 2:
					r.u32()
					m.constExpr(r, nil)
				default:
					return fmt.Errorf("data segment %d: flags %d", i, flags)
				}
				r.bytes(r.u32())
			}
		}
		r.end()
		if r.err != nil {
			return fmt.Errorf("section %d: %w", s.id, r.err)
		}
	}
	for _, t := range m.funcTypes {
		if int(t) >= len(m.types) {
			return fmt.Errorf("function type index %d out of range", t)
		}
	}
	if m.refuelType == 0 {
		m.refuelType = uint32(len(m.types)) // appended by extend
	} else {
		m.refuelType--
	}
	m.fuelGlobal = nGlobals // no imported globals: the new global comes last
	return nil
}

// end fails unless everything was read.
func (r *wreader) end() {
	if r.err == nil && r.i != len(r.b) {
		r.fail("%d unexpected trailing bytes", len(r.b)-r.i)
	}
}

func (r *wreader) count() uint32 {
	n := r.u32()
	if n > maxSectionElts || int(n) > len(r.b) {
		r.fail("vector of %d elements", n)
		return 0
	}
	return n
}

func (r *wreader) valTypes() int {
	n := r.count()
	for i := uint32(0); i < n && r.err == nil; i++ {
		if !isValType(r.byte()) {
			r.fail("bad value type")
		}
	}
	return int(n)
}

// fn maps an input function index to the output's.
func (m *meterer) fn(i uint32) uint32 {
	if i >= m.oldImports {
		return i + 1
	}
	return i
}

func (m *meterer) write() ([]byte, error) {
	out := make([]byte, 0, len(m.sections)*16+sumLen(m.sections)*5/4)
	out = append(out, "\x00asm\x01\x00\x00\x00"...)
	emitted := map[byte]bool{}
	// emitMissing writes the sections the rewrite needs that the input lacks, when the
	// next input section would come after them.
	emitMissing := func(before int) {
		for _, id := range []byte{secType, secImport, secGlobal} {
			if !emitted[id] && sectionOrder[id] < before {
				out = appendSection(out, id, m.extend(id, nil))
				emitted[id] = true
			}
		}
	}
	for _, s := range m.sections {
		if s.id == secCustom {
			// Dropped: DWARF and source maps refer to the old code offsets, and function
			// names only serve wazero's stack traces, which the host does not report
			// (and which cost time to decode at every Load).
			continue
		}
		emitMissing(sectionOrder[s.id])
		var content []byte
		var err error
		switch s.id {
		case secType, secImport, secGlobal:
			content = m.extend(s.id, s.content)
			if s.id == secGlobal {
				content, err = m.globals(s.content)
			}
		case secExport:
			content, err = m.exports(s.content)
		case secStart:
			r := &wreader{b: s.content}
			content = appendLEB(nil, m.fn(r.u32()))
			r.end()
			err = r.err
		case secElement:
			content, err = m.elements(s.content)
		case secCode:
			if out, err = m.code(out, s.content); err != nil {
				return nil, fmt.Errorf("section %d: %w", s.id, err)
			}
			emitted[s.id] = true
			continue
		default:
			content = s.content
		}
		if err != nil {
			return nil, fmt.Errorf("section %d: %w", s.id, err)
		}
		emitted[s.id] = true
		out = appendSection(out, s.id, content)
	}
	emitMissing(len(sectionOrder) + 1)
	if m.tableGrow && !m.tablesMax {
		return nil, fmt.Errorf("table.grow is used but a table has no maximum of at most %d entries", maxTableEntry)
	}
	return out, nil
}

func sumLen(ss []modSection) int {
	n := 0
	for _, s := range ss {
		n += len(s.content)
	}
	return n
}

func appendSection(out []byte, id byte, content []byte) []byte {
	out = append(out, id)
	out = appendLEB(out, uint32(len(content)))
	return append(out, content...)
}

// extend appends the metering entries to a type or import section (content nil: the
// section is absent). Global sections are handled by globals.
func (m *meterer) extend(id byte, content []byte) []byte {
	var n uint32
	var rest []byte
	if content != nil {
		r := &wreader{b: content}
		n = r.u32()
		rest = content[r.i:]
	}
	switch id {
	case secType:
		if m.refuelType < uint32(len(m.types)) {
			return content
		}
		b := appendLEB(nil, n+1)
		b = append(b, rest...)
		return append(b, 0x60, 0, 1, 0x7f)
	case secImport:
		b := appendLEB(nil, n+1)
		b = append(b, rest...)
		b = appendLEB(b, uint32(len(meterModule)))
		b = append(b, meterModule...)
		b = appendLEB(b, uint32(len(meterFunc)))
		b = append(b, meterFunc...)
		b = append(b, 0x00)
		return appendLEB(b, m.refuelType)
	case secGlobal: // absent: a section holding only the fuel global
		return append(appendLEB(nil, 1), 0x7f, 0x01, 0x41, 0x00, 0x0b)
	}
	return content
}

// globals renumbers ref.func in the initializers and appends the fuel global.
func (m *meterer) globals(content []byte) ([]byte, error) {
	r := &wreader{b: content}
	n := r.count()
	b := appendLEB(nil, n+1)
	for i := uint32(0); i < n && r.err == nil; i++ {
		vt := r.bytes(2) // value type, mutability
		if r.err == nil && (!isValType(vt[0]) || vt[1] > 1) {
			r.fail("global %d: bad type", i)
		}
		b = append(b, vt...)
		b = m.constExpr(r, b)
	}
	r.end()
	if r.err != nil {
		return nil, r.err
	}
	return append(b, 0x7f, 0x01, 0x41, 0x00, 0x0b), nil
}

// constExpr copies a constant expression, renumbering ref.func.
func (m *meterer) constExpr(r *wreader, b []byte) []byte {
	for r.err == nil {
		start := r.i
		in := r.next()
		switch in.kind {
		case ikEnd:
			return append(b, 0x0b)
		case ikRefFunc:
			b = append(b, 0xd2)
			b = appendLEB(b, m.fn(in.fn))
		case ikPlain:
			b = append(b, r.b[start:r.i]...)
		default:
			r.fail("instruction not allowed in a constant expression")
		}
	}
	return b
}

func (m *meterer) exports(content []byte) ([]byte, error) {
	r := &wreader{b: content}
	n := r.count()
	b := appendLEB(nil, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		name := r.bytes(r.u32())
		kind := r.byte()
		idx := r.u32()
		if kind > 3 {
			r.fail("export %d: kind %d", i, kind)
		}
		if kind == 0x00 {
			idx = m.fn(idx)
		}
		b = appendLEB(b, uint32(len(name)))
		b = append(b, name...)
		b = append(b, kind)
		b = appendLEB(b, idx)
	}
	r.end()
	return b, r.err
}

func (m *meterer) elements(content []byte) ([]byte, error) {
	r := &wreader{b: content}
	n := r.count()
	b := appendLEB(nil, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		flags := r.u32()
		if flags > 7 {
			return nil, fmt.Errorf("element segment %d: flags %d", i, flags)
		}
		b = appendLEB(b, flags)
		if flags&3 == 2 { // explicit table index
			b = appendLEB(b, r.u32())
		}
		if flags&1 == 0 { // active: offset expression
			b = m.constExpr(r, b)
		}
		if flags&3 != 0 { // element kind (0x00) or reference type
			c := r.byte()
			if flags&4 == 0 && c != 0x00 || flags&4 != 0 && c != 0x70 && c != 0x6f {
				r.fail("element segment %d: bad element type 0x%02x", i, c)
			}
			b = append(b, c)
		}
		cnt := r.count()
		b = appendLEB(b, cnt)
		for j := uint32(0); j < cnt && r.err == nil; j++ {
			if flags&4 == 0 {
				b = appendLEB(b, m.fn(r.u32()))
			} else {
				b = m.constExpr(r, b)
			}
		}
	}
	r.end()
	return b, r.err
}
