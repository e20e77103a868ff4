package ingest

import "image"

// Camera is a registered camera as ingest needs it.
type Camera struct {
	ID      string
	Masks   []image.Rectangle
	Network string // opt-in detector network, "" for the default
	Parser  *Parser
}

// Cameras finds registered cameras (the cameras package's Registry). An
// error means the registry could not be read: callers keep the image for
// later instead of handling it as an unknown camera's, which would skip
// that camera's masks or turn its uploads away as unauthorised.
type Cameras interface {
	ByToken(token string) (Camera, bool, error)
	ByID(id string) (Camera, bool, error)
}
