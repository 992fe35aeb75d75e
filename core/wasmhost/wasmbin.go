package wasmhost

import (
	"errors"
	"fmt"
)

// Low-level WebAssembly binary decoding for the metering rewriter (meter.go): LEB128
// integers and the immediates of every instruction of WebAssembly 2.0 (the feature set
// the runtime enables: MVP, sign extension, saturating conversions, multi-value, bulk
// memory, reference types, SIMD). Anything else is rejected, so every module that passes
// the rewriter has been decoded completely.

var errEOF = errors.New("unexpected end")

// wreader reads a wasm binary; the first error sticks.
type wreader struct {
	b   []byte
	i   int
	err error
}

func (r *wreader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, a...)
	}
}

func (r *wreader) eof() bool { return r.err != nil || r.i >= len(r.b) }

func (r *wreader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.i >= len(r.b) {
		r.err = errEOF
		return 0
	}
	c := r.b[r.i]
	r.i++
	return c
}

func (r *wreader) bytes(n uint32) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(r.b)-r.i) {
		r.err = errEOF
		return nil
	}
	v := r.b[r.i : r.i+int(n)]
	r.i += int(n)
	return v
}

// u32 reads an unsigned LEB128 of at most 32 bits (5 bytes, unused bits zero).
func (r *wreader) u32() uint32 {
	var v uint32
	for shift := uint(0); ; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if shift == 28 && c&0x70 != 0 {
			r.fail("integer too large")
			return 0
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
		if shift == 28 {
			r.fail("integer representation too long")
			return 0
		}
	}
}

// sleb skips a signed LEB128 of at most bits bits (33 for block types, 32, 64).
func (r *wreader) sleb(bits uint) int64 {
	var v int64
	maxBytes := (bits + 6) / 7
	for n := uint(0); ; n++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(c&0x7f) << (7 * n)
		if c&0x80 == 0 {
			if 7*(n+1) < 64 && c&0x40 != 0 {
				v |= -1 << (7 * (n + 1))
			}
			return v
		}
		if n+1 == maxBytes {
			r.fail("integer representation too long")
			return 0
		}
	}
}

func (r *wreader) name() string { return string(r.bytes(r.u32())) }

// appendU32 appends v as an unsigned LEB128.
func appendLEB(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendSLEB5 appends v as a signed LEB128 padded to 5 bytes, so it can be patched later.
func appendSLEB5(b []byte, v int32) []byte {
	return append(b, sleb5(v)...)
}

func sleb5(v int32) []byte {
	u := uint32(v)
	return []byte{byte(u)&0x7f | 0x80, byte(u>>7)&0x7f | 0x80, byte(u>>14)&0x7f | 0x80, byte(u>>21)&0x7f | 0x80, byte(u>>28) & 0x7f}
}

// isValType reports whether c is a WebAssembly 2.0 value type.
func isValType(c byte) bool {
	switch c {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f: // i32 i64 f32 f64 v128 funcref externref
		return true
	}
	return false
}

// instrKind classifies what the rewriter must do with an instruction.
type instrKind uint8

const (
	ikPlain     instrKind = iota // copy
	ikBlock                      // block, if: opens a frame
	ikLoop                       // loop: opens a metered frame
	ikElse                       // else
	ikEnd                        // end
	ikCall                       // call funcidx
	ikRefFunc                    // ref.func funcidx
	ikBulk                       // bulk operation whose i32 size operand is on top of the stack
	ikTableGrow                  // table.grow (size operand on top)
)

// instr is one decoded instruction: its kind and, for ikCall/ikRefFunc, the function
// index (immediate at [immAt, end)).
type instr struct {
	kind  instrKind
	fn    uint32
	immAt int
}

// Immediate classes of single-byte opcodes (opClass).
const (
	opInvalid uint8 = iota
	opNone          // no immediate
	opBlock         // block, if: block type
	opLoop          // loop: block type
	opElse
	opEnd
	opU32      // one u32: br, br_if, local.*, global.*, table.get/set
	opU32x2    // call_indirect
	opBrTable  // vector of labels and a default
	opCall     // call funcidx
	opSelectT  // select t*
	opMemarg   // loads and stores
	opZeroByte // memory.size, memory.grow
	opI32
	opI64
	opF32
	opF64
	opRefNull
	opRefFunc
	opFC
	opFD
)

var opClass = func() (t [256]uint8) {
	set := func(class uint8, ops ...int) {
		for _, op := range ops {
			t[op] = class
		}
	}
	set(opNone, 0x00, 0x01, 0x0f, 0x1a, 0x1b, 0xd1)
	for op := 0x45; op <= 0xc4; op++ {
		t[op] = opNone // numeric, sign extension
	}
	set(opBlock, 0x02, 0x04)
	set(opLoop, 0x03)
	set(opElse, 0x05)
	set(opEnd, 0x0b)
	set(opU32, 0x0c, 0x0d, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26)
	set(opU32x2, 0x11)
	set(opBrTable, 0x0e)
	set(opCall, 0x10)
	set(opSelectT, 0x1c)
	for op := 0x28; op <= 0x3e; op++ {
		t[op] = opMemarg
	}
	set(opZeroByte, 0x3f, 0x40)
	set(opI32, 0x41)
	set(opI64, 0x42)
	set(opF32, 0x43)
	set(opF64, 0x44)
	set(opRefNull, 0xd0)
	set(opRefFunc, 0xd2)
	set(opFC, 0xfc)
	set(opFD, 0xfd)
	return t
}()

// skipLEB skips a LEB128 of at most n bytes.
func (r *wreader) skipLEB(n int) {
	b := r.b
	for i := r.i; i < len(b) && i < r.i+n; i++ {
		if b[i]&0x80 == 0 {
			r.i = i + 1
			return
		}
	}
	r.fail("bad integer")
}

// next decodes the instruction at r.i and advances past it.
func (r *wreader) next() instr {
	if r.i >= len(r.b) {
		r.fail("%w", errEOF)
		return instr{}
	}
	op := r.b[r.i]
	r.i++
	switch opClass[op] {
	case opNone:
	case opBlock:
		r.blockType()
		return instr{kind: ikBlock}
	case opLoop:
		r.blockType()
		return instr{kind: ikLoop}
	case opElse:
		return instr{kind: ikElse}
	case opEnd:
		return instr{kind: ikEnd}
	case opU32:
		r.skipLEB(5)
	case opU32x2:
		r.skipLEB(5)
		r.skipLEB(5)
	case opBrTable:
		n := r.u32()
		if uint64(n) > uint64(len(r.b)) {
			r.fail("br_table too large")
			return instr{}
		}
		for i := uint32(0); i <= n && r.err == nil; i++ {
			r.skipLEB(5)
		}
	case opCall:
		at := r.i
		return instr{kind: ikCall, fn: r.u32(), immAt: at}
	case opSelectT:
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			if !isValType(r.byte()) {
				r.fail("bad value type in select")
			}
		}
	case opMemarg:
		r.memarg()
	case opZeroByte:
		if r.byte() != 0 {
			r.fail("memory index must be 0")
		}
	case opI32:
		r.sleb(32)
	case opI64:
		r.sleb(64)
	case opF32:
		r.bytes(4)
	case opF64:
		r.bytes(8)
	case opRefNull:
		if c := r.byte(); c != 0x70 && c != 0x6f {
			r.fail("bad reference type")
		}
	case opRefFunc:
		at := r.i
		return instr{kind: ikRefFunc, fn: r.u32(), immAt: at}
	case opFC:
		return r.nextFC()
	case opFD:
		r.nextSIMD()
	default:
		r.fail("unsupported instruction 0x%02x", op)
	}
	return instr{}
}

