// Package wiring is retryd's composition root: it turns the process configuration into the
// API's configuration, the mail sender, the activities and the worker's options. The
// retryd command and the integration-test harness (internal/tooling/apptest) both build the
// service through it, so what the tests run is what production runs.
package wiring

import (
	"log/slog"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/config"
	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/mail"
	"github.com/headshotpro/retryd/internal/mailbox"
	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/server"
	"github.com/headshotpro/retryd/worker"
)

// ServerConfig is the API's part of the configuration.
func ServerConfig(cfg *config.Config) server.Config {
	return server.Config{
		RetryWindow: cfg.RetryWindow, Reminders: cfg.RetryReminders, PipelineToken: cfg.PipelineToken,
		AppBaseURL: cfg.AppBaseURL, TrustedProxies: cfg.TrustedProxies, TaskQueue: cfg.TemporalTaskQueue,
		StartCheck:      cfg.StartCheck,
		APIKeyCacheTTL:  cfg.APIKeyCacheTTL,
		DevMailboxToken: cfg.DevMailboxToken,
		DevLoopback:     cfg.DevLoopback,
		ResendCooldown:  cfg.ResendCooldown,
		MailQueuePerOrg: cfg.MailQueuePerOrg,
	}
}

// Links is the signer of members' links.
func Links(cfg *config.Config) (*linktoken.Signer, error) {
	return linktoken.NewSigner([]byte(cfg.LinkSecret), cfg.LinkTTL)
}

// Sender is the MailerSend client: the real API with a key, else the local endpoint.
// Its logger and metrics carry the alert of a refused key.
func Sender(cfg *config.Config, logger *slog.Logger, m *metrics.Metrics) (*mail.Sender, error) {
	return mail.NewSender(mail.Config{
		APIKey: cfg.MailerSendAPIKey, LocalURL: cfg.MailLocalURL,
		LocalToken: cfg.DevMailboxToken,
		From:       mail.Address{Email: cfg.MailFrom, Name: cfg.MailFromName},
		Logger:     logger, Alerts: m,
	})
}

// Mailbox is the local MailerSend endpoint. It holds members' live links, so it exists
// only when asked for (DEV_MAILBOX, on by default in dev alone), and never with a real key
// (config refuses that pair).
func Mailbox(cfg *config.Config) *mailbox.Mailbox {
	if !cfg.DevMailbox || cfg.MailerSendAPIKey != "" {
		return nil
	}
	return mailbox.New(mailbox.DefaultCapacity)
}

// Activities are the worker's activities with their dependencies.
func Activities(cfg *config.Config, db *bun.DB, sender activities.Mailer, links *linktoken.Signer, logger *slog.Logger, m *metrics.Metrics) *activities.Activities {
	acts := activities.New(db, sender, links, cfg.AppBaseURL, cfg.RetryWindow, logger)
	acts.Metrics = m
	return acts
}

// WorkerOptions carries the configuration the worker needs. SHUTDOWN_TIMEOUT bounds the
// worker's drain as it bounds the API's, so one setting matches one stop_grace_period;
// MAIL_RATE_PER_MINUTE paces the email queue of every worker process alike.
func WorkerOptions(cfg *config.Config) worker.Options {
	return worker.Options{TaskQueue: cfg.TemporalTaskQueue, StopTimeout: cfg.ShutdownTimeout, EmailsPerMinute: cfg.MailRatePerMinute}
}
