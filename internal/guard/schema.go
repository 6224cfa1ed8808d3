package guard

import (
	"bytes"
	"fmt"
	"reflect"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// kind is the wire type of one field.
type kind uint8

const (
	kindBool kind = iota
	kindInt8
	kindInt16
	kindUint16
	kindInt32
	kindUint32
	kindInt64
	kindFloat64
	kindUUID
	kindString
	kindNullableString
	kindBytes
	kindNullableBytes
	kindArray
	kindNullableArray
	kindStruct
	// kindNullableStruct is a struct behind an int8 presence marker (-1:
	// null, anything else: the struct follows), such as
	// DescribeTopicPartitionsRequest's Cursor.
	kindNullableStruct
)

// node is the layout of one field, or of a whole struct (kindStruct).
type node struct {
	kind kind
	name string // Go field name, for messages and tests
	// elem is an array's element.
	elem *node
	// goSize is an array element's size in memory once decoded, which
	// decoding allocates per claimed element.
	goSize int
	// fields are a struct's regular fields in wire order; tagged its
	// known tagged fields by tag number (kmsg decodes those, so their
	// bytes are walked too); flexible says whether strings, bytes
	// and arrays are compact and whether the struct ends with tags.
	fields   []*node
	tagged   map[uint32]*node
	flexible bool
	// minSize is the fewest bytes the field takes on the wire.
	minSize int
}

// layout is a request's derived wire layout, or why it could not be derived.
type layout struct {
	root *node
	err  error
}

var layouts sync.Map // layoutKey -> *layout

type layoutKey struct{ key, version int16 }

// layoutFor returns the layout of key at version, deriving it on first use.
func layoutFor(key, version int16) (*node, error) {
	k := layoutKey{key, version}
	if l, ok := layouts.Load(k); ok {
		return l.(*layout).root, l.(*layout).err
	}
	root, err := derive(key, version)
	l, _ := layouts.LoadOrStore(k, &layout{root, err})
	return l.(*layout).root, l.(*layout).err
}

// derive probes kmsg's request type for key at version.
func derive(key, version int16) (root *node, err error) {
	req := kmsg.RequestForKey(key)
	if req == nil {
		return nil, fmt.Errorf("guard: unknown API key %d", key)
	}
	req.SetVersion(version)
	defer func() {
		// Probing runs kmsg's encoder on values it never sees from
		// clients; a panic there is a bug in the probe, reported as an
		// error so the request fails closed instead of the broker.
		if p := recover(); p != nil {
			root, err = nil, fmt.Errorf("guard: deriving %s v%d: %v", kmsg.NameForKey(key), version, p)
		}
	}()
	p := prober{encode: func() []byte { return req.AppendTo(nil) }}
	return p.describeStruct(reflect.ValueOf(req).Elem(), req.IsFlexible(), true), nil
}

var tagsType = reflect.TypeOf(kmsg.Tags{})

// prober derives layouts by changing fields of one live request value and
// re-encoding it with kmsg.
type prober struct {
	encode func() []byte
}

// describeStruct returns the layout of the struct sv, which must be
// addressable and reachable from the request that p.encode encodes.
func (p *prober) describeStruct(sv reflect.Value, flexible, top bool) *node {
	n := &node{kind: kindStruct, flexible: flexible}
	t := sv.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() || sf.Type == tagsType || (top && sf.Name == "Version") {
			continue
		}
		f := sv.Field(i)
		child, tagged, tag, present := p.describeField(f, sf.Name, flexible)
		if !present {
			continue
		}
		child.name = sf.Name
		if !tagged {
			n.fields = append(n.fields, child)
			continue
		}
		if n.tagged == nil {
			n.tagged = map[uint32]*node{}
		}
		n.tagged[tag] = child
	}
	n.minSize = structMinSize(n)
	return n
}

// describeField probes field f: whether it is on the wire in this version,
// its layout, and whether it is a tagged field (with its tag number).
func (p *prober) describeField(f reflect.Value, name string, flexible bool) (n *node, tagged bool, tag uint32, present bool) {
	orig := reflect.New(f.Type()).Elem()
	orig.Set(f)
	defer f.Set(orig)

	if f.Kind() == reflect.Struct && f.Type() != reflect.TypeOf([16]byte{}) {
		return p.describeInlineStruct(f, flexible)
	}
	if f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct {
		return p.describeNullableStruct(f, flexible)
	}
	base := p.encode()
	if !setMarker(f, 1) {
		return nil, false, 0, false
	}
	one := p.encode()
	f.Set(orig)
	if bytes.Equal(base, one) {
		return nil, false, 0, false
	}
	setMarker(f, 2)
	two := p.encode()
	f.Set(orig)
	d1, d2 := len(one)-len(base), len(two)-len(base)
	tagged = flexible && d2 != 2*d1
	if tagged {
		tag = tagNumber(base, one)
	}

	return p.describeValue(f, name, flexible), tagged, tag, true
}

