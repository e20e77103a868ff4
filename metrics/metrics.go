// Package metrics holds platemask's Prometheus metrics. Labels are drawn
// from fixed sets (sources, HTTP statuses, outcomes, public reasons): never
// a name, plate, camera, time or key.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the collectors every part of the pipeline updates.
type Metrics struct {
	Registry *prometheus.Registry

	// Ingested counts images offered to ingest, by source (http, folder)
	// and result (accepted, duplicate, or the public reason of a refusal).
	Ingested *prometheus.CounterVec
	// Jobs counts settled jobs by outcome (stored, quarantined, dead,
	// retried) and public reason.
	Jobs *prometheus.CounterVec
	// Seconds is the time a worker spends on one job, fetch to settle.
	Seconds prometheus.Histogram
	// Destroyed is the share of each stored image's pixels overwritten: a
	// mass near 1 means the detector is over-redacting what a camera sends.
	Destroyed prometheus.Histogram
	// InFlight is jobs being worked on in this process.
	InFlight prometheus.Gauge
	// Pending is jobs waiting in the queue (sampled).
	Pending prometheus.Gauge
}

// New makes the collectors on a fresh registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "platemask_ingest_images_total", Help: "Images offered to ingest, by source and result.",
		}, []string{"source", "result"}),
		Jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "platemask_jobs_total", Help: "Jobs settled by workers, by outcome and reason.",
		}, []string{"outcome", "reason"}),
		Seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "platemask_job_seconds", Help: "Time to process one job.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		Destroyed: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "platemask_destroyed_share", Help: "Share of each stored image's pixels overwritten.",
			Buckets: []float64{0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9},
		}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "platemask_jobs_in_flight", Help: "Jobs being processed by this process's workers.",
		}),
		Pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "platemask_queue_pending", Help: "Jobs waiting in the queue.",
		}),
	}
	r.MustRegister(m.Ingested, m.Jobs, m.Seconds, m.Destroyed, m.InFlight, m.Pending,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}
