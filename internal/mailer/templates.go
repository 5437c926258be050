package mailer

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
)

// Subjects are part of the product contract (the help page quotes the retry
// one), so they live here as exact constants rather than in the templates.
// Reminders reuse the subject of the email they follow up on, so they thread
// with it in the member's inbox.
const (
	SubjectRetry   = "HeadshotPro | Please retry your shoot"
	SubjectRestart = "HeadshotPro | Your photo shoot is ready to start"
)

// expiryLayout shows only the date: members act within days, and a time of
// day would need a time zone we do not know for them.
const expiryLayout = "January 2, 2006"

// maxNameRunes keeps an oversized name from dominating the greeting.
const maxNameRunes = 100

//go:embed templates/*.html templates/*.txt
var templateFS embed.FS

// LinkData is what the member emails show: who they are for and where the
// action link leads.
type LinkData struct {
	MemberName string
	ActionURL  string
	// ExpiresAt is when ActionURL stops working; the zero time omits the line.
	// It is shown as a date in ExpiresAt's own location.
	ExpiresAt time.Time
	// Reminder is 0 for the first email and n for the nth reminder; any
	// reminder opens with a short "Reminder:" line.
	Reminder int
}

// RetryEmail tells a member their admin gave them a retry and their shoot was
// reset, links straight to it, and asks for better source photos.
func RetryEmail(d LinkData) (Content, error) { return render("retry", SubjectRetry, d) }

// RestartEmail tells a managed member a new photo shoot was created for them
// and gives them a fresh access link.
func RestartEmail(d LinkData) (Content, error) { return render("restart", SubjectRestart, d) }

// view is the data every template sees; everything in it is already cleaned,
// so the templates only lay it out.
type view struct {
	Subject  string
	Name     string // empty: the templates greet "there"
	URL      string
	Expires  string // empty: no expiry line
	Reminder bool
}

// render parses the shared partials plus one email's files on each call. Emails
// are rare, so parsing per call costs nothing noticeable and keeps the package
// free of parsed-template state.
func render(name, subject string, d LinkData) (Content, error) {
	if err := checkActionURL(d.ActionURL); err != nil {
		return Content{}, err
	}
	v := view{
		Subject:  subject,
		Name:     cleanName(d.MemberName),
		URL:      d.ActionURL,
		Reminder: d.Reminder > 0,
	}
	if !d.ExpiresAt.IsZero() {
		v.Expires = d.ExpiresAt.Format(expiryLayout)
	}

	htmlT, err := htmltemplate.ParseFS(templateFS, "templates/partials.html", "templates/"+name+".html")
	if err != nil {
		return Content{}, fmt.Errorf("mail: parse %s.html: %w", name, err)
	}
	textT, err := texttemplate.ParseFS(templateFS, "templates/partials.txt", "templates/"+name+".txt")
	if err != nil {
		return Content{}, fmt.Errorf("mail: parse %s.txt: %w", name, err)
	}
	// Missing keys are template bugs; fail instead of rendering "<no value>".
	htmlT.Option("missingkey=error")
	textT.Option("missingkey=error")

	var html, text bytes.Buffer
	if err := htmlT.ExecuteTemplate(&html, name+".html", v); err != nil {
		return Content{}, fmt.Errorf("mail: render %s.html: %w", name, err)
	}
	if err := textT.ExecuteTemplate(&text, name+".txt", v); err != nil {
		return Content{}, fmt.Errorf("mail: render %s.txt: %w", name, err)
	}
	return Content{
		Subject: subject,
		HTML:    strings.TrimSpace(html.String()) + "\n",
		Text:    strings.TrimSpace(text.String()) + "\n",
	}, nil
}

// checkActionURL insists on an absolute http(s) link: anything else would
// render as a dead or unsafe button (html/template would neutralise it, but the
// plain-text body would still show it).
func checkActionURL(raw string) error {
	if raw == "" {
		return errors.New("mail: ActionURL is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("mail: ActionURL must be an absolute http(s) URL")
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return errors.New("mail: ActionURL must not contain whitespace")
	}
	return nil
}

// cleanName folds whitespace (including newlines) so a name cannot break the
// layout of the plain-text body, and caps its length.
func cleanName(name string) string {
	name = strings.Join(strings.Fields(name), " ")
	if r := []rune(name); len(r) > maxNameRunes {
		name = string(r[:maxNameRunes])
	}
	return name
}
