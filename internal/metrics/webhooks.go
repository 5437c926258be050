package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// webhookMetrics are the delivery counters of the worker and the backlog gauges its relay
// keeps. The endpoint label is an endpoint's id: bounded by the endpoints that exist,
// which the API caps per organization.
type webhookMetrics struct {
	attempts   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	backlog    *prometheus.GaugeVec
	backlogAge *prometheus.GaugeVec
	ended      *prometheus.CounterVec
}

func newWebhookMetrics(reg *prometheus.Registry) *webhookMetrics {
	w := &webhookMetrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "webhook_attempts_total",
			Help: "Webhook delivery attempts, by outcome: delivered (2xx), retry (no answer, or any other status), gone (410: the endpoint is disabled), refused (the address is not allowed)."}, []string{"outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "webhook_attempt_duration_seconds",
			Help:    "Time from a delivery attempt's dial to the endpoint's answer, by outcome.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"outcome"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "webhook_deliveries_total",
			Help: "Webhook deliveries ended, by outcome: delivered, failed (the retry schedule ran out), canceled (the endpoint was disabled or deleted first)."}, []string{"outcome"}),
		backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "webhook_backlog",
			Help: "Webhook deliveries not yet delivered, by endpoint (counted by the worker's relay every few seconds)."}, []string{"endpoint_id"}),
		backlogAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "webhook_backlog_age_seconds",
			Help: "Age of the oldest webhook delivery not yet delivered, by endpoint: how far behind the endpoint is."}, []string{"endpoint_id"}),
	}
	reg.MustRegister(w.attempts, w.latency, w.ended, w.backlog, w.backlogAge)
	return w
}

// WebhookAttempt counts one delivery attempt and its latency.
func (m *Metrics) WebhookAttempt(outcome string, latency time.Duration) {
	if m != nil {
		m.webhooks.attempts.WithLabelValues(outcome).Inc()
		m.webhooks.latency.WithLabelValues(outcome).Observe(latency.Seconds())
	}
}

// WebhookDeliveryEnded counts a delivery that ended: delivered, failed or canceled.
func (m *Metrics) WebhookDeliveryEnded(outcome string) {
	if m != nil {
		m.webhooks.ended.WithLabelValues(outcome).Inc()
	}
}

// WebhookBacklog is one endpoint's undelivered deliveries.
type WebhookBacklog struct {
	EndpointID string
	Pending    int
	Oldest     time.Time
}

// SetWebhookBacklog replaces the backlog gauges with a fresh count: endpoints no longer
// behind drop out.
func (m *Metrics) SetWebhookBacklog(now time.Time, backlogs []WebhookBacklog) {
	if m == nil {
		return
	}
	m.webhooks.backlog.Reset()
	m.webhooks.backlogAge.Reset()
	for _, b := range backlogs {
		m.webhooks.backlog.WithLabelValues(b.EndpointID).Set(float64(b.Pending))
		m.webhooks.backlogAge.WithLabelValues(b.EndpointID).Set(now.Sub(b.Oldest).Seconds())
	}
}
