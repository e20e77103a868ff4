// Package e2e holds the pipeline's failure tests against real processes:
// workers killed with SIGKILL, the broker restarted, an external
// nats-server, and a three-node cluster that loses a node. It has no code
// of its own outside its tests.
package e2e