// describeValue is the layout of a field or array element that is not a
// struct: its kind, nullability (probed), and an array's element.
func (p *prober) describeValue(v reflect.Value, what string, flexible bool) *node {
	n := &node{}
	k, scalar := scalarKind(v.Kind())
	switch {
	case scalar:
		n.kind = k
	case v.Kind() == reflect.String:
		n.kind = kindString
	case v.Kind() == reflect.Pointer:
		n.kind = kindString
		if p.nilDiffersFromEmpty(v) {
			n.kind = kindNullableString
		}
	case v.Kind() == reflect.Slice:
		nullable := p.nilDiffersFromEmpty(v)
		if v.Type().Elem().Kind() == reflect.Uint8 {
			n.kind = kindBytes
			if nullable {
				n.kind = kindNullableBytes
			}
			break
		}
		n.kind = kindArray
		if nullable {
			n.kind = kindNullableArray
		}
		n.elem = p.describeElem(v, flexible)
		n.goSize = int(v.Type().Elem().Size())
	default:
		panic(fmt.Sprintf("%s: unexpected Go kind %s", what, v.Kind()))
	}
	n.minSize = minSize(n, flexible)
	return n
}

// describeInlineStruct probes a struct-typed (not array) field: present if
// any of its fields is; tagged if kmsg writes it only when not default. Its
// fields are described while an anchor field (an integer, so that probing
// the anchor itself never brings the struct back to its default) holds a
// marker, which keeps a tagged struct on the wire.
func (p *prober) describeInlineStruct(f reflect.Value, flexible bool) (*node, bool, uint32, bool) {
	base := p.encode()
	anchor := reflect.Value{}
	for _, fixedOnly := range []bool{true, false} {
		for i := 0; i < f.NumField() && !anchor.IsValid(); i++ {
			ff := f.Field(i)
			if !f.Type().Field(i).IsExported() || ff.Type() == tagsType {
				continue
			}
			if fixedOnly && !isInteger(ff.Kind()) {
				continue
			}
			anchor = ff
		}
	}
	if !anchor.IsValid() || !setMarker(anchor, 1) {
		return nil, false, 0, false
	}
	one := p.encode()
	if bytes.Equal(base, one) {
		return nil, false, 0, false
	}
	setMarker(anchor, 2)
	two := p.encode()
	setMarker(anchor, 1)
	d1, d2 := len(one)-len(base), len(two)-len(base)
	tagged := flexible && d2 != 2*d1
	var tag uint32
	if tagged {
		tag = tagNumber(base, one)
	}
	n := p.describeStruct(f, flexible, false)
	return n, tagged, tag, true
}

// describeNullableStruct probes a pointer-to-struct field: present in this
// version if a non-nil value changes the encoding; its struct is described
// while the pointer is set. kmsg writes such fields as regular fields.
func (p *prober) describeNullableStruct(f reflect.Value, flexible bool) (*node, bool, uint32, bool) {
	base := p.encode()
	v := reflect.New(f.Type().Elem())
	if d, ok := v.Interface().(interface{ Default() }); ok {
		d.Default()
	}
	f.Set(v)
	if bytes.Equal(base, p.encode()) {
		return nil, false, 0, false
	}
	inner := p.describeStruct(v.Elem(), flexible, false)
	n := &node{kind: kindNullableStruct, fields: []*node{inner}, flexible: flexible, minSize: 1}
	return n, false, 0, true
}

func isInteger(k reflect.Kind) bool {
	switch k {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint16, reflect.Uint32:
		return true
	}
	return false
}

// scalarKind is the wire kind of a fixed-size Go kind; ok is false for
// strings, byte slices, arrays of elements and structs.
func scalarKind(k reflect.Kind) (kind, bool) {
	switch k {
	case reflect.Bool:
		return kindBool, true
	case reflect.Int8:
		return kindInt8, true
	case reflect.Int16:
		return kindInt16, true
	case reflect.Uint16:
		return kindUint16, true
	case reflect.Int32:
		return kindInt32, true
	case reflect.Uint32:
		return kindUint32, true
	case reflect.Int64:
		return kindInt64, true
	case reflect.Float64:
		return kindFloat64, true
	case reflect.Array:
		return kindUUID, true
	}
	return 0, false
}

