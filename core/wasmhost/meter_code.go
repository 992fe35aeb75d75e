package wasmhost

import (
	"bytes"
	"fmt"
)

// The code section part of the metering rewrite (meter.go): every function body gets its
// charges.

// code appends the code section, every function body rewritten, to out. Sizes are
// written as 5-byte LEB128 placeholders (a valid encoding) and patched, so that the bodies
// go straight into out.
func (m *meterer) code(out, content []byte) ([]byte, error) {
	r := &wreader{b: content}
	n := r.count()
	if int(n) != len(m.funcTypes) {
		return nil, fmt.Errorf("%d function bodies for %d functions", n, len(m.funcTypes))
	}
	out = append(out, secCode)
	secAt := len(out)
	out = append(out, 0, 0, 0, 0, 0)
	out = appendLEB(out, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		size := r.u32()
		start := r.i
		end := start + int(size)
		if r.err != nil || uint64(size) > uint64(len(content)-start) {
			return nil, fmt.Errorf("function %d: body truncated", i)
		}
		br := &wreader{b: content[:end], i: start}
		at := len(out)
		out = append(out, 0, 0, 0, 0, 0)
		var err error
		out, err = m.body(br, m.types[m.funcTypes[i]][0], out)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", m.oldImports+i, err)
		}
		putLEB5(out[at:], uint32(len(out)-at-5))
		r.i = end
	}
	r.end()
	putLEB5(out[secAt:], uint32(len(out)-secAt-5))
	return out, r.err
}

// putLEB5 writes v as a 5-byte unsigned LEB128.
func putLEB5(b []byte, v uint32) {
	b[0], b[1], b[2], b[3], b[4] = byte(v)|0x80, byte(v>>7)|0x80, byte(v>>14)|0x80, byte(v>>21)|0x80, byte(v>>28)
}

// charge appends "fuel -= cost (placeholder); if fuel < 0 { fuel = refuel() }" and
// returns the offset of the 5-byte cost constant.
func (m *meterer) charge(b []byte) ([]byte, int) {
	b = append(b, 0x23)
	b = appendLEB(b, m.fuelGlobal)
	b = append(b, 0x41)
	at := len(b)
	b = appendSLEB5(b, 0)
	b = append(b, 0x6b, 0x24) // i32.sub global.set
	b = appendLEB(b, m.fuelGlobal)
	return m.refuelIfEmpty(b), at
}

func (m *meterer) refuelIfEmpty(b []byte) []byte {
	b = append(b, 0x23)
	b = appendLEB(b, m.fuelGlobal)
	b = append(b, 0x41, 0x00, 0x48, 0x04, 0x40, 0x10) // i32.const 0 i32.lt_s if call
	b = appendLEB(b, m.oldImports)                    // refuel's index
	b = append(b, 0x24)
	b = appendLEB(b, m.fuelGlobal)
	return append(b, 0x0b)
}

// chargeTop appends a charge of (top of stack) >> bulkUnitShift units, leaving the
// operand in place; tmp is an i32 local.
func (m *meterer) chargeTop(b []byte, tmp uint32) []byte {
	b = append(b, 0x22) // local.tee
	b = appendLEB(b, tmp)
	b = append(b, 0x23)
	b = appendLEB(b, m.fuelGlobal)
	b = append(b, 0x20) // local.get
	b = appendLEB(b, tmp)
	b = append(b, 0x41, bulkUnitShift, 0x76, 0x6b, 0x24) // i32.const i32.shr_u i32.sub global.set
	b = appendLEB(b, m.fuelGlobal)
	return m.refuelIfEmpty(b)
}

// body rewrites one function body (locals and expression) into b.
func (m *meterer) body(r *wreader, params int, b []byte) ([]byte, error) {
	nDecl := r.count()
	locals := uint64(params)
	declStart := r.i
	for i := uint32(0); i < nDecl && r.err == nil; i++ {
		locals += uint64(r.u32())
		if !isValType(r.byte()) {
			r.fail("bad local type")
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if locals > maxLocals {
		return nil, fmt.Errorf("%d locals, limit %d", locals, maxLocals)
	}
	decls := r.b[declStart:r.i]
	tmp := uint32(locals) // index of the extra i32 local, added if bulk operations may occur
	// Bulk operations are 0xfc-prefixed: without that byte in the body there are none.
	usesTmp := bytes.IndexByte(r.b[r.i:], 0xfc) >= 0
	if usesTmp {
		b = appendLEB(b, nDecl+1)
		b = append(b, decls...)
		b = append(b, 1, 0x7f)
	} else {
		b = appendLEB(b, nDecl)
		b = append(b, decls...)
	}

	type meterPt struct {
		at   int // offset of the cost constant in code, -1 if none
		cost int64
	}
	// Runs of instructions that are copied unchanged are copied at once (from run to the
	// current instruction) when something else must be written.
	code := b
	run := r.i
	flush := func(upTo int) {
		code = append(code, r.b[run:upTo]...)
	}
	meters := []meterPt{{at: -1}}
	ctl := []int{0} // per open frame: index of its meter (frame 0: the function)
	cur := 0
	first := true
	cnt := int64(0) // instructions since the last change of meter
	merged := false // the function starts with a loop (after blocks), whose charge includes the entry's
	for {
		if r.eof() {
			return nil, fmt.Errorf("code: %w", orEOF(r.err))
		}
		start := r.i
		in := r.next()
		if r.err != nil {
			return nil, fmt.Errorf("code at byte %d: %w", start, r.err)
		}
		// The entry charge goes before the first instruction that is not a plain block
		// (blocks do nothing at run time); if that instruction is a loop, its charge
		// covers the entry too.
		if first && !(in.kind == ikBlock && r.b[start] == 0x02) {
			first = false
			if in.kind == ikLoop {
				merged = true
			} else {
				flush(start)
				run = start
				var at int
				code, at = m.charge(code)
				meters[0].at = at
			}
		}
		cnt++
		switch in.kind {
		case ikBlock:
			ctl = append(ctl, cur)
		case ikLoop:
			meters[cur].cost += cnt
			cnt = 0
			flush(r.i)
			run = r.i
			var at int
			code, at = m.charge(code)
			meters = append(meters, meterPt{at: at})
			cur = len(meters) - 1
			ctl = append(ctl, cur)
		case ikEnd:
			meters[cur].cost += cnt
			cnt = 0
			ctl = ctl[:len(ctl)-1]
			if len(ctl) == 0 {
				if r.i != len(r.b) {
					return nil, fmt.Errorf("code continues after the function's end")
				}
				flush(r.i)
				goto done
			}
			cur = ctl[len(ctl)-1]
		case ikCall, ikRefFunc:
			if nf := m.fn(in.fn); nf != in.fn {
				flush(in.immAt)
				code = appendLEB(code, nf)
				run = r.i
			}
		case ikBulk, ikTableGrow:
			m.tableGrow = m.tableGrow || in.kind == ikTableGrow
			flush(start)
			run = start
			code = m.chargeTop(code, tmp)
		}
	}
done:
	if merged {
		meters[1].cost += meters[0].cost
	}
	for _, mp := range meters {
		if mp.at >= 0 {
			copy(code[mp.at:], sleb5(int32(min(mp.cost, 1<<30))))
		}
	}
	return code, nil
}

func orEOF(err error) error {
	if err != nil {
		return err
	}
	return errEOF
}
