package audit

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/platemask/platemask/ingest"
	"github.com/platemask/platemask/jpeginfo"
)

// pseudonym is a name platemask makes: 26 base32 characters (of an
// HMAC) with the extension of an output, record or sealed quarantine.
var pseudonym = regexp.MustCompile(`^[a-z2-7]{26}\.(jpg|json|sealed)$`)

// NameKinds lists the identifier kinds in an object key (ingest's
// patterns over every path element). A pseudonymous base name passes
// clean whatever characters its hash happens to hold; the folders above
// it are still checked.
func NameKinds(key string) []string {
	dir, base := path.Split(key)
	if !pseudonym.MatchString(base) {
		return ingest.Identifiers(key)
	}
	if dir = strings.Trim(dir, "/"); dir == "" {
		return nil
	}
	return ingest.Identifiers(dir)
}

// Metadata kinds.
const (
	MetaEXIF      = "exif"
	MetaXMP       = "xmp"
	MetaIPTC      = "iptc"
	MetaComment   = "comment"
	MetaThumbnail = "thumbnail"
	MetaMPF       = "mpf"
	MetaICC       = "icc"
)

// Metadata lists what a JPEG carries besides pixels (kinds above, or
// "appN" for other application segments) and the bytes after its end.
func Metadata(data []byte) (kinds []string, trailing int, err error) {
	info, err := jpeginfo.Scan(data)
	if err != nil && info == nil {
		return nil, 0, err
	}
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			kinds = append(kinds, k)
		}
	}
	for _, s := range info.Metadata() {
		payload := data[s.Offset+4 : s.Offset+s.Length]
		switch {
		case s.Marker == jpeginfo.COM:
			add(MetaComment)
		case s.Marker == jpeginfo.APP1 && s.Ident == "Exif":
			add(MetaEXIF)
			// An EXIF thumbnail is a whole JPEG inside the TIFF data.
			if bytes.Contains(payload[min(len(payload), 6):], []byte{0xFF, 0xD8, 0xFF}) {
				add(MetaThumbnail)
			}
		case s.Marker == jpeginfo.APP1 && strings.HasPrefix(s.Ident, "http://ns.adobe.com/xap"):
			add(MetaXMP)
		case s.Marker == jpeginfo.APP13:
			add(MetaIPTC)
		case s.Marker == jpeginfo.APP2 && s.Ident == "MPF":
			add(MetaMPF)
		case s.Marker == jpeginfo.APP2 && s.Ident == "ICC_PROFILE":
			add(MetaICC)
		default:
			add(fmt.Sprintf("app%d", s.Marker-jpeginfo.APP0))
		}
	}
	if err != nil {
		return kinds, info.Trailing, err
	}
	return kinds, info.Trailing, nil
}
