// Package e2e holds the pipeline's failure tests against real processes:
// workers killed with SIGKILL, the broker restarted, an external
// nats-server, a three-node cluster that loses a node, and reprocess
// through the queue killed part-way; and hostile
// input (gigabyte bodies, 60000x60000 headers) sent to `platemask redact`
// and `platemask serve` processes whose peak memory is read from the
// kernel. It has no code of its own outside its tests.
package e2e
