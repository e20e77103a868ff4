package synth

import (
	"bytes"
	"encoding/binary"
)

// Metadata chooses what WithMetadata adds to a JPEG.
type Metadata struct {
	Orientation int    // EXIF orientation, 0 for none
	GPS         bool   // a GPS IFD with a position
	Thumbnail   []byte // a JPEG thumbnail in IFD1
	XMP         bool
	Comment     string
	MPF         bool // an MPF APP2 and a second image after EOI
	Trailer     []byte

	// Hostile EXIF for tests: IFD0's next-IFD offset and its entry count
	// as written, whatever the real layout.
	exifNext  uint32
	exifCount uint16
}

// All is every kind of metadata at once, with orientation o.
func All(o int, thumb []byte) Metadata {
	return Metadata{Orientation: o, GPS: true, Thumbnail: thumb, XMP: true,
		Comment: "plate AB12CDE 2024-12-30 15:25:19", MPF: true, Trailer: []byte("CAMSERIAL DS-2CD2T47G2 after EOI")}
}

// WithMetadata inserts metadata segments after SOI of a baseline JPEG and
// appends trailers after its EOI, as cameras and phones do.
func WithMetadata(jpg []byte, m Metadata) []byte {
	var segs bytes.Buffer
	if m.Orientation > 0 || m.GPS || m.Thumbnail != nil {
		writeSeg(&segs, 0xE1, exif(m))
	}
	if m.XMP {
		writeSeg(&segs, 0xE1, append([]byte("http://ns.adobe.com/xap/1.0/\x00"),
			[]byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description xmp:CreateDate="2024-12-30T15:25:19" plate="AB12CDE"/></rdf:RDF></x:xmpmeta>`)...))
	}
	if m.MPF {
		writeSeg(&segs, 0xE2, append([]byte("MPF\x00"), make([]byte, 40)...))
	}
	if m.Comment != "" {
		writeSeg(&segs, 0xFE, []byte(m.Comment))
	}
	out := make([]byte, 0, len(jpg)+segs.Len()+len(m.Trailer)+len(m.Thumbnail))
	out = append(out, jpg[:2]...)
	out = append(out, segs.Bytes()...)
	out = append(out, jpg[2:]...)
	if m.MPF && m.Thumbnail != nil {
		out = append(out, m.Thumbnail...) // the "second image" of an MPF file
	}
	return append(out, m.Trailer...)
}

func writeSeg(b *bytes.Buffer, marker byte, payload []byte) {
	b.Write([]byte{0xFF, marker})
	binary.Write(b, binary.BigEndian, uint16(len(payload)+2))
	b.Write(payload)
}

// exif builds a little-endian TIFF with IFD0 (Make, DateTime, Orientation,
// GPS pointer), a GPS IFD, and IFD1 pointing at a JPEG thumbnail.
func exif(m Metadata) []byte {
	type entry struct {
		tag, typ uint16
		count    uint32
		value    uint32
		data     []byte // for values that do not fit in 4 bytes
	}
	le := binary.LittleEndian
	var ifd0 []entry
	ifd0 = append(ifd0, entry{tag: 0x010F, typ: 2, data: []byte("ACME-ANPR\x00")})
	if m.Orientation > 0 {
		ifd0 = append(ifd0, entry{tag: 0x0112, typ: 3, count: 1, value: uint32(m.Orientation)})
	}
	ifd0 = append(ifd0, entry{tag: 0x0132, typ: 2, data: []byte("2024:12:30 15:25:19\x00")})
	gpsAt := -1
	if m.GPS {
		gpsAt = len(ifd0)
		ifd0 = append(ifd0, entry{tag: 0x8825, typ: 4, count: 1})
	}
	// Layout: header(8) | IFD0 | IFD0 data | GPS IFD | IFD1 | thumbnail
	ifdSize := func(n int) int { return 2 + 12*n + 4 }
	off := 8 + ifdSize(len(ifd0))
	for i := range ifd0 {
		if ifd0[i].data != nil {
			ifd0[i].count = uint32(len(ifd0[i].data))
			ifd0[i].value = uint32(off)
			off += len(ifd0[i].data)
		}
	}
	gps := []entry{
		{tag: 0x0001, typ: 2, count: 2, value: uint32('N')},
		{tag: 0x0003, typ: 2, count: 2, value: uint32('W')},
	}
	gpsOff := off
	if m.GPS {
		ifd0[gpsAt].value = uint32(gpsOff)
		off += ifdSize(len(gps))
	}
	ifd1Off := 0
	var ifd1 []entry
	if m.Thumbnail != nil {
		ifd1Off = off
		ifd1 = []entry{
			{tag: 0x0201, typ: 4, count: 1},
			{tag: 0x0202, typ: 4, count: 1, value: uint32(len(m.Thumbnail))},
		}
		off += ifdSize(len(ifd1))
		ifd1[0].value = uint32(off)
	}
	var b bytes.Buffer
	b.WriteString("Exif\x00\x00")
	b.WriteString("II")
	binary.Write(&b, le, uint16(42))
	binary.Write(&b, le, uint32(8))
	writeIFD := func(es []entry, next int) {
		count := uint16(len(es))
		if m.exifCount != 0 && next == ifd1Off {
			count = m.exifCount
		}
		if m.exifNext != 0 && next == ifd1Off {
			next = int(m.exifNext)
		}
		binary.Write(&b, le, count)
		for _, e := range es {
			binary.Write(&b, le, e.tag)
			binary.Write(&b, le, e.typ)
			c := e.count
			if c == 0 {
				c = 1
			}
			binary.Write(&b, le, c)
			binary.Write(&b, le, e.value)
		}
		binary.Write(&b, le, uint32(next))
	}
	writeIFD(ifd0, ifd1Off)
	for _, e := range ifd0 {
		b.Write(e.data)
	}
	if m.GPS {
		writeIFD(gps, 0)
	}
	if m.Thumbnail != nil {
		writeIFD(ifd1, 0)
		b.Write(m.Thumbnail)
	}
	return b.Bytes()
}
