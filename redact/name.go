package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// OutputName derives the pseudonymous output name: 26 base32 characters of
// HMAC-SHA256 over the camera id, the source name and the content. The same
// input and key always give the same name, so a job that runs twice
// overwrites its own output; without the key nothing can be linked back.
func OutputName(key []byte, camera, source string, content []byte) string {
	sum := sha256.Sum256(content)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("platemask/name/v1\x00"))
	m.Write([]byte(camera))
	m.Write([]byte{0})
	m.Write([]byte(source))
	m.Write([]byte{0})
	m.Write(sum[:])
	return strings.ToLower(b32.EncodeToString(m.Sum(nil))[:26]) + ".jpg"
}

// CameraLabel is the pseudonymous label of a camera id in records: stable
// for one key, meaningless without it.
func CameraLabel(key []byte, camera string) string {
	if camera == "" {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("platemask/camera/v1\x00"))
	m.Write([]byte(camera))
	return "cam-" + strings.ToLower(b32.EncodeToString(m.Sum(nil))[:10])
}