func (r *wreader) blockType() {
	if r.i < len(r.b) && (r.b[r.i] == 0x40 || isValType(r.b[r.i])) {
		r.i++
		return
	}
	if r.sleb(33) < 0 {
		r.fail("bad block type")
	}
}

func (r *wreader) memarg() {
	if r.u32()&0x40 != 0 {
		r.fail("multiple memories are not supported")
	}
	r.u32()
}

func (r *wreader) nextFC() instr {
	switch sub := r.u32(); {
	case sub <= 7: // saturating truncations
	case sub == 8: // memory.init dataidx 0x00
		r.u32()
		r.byte()
		return instr{kind: ikBulk}
	case sub == 9: // data.drop
		r.u32()
	case sub == 10: // memory.copy 0x00 0x00
		r.byte()
		r.byte()
		return instr{kind: ikBulk}
	case sub == 11: // memory.fill 0x00
		r.byte()
		return instr{kind: ikBulk}
	case sub == 12: // table.init elemidx tableidx
		r.u32()
		r.u32()
		return instr{kind: ikBulk}
	case sub == 13: // elem.drop
		r.u32()
	case sub == 14: // table.copy
		r.u32()
		r.u32()
		return instr{kind: ikBulk}
	case sub == 15: // table.grow
		r.u32()
		return instr{kind: ikTableGrow}
	case sub == 16: // table.size
		r.u32()
	case sub == 17: // table.fill
		r.u32()
		return instr{kind: ikBulk}
	default:
		r.fail("unsupported instruction 0xfc %d", sub)
	}
	return instr{}
}

// simdHoles are the unassigned opcodes below 0x100 of the SIMD proposal.
var simdHoles = map[uint32]bool{
	0x9a: true, 0xa2: true, 0xa5: true, 0xa6: true, 0xaf: true, 0xb0: true, 0xb2: true,
	0xb3: true, 0xb4: true, 0xbb: true, 0xc2: true, 0xc5: true, 0xc6: true, 0xcf: true,
	0xd0: true, 0xd2: true, 0xd3: true, 0xd4: true, 0xe2: true, 0xee: true,
}

func (r *wreader) nextSIMD() {
	switch sub := r.u32(); {
	case sub <= 0x0b || sub == 0x5c || sub == 0x5d: // loads, store, load_zero
		r.memarg()
	case sub == 0x0c || sub == 0x0d: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 0x15 && sub <= 0x22: // extract/replace lane
		r.byte()
	case sub >= 0x54 && sub <= 0x5b: // load/store lane
		r.memarg()
		r.byte()
	case sub > 0xff || simdHoles[sub]:
		r.fail("unsupported instruction 0xfd %d", sub)
	}
}
