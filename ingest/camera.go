package ingest

import "image"

// Camera is a registered camera as ingest needs it.
type Camera struct {
	ID      string
	Masks   []image.Rectangle
	Network string // opt-in detector network, "" for the default
	Parser  *Parser
}

// Cameras finds registered cameras (the cameras package's Registry).
type Cameras interface {
	ByToken(token string) (Camera, bool)
	ByID(id string) (Camera, bool)
}