// describeElem describes the element type of array field f by giving it
// one element and probing that.
func (p *prober) describeElem(f reflect.Value, flexible bool) *node {
	et := f.Type().Elem()
	one := reflect.MakeSlice(f.Type(), 1, 1)
	defaultValue(one.Index(0))
	f.Set(one)
	e := one.Index(0)
	if et.Kind() == reflect.Struct {
		return p.describeStruct(e, flexible, false)
	}
	return p.describeValue(e, "array element", flexible)
}

// nilDiffersFromEmpty reports whether a nil slice or string pointer encodes
// differently from an empty one, that is, whether the field is nullable in
// this version. kmsg uses *string for a string nullable in any version and
// dereferences it in the versions where it is not, so a panic means "not
// nullable".
func (p *prober) nilDiffersFromEmpty(f reflect.Value) (nullable bool) {
	orig := reflect.New(f.Type()).Elem()
	orig.Set(f)
	defer f.Set(orig)
	if f.Kind() == reflect.Pointer {
		empty := ""
		f.Set(reflect.ValueOf(&empty))
	} else {
		f.Set(reflect.MakeSlice(f.Type(), 0, 0))
	}
	b := p.encode()
	f.Set(reflect.Zero(f.Type()))
	defer func() {
		if recover() != nil {
			nullable = false
		}
	}()
	a := p.encode()
	return !bytes.Equal(a, b)
}

// tagNumber reads the tag number of the single tagged field that one has
// and base lacks: the first differing byte is the tag count (0 -> 1), and
// the tag number follows it.
func tagNumber(base, one []byte) uint32 {
	i := 0
	for i < len(base) && i < len(one) && base[i] == one[i] {
		i++
	}
	tag, _ := uvarint(one[min(i+1, len(one)):])
	return tag
}

// setMarker sets f to a non-default value: units=1 is the smallest such
// value, units=2 twice as large on the wire where the size varies (a longer
// string, two array elements) and merely different where it does not.
// units=0 resets f to its default. It reports false for types it does not
// probe.
func setMarker(f reflect.Value, units int) bool {
	if units == 0 {
		defaultValue(f)
		return true
	}
	switch f.Kind() {
	case reflect.Bool:
		f.SetBool(!f.Bool())
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f.SetInt(f.Int() + int64(units) + 1)
	case reflect.Uint16, reflect.Uint32:
		f.SetUint(f.Uint() + uint64(units) + 1)
	case reflect.Float64:
		f.SetFloat(f.Float() + float64(units) + 1)
	case reflect.Array:
		var u [16]byte
		u[0] = byte(units)
		u[15] = 0xa5
		f.Set(reflect.ValueOf(u))
	case reflect.String:
		f.SetString(string(bytes.Repeat([]byte{'m'}, units)))
	case reflect.Pointer:
		if f.Type().Elem().Kind() != reflect.String {
			return false
		}
		s := string(bytes.Repeat([]byte{'m'}, units))
		f.Set(reflect.ValueOf(&s))
	case reflect.Slice:
		if f.Type().Elem().Kind() == reflect.Uint8 {
			f.SetBytes(bytes.Repeat([]byte{'m'}, units))
			return true
		}
		s := reflect.MakeSlice(f.Type(), units, units)
		for i := 0; i < units; i++ {
			defaultValue(s.Index(i))
		}
		f.Set(s)
	default:
		return false
	}
	return true
}

// defaultValue sets v to its kmsg default: zero, then Default() when the
// type has one.
func defaultValue(v reflect.Value) {
	v.Set(reflect.Zero(v.Type()))
	if v.CanAddr() {
		if d, ok := v.Addr().Interface().(interface{ Default() }); ok {
			d.Default()
		}
	}
}

func minSize(n *node, flexible bool) int {
	switch n.kind {
	case kindBool, kindInt8:
		return 1
	case kindInt16, kindUint16:
		return 2
	case kindInt32, kindUint32:
		return 4
	case kindInt64, kindFloat64:
		return 8
	case kindUUID:
		return 16
	case kindString, kindNullableString:
		if flexible {
			return 1
		}
		return 2
	case kindBytes, kindNullableBytes, kindArray, kindNullableArray:
		if flexible {
			return 1
		}
		return 4
	case kindStruct:
		return structMinSize(n)
	}
	return 1
}

func structMinSize(n *node) int {
	size := 0
	for _, f := range n.fields {
		size += f.minSize
	}
	if n.flexible {
		size++ // tag count
	}
	return max(size, 1)
}
